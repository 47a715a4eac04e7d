"""What ``run_benchmark`` needs of one engine: a fresh warehouse, the SQL steps, the pandas input
and output, the checks. PostgreSQL-only figures are None (reported as n/a)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from psycopg2 import sql

from rfm_segmentation import warehouses
from rfm_segmentation.bench.compare import (
    Comparison,
    compare_cursor,
    compare_tables,
    store_frame,
    store_segments,
)
from rfm_segmentation.bench.data import (
    calendar_days,
    calendar_from_cursor,
    raw_frame_from_cursor,
    read_raw_payments,
)
from rfm_segmentation.bench.measure import SqlStep, TempStats, checkpoint, run_sql_step, scalar
from rfm_segmentation.bench.plan import (
    BENCH_SCHEMA,
    DBT_SCHEMA,
    HISTORY_MODEL,
    HISTORY_TABLE,
    BenchError,
    BenchOptions,
    qualified,
    quoted,
)
from rfm_segmentation.warehouses import postgres
from rfm_segmentation.warehouses.spark import start_session


class EngineBench:
    """What run_benchmark needs of one engine: a fresh warehouse, loading, the SQL steps, the
    pandas input and output, the checks. PostgreSQL-only figures are None (reported as n/a)."""

    engine: str
    warehouse: warehouses.Warehouse
    workdir: Path

    def prepare(self) -> None:
        """A fresh, empty warehouse with a ``bench`` schema."""

    def before_step(self) -> Any:
        """Called before a timed step; returns what after_step needs."""
        return None

    def after_step(self, token: Any) -> tuple[int | None, int | None]:
        """(temp bytes, temp files) the step spilled: PostgreSQL only."""
        return None, None

    def run_sql(self, statement: str, table: str, timeout_s: float | None) -> SqlStep:
        raise NotImplementedError

    def snapshot_incremental(self) -> None:
        """Keep a copy of the history as the incremental run left it (bench.incremental_history)."""
        raise NotImplementedError

    def raw_payments(self) -> tuple[Any, list[date]]:
        raise NotImplementedError

    def store_pandas(self, frame: Any) -> None:
        raise NotImplementedError

    def compare(self, pairs: Mapping[str, tuple[str, str, Sequence[str]] | None]
                ) -> dict[str, Comparison | None]:
        raise NotImplementedError

    def scalar(self, statement: str) -> Any:
        raise NotImplementedError

    def history_mb(self) -> float | None:
        return None

    def close(self) -> None:
        pass


class PostgresBench(EngineBench):
    engine = "postgres"

    def __init__(self, root: Path, options: BenchOptions,
                 connection: postgres.Connection | None) -> None:
        server = connection or postgres.resolve(root)
        self.conn = postgres.ensure_database(server, options.database, recreate=True)
        self.warehouse = warehouses.PostgresWarehouse(self.conn)
        self.workdir = options.workdir or root / ".local" / "bench" / options.database
        self.stats = TempStats(self.conn)

    def prepare(self) -> None:
        with postgres.cursor(self.conn) as cur:
            cur.execute(sql.SQL("create schema if not exists {}").format(
                sql.Identifier(BENCH_SCHEMA)))

    def before_step(self) -> Any:
        checkpoint(self.conn)
        return self.stats.read()

    def after_step(self, token: Any) -> tuple[int | None, int | None]:
        return self.stats.settle(token)

    def run_sql(self, statement: str, table: str, timeout_s: float | None) -> SqlStep:
        return run_sql_step(self.conn, statement, create_table=table, timeout_s=timeout_s)

    def snapshot_incremental(self) -> None:
        with postgres.cursor(self.conn) as cur:
            cur.execute(sql.SQL("drop table if exists {t}; create table {t} as select * from {h}")
                        .format(t=qualified(f"{BENCH_SCHEMA}.incremental_history"),
                                h=qualified(HISTORY_TABLE)))

    def raw_payments(self) -> tuple[Any, list[date]]:
        return read_raw_payments(self.conn), calendar_days(self.conn)

    def store_pandas(self, frame: Any) -> None:
        store_segments(self.conn, frame, f"{BENCH_SCHEMA}.pandas_segments")

    def compare(self, pairs: Mapping[str, tuple[str, str, Sequence[str]] | None]
                ) -> dict[str, Comparison | None]:
        return {name: None if pair is None else compare_tables(self.conn, *pair)
                for name, pair in pairs.items()}

    def scalar(self, statement: str) -> Any:
        return scalar(self.conn, statement)

    def history_mb(self) -> float | None:
        return round(scalar(self.conn, sql.SQL("select pg_total_relation_size({})").format(
            sql.Literal(HISTORY_TABLE))) / 2**20, 1)

    def close(self) -> None:
        self.stats.close()


class DuckDBBench(EngineBench):
    """A fresh DuckDB file (``warehouse.duckdb`` in the work folder), never the demo's. (Not
    ``bench.duckdb``: its catalog would clash with the ``bench`` schema.)"""

    engine = "duckdb"

    def __init__(self, root: Path, options: BenchOptions) -> None:
        self.workdir = options.workdir or root / ".local" / "bench" / "duckdb"
        self.path = self.workdir / "warehouse.duckdb"
        self.warehouse = warehouses.DuckDBWarehouse(self.path)

    def prepare(self) -> None:
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            path.unlink(missing_ok=True)
        with self.warehouse.cursor() as cur:
            cur.execute(f"create schema {quoted(BENCH_SCHEMA)}")

    def run_sql(self, statement: str, table: str, timeout_s: float | None) -> SqlStep:
        import threading

        import duckdb

        with self.warehouse.cursor() as cur:
            statement = f"create or replace table {quoted(table)} as\n" + statement
            timer = threading.Timer(timeout_s, cur.interrupt) if timeout_s else None
            started = time.perf_counter()
            capped, rows = False, None
            if timer is not None:
                timer.start()
            try:
                rows = int(cur.execute(statement).fetchone()[0])
            except duckdb.InterruptException:
                capped = True
            finally:
                if timer is not None:
                    timer.cancel()
            wall = time.perf_counter() - started
        return SqlStep(wall_s=wall, capped=capped, rows=rows)

    def snapshot_incremental(self) -> None:
        with self.warehouse.cursor() as cur:
            cur.execute(f"create or replace table {quoted(BENCH_SCHEMA + '.incremental_history')}"
                        f" as select * from {quoted(HISTORY_TABLE)}")

    def raw_payments(self) -> tuple[Any, list[date]]:
        with self.warehouse.cursor() as cur:
            return raw_frame_from_cursor(cur), calendar_from_cursor(cur)

    def store_pandas(self, frame: Any) -> None:
        with self.warehouse.cursor() as cur:
            store_frame(cur, frame, f"{BENCH_SCHEMA}.pandas_segments")

    def compare(self, pairs: Mapping[str, tuple[str, str, Sequence[str]] | None]
                ) -> dict[str, Comparison | None]:
        with self.warehouse.cursor() as cur:
            return {name: None if pair is None else compare_cursor(cur, *pair)
                    for name, pair in pairs.items()}

    def scalar(self, statement: str) -> Any:
        with self.warehouse.cursor() as cur:
            return cur.execute(statement).fetchone()[0]


class SparkBench(EngineBench):
    """A fresh Spark warehouse folder (``lake`` in the work folder). dbt runs Spark; the naive
    and floor statements run in a short-lived Spark process of their own (`python -m
    rfm_segmentation.bench spark-sql`), never while dbt runs (embedded Derby admits one JVM);
    everything is read back with DuckDB from the parquet files Spark wrote."""

    engine = "spark"

    def __init__(self, root: Path, options: BenchOptions) -> None:
        self.workdir = options.workdir or root / ".local" / "bench" / "spark"
        self.folder = self.workdir / "lake"
        self.warehouse = warehouses.SparkWarehouse(self.folder)
        self.staging = warehouses.DuckDBWarehouse(self.folder / "raw_files" / "load.duckdb")
        self.extra = self.workdir / "read-back"

    def prepare(self) -> None:

        for folder in (self.folder, self.extra):
            shutil.rmtree(folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.extra.mkdir(parents=True)

    @contextmanager
    def reader(self) -> Iterator[Any]:
        """The DuckDB reader of Spark's tables, plus bench.incremental_history and
        bench.pandas_segments (parquet files of the work folder)."""
        with self.warehouse.cursor() as cur:
            cur.execute(f"create schema if not exists {quoted(BENCH_SCHEMA)}")
            for path in sorted(self.extra.glob("*.parquet")):
                cur.execute(f"create or replace view {quoted(BENCH_SCHEMA + '.' + path.stem)} "
                            f"as select * from read_parquet('{path}')")
            yield cur

    def run_sql(self, statement: str, table: str, timeout_s: float | None) -> SqlStep:
        schema, name = table.split(".")
        sql_path = self.workdir / f"{name}.spark.sql"
        out_path = self.workdir / f"{name}.spark.json"
        sql_path.write_text(statement)
        out_path.unlink(missing_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "rfm_segmentation.bench", "spark-sql", str(self.folder),
             schema, name, str(sql_path), str(out_path), str(timeout_s or 0)],
            env={**os.environ, "TZ": "UTC"}, cwd=self.workdir,  # derby.log goes to the cwd
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0 or not out_path.is_file():
            raise BenchError(f"Spark SQL {table} failed (exit {done.returncode}):\n"
                             f"{done.stderr[-4000:]}")
        measured = json.loads(out_path.read_text())
        step = SqlStep(wall_s=float(measured["wall_s"]), capped=bool(measured["capped"]))
        if not step.capped:
            with self.reader() as cur:
                step.rows = int(cur.execute(f"select count(*) from {quoted(table)}").fetchone()[0])
        return step

    def snapshot_incremental(self) -> None:
        target = self.extra / "incremental_history.parquet"
        with self.warehouse.cursor() as cur:
            cur.execute(f"copy (select * from {quoted(HISTORY_TABLE)}) to '{target}' "
                        "(format parquet)")

    def raw_payments(self) -> tuple[Any, list[date]]:
        # The very rows Spark reads: the parquet files were exported from this DuckDB file.
        with self.staging.cursor() as cur:
            return raw_frame_from_cursor(cur), calendar_from_cursor(cur)

    def store_pandas(self, frame: Any) -> None:
        import duckdb

        with closing(duckdb.connect()) as cur:
            store_frame(cur, frame, "pandas_segments")
            cur.execute(f"copy pandas_segments to '{self.extra / 'pandas_segments.parquet'}' "
                        "(format parquet)")

    def compare(self, pairs: Mapping[str, tuple[str, str, Sequence[str]] | None]
                ) -> dict[str, Comparison | None]:
        with self.reader() as cur:
            return {name: None if pair is None else compare_cursor(cur, *pair)
                    for name, pair in pairs.items()}

    def scalar(self, statement: str) -> Any:
        with self.reader() as cur:
            return cur.execute(statement).fetchone()[0]

    def history_mb(self) -> float | None:
        folder = self.folder / "warehouse" / f"{DBT_SCHEMA}.db" / HISTORY_MODEL
        files = list(folder.rglob("*.parquet"))
        return round(sum(f.stat().st_size for f in files) / 2**20, 1) if files else None


def engine_bench(root: Path, options: BenchOptions,
                  connection: postgres.Connection | None) -> EngineBench:
    if options.engine == "postgres":
        return PostgresBench(root, options, connection)
    if options.engine == "duckdb":
        return DuckDBBench(root, options)
    if options.engine == "spark":
        return SparkBench(root, options)
    raise ValueError(f"unknown engine {options.engine!r}: expected one of "
                     f"{', '.join(warehouses.ENGINES)}")


def spark_sql_main(folder: Path, schema: str, table: str, sql_path: Path, out_path: Path,
                   timeout_s: float) -> None:
    """In a Spark process of its own: ``create table <schema>.<table> using parquet as`` the
    statement of ``sql_path``, timed from after the session started; writes
    {wall_s, capped, session_start_s} to ``out_path``. Cancelled after ``timeout_s`` (0: never)."""
    import threading

    started = time.perf_counter()
    session = start_session(folder)
    try:
        session.sql(f"create database if not exists `{schema}`")
        session.sql(f"drop table if exists `{schema}`.`{table}`")
        session_start = time.perf_counter() - started
        timer = (threading.Timer(timeout_s, session.sparkContext.cancelAllJobs)
                 if timeout_s > 0 else None)
        capped = False
        started = time.perf_counter()
        if timer is not None:
            timer.start()
        try:
            session.sql(f"create table `{schema}`.`{table}` using parquet as\n"
                        + sql_path.read_text())
        except Exception:
            if timer is None or timer.is_alive():
                raise
            capped = True
        finally:
            if timer is not None:
                timer.cancel()
        wall = time.perf_counter() - started
    finally:
        session.stop()
    out_path.write_text(json.dumps({"wall_s": wall, "capped": capped,
                                    "session_start_s": session_start}))
