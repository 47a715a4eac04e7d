"""The local Spark engine: dbt-spark's ``session`` method on a Spark from the pyspark wheel.

Everything lives in one folder (``RFM_SPARK_DIR``, default ``.local/spark``): the tables as
parquet under ``warehouse/`` and the Hive metastore (embedded Derby) under ``metastore_db``.
Embedded Derby admits one JVM at a time, so this module never holds a Spark session while dbt
runs:
- the raw tables are written as parquet files by DuckDB and registered in the metastore by a
  short-lived Spark process (``python -m rfm_segmentation.warehouses spark-register ...``);
- the marts are read back from their parquet files with DuckDB (a reader only: every value was
  computed by Spark).
The same settings are in profiles.yml (target ``spark``); keep the two in step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from rfm_segmentation.raw import CalendarRow, EventRow, IdentifyRow, PaymentRow
from rfm_segmentation.warehouses.base import Warehouse
from rfm_segmentation.warehouses.duckdb import DuckDBWarehouse

# the raw tables registered when their parquet file exists (the event sources are optional)
RAW_TABLES: Final = ("fact_payments", "dim_calendar", "fact_events", "identifies")


def spark_dir(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    path = Path(environ.get("RFM_SPARK_DIR") or ".local/spark")
    return path if path.is_absolute() else root / path


def spark_conf(folder: Path) -> dict[str, str]:
    """The session settings of profiles.yml's spark target, for a given folder."""
    return {
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.stream.error.file={folder / 'derby.log'}",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
    }


class SparkWarehouse(Warehouse):
    engine = "spark"
    settings = ("RFM_SPARK_DIR",)

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    @classmethod
    def from_environment(cls, root: Path, environ: Mapping[str, str]) -> SparkWarehouse:
        return cls(spark_dir(root, environ))

    def describe(self) -> str:
        return f"local Spark (session): {self.folder}"

    def dbt_env(self) -> dict[str, str]:
        return {"DBT_TARGET": self.engine, "RFM_SPARK_DIR": str(self.folder), "TZ": "UTC"}

    def quote(self, *parts: str) -> str:
        return ".".join('"' + part.replace('"', '""') + '"' for part in parts)

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """DuckDB, in memory, with a view per table Spark wrote (schema.table)."""
        import duckdb

        conn = duckdb.connect()
        try:
            for schema, schema_dir in self._schema_dirs():
                conn.execute(f"create schema if not exists {self.quote(schema)}")
                for table_dir in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
                    files = list(table_dir.rglob("*.parquet"))
                    if not files:
                        continue
                    partitioned = any(p.is_dir() and "=" in p.name for p in table_dir.iterdir())
                    conn.execute(
                        f"create view {self.quote(schema, table_dir.name)} as select * from"
                        f" read_parquet('{table_dir}/**/*.parquet',"
                        f" hive_partitioning = {str(partitioned).lower()})"
                    )
            yield conn
        finally:
            conn.close()

    def _schema_dirs(self) -> list[tuple[str, Path]]:
        """(schema, folder of its tables) of every schema Spark wrote."""
        return [(path.name.removesuffix(".db"), path)
                for path in sorted((self.folder / "warehouse").glob("*.db"))]

    def close(self) -> None:
        """Nothing to stop: no Spark session outlives a call."""

    def _staging(self) -> DuckDBWarehouse:
        """Where the raw rows are written before their export to parquet."""
        return DuckDBWarehouse(self.folder / "raw_files" / "load.duckdb")

    def _raw_dir(self, schema: str) -> Path:
        return self.folder / "raw_files" / schema

    def load_raw(self, payments: Iterable[PaymentRow],
                 calendar: Iterable[CalendarRow], schema: str = "raw") -> dict[str, int]:
        staging = self._staging()
        counts = staging.load_raw(payments, calendar, schema)
        self._export(staging, schema, ("fact_payments", "dim_calendar"))
        self._register(schema)
        return counts

    def append_payments(self, payments: Iterable[PaymentRow],
                        schema: str = "raw") -> int:
        staging = self._staging()
        count = staging.append_payments(payments, schema)
        self._export(staging, schema, ("fact_payments",))
        self._register(schema)
        return count

    def load_events(self, events: Iterable[EventRow], identifies: Iterable[IdentifyRow],
                    schema: str = "raw", append: bool = False) -> dict[str, int]:
        staging = self._staging()
        counts = staging.load_events(events, identifies, schema, append)
        self._export(staging, schema, ("fact_events", "identifies"))
        self._register(schema)
        return counts

    def _export(self, staging: DuckDBWarehouse, schema: str,
                tables: Iterable[str]) -> None:
        target = self._raw_dir(schema)
        target.mkdir(parents=True, exist_ok=True)
        with staging.cursor() as conn:
            for table in tables:
                conn.execute(
                    f"copy {staging.quote(schema, table)} to '{target / table}.parquet'"
                    " (format parquet)"
                )

    def _register(self, schema: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "rfm_segmentation.warehouses", "spark-register",
             str(self.folder), schema, str(self._raw_dir(schema))],
            env={**os.environ, "TZ": "UTC"}, capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"registering the raw tables in Spark failed:\n{done.stderr[-4000:]}"
            )


def start_session(folder: Path) -> Any:
    """A Spark session with the settings of ``spark_conf`` (in a short-lived process of its
    own: embedded Derby admits one JVM at a time)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_conf(folder).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def register(folder: Path, schema: str, files: Path) -> None:
    """(Re)create ``<schema>.<table>`` in the metastore over each ``<files>/<table>.parquet``."""
    session = start_session(folder)
    try:
        register_tables(session, schema, files)
    finally:
        session.stop()


def register_tables(session: Any, schema: str, files: Path) -> None:
    """``register`` in a running session."""
    session.sql(f"create database if not exists `{schema}`")
    for table in RAW_TABLES:
        path = files / f"{table}.parquet"
        if path.exists():
            session.sql(f"drop table if exists `{schema}`.`{table}`")
            session.sql(f"create table `{schema}`.`{table}` using parquet location '{path}'")

