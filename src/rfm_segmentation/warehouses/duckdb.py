"""DuckDB: a file in ``.local`` (``RFM_DUCKDB_PATH``), written by one process at a time."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any, Final

from rfm_segmentation.raw import CalendarRow, EventRow, IdentifyRow, PaymentRow
from rfm_segmentation.warehouses.base import Warehouse

# The raw amount type the demo loader writes on engines without an unconstrained numeric.
RAW_MONEY_TYPE: Final = "decimal(38,10)"
_CHUNK_ROWS: Final = 100_000


def _frames(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> Iterator[Any]:
    """pandas DataFrames of at most _CHUNK_ROWS rows, every value as a Python object (so that a
    blank string stays blank and a missing value stays None)."""
    import pandas as pd

    iterator = iter(rows)
    while chunk := list(islice(iterator, _CHUNK_ROWS)):
        yield pd.DataFrame(
            {name: pd.Series([row[i] for row in chunk], dtype=object)
             for i, name in enumerate(columns)}
        )


_PAYMENT_COLUMNS: Final = ("payment_id", "user_id", "payment_date", "payment_amount")
_CALENDAR_COLUMNS: Final = ("date_day", "date_month")
_PAYMENT_SELECT: Final = (
    "cast(payment_id as varchar), cast(user_id as varchar), cast(payment_date as timestamp),"
    f" cast(payment_amount as {RAW_MONEY_TYPE})"
)


# the optional event sources: (column, type) in the order of raw.EventRow / raw.IdentifyRow
EVENT_TABLES: Final = {
    "fact_events": (("event_id", "varchar"), ("occurred_at", "timestamp"),
                    ("event_name", "varchar"), ("user_id", "varchar"),
                    ("anonymous_id", "varchar"), ("email", "varchar"),
                    ("revenue", RAW_MONEY_TYPE), ("product_id", "varchar")),
    "identifies": (("occurred_at", "timestamp"), ("user_id", "varchar"),
                   ("anonymous_id", "varchar"), ("email", "varchar")),
}


def _as_text(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    # Decimal -> text, cast by the database (as _amount_text)
    for row in rows:
        yield tuple(str(v) if isinstance(v, Decimal) else v for v in row)


def _amount_text(rows: Iterable[PaymentRow]) -> Iterator[tuple[Any, ...]]:
    # Decimal -> text, cast by the database: exact, whatever the driver does with Decimal.
    for payment_id, user_id, payment_date, amount in rows:
        yield payment_id, user_id, payment_date, None if amount is None else str(amount)


class DuckDBWarehouse(Warehouse):
    engine = "duckdb"
    settings = ("RFM_DUCKDB_PATH",)

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_environment(cls, root: Path, environ: Mapping[str, str]) -> DuckDBWarehouse:
        return cls(duckdb_path(root, environ))

    def describe(self) -> str:
        return f"DuckDB: {self.path}"

    def dbt_env(self) -> dict[str, str]:
        return {"DBT_TARGET": self.engine, "RFM_DUCKDB_PATH": str(self.path)}

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        import duckdb

        # One connection per use: DuckDB lets one process at a time open the file for writing,
        # and dbt is another process.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(self.path))
        try:
            yield conn
        finally:
            conn.close()

    def _insert(self, conn: Any, table: str, rows: Iterable[Sequence[Any]],
                columns: Sequence[str], select: str) -> int:
        count = 0
        for frame in _frames(rows, columns):
            conn.register("rfm_batch", frame)
            conn.execute(f"insert into {table} select {select} from rfm_batch")
            conn.unregister("rfm_batch")
            count += len(frame)
        return count

    def load_raw(self, payments: Iterable[PaymentRow],
                 calendar: Iterable[CalendarRow], schema: str = "raw") -> dict[str, int]:
        payments_table = self.quote(schema, "fact_payments")
        calendar_table = self.quote(schema, "dim_calendar")
        with self.cursor() as conn:
            conn.execute("begin")
            conn.execute(f"create schema if not exists {self.quote(schema)}")
            conn.execute(
                f"create or replace table {payments_table} (payment_id varchar, user_id varchar,"
                f" payment_date timestamp, payment_amount {RAW_MONEY_TYPE})"
            )
            conn.execute(
                f"create or replace table {calendar_table} (date_day date, date_month date)"
            )
            n_payments = self._insert(conn, payments_table, _amount_text(payments),
                                      _PAYMENT_COLUMNS, _PAYMENT_SELECT)
            n_calendar = self._insert(conn, calendar_table, calendar, _CALENDAR_COLUMNS,
                                      "cast(date_day as date), cast(date_month as date)")
            conn.execute("commit")
        return {"fact_payments": n_payments, "dim_calendar": n_calendar}

    def load_events(self, events: Iterable[EventRow], identifies: Iterable[IdentifyRow],
                    schema: str = "raw", append: bool = False) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.cursor() as conn:
            conn.execute("begin")
            conn.execute(f"create schema if not exists {self.quote(schema)}")
            for name, rows in (("fact_events", events), ("identifies", identifies)):
                columns = EVENT_TABLES[name]
                table = self.quote(schema, name)
                create = "create table if not exists" if append else "create or replace table"
                conn.execute(f"{create} {table} ("
                             + ", ".join(f"{c} {t}" for c, t in columns) + ")")
                counts[name] = self._insert(
                    conn, table, _as_text(rows), [c for c, _ in columns],
                    ", ".join(f"cast({c} as {t})" for c, t in columns))
            conn.execute("commit")
        return counts

    def append_payments(self, payments: Iterable[PaymentRow],
                        schema: str = "raw") -> int:
        with self.cursor() as conn:
            conn.execute("begin")
            count = self._insert(conn, self.quote(schema, "fact_payments"),
                                 _amount_text(payments), _PAYMENT_COLUMNS, _PAYMENT_SELECT)
            conn.execute("commit")
        return count


def duckdb_path(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    path = Path(environ.get("RFM_DUCKDB_PATH") or ".local/rfm.duckdb")
    return path if path.is_absolute() else root / path
