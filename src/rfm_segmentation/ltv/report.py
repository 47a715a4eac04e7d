"""The model report of `rfm ltv`: the candidates' out-of-time figures, as markdown (written to a
file) and as rich tables (printed), plus the current segments with their predicted LTV."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from psycopg2 import sql
from rich.table import Table

from rfm_segmentation.ltv.pipeline import Outcome
from rfm_segmentation.warehouses.postgres import Connection, cursor


def _number(value: float, pattern: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, pattern)


def _rows(outcome: Outcome, describe: bool = True) -> list[list[str]]:
    rows = []
    for r in outcome.results:
        m = r.metrics
        rows.append([
            r.name + (" (chosen)" if r.name == outcome.chosen else ""),
            r.kind,
            _number(m.rmse, ",.2f") if m else "-",
            _number(m.mae, ",.2f") if m else "-",
            _number(m.top_decile_share, ".1%") if m else "-",
            _number(m.predicted_to_actual, ".3f") if m else "-",
            r.note or (r.description if describe else ""),
        ])
    return rows


HEADERS = ["model", "kind", "RMSE", "MAE", "top-10% share", "Σpred/Σactual", "note"]


def _protocol(outcome: Outcome) -> str:
    plan = outcome.plan
    h = plan.horizon_periods
    if plan.validation is None:
        return f"no out-of-time validation possible (horizon {h} periods)"
    training = ", ".join(str(p.snapshot_period) for p in plan.validation_train) or "none"
    return (
        f"features at {plan.validation.snapshot_period} (snapshot "
        f"{plan.validation.snapshot_at}), actual revenue of the next {h} periods "
        f"(to {plan.validation.label_window_end_at}); supervised models trained on cut-offs "
        f"{training}"
    )


def markdown(outcome: Outcome, trained_at: datetime) -> str:
    plan = outcome.plan
    lines = [
        "# Lifetime-value model report",
        "",
        f"- trained at {trained_at:%Y-%m-%d %H:%M:%S} UTC, seed {outcome.seed}",
        f"- horizon: {plan.horizon_periods} periods after each snapshot",
        f"- validation: {_protocol(outcome)}",
        f"- chosen: **{outcome.chosen}** ({outcome.reason}); predictions from "
        f"{plan.latest.snapshot_period} (snapshot {plan.latest.snapshot_at}) for "
        f"{len(outcome.predictions):,} users, final training cut-offs "
        + (", ".join(str(p.snapshot_period) for p in plan.final_train) or "none"),
        *[f"- note: {m}" for m in outcome.messages],
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" if i in (0, 1, 6) else "---:" for i in range(len(HEADERS))) + "|",
        *["| " + " | ".join(row) + " |" for row in _rows(outcome)],
        "",
    ]
    return "\n".join(lines)


def candidates_table(outcome: Outcome) -> Table:
    table = Table(title="LTV candidates, out of time", caption=_protocol(outcome))
    for i, name in enumerate(HEADERS):
        table.add_column(name, justify="left" if i in (0, 1, 6) else "right",
                         no_wrap=i != 6)
    for row in _rows(outcome, describe=False):
        table.add_row(*row, style="bold green" if row[0].endswith("(chosen)") else None)
    return table


def fetch_current(connection: Connection, schema: str, limit: int = 10
                  ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Per segment: users, users with a prediction, mean and total predicted LTV; and the
    current users with the highest predicted LTV."""
    current = sql.Identifier(schema, "rfm_segments_current")
    with cursor(connection) as cur:
        cur.execute(sql.SQL(
            "select rfm_segment, count(*), count(predicted_ltv), avg(predicted_ltv),"
            " sum(predicted_ltv) from {} group by 1 order by 5 desc nulls last, 1"
        ).format(current))
        segments = cur.fetchall()
        cur.execute(sql.SQL(
            "select user_id, rfm_segment, segment_since, frequency, monetary,"
            " predicted_payments, predicted_ltv, ltv_model from {}"
            " where predicted_ltv is not null order by predicted_ltv desc, user_id limit %s"
        ).format(current), (limit,))
        top = cur.fetchall()
    return segments, top


def current_tables(segments: list[tuple[Any, ...]], top: list[tuple[Any, ...]]
                   ) -> tuple[Table, Table]:
    by_segment = Table(title="Predicted LTV per current segment (rfm_segments_current)")
    for name in ("segment", "users", "with prediction", "avg predicted_ltv",
                 "total predicted_ltv"):
        by_segment.add_column(name, justify="left" if name == "segment" else "right")
    for name, users, predicted, mean, total in segments:
        by_segment.add_row(name, f"{users:,}", f"{predicted:,}",
                           "-" if mean is None else f"{mean:,.2f}",
                           "-" if total is None else f"{total:,.2f}")
    users = Table(title=f"Top {len(top)} current users by predicted_ltv")
    for name in ("user_id", "rfm_segment", "since", "frequency", "monetary",
                 "pred. payments", "predicted_ltv"):
        users.add_column(name, justify="left" if name in (
            "user_id", "rfm_segment", "since") else "right")
    for user, segment, since, freq, monetary, payments, ltv, _ in top:
        users.add_row(user, segment, str(since), f"{freq:,}", f"{monetary:,.2f}",
                      f"{payments:,.2f}", f"{ltv:,.2f}")
    return by_segment, users
