"""What our dbt build is measured against: the article's history query as written, the naive SQL
(the article's query with the cleaning rules), the floor and the scheduled run's floor
(``benchmarks/{article,naive,floor,floor_scheduled}.sql``, rendered in each engine's dialect) and
the pandas way of the background articles (a groupby per period), which reads the R x F segment
matrix from the seed ``seeds/rfm_segment_map.csv`` as dbt does."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np

from rfm_segmentation.bench.plan import RAW_SCHEMA

_DIALECTS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "postgres": (),
    # DuckDB compares text in byte order already (its default collation is binary).
    "duckdb": (('user_id collate "C"', "user_id"),),
    # Spark SQL: byte order by default too; no date - date in days, no ::, no text type.
    "spark": (
        ('user_id collate "C"', "user_id"),
        ("cast(snapshot_at as date) - cast(max(payment_date) as date)",
         "datediff(cast(snapshot_at as date), cast(max(payment_date) as date))"),
        ("0.0::float8", "cast(0.0 as double)"),
        ("cast(null as text)", "cast(null as string)"),
        # article.sql: Spark subtracts timestamps into an interval it cannot store in a table;
        # seconds between them order the users the same way.
        ("date_month - max(payment_date) as recency",
         "cast(date_month as long) - cast(max(payment_date) as long) as recency"),
    ),
}
"""The few spellings of the peers' SQL files that differ by engine: (PostgreSQL text, the
engine's). One SQL file per approach; render_sql applies these."""


def render_sql(path: Path, as_of: datetime, raw_schema: str = RAW_SCHEMA,
               engine: str = "postgres") -> str:
    """The statement in ``path`` with its psql variables :'rfm_as_of' and :"raw_schema"
    substituted (as a quoted literal and a quoted identifier), in the engine's dialect
    (``_DIALECTS``; Spark quotes identifiers with backticks)."""
    if engine not in _DIALECTS:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(_DIALECTS)}")
    text = path.read_text()
    literal = "'" + as_of.isoformat(sep=" ").replace("'", "''") + "'"
    if engine == "spark":
        identifier = "`" + raw_schema.replace("`", "``") + "`"
    else:
        identifier = '"' + raw_schema.replace('"', '""') + '"'
    text = text.replace(":'rfm_as_of'", literal).replace(':"raw_schema"', identifier)
    for postgres_text, engine_text in _DIALECTS[engine]:
        text = text.replace(postgres_text, engine_text)
    return text


def pandas_clean(raw: Any, as_of: datetime) -> Any:
    """SPEC.md's cleaning in pandas: trimmed ids, rules 1-6, then one copy per payment_id."""
    payment_id = raw["payment_id"].fillna("").str.strip(" ")
    user_id = raw["user_id"].fillna("").str.strip(" ")
    when, amount = raw["payment_date"], raw["payment_amount"]
    valid = (
        (payment_id != "") & (user_id != "") & when.notna() & amount.notna()
        & (amount > 0) & (when < as_of)
    )
    frame = raw.loc[valid, ["payment_date", "payment_amount"]].assign(
        payment_id=payment_id[valid], user_id=user_id[valid]
    )
    frame = frame.sort_values(
        ["payment_id", "payment_date", "payment_amount", "user_id"], kind="stable"
    )
    return frame.loc[~frame["payment_id"].duplicated(keep="first")]


def _percent_rank(values: Any, ascending: bool) -> Any:
    n = len(values)
    if n <= 1:
        return values * 0.0
    return (values.rank(method="min", ascending=ascending) - 1.0) / (n - 1)


def _score(percentile: Any) -> Any:
    p = percentile.to_numpy()
    return np.select([p >= 0.8, p >= 0.6, p >= 0.4, p >= 0.2], [5, 4, 3, 2], default=1)


SEGMENT_SEED: Final = Path("seeds") / "rfm_segment_map.csv"
"""The R x F segment matrix of the project (SPEC.md's segment table), as dbt seeds it."""


def segment_matrix(root: Path) -> dict[tuple[int, int], str]:
    """(recency_score, frequency_score) -> rfm_segment, read from the seed of the project at
    ``root``."""
    with (root / SEGMENT_SEED).open(newline="", encoding="utf-8") as handle:
        return {(int(row["recency_score"]), int(row["frequency_score"])): row["rfm_segment"]
                for row in csv.DictReader(handle)}


def pandas_segments(clean: Any, periods: Sequence[tuple[date, datetime]],
                    matrix: Mapping[tuple[int, int], str],
                    on_period: Callable[[int], None] | None = None) -> Any:
    """The articles' way, per period: filter the payments before the snapshot, group by user,
    rank, look the R x F scores up in ``matrix`` (``segment_matrix``). Returns
    (snapshot_period, user_id, recency_days, frequency, rfm_segment). ``on_period(done)`` is
    called after each period (for a progress bar)."""
    import pandas as pd

    lookup = np.array([matrix.get((code // 10, code % 10), "") for code in range(56)],
                      dtype=object)

    parts = []
    for done, (period_start, snapshot_at) in enumerate(periods, start=1):
        if on_period is not None:
            on_period(done - 1)
        upto = clean.loc[clean["payment_date"] < snapshot_at]
        if upto.empty:
            continue
        rfm = upto.groupby("user_id", sort=False).agg(
            last_payment_at=("payment_date", "max"),
            frequency=("payment_date", "size"),
            monetary=("payment_amount", "sum"),
        )
        recency = (pd.Timestamp(snapshot_at.date()) - rfm["last_payment_at"].dt.normalize()).dt.days
        r = _score(_percent_rank(recency, ascending=False))
        f = _score(_percent_rank(rfm["frequency"], ascending=True))
        _score(_percent_rank(rfm["monetary"], ascending=True))  # the articles' M score
        parts.append(pd.DataFrame({
            "snapshot_period": period_start,
            "user_id": rfm.index.to_numpy(),
            "recency_days": recency.to_numpy(),
            "frequency": rfm["frequency"].to_numpy(),
            "rfm_segment": lookup[r * 10 + f],
        }))
    if on_period is not None:
        on_period(len(periods))
    return pd.concat(parts, ignore_index=True)
