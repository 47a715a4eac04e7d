"""Timing a SQL statement and what PostgreSQL spilled doing it, EXPLAIN ANALYZE, and the facts
of the machine measured."""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Mapping
from contextlib import closing, suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from psycopg2 import errors, sql

from rfm_segmentation.bench.plan import qualified
from rfm_segmentation.warehouses import postgres


@dataclass
class SqlStep:
    wall_s: float
    capped: bool = False
    temp_bytes: int = 0
    temp_files: int = 0
    rows: int | None = None


def _flush_stats(cur: Any) -> None:
    """Make this backend report its statistics (temp files) now, not when it gets idle."""
    with suppress(Exception):  # pre-15 servers: their stats arrive when the backend exits
        cur.execute("select pg_stat_force_next_flush()")
        cur.execute("select 1")


def run_sql_step(
    connection: postgres.Connection,
    statement: str,
    *,
    create_table: str | None = None,
    timeout_s: float | None = None,
) -> SqlStep:
    """Run one statement in a fresh session (as ``create table <create_table> as`` when given,
    dropping that table first) and time it. With ``timeout_s`` a statement running longer is
    cancelled and the step is reported as capped."""
    with closing(connection.connect()) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            if create_table is not None:
                table = qualified(create_table)
                cur.execute(sql.SQL("drop table if exists {}").format(table))
                create = sql.SQL("create table {} as\n").format(table).as_string(conn)
                statement = create + statement
            if timeout_s is not None:
                cur.execute("select set_config('statement_timeout', %s, false)",
                            (f"{int(timeout_s * 1000)}ms",))
            started = time.perf_counter()
            capped = False
            try:
                cur.execute(statement)
            except errors.QueryCanceled:
                capped = True
            wall = time.perf_counter() - started
            rows = cur.rowcount if not capped and cur.rowcount >= 0 else None
            cur.execute("reset statement_timeout")
            _flush_stats(cur)
    return SqlStep(wall_s=wall, capped=capped, rows=rows)


class TempStats:
    """pg_stat_database.temp_bytes/temp_files of one database, read from a separate session."""

    def __init__(self, connection: postgres.Connection) -> None:
        self._conn = connection.connect()
        self._conn.autocommit = True

    def read(self) -> tuple[int, int]:
        with self._conn.cursor() as cur:
            cur.execute("select pg_stat_clear_snapshot()")
            cur.execute(
                "select temp_bytes, temp_files from pg_stat_database "
                "where datname = current_database()"
            )
            row = cur.fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def settle(self, before: tuple[int, int], wait_s: float = 0.6) -> tuple[int, int]:
        """The counters once the backends of a finished process have reported (they report when
        they exit, shortly after the client is gone): read until two reads agree."""
        previous = self.read()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            time.sleep(wait_s / 3)
            current = self.read()
            if current == previous:
                break
            previous = current
        return previous[0] - before[0], previous[1] - before[1]

    def close(self) -> None:
        self._conn.close()


def checkpoint(connection: postgres.Connection) -> None:
    """Write dirty buffers out before a timed step, so it does not pay for the previous one's.
    Needs superuser or pg_checkpoint: skipped silently without."""
    with closing(connection.connect()) as conn:
        conn.autocommit = True
        with conn.cursor() as cur, suppress(Exception):
            cur.execute("checkpoint")


def scalar(connection: postgres.Connection, statement: str | sql.Composable) -> Any:
    with postgres.cursor(connection) as cur:
        cur.execute(statement)
        return cur.fetchone()[0]


_SORT_LINE: Final = re.compile(r"Sort Method: ([a-z -]+?)\s+(Memory|Disk): (\d+)kB")


def explain_analyze(connection: postgres.Connection, compiled_sql: str,
                    settings: Mapping[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """EXPLAIN (ANALYZE, BUFFERS) of a select (it runs, it writes nothing) and a summary: its
    execution time and its sorts (method, kB in memory or on disk)."""
    with closing(connection.connect()) as conn, conn.cursor() as cur:
        for name, value in (settings or {}).items():
            cur.execute("select set_config(%s, %s, true)", (name, value))
        cur.execute("select current_setting('work_mem')")
        work_mem = cur.fetchone()[0]
        cur.execute("explain (analyze, buffers) " + compiled_sql)
        plan = "\n".join(row[0] for row in cur.fetchall())
        conn.rollback()
    sorts = [{"method": m.group(1), "where": m.group(2).lower(), "kb": int(m.group(3))}
             for m in _SORT_LINE.finditer(plan)]
    match = re.search(r"Execution Time: ([\d.]+) ms", plan)
    summary = {
        "execution_s": float(match.group(1)) / 1000 if match else None,
        "settings": dict(settings or {}),
        "work_mem": work_mem,
        "sorts": len(sorts),
        "sorts_on_disk": sum(1 for s in sorts if s["where"] == "disk"),
        "sort_disk_mb": round(sum(s["kb"] for s in sorts if s["where"] == "disk") / 1024, 1),
        "sort_details": sorts,
    }
    return plan, summary


_DEFAULT_THREADS: Final[dict[str, str]] = {"postgres": "4", "duckdb": "1", "spark": "1"}


def dbt_threads(engine: str) -> str:
    """dbt's threads on an engine, as profiles.yml sets them."""
    if engine == "spark":
        return "1"
    return os.environ.get("DBT_THREADS") or _DEFAULT_THREADS[engine]


def machine_facts(connection: postgres.Connection | None = None) -> dict[str, Any]:
    """The machine and the versions measured; the PostgreSQL settings when ``connection`` is
    given (runs on other engines leave the stored ones as they are)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    settings = ("server_version", "work_mem", "shared_buffers", "maintenance_work_mem",
                "max_parallel_workers_per_gather", "jit", "effective_cache_size", "wal_level")
    pg: dict[str, Any] = {}
    if connection is not None:
        with postgres.cursor(connection) as cur:
            for name in settings:
                cur.execute("select current_setting(%s)", (name,))
                pg[name] = cur.fetchone()[0]

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "-"

    facts: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "dbt_core": version("dbt-core"),
        "dbt_postgres": version("dbt-postgres"),
        "duckdb": version("duckdb"),
        "dbt_duckdb": version("dbt-duckdb"),
        "pyspark": version("pyspark"),
        "dbt_spark": version("dbt-spark"),
        "pandas": version("pandas"),
    }
    if connection is not None:
        facts.update({
            "postgresql": pg,
            "server": "embedded" if connection.embedded else "PG* variables",
            "dbt_threads": dbt_threads("postgres"),
        })
    return facts
