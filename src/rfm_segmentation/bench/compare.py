"""The checks: two tables keyed by (snapshot_period, user_id) compared on some columns, on
PostgreSQL or on a DuckDB connection; and the pandas segments stored beside them."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from psycopg2 import sql

from rfm_segmentation.bench.plan import qualified, quoted
from rfm_segmentation.warehouses import postgres


@dataclass
class Comparison:
    """Two tables keyed by (snapshot_period, user_id), compared on some columns."""

    left: str
    right: str
    columns: list[str]
    rows_left: int
    rows_right: int
    only_left: int
    only_right: int
    different: int
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rows_left > 0 and self.only_left == self.only_right == self.different == 0

    def describe(self) -> str:
        verdict = "same" if self.ok else "DIFFERENT"
        return (f"{self.left} vs {self.right} on {', '.join(self.columns)}: {verdict} "
                f"({self.rows_left:,} / {self.rows_right:,} rows; only left {self.only_left:,}, "
                f"only right {self.only_right:,}, different {self.different:,})")


def compare_tables(connection: postgres.Connection, left: str, right: str,
                   columns: Sequence[str] = ("rfm_segment",)) -> Comparison:
    """Full outer join on (snapshot_period, user_id); count keys on one side only and keys whose
    columns differ (``is distinct from``); keep a few examples."""
    differs = sql.SQL(" or ").join(
        sql.SQL("l.{c} is distinct from r.{c}").format(c=sql.Identifier(c)) for c in columns
    )
    joined = sql.SQL(
        "from {left} as l full join {right} as r using (snapshot_period, user_id)"
    ).format(left=qualified(left), right=qualified(right))
    counts = sql.SQL(
        "select count(l.user_id), count(r.user_id), "
        "count(*) filter (where r.user_id is null), count(*) filter (where l.user_id is null), "
        "count(*) filter (where l.user_id is not null and r.user_id is not null and ({differs})) "
        "{joined}"
    ).format(differs=differs, joined=joined)
    sample_columns = sql.SQL(", ").join(
        sql.SQL("l.{c}, r.{c}").format(c=sql.Identifier(c)) for c in columns
    )
    sample = sql.SQL(
        "select snapshot_period, user_id, l.user_id is not null, r.user_id is not null, {cols} "
        "{joined} where l.user_id is null or r.user_id is null or ({differs}) "
        "order by 1, 2 limit 5"
    ).format(cols=sample_columns, joined=joined, differs=differs)
    with postgres.cursor(connection) as cur:
        cur.execute(counts)
        row = cur.fetchone()
        cur.execute(sample)
        examples = [repr(r) for r in cur.fetchall()]
    return Comparison(left, right, list(columns), *(int(v) for v in row), examples=examples)


def compare_cursor(cur: Any, left: str, right: str,
                   columns: Sequence[str] = ("rfm_segment",)) -> Comparison:
    """compare_tables on a DuckDB connection (the DuckDB warehouse, or the reader of the Spark
    warehouse's parquet files). The keys are cast to date and text on both sides, so that a
    period read back from a partition folder's name compares as a date."""
    def keyed(name: str) -> str:
        return (f"(select * replace (cast(snapshot_period as date) as snapshot_period, "
                f"cast(user_id as varchar) as user_id) from {quoted(name)})")

    differs = " or ".join(f'l."{c}" is distinct from r."{c}"' for c in columns)
    joined = (f"from {keyed(left)} as l full join {keyed(right)} as r "
              "using (snapshot_period, user_id)")
    cur.execute(
        "select count(l.user_id), count(r.user_id), "
        "count(*) filter (where r.user_id is null), count(*) filter (where l.user_id is null), "
        f"count(*) filter (where l.user_id is not null and r.user_id is not null and ({differs})) "
        f"{joined}"
    )
    row = cur.fetchone()
    sample_columns = ", ".join(f'l."{c}", r."{c}"' for c in columns)
    cur.execute(
        f"select snapshot_period, user_id, l.user_id is not null, r.user_id is not null, "
        f"{sample_columns} {joined} where l.user_id is null or r.user_id is null or ({differs}) "
        "order by 1, 2 limit 5"
    )
    examples = [repr(r) for r in cur.fetchall()]
    return Comparison(left, right, list(columns), *(int(v) for v in row), examples=examples)


def store_segments(connection: postgres.Connection, frame: Any, table: str) -> int:
    """COPY (snapshot_period, user_id, rfm_segment) of a DataFrame into a new ``table``, through
    a temporary file (at size L the CSV of ~20M rows would take GBs in memory)."""
    target = qualified(table)
    with tempfile.TemporaryFile("w+", encoding="utf-8", prefix="rfm-bench-pandas-") as buffer, \
            closing(connection.connect()) as conn, conn.cursor() as cur:
        frame[["snapshot_period", "user_id", "rfm_segment"]].to_csv(
            buffer, index=False, header=False)
        buffer.seek(0)
        cur.execute(sql.SQL("drop table if exists {}").format(target))
        cur.execute(sql.SQL(
            "create table {} (snapshot_period date, user_id text, rfm_segment text)"
        ).format(target))
        cur.copy_expert(
            sql.SQL("copy {} from stdin with (format csv)").format(target).as_string(conn), buffer
        )
        conn.commit()
    return len(frame)


def store_frame(cur: Any, frame: Any, table: str) -> None:
    """(snapshot_period, user_id, rfm_segment) of a DataFrame as a new DuckDB table."""
    part = frame[["snapshot_period", "user_id", "rfm_segment"]]
    cur.register("rfm_bench_frame", part)
    try:
        cur.execute(f"create or replace table {quoted(table)} as select "
                    "cast(snapshot_period as date) as snapshot_period, "
                    "cast(user_id as varchar) as user_id, "
                    "cast(rfm_segment as varchar) as rfm_segment from rfm_bench_frame")
    finally:
        cur.unregister("rfm_bench_frame")
