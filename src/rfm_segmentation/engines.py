"""The warehouses the project builds on: PostgreSQL (embedded, or yours with PG*), DuckDB (a file
in ``.local``) and Spark (a local session from the pyspark wheel, tables in ``.local``).

The engine is the dbt target: ``DBT_TARGET`` (default ``postgres``), as in ``profiles.yml``. A
:class:`Warehouse` gives the rest of the package what it needs of an engine, and nothing more:
the environment dbt runs with, a cursor for reading the marts, identifier quoting, and loading
the raw tables.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any, Final

from rfm_segmentation import database, demo_data

ENGINES: Final = ("postgres", "duckdb", "spark")
DEFAULT_ENGINE: Final = "postgres"
# The raw amount type the demo loader writes on engines without an unconstrained numeric.
RAW_MONEY_TYPE: Final = "decimal(38,10)"
_CHUNK_ROWS: Final = 100_000


def engine_from_env(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    engine = environ.get("DBT_TARGET") or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise SystemExit(f"DBT_TARGET={engine!r}: expected one of {', '.join(ENGINES)}")
    return engine


def postgres_only_refusal(command: str, step: str, builds_elsewhere: str) -> str | None:
    """Why a PostgreSQL-only step (`rfm ltv` trains, `rfm clusters` clusters) stops when
    DBT_TARGET names another engine; None on PostgreSQL."""
    engine = engine_from_env()
    if engine == "postgres":
        return None
    return (f"rfm {command}: the {step} step runs on PostgreSQL only (DBT_TARGET={engine});"
            f" {builds_elsewhere}")


class Warehouse(ABC):
    """One engine's database, as the CLI, the report and the tests use it."""

    engine: str

    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def dbt_env(self) -> dict[str, str]:
        """What dbt needs in its environment to reach this database (profiles.yml)."""

    @abstractmethod
    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A DB-API cursor (``execute(sql)``, ``fetchall()``, ``description``)."""

    def quote(self, *parts: str) -> str:
        return ".".join('"' + part.replace('"', '""') + '"' for part in parts)

    def query(self, statement: str) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            cur.execute(statement)
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def table(self, schema: str, name: str, order_by: str = "1") -> list[dict[str, Any]]:
        return self.query(f"select * from {self.quote(schema, name)} order by {order_by}")

    @abstractmethod
    def load_raw(self, payments: Iterable[demo_data.PaymentRow],
                 calendar: Iterable[tuple[date, date]], schema: str = "raw") -> dict[str, int]:
        """Replace ``<schema>.fact_payments`` and ``<schema>.dim_calendar`` with these rows."""

    @abstractmethod
    def append_payments(self, payments: Iterable[demo_data.PaymentRow],
                        schema: str = "raw") -> int:
        """Append rows to ``<schema>.fact_payments`` (a new period arriving)."""


class PostgresWarehouse(Warehouse):
    engine = "postgres"

    def __init__(self, connection: database.Connection) -> None:
        self.connection = connection

    def describe(self) -> str:
        return self.connection.describe()

    def dbt_env(self) -> dict[str, str]:
        return {"DBT_TARGET": self.engine, **self.connection.env}

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        with database.cursor(self.connection) as cur:
            yield cur

    def load_raw(self, payments: Iterable[demo_data.PaymentRow],
                 calendar: Iterable[tuple[date, date]], schema: str = "raw") -> dict[str, int]:
        conn = self.connection.connect()
        try:
            return demo_data.load_raw(conn, payments, calendar, schema)
        finally:
            conn.close()

    def append_payments(self, payments: Iterable[demo_data.PaymentRow],
                        schema: str = "raw") -> int:
        conn = self.connection.connect()
        try:
            return demo_data.append_payments(conn, payments, schema)
        finally:
            conn.close()


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


def _amount_text(rows: Iterable[demo_data.PaymentRow]) -> Iterator[tuple[Any, ...]]:
    # Decimal -> text, cast by the database: exact, whatever the driver does with Decimal.
    for payment_id, user_id, payment_date, amount in rows:
        yield payment_id, user_id, payment_date, None if amount is None else str(amount)


class DuckDBWarehouse(Warehouse):
    engine = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = path

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

    def load_raw(self, payments: Iterable[demo_data.PaymentRow],
                 calendar: Iterable[tuple[date, date]], schema: str = "raw") -> dict[str, int]:
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

    def append_payments(self, payments: Iterable[demo_data.PaymentRow],
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


def resolve(root: Path, environ: Mapping[str, str] | None = None) -> Warehouse:
    """The warehouse of the engine named by DBT_TARGET (PostgreSQL by default)."""
    engine = engine_from_env(environ)
    if engine == "duckdb":
        return DuckDBWarehouse(duckdb_path(root, environ))
    if engine == "spark":
        from rfm_segmentation import spark

        return spark.SparkWarehouse(spark.spark_dir(root, environ))
    return PostgresWarehouse(database.resolve(root, environ))


def as_warehouse(where: Warehouse | database.Connection) -> Warehouse:
    """A warehouse from either a warehouse or a PostgreSQL connection (the older signature)."""
    return where if isinstance(where, Warehouse) else PostgresWarehouse(where)
