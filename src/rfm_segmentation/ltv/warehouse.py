"""Reading the features from the warehouse and writing the predictions and the model report
back (PostgreSQL, through the project's PG* connection)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from psycopg2 import sql
from psycopg2.extras import execute_values

from rfm_segmentation.ltv.candidates import TRAIT_PREFIX
from rfm_segmentation.ltv.pipeline import InsufficientDataError, Outcome, Period
from rfm_segmentation.warehouses.postgres import Connection, cursor

FEATURES_TABLE = "rfm_user_features"
TRAITS_TABLE = "rfm_user_traits"
PREDICTIONS_TABLE = "ltv_predictions"
REPORT_TABLE = "ltv_model_report"

_NUMERIC = (
    "monetary", "lifetime_revenue", "revenue_last_1", "revenue_last_3", "revenue_last_6",
    "revenue_last_horizon", "avg_order_value", "next_revenue", "next_payments",
    "mean_days_between_payments",
)


def _relation_exists(cur: Any, schema: str, table: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (f'"{schema}"."{table}"',))
    return bool(cur.fetchone()[0])


def load_periods(connection: Connection, schema: str) -> tuple[list[Period], int]:
    """The snapshot periods of rfm_user_features and the horizon the labels were built with."""
    table = sql.Identifier(schema, FEATURES_TABLE)
    with cursor(connection) as cur:
        if not _relation_exists(cur, schema, FEATURES_TABLE):
            raise InsufficientDataError(
                f"{schema}.{FEATURES_TABLE} does not exist: build the project first "
                "(`make demo`, or `dbt build`)"
            )
        cur.execute(sql.SQL(
            "select snapshot_period, max(snapshot_at), bool_and(is_period_closed),"
            " bool_and(is_label_complete), max(label_window_end_at), count(*),"
            " min(horizon_periods), max(horizon_periods)"
            " from {} group by snapshot_period order by snapshot_period"
        ).format(table))
        rows = cur.fetchall()
    periods = [Period(p, at, closed, labelled, end, users)
               for p, at, closed, labelled, end, users, _, _ in rows]
    horizons = {h for row in rows for h in row[6:8]}
    if len(horizons) > 1:
        raise InsufficientDataError(f"{schema}.{FEATURES_TABLE} mixes horizons {horizons}")
    return periods, (horizons.pop() if horizons else 0)


def load_features(connection: Connection, schema: str, periods: Sequence[Any]) -> pd.DataFrame:
    """Rows of rfm_user_features of the given snapshot periods, numbers as floats, with the
    computed traits of rfm_user_traits (``load_traits``) when the project has them."""
    with cursor(connection) as cur:
        cur.execute(
            sql.SQL("select * from {} where snapshot_period = any(%s)"
                    " order by snapshot_period, user_id").format(
                sql.Identifier(schema, FEATURES_TABLE)),
            (list(periods),),
        )
        names = [c.name for c in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=names)
    for column in _NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("snapshot_at", "first_payment_at", "last_payment_at", "label_window_end_at"):
        frame[column] = pd.to_datetime(frame[column])
    traits = load_traits(connection, schema, periods)
    if traits is not None:
        frame = frame.merge(traits, on=["snapshot_period", "user_id"], how="left")
    return frame


def load_traits(connection: Connection, schema: str, periods: Sequence[Any]
                ) -> pd.DataFrame | None:
    """The computed traits of rfm_user_traits at the given snapshot periods, as model inputs
    ``trait_<name>`` keyed by (snapshot_period, user_id): a number as a float, an instant as
    the days from it to the row's snapshot_at; text traits (a favourite product) are left out.
    None when the table does not exist or is empty (no event sources: no user has a
    profile)."""
    with cursor(connection) as cur:
        if not _relation_exists(cur, schema, TRAITS_TABLE):
            return None
        cur.execute(
            sql.SQL("select * from {} where snapshot_period = any(%s)").format(
                sql.Identifier(schema, TRAITS_TABLE)),
            (list(periods),),
        )
        names = [c.name for c in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=names)
    if frame.empty:
        return None
    inputs = frame[["snapshot_period", "user_id"]].copy()
    snapshot_at = pd.to_datetime(frame["snapshot_at"])
    for name in names:
        if name in ("snapshot_period", "user_id", "profile_id", "snapshot_at"):
            continue
        column = frame[name]
        values = column.dropna()
        if values.empty:
            continue
        first = values.iloc[0]
        if pd.api.types.is_datetime64_any_dtype(column) or isinstance(first, datetime):
            days = (snapshot_at - pd.to_datetime(column)).dt.total_seconds() / 86_400.0
            inputs[f"{TRAIT_PREFIX}{name}_days_ago"] = days
        elif pd.api.types.is_numeric_dtype(column) or isinstance(first, Decimal):
            inputs[TRAIT_PREFIX + name] = pd.to_numeric(column).astype(float)
    return inputs


def write(connection: Connection, ltv_schema: str, outcome: Outcome, trained_at: datetime
          ) -> None:
    """Replace ``<ltv_schema>.ltv_predictions`` (delete + insert in one transaction, so readers
    see the old or the new predictions, and views on it survive) and append the candidates'
    figures to ``<ltv_schema>.ltv_model_report``."""
    predictions = sql.Identifier(ltv_schema, PREDICTIONS_TABLE)
    report = sql.Identifier(ltv_schema, REPORT_TABLE)
    plan = outcome.plan
    with cursor(connection) as cur:
        cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(ltv_schema)))
        cur.execute(sql.SQL(
            "create table if not exists {} (user_id text primary key,"
            " predicted_revenue double precision not null,"
            " predicted_payments double precision not null, horizon_periods integer not null,"
            " as_of timestamp not null, model text not null, trained_at timestamp not null)"
        ).format(predictions))
        cur.execute(sql.SQL(
            "create table if not exists {} (trained_at timestamp not null, model text not null,"
            " kind text not null, is_chosen boolean not null, rmse double precision,"
            " mae double precision, top_decile_share double precision,"
            " predicted_to_actual double precision, validation_users integer,"
            " validation_actual_revenue double precision, validation_cutoff date,"
            " training_cutoffs text, horizon_periods integer not null,"
            " as_of timestamp not null, seed integer not null, note text,"
            " primary key (trained_at, model))"
        ).format(report))
        cur.execute(sql.SQL("delete from {}").format(predictions))
        execute_values(
            cur,
            sql.SQL("insert into {} values %s").format(predictions).as_string(cur),
            [
                (row.user_id, float(row.predicted_revenue), float(row.predicted_payments),
                 int(row.horizon_periods), row.as_of.to_pydatetime()
                 if hasattr(row.as_of, "to_pydatetime") else row.as_of, row.model, trained_at)
                for row in outcome.predictions.itertuples(index=False)
            ],
            page_size=5000,
        )
        validation = plan.validation.snapshot_period if plan.validation else None
        training = ", ".join(str(p.snapshot_period) for p in plan.validation_train) or None
        execute_values(
            cur,
            sql.SQL("insert into {} values %s").format(report).as_string(cur),
            [
                (trained_at, r.name, r.kind, r.name == outcome.chosen,
                 *((r.metrics.rmse, r.metrics.mae, _finite(r.metrics.top_decile_share),
                    _finite(r.metrics.predicted_to_actual), r.metrics.users,
                    r.metrics.actual_total) if r.metrics else (None,) * 6),
                 validation, training, plan.horizon_periods, plan.latest.snapshot_at,
                 outcome.seed, r.note or None)
                for r in outcome.results
            ],
        )


def _finite(value: float) -> float | None:
    return value if value == value else None  # NaN -> null
