"""`rfm bench`: how fast is the history, next to the naive design, the floor and pandas.

On PostgreSQL (``--engine postgres``, the default unless DBT_TARGET says otherwise) one run
works in its own database (``rfm_bench`` by default, dropped and recreated) on the server
``postgres.resolve`` gives. On DuckDB it works in a fresh file, on Spark in a fresh warehouse
folder, both under ``.local/bench/<engine>`` (never the demo's). It measures on the same data:

1. generate demo data of a named size and shape (deterministic by seed) and load it into ``raw``,
   every period but the last; the last period's payments are appended later;
2. ``dbt build --full-refresh`` at the end of the previous period (the stored history);
3. append the last period, then the scheduled ``dbt build`` (incremental) at its end;
4. ``dbt build --full-refresh`` at the same instant (the headline full build), then the unit
   tests on their own (every build above is the production job, ``PRODUCTION_BUILD``, which
   leaves them to CI);
5. the naive design, ``benchmarks/naive.sql``, as ``create table ... as`` (capped);
6. the floor, ``benchmarks/floor.sql``, as ``create table ... as``;
7. the pandas way of the background articles (a groupby per period), compute time only;
8. checks that the naive design, pandas and our full build give every (period, user) the same
   segment, and that the incremental run equals the full build; fails loudly otherwise;
9. dbt's fixed cost per invocation, optionally EXPLAIN ANALYZE of the history's compiled SQL.

naive.sql and floor.sql are written for PostgreSQL; ``render_sql`` turns them into DuckDB's or
Spark's dialect (``_DIALECTS``). On Spark they run in a Spark process of their own, after dbt
(embedded Derby admits one JVM), and every check reads Spark's parquet files with DuckDB.
PostgreSQL-only figures (temp spilled, EXPLAIN, relation size) are None (n/a) elsewhere.

The results are merged into ``benchmarks/results.json`` (one entry per engine, size, shape and
number of periods) and rendered to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import numpy as np
from psycopg2 import errors, sql
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from rfm_segmentation import dbt_runner, demo, warehouses
from rfm_segmentation.raw import PaymentRow
from rfm_segmentation.warehouses import postgres
from rfm_segmentation.warehouses.spark import spark_conf

__all__ = [
    "SHAPES",
    "SIZES",
    "BenchOptions",
    "BenchPlan",
    "Comparison",
    "DbtRun",
    "DbtRunner",
    "compare_cursor",
    "compare_tables",
    "load_initial",
    "make_plan",
    "pandas_clean",
    "pandas_segments",
    "read_raw_payments",
    "register",
    "render_sql",
    "run_benchmark",
    "run_key",
    "run_sql_step",
    "snapshot_periods",
    "store_segments",
    "write_results",
]

# --- what is measured ------------------------------------------------------------------------
SIZES: Final[dict[str, tuple[int, int]]] = {
    "S": (10_000, 24),
    "M": (100_000, 36),
    "L": (1_000_000, 36),
}
"""size -> (users, periods) of the normal shape (~19-25 payments per user)."""

SHAPES: Final = ("normal", "dense")
DENSE_USER_DIVISOR: Final = 4
"""The dense shape has a quarter of the users, each with ~80 payments over 36 months."""
DENSE_SHAPE: Final[dict[str, float]] = {
    "rate_mean_per_month": 6.3,
    "rate_shape": 2.0,
    "lifetime_mean_months": 120.0,
    "one_time_share": 0.02,
}
"""DemoSpec shape of subscriptions / savings deposits: steady, long-lived, few one-time buyers."""

LAST_PERIOD_END: Final = datetime(2025, 1, 1)
"""rfm_as_of of the measured runs: the last period (December 2024) just closed."""

RAW_SCHEMA: Final = "raw"
DBT_SCHEMA: Final = "analytics"
BENCH_SCHEMA: Final = "bench"
HISTORY_MODEL: Final = "rfm_segments_history"
HISTORY_TABLE: Final = f"{DBT_SCHEMA}.{HISTORY_MODEL}"
HISTORY_COLUMNS: Final = (
    "snapshot_at",
    "is_period_closed",
    "first_payment_at",
    "last_payment_at",
    "recency_days",
    "frequency",
    "monetary",
    "recency_percentile",
    "frequency_percentile",
    "monetary_percentile",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_segment",
    "previous_segment",
    "segment_since",
)
"""The history's columns besides its key (snapshot_period, user_id)."""

SEGMENT_MATRIX: Final[dict[tuple[int, int], str]] = {
    **{(r, f): "Hibernating" for r in (1, 2) for f in (1, 2)},
    **{(r, f): "At Risk" for r in (1, 2) for f in (3, 4)},
    **{(r, 5): "Cannot Lose Them" for r in (1, 2)},
    (3, 1): "About to Sleep",
    (3, 2): "About to Sleep",
    (3, 3): "Need Attention",
    **{(3, f): "Loyal Customers" for f in (4, 5)},
    (4, 1): "Promising",
    **{(4, f): "Potential Loyalists" for f in (2, 3)},
    **{(4, f): "Loyal Customers" for f in (4, 5)},
    (5, 1): "New Customers",
    **{(5, f): "Potential Loyalists" for f in (2, 3)},
    **{(5, f): "Champions" for f in (4, 5)},
}
"""SPEC.md's segment table (the articles' CASE), for the pandas way."""

_NOTHING_SELECTOR: Final = "tag:__rfm_bench_selects_nothing__"

PRODUCTION_BUILD: Final = ("build", "--exclude-resource-type", "unit_test")
"""The production job that the timed builds run (README, "Running it on a schedule"): dbt Labs
recommends running unit tests in development and CI only (their inputs are static fixtures, so
a production run repeats the same check on every schedule); ``make test`` runs them. The bench
times them apart (``dbt test --select test_type:unit``)."""


class BenchError(RuntimeError):
    """A step of the benchmark failed (dbt, SQL) or its results disagree."""


# --- the plan --------------------------------------------------------------------------------
def _shift_month(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class BenchPlan:
    """One measured data set: its size, shape, number of periods (months) and seed."""

    size: str
    shape: str
    users: int
    periods: int
    seed: int = 42
    as_of: datetime = LAST_PERIOD_END

    @property
    def key(self) -> str:
        return f"{self.size}-{self.shape}-{self.periods}"

    @property
    def start(self) -> date:
        """First day of the first period."""
        return _shift_month(self.as_of.date(), -self.periods)

    @property
    def previous_as_of(self) -> datetime:
        """rfm_as_of of the stored history: the start of the last period."""
        return datetime.combine(_shift_month(self.as_of.date(), -1), datetime.min.time())

    def demo_spec(self) -> demo.DemoSpec:
        shape = DENSE_SHAPE if self.shape == "dense" else {}
        return demo.DemoSpec(
            n_users=self.users, start=self.start, as_of=self.as_of, seed=self.seed, **shape
        )


def make_plan(size: str, shape: str = "normal", periods: int | None = None,
              seed: int = 42, users: int | None = None) -> BenchPlan:
    """The plan of a named size (S, M, L) and shape; ``periods``/``users`` override the size's."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: expected one of {', '.join(SIZES)}")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: expected one of {', '.join(SHAPES)}")
    size_users, size_periods = SIZES[size]
    if users is None:
        users = size_users // DENSE_USER_DIVISOR if shape == "dense" else size_users
    periods = size_periods if periods is None else periods
    if periods < 2:
        raise ValueError(f"periods must be at least 2, got {periods}")
    return BenchPlan(size=size, shape=shape, users=users, periods=periods, seed=seed)


@dataclass(frozen=True)
class BenchOptions:
    database: str = "rfm_bench"
    naive_timeout_s: float = 900.0
    explain: bool = False
    workdir: Path | None = None  # default: <root>/.local/bench/<database or engine>
    engine: str = "postgres"  # postgres, duckdb or spark (warehouses.ENGINES)


# --- data --------------------------------------------------------------------------------------
def _split_rows(
    rows: Iterable[PaymentRow],
    plan: BenchPlan,
    later: list[PaymentRow],
    on_period: Callable[[int, int], None],
) -> Iterator[PaymentRow]:
    """Yield the rows to load first; keep the last period's rows in ``later``.

    ``on_period(periods_done, rows_seen)`` is called each time the (time-ordered) stream passes
    a period boundary, for the progress bar.
    """
    split_at, end = plan.previous_as_of, plan.as_of
    boundaries = [
        datetime.combine(_shift_month(plan.start, n), datetime.min.time())
        for n in range(1, plan.periods + 1)
    ]
    done, seen = 0, 0
    for row in rows:
        seen += 1
        when = row[2]
        if when is not None:
            while done < len(boundaries) and when >= boundaries[done] and when < end:
                done += 1
                on_period(done, seen)
            if split_at <= when < end:
                later.append(row)
                continue
        yield row
    on_period(len(boundaries), seen)


def load_initial(
    connection: postgres.Connection | warehouses.Warehouse,
    plan: BenchPlan,
    progress: Progress | None = None,
) -> tuple[dict[str, int], list[PaymentRow]]:
    """Generate the plan's payments and load every row but the last period's into ``raw`` of a
    PostgreSQL database or any engine's warehouse (the calendar covers all periods).
    Returns the loaded counts and the rows of the last period."""
    later: list[PaymentRow] = []
    task: TaskID | None = None
    if progress is not None:
        task = progress.add_task("generate + load into raw", total=plan.periods)

    def on_period(done: int, seen: int) -> None:
        if progress is not None and task is not None:
            progress.update(task, completed=done,
                            description=f"generate + load into raw ({seen:,} rows)")

    spec = plan.demo_spec()
    rows = _split_rows(demo.generate_payments(spec), plan, later, on_period)
    counts = warehouses.as_warehouse(connection).load_raw(
        rows, demo.generate_calendar(plan.start, plan.as_of.date()), schema=RAW_SCHEMA
    )
    return counts, later


def append_later(connection: postgres.Connection | warehouses.Warehouse,
                 rows: Sequence[PaymentRow]) -> int:
    return warehouses.as_warehouse(connection).append_payments(rows, schema=RAW_SCHEMA)


# --- SQL steps ---------------------------------------------------------------------------------
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
    ),
}
"""The few spellings of naive.sql and floor.sql that differ by engine: (PostgreSQL text, the
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


def _qualified(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


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
                table = _qualified(create_table)
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


def _checkpoint(connection: postgres.Connection) -> None:
    """Write dirty buffers out before a timed step, so it does not pay for the previous one's.
    Needs superuser or pg_checkpoint: skipped silently without."""
    with closing(connection.connect()) as conn:
        conn.autocommit = True
        with conn.cursor() as cur, suppress(Exception):
            cur.execute("checkpoint")


# --- dbt ---------------------------------------------------------------------------------------
@dataclass
class DbtRun:
    """One dbt invocation: its wall time, the peak RSS of the dbt process, run_results.json."""

    args: list[str]
    returncode: int
    wall_s: float
    peak_rss_mb: float
    log_path: str
    run_results: dict[str, Any] | None = None
    temp_bytes: int = 0
    temp_files: int = 0

    def node_time(self, name: str, resource: str = "model") -> float | None:
        for result in (self.run_results or {}).get("results", []):
            if result.get("unique_id", "").startswith(f"{resource}.") and \
                    result["unique_id"].split(".")[-1] == name:
                return float(result["execution_time"])
        return None

    @property
    def elapsed_s(self) -> float | None:
        """run_results.json's elapsed_time: the runner's span, without start-up and parsing."""
        if not self.run_results:
            return None
        return float(self.run_results.get("elapsed_time", 0.0))

    def node_summary(self) -> dict[str, Any]:
        results = (self.run_results or {}).get("results", [])
        by_kind: dict[str, float] = {}
        for result in results:
            kind = result["unique_id"].split(".")[0]
            by_kind[kind] = by_kind.get(kind, 0.0) + float(result["execution_time"])
        top = sorted(results, key=lambda r: -float(r["execution_time"]))[:6]
        return {
            "nodes": len(results),
            "seconds_by_resource_type": {k: round(v, 3) for k, v in sorted(by_kind.items())},
            "slowest_nodes": {r["unique_id"]: round(float(r["execution_time"]), 3) for r in top},
        }


_MEASURE_CHILD: Final = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    json.dump({"wall_s": wall, "maxrss_kb": usage.ru_maxrss}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command and writes its wall time and peak RSS. The command is forked from this small
process, not from the harness: Linux carries a process's peak RSS over fork/exec, so a child of
the harness (which holds the data) would report the harness's peak instead of its own."""


class DbtRunner:
    """Runs dbt from the project root against one database, as a scheduler would: the
    warehouse's environment (DBT_TARGET and the PG* variables, the DuckDB file or the Spark
    folder), its own target and log folders."""

    def __init__(self, root: Path, connection: postgres.Connection | warehouses.Warehouse,
                 workdir: Path) -> None:
        self.root = root
        self.warehouse = warehouses.as_warehouse(connection)
        self.workdir = workdir
        self.target = workdir / "target"
        self.logs = workdir / "logs"
        self.executable = dbt_runner.executable()
        self.logs.mkdir(parents=True, exist_ok=True)
        self._count = 0

    def env(self) -> dict[str, str]:
        return dbt_runner.environment(self.warehouse, {
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(self.logs),
            "DBT_SCHEMA": DBT_SCHEMA,
        })

    def compiled_path(self, model: str = HISTORY_MODEL) -> Path:
        return self.target / "compiled" / "rfm_segmentation" / "models" / "marts" / f"{model}.sql"

    def run(self, args: Sequence[str], dbt_vars: Mapping[str, Any] | None = None,
            *, label: str = "dbt", check: bool = True) -> DbtRun:
        self._count += 1
        command = [self.executable, *args, *dbt_runner.vars_option(dbt_vars)]
        log_path = self.workdir / f"{self._count:02d}-{label}.log"
        results_path = self.target / "run_results.json"
        results_path.unlink(missing_ok=True)
        measure_path = self.workdir / "last-dbt-measure.json"
        measure_path.unlink(missing_ok=True)
        with log_path.open("w") as log:
            code = subprocess.run(
                [sys.executable, "-c", _MEASURE_CHILD, str(measure_path), *command],
                cwd=self.root, env=self.env(), stdout=log, stderr=subprocess.STDOUT, check=False,
            ).returncode
        measure = json.loads(measure_path.read_text()) if measure_path.is_file() else {}
        run_results = None
        if results_path.is_file():
            run_results = json.loads(results_path.read_text())
            # kept beside the step's log: each node's start and end, for profiling a run
            shutil.copyfile(results_path, log_path.with_suffix(".run_results.json"))
        run = DbtRun(
            args=list(args), returncode=code, wall_s=float(measure.get("wall_s", float("nan"))),
            peak_rss_mb=float(measure.get("maxrss_kb", 0)) / 1024.0, log_path=str(log_path),
            run_results=run_results,
        )
        if check and run.returncode != 0:
            tail = log_path.read_text()[-4000:]
            raise BenchError(f"dbt {' '.join(args)} failed (exit {run.returncode}):\n{tail}")
        return run


def _vars(as_of: datetime) -> dict[str, str]:
    return {"rfm_as_of": as_of.isoformat(sep=" ")}


# --- pandas ------------------------------------------------------------------------------------
def read_raw_payments(connection: postgres.Connection, raw_schema: str = RAW_SCHEMA) -> Any:
    """The raw payments as a pandas DataFrame (ids as text with NULL read as '', payment_date as
    datetime64, amount as float64), read with COPY ... TO STDOUT (CSV)."""
    import pandas as pd

    buffer = io.StringIO()
    with closing(connection.connect()) as conn, conn.cursor() as cur:
        cur.copy_expert(
            sql.SQL(
                "copy (select payment_id, user_id, payment_date, "
                "cast(payment_amount as double precision) as payment_amount from {}) "
                "to stdout with (format csv, header)"
            ).format(sql.Identifier(raw_schema, "fact_payments")).as_string(conn),
            buffer,
        )
    buffer.seek(0)
    frame = pd.read_csv(
        buffer,
        dtype={"payment_id": str, "user_id": str, "payment_date": str},
        keep_default_na=False,
        na_values={"payment_amount": [""]},
    )
    frame["payment_date"] = pd.to_datetime(frame["payment_date"].replace("", None),
                                           format="ISO8601")
    return frame


def snapshot_periods(calendar_days: Iterable[date], as_of: datetime) -> list[tuple[date, datetime]]:
    """(period_start, snapshot_at) of every calendar month starting before ``as_of``."""
    months = sorted({day.replace(day=1) for day in calendar_days})
    periods = []
    for month in months:
        start = datetime.combine(month, datetime.min.time())
        if start >= as_of:
            continue
        next_start = datetime.combine(_shift_month(month, 1), datetime.min.time())
        periods.append((month, min(next_start, as_of)))
    return periods


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


_SEGMENT_LOOKUP: Final = np.array(
    [SEGMENT_MATRIX.get((code // 10, code % 10), "") for code in range(56)], dtype=object
)


def pandas_segments(clean: Any, periods: Sequence[tuple[date, datetime]]) -> Any:
    """The articles' way, per period: filter the payments before the snapshot, group by user,
    rank. Returns (snapshot_period, user_id, recency_days, frequency, rfm_segment)."""
    import pandas as pd

    parts = []
    for period_start, snapshot_at in periods:
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
            "rfm_segment": _SEGMENT_LOOKUP[r * 10 + f],
        }))
    return pd.concat(parts, ignore_index=True)


def store_segments(connection: postgres.Connection, frame: Any, table: str) -> int:
    """COPY (snapshot_period, user_id, rfm_segment) of a DataFrame into a new ``table``."""
    buffer = io.StringIO()
    frame[["snapshot_period", "user_id", "rfm_segment"]].to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    target = _qualified(table)
    with closing(connection.connect()) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("drop table if exists {}").format(target))
        cur.execute(sql.SQL(
            "create table {} (snapshot_period date, user_id text, rfm_segment text)"
        ).format(target))
        cur.copy_expert(
            sql.SQL("copy {} from stdin with (format csv)").format(target).as_string(conn), buffer
        )
        conn.commit()
    return len(frame)


def calendar_days(connection: postgres.Connection) -> list[date]:
    with postgres.cursor(connection) as cur:
        cur.execute(sql.SQL("select distinct date_day from {} where date_day is not null").format(
            sql.Identifier(RAW_SCHEMA, "dim_calendar")))
        return [row[0] for row in cur.fetchall()]


# --- checks ------------------------------------------------------------------------------------
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
    ).format(left=_qualified(left), right=_qualified(right))
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


# --- EXPLAIN -----------------------------------------------------------------------------------
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


# --- machine -----------------------------------------------------------------------------------
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


# --- engines -----------------------------------------------------------------------------------
ENGINE_LABELS: Final[dict[str, str]] = {"postgres": "PostgreSQL", "duckdb": "DuckDB",
                                         "spark": "Spark"}
SPARK_MAX_SIZE: Final = "S"
"""The largest size `rfm bench --engine spark` runs without --force (a local Spark on 2 cores)."""

_DEFAULT_THREADS: Final[dict[str, str]] = {"postgres": "4", "duckdb": "1", "spark": "1"}


def dbt_threads(engine: str) -> str:
    """dbt's threads on an engine, as profiles.yml sets them."""
    if engine == "spark":
        return "1"
    return os.environ.get("DBT_THREADS") or _DEFAULT_THREADS[engine]


def _quoted(name: str) -> str:
    """schema.table as a double-quoted identifier (PostgreSQL and DuckDB)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def compare_cursor(cur: Any, left: str, right: str,
                   columns: Sequence[str] = ("rfm_segment",)) -> Comparison:
    """compare_tables on a DuckDB connection (the DuckDB warehouse, or the reader of the Spark
    warehouse's parquet files). The keys are cast to date and text on both sides, so that a
    period read back from a partition folder's name compares as a date."""
    def keyed(name: str) -> str:
        return (f"(select * replace (cast(snapshot_period as date) as snapshot_period, "
                f"cast(user_id as varchar) as user_id) from {_quoted(name)})")

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


def _raw_frame_from_cursor(cur: Any, raw_schema: str = RAW_SCHEMA) -> Any:
    """The raw payments as read_raw_payments gives them (ids as text, NULL as '', payment_date
    as datetime64, amount as float64), from a DuckDB connection."""
    import pandas as pd

    frame = cur.execute(
        "select payment_id, user_id, payment_date, cast(payment_amount as double) as "
        f"payment_amount from {_quoted(raw_schema + '.fact_payments')}"
    ).df()
    for column in ("payment_id", "user_id"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "")
    frame["payment_date"] = pd.to_datetime(frame["payment_date"])
    frame["payment_amount"] = frame["payment_amount"].astype("float64")
    return frame


def _calendar_from_cursor(cur: Any, raw_schema: str = RAW_SCHEMA) -> list[date]:
    cur.execute(f"select distinct date_day from {_quoted(raw_schema + '.dim_calendar')} "
                "where date_day is not null")
    return [row[0] for row in cur.fetchall()]


class _EngineBench:
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


class _PostgresBench(_EngineBench):
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
        _checkpoint(self.conn)
        return self.stats.read()

    def after_step(self, token: Any) -> tuple[int | None, int | None]:
        return self.stats.settle(token)

    def run_sql(self, statement: str, table: str, timeout_s: float | None) -> SqlStep:
        return run_sql_step(self.conn, statement, create_table=table, timeout_s=timeout_s)

    def snapshot_incremental(self) -> None:
        with postgres.cursor(self.conn) as cur:
            cur.execute(sql.SQL("drop table if exists {t}; create table {t} as select * from {h}")
                        .format(t=_qualified(f"{BENCH_SCHEMA}.incremental_history"),
                                h=_qualified(HISTORY_TABLE)))

    def raw_payments(self) -> tuple[Any, list[date]]:
        return read_raw_payments(self.conn), calendar_days(self.conn)

    def store_pandas(self, frame: Any) -> None:
        store_segments(self.conn, frame, f"{BENCH_SCHEMA}.pandas_segments")

    def compare(self, pairs: Mapping[str, tuple[str, str, Sequence[str]] | None]
                ) -> dict[str, Comparison | None]:
        return {name: None if pair is None else compare_tables(self.conn, *pair)
                for name, pair in pairs.items()}

    def scalar(self, statement: str) -> Any:
        return _scalar(self.conn, statement)

    def history_mb(self) -> float | None:
        return round(_scalar(self.conn, sql.SQL("select pg_total_relation_size({})").format(
            sql.Literal(HISTORY_TABLE))) / 2**20, 1)

    def close(self) -> None:
        self.stats.close()


class _DuckDBBench(_EngineBench):
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
            cur.execute(f"create schema {_quoted(BENCH_SCHEMA)}")

    def run_sql(self, statement: str, table: str, timeout_s: float | None) -> SqlStep:
        import threading

        import duckdb

        with self.warehouse.cursor() as cur:
            statement = f"create or replace table {_quoted(table)} as\n" + statement
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
            cur.execute(f"create or replace table {_quoted(BENCH_SCHEMA + '.incremental_history')}"
                        f" as select * from {_quoted(HISTORY_TABLE)}")

    def raw_payments(self) -> tuple[Any, list[date]]:
        with self.warehouse.cursor() as cur:
            return _raw_frame_from_cursor(cur), _calendar_from_cursor(cur)

    def store_pandas(self, frame: Any) -> None:
        with self.warehouse.cursor() as cur:
            _store_frame(cur, frame, f"{BENCH_SCHEMA}.pandas_segments")

    def compare(self, pairs: Mapping[str, tuple[str, str, Sequence[str]] | None]
                ) -> dict[str, Comparison | None]:
        with self.warehouse.cursor() as cur:
            return {name: None if pair is None else compare_cursor(cur, *pair)
                    for name, pair in pairs.items()}

    def scalar(self, statement: str) -> Any:
        with self.warehouse.cursor() as cur:
            return cur.execute(statement).fetchone()[0]


def _store_frame(cur: Any, frame: Any, table: str) -> None:
    """(snapshot_period, user_id, rfm_segment) of a DataFrame as a new DuckDB table."""
    part = frame[["snapshot_period", "user_id", "rfm_segment"]]
    cur.register("rfm_bench_frame", part)
    try:
        cur.execute(f"create or replace table {_quoted(table)} as select "
                    "cast(snapshot_period as date) as snapshot_period, "
                    "cast(user_id as varchar) as user_id, "
                    "cast(rfm_segment as varchar) as rfm_segment from rfm_bench_frame")
    finally:
        cur.unregister("rfm_bench_frame")


class _SparkBench(_EngineBench):
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
        import shutil

        for folder in (self.folder, self.extra):
            shutil.rmtree(folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.extra.mkdir(parents=True)

    @contextmanager
    def reader(self) -> Iterator[Any]:
        """The DuckDB reader of Spark's tables, plus bench.incremental_history and
        bench.pandas_segments (parquet files of the work folder)."""
        with self.warehouse.cursor() as cur:
            cur.execute(f"create schema if not exists {_quoted(BENCH_SCHEMA)}")
            for path in sorted(self.extra.glob("*.parquet")):
                cur.execute(f"create or replace view {_quoted(BENCH_SCHEMA + '.' + path.stem)} "
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
                step.rows = int(cur.execute(f"select count(*) from {_quoted(table)}").fetchone()[0])
        return step

    def snapshot_incremental(self) -> None:
        target = self.extra / "incremental_history.parquet"
        with self.warehouse.cursor() as cur:
            cur.execute(f"copy (select * from {_quoted(HISTORY_TABLE)}) to '{target}' "
                        "(format parquet)")

    def raw_payments(self) -> tuple[Any, list[date]]:
        # The very rows Spark reads: the parquet files were exported from this DuckDB file.
        with self.staging.cursor() as cur:
            return _raw_frame_from_cursor(cur), _calendar_from_cursor(cur)

    def store_pandas(self, frame: Any) -> None:
        import duckdb

        with closing(duckdb.connect()) as cur:
            _store_frame(cur, frame, "pandas_segments")
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


def _engine_bench(root: Path, options: BenchOptions,
                  connection: postgres.Connection | None) -> _EngineBench:
    if options.engine == "postgres":
        return _PostgresBench(root, options, connection)
    if options.engine == "duckdb":
        return _DuckDBBench(root, options)
    if options.engine == "spark":
        return _SparkBench(root, options)
    raise ValueError(f"unknown engine {options.engine!r}: expected one of "
                     f"{', '.join(warehouses.ENGINES)}")


def spark_sql_main(folder: Path, schema: str, table: str, sql_path: Path, out_path: Path,
                   timeout_s: float) -> None:
    """In a Spark process of its own: ``create table <schema>.<table> using parquet as`` the
    statement of ``sql_path``, timed from after the session started; writes
    {wall_s, capped, session_start_s} to ``out_path``. Cancelled after ``timeout_s`` (0: never)."""
    import threading

    from pyspark.sql import SparkSession

    started = time.perf_counter()
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_conf(folder).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
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


# --- one run -----------------------------------------------------------------------------------
def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 2)


def _dbt_entry(run: DbtRun, history_model: str = HISTORY_MODEL) -> dict[str, Any]:
    return {
        "command": ["dbt", *run.args],
        "wall_s": round(run.wall_s, 2),
        "history_s": _round(run.node_time(history_model)),
        "runner_elapsed_s": _round(run.elapsed_s),
        "outside_runner_s": _round(run.wall_s - run.elapsed_s if run.elapsed_s else None),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "temp_bytes": run.temp_bytes,
        "temp_files": run.temp_files,
        **run.node_summary(),
        "log": run.log_path,
    }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _scalar(connection: postgres.Connection, statement: str | sql.Composable) -> Any:
    with postgres.cursor(connection) as cur:
        cur.execute(statement)
        return cur.fetchone()[0]


class _Steps:
    """Progress display of the steps of a run (or nothing, without a Progress)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.descriptions: dict[TaskID, str] = {}

    def start(self, description: str) -> TaskID | None:
        if self.progress is None:
            return None
        task = self.progress.add_task(description, total=None)
        self.descriptions[task] = description
        return task

    def done(self, task: TaskID | None, note: str = "") -> None:
        if self.progress is not None and task is not None:
            description = self.descriptions[task] + (f": {note}" if note else "")
            self.progress.update(task, total=1, completed=1, description=description)


def run_benchmark(
    root: Path,
    plan: BenchPlan,
    options: BenchOptions | None = None,
    progress: Progress | None = None,
    connection: postgres.Connection | None = None,
) -> dict[str, Any]:
    """Measure one plan end to end (see the module docstring) on ``options.engine`` and return
    its results entry.

    Raises BenchError when dbt fails. Disagreeing segments do not raise here: they are in
    ``result["checks"]`` (``all_ok`` false), so that the caller can record them first.
    """
    options = options or BenchOptions()
    if options.explain and options.engine != "postgres":
        raise BenchError("--explain is PostgreSQL-only")
    bench = _engine_bench(root, options, connection)
    engine = bench.engine
    workdir = bench.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    runner = DbtRunner(root, bench.warehouse, workdir)
    steps = _Steps(progress)
    bench_dir = root / "benchmarks"
    previous_vars, final_vars = _vars(plan.previous_as_of), _vars(plan.as_of)
    load_before = os.getloadavg()[0]
    try:
        bench.prepare()

        # 1. data
        started = time.perf_counter()
        counts, later_rows = load_initial(bench.warehouse, plan, progress)
        load_s = time.perf_counter() - started

        def timed_dbt(args: list[str], dbt_vars: dict[str, str], label: str) -> DbtRun:
            task = steps.start(f"dbt {' '.join(args)} {dbt_vars['rfm_as_of']}")
            token = bench.before_step()
            run = runner.run(args, dbt_vars, label=label)
            run.temp_bytes, run.temp_files = bench.after_step(token)
            steps.done(task, f"{run.wall_s:.1f}s")
            return run

        # 2. the stored history, up to the previous period
        parse_task = steps.start("dbt parse (vars changed: full parse)")
        parse_full = runner.run(["parse"], previous_vars, label="parse-full")
        steps.done(parse_task, f"{parse_full.wall_s:.1f}s")
        full_previous = timed_dbt([*PRODUCTION_BUILD, "--full-refresh"], previous_vars,
                                 "full-previous")

        # 3. one new period arrives; the scheduled run
        appended = append_later(bench.warehouse, later_rows)
        runner.run(["parse"], final_vars, label="parse-warm-up")  # as a scheduler: partial parse
        incremental = timed_dbt([*PRODUCTION_BUILD], final_vars, "incremental")
        incremental_sql = runner.compiled_path().read_text()
        explains: dict[str, Any] = {}
        if options.explain and isinstance(bench, _PostgresBench):
            task = steps.start("EXPLAIN ANALYZE incremental history")
            plan_text, explains["incremental"] = explain_analyze(bench.conn, incremental_sql)
            _write_profile(bench_dir, plan, "incremental", plan_text, explains["incremental"])
            steps.done(task)
        bench.snapshot_incremental()

        # 4. our full build at the same instant
        full = timed_dbt([*PRODUCTION_BUILD, "--full-refresh"], final_vars, "full")
        full_sql = runner.compiled_path().read_text()
        unit_tests = timed_dbt(["test", "--select", "test_type:unit"], final_vars, "unit-tests")

        # 5. naive, 6. floor
        def timed_sql(name: str, table: str, timeout_s: float | None = None) -> SqlStep:
            cap = f" (capped at {timeout_s:.0f}s)" if timeout_s else ""
            task = steps.start(f"{name}.sql{cap}")
            statement = render_sql(bench_dir / f"{name}.sql", plan.as_of, engine=engine)
            token = bench.before_step()
            step = bench.run_sql(statement, table, timeout_s)
            step.temp_bytes, step.temp_files = bench.after_step(token)  # type: ignore[assignment]
            steps.done(task, f"{step.wall_s:.1f}s" + (" CAPPED" if step.capped else ""))
            return step

        naive = timed_sql("naive", f"{BENCH_SCHEMA}.naive_history", options.naive_timeout_s)
        floor = timed_sql("floor", f"{BENCH_SCHEMA}.floor_history")

        # 7. pandas
        task = steps.start("pandas: read raw (not timed), clean + per-period groupby (timed)")
        started = time.perf_counter()
        raw_frame, days = bench.raw_payments()
        periods = snapshot_periods(days, plan.as_of)
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        clean = pandas_clean(raw_frame, plan.as_of)
        clean_s = time.perf_counter() - started
        started = time.perf_counter()
        segments = pandas_segments(clean, periods)
        groupby_s = time.perf_counter() - started
        bench.store_pandas(segments)
        del raw_frame, clean, segments
        steps.done(task, f"{clean_s + groupby_s:.1f}s")

        # 8. checks
        task = steps.start("compare segments")
        comparisons = bench.compare({
            "naive_vs_ours": None if naive.capped else (
                f"{BENCH_SCHEMA}.naive_history", HISTORY_TABLE, ("rfm_segment",)),
            "pandas_vs_ours": (f"{BENCH_SCHEMA}.pandas_segments", HISTORY_TABLE,
                               ("rfm_segment",)),
            "incremental_vs_full": (f"{BENCH_SCHEMA}.incremental_history", HISTORY_TABLE,
                                    HISTORY_COLUMNS),
        })
        checks = {
            name: (None if c is None else {**asdict(c), "ok": c.ok, "summary": c.describe()})
            for name, c in comparisons.items()
        }
        all_ok = all(c is None or c.ok for c in comparisons.values())
        steps.done(task, "all same" if all_ok else "MISMATCH")

        # 9. dbt's fixed cost, with partial parsing warm (same vars as the last run)
        task = steps.start("dbt fixed cost")
        parse_partial = runner.run(["parse"], final_vars, label="parse-partial")
        build_nothing = runner.run(["build", "--select", _NOTHING_SELECTOR], final_vars,
                                   label="build-nothing")
        steps.done(task, f"{build_nothing.wall_s:.1f}s")

        if options.explain and isinstance(bench, _PostgresBench):
            task = steps.start("EXPLAIN ANALYZE full-refresh history")
            plan_text, explains["full"] = explain_analyze(bench.conn, full_sql)
            _write_profile(bench_dir, plan, "full", plan_text, explains["full"])
            steps.done(task)

        history = _quoted(HISTORY_TABLE)
        history_rows = bench.scalar(f"select count(*) from {history}")
        result: dict[str, Any] = {
            "key": run_key(plan, engine),
            "engine": engine,
            "size": plan.size,
            "shape": plan.shape,
            "periods": plan.periods,
            "users": plan.users,
            "seed": plan.seed,
            "rfm_as_of": plan.as_of.isoformat(sep=" "),
            "rfm_as_of_previous": plan.previous_as_of.isoformat(sep=" "),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "git": _git_state(root),
            "load_average_1min": {"start": round(load_before, 2),
                                  "end": round(os.getloadavg()[0], 2)},
            "dbt_threads": dbt_threads(engine),
            "data": {
                "raw_payments": counts["fact_payments"] + appended,
                "raw_payments_first_load": counts["fact_payments"],
                "raw_payments_appended": appended,
                "clean_payments": bench.scalar(
                    "select count(*) from "
                    f"{_quoted(DBT_SCHEMA + '.stg_billing__payments')} "
                    "where rejection_reason is null"),
                "history_rows": history_rows,
                "history_users_last_period": bench.scalar(
                    f"select count(*) from {history} where snapshot_period = "
                    f"(select max(snapshot_period) from {history})"),
                "history_mb": bench.history_mb(),
                "floor_rows": floor.rows,
                "load_s": round(load_s, 1),
            },
            "naive": {"wall_s": round(naive.wall_s, 2), "capped": naive.capped,
                      "timeout_s": options.naive_timeout_s, "temp_bytes": naive.temp_bytes,
                      "temp_files": naive.temp_files},
            "full_build": _dbt_entry(full),
            "incremental_build": _dbt_entry(incremental),
            "full_build_previous_period": _dbt_entry(full_previous),
            "unit_tests": _dbt_entry(unit_tests),
            "floor": {"wall_s": round(floor.wall_s, 2), "temp_bytes": floor.temp_bytes,
                      "temp_files": floor.temp_files},
            "pandas": {"compute_s": round(clean_s + groupby_s, 2), "clean_s": round(clean_s, 2),
                       "per_period_groupby_s": round(groupby_s, 2),
                       "read_s_not_counted": round(read_s, 2)},
            "dbt_fixed_cost": {
                "parse_full_s": round(parse_full.wall_s, 2),
                "parse_partial_s": round(parse_partial.wall_s, 2),
                "build_selecting_nothing_s": round(build_nothing.wall_s, 2),
                "build_selecting_nothing_peak_rss_mb": round(build_nothing.peak_rss_mb, 1),
            },
            "checks": checks,
            "all_ok": all_ok,
            "explain": explains,
        }
        result["ratios"] = _ratios(result)
        return result
    finally:
        bench.close()


def run_key(plan: BenchPlan, engine: str = "postgres") -> str:
    """The key of a run in results.json: the plan's key, suffixed by the engine unless it is
    PostgreSQL (the runs measured before there were engines keep their keys)."""
    return plan.key if engine == "postgres" else f"{plan.key}-{engine}"


def _git_state(root: Path) -> dict[str, Any]:
    """The commit measured, and whether the dbt project differed from it."""
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  check=False)
        except OSError:
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "models", "macros", "tests", "seeds",
                  "dbt_project.yml")
    return {"commit": git("rev-parse", "--short", "HEAD") or None,
            "dbt_project_uncommitted_changes": bool(changed)}


def _write_profile(bench_dir: Path, plan: BenchPlan, kind: str, text: str,
                   summary: Mapping[str, Any]) -> None:
    folder = bench_dir / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    header = (f"EXPLAIN (ANALYZE, BUFFERS) of the compiled {kind} rfm_segments_history, run "
              f"{plan.key}, work_mem {summary.get('work_mem')} (the session's: the model's own "
              "pre-hook settings are not applied here)\n\n")
    (folder / f"{plan.key}-{kind}.txt").write_text(header + text + "\n")


def _ratios(result: Mapping[str, Any]) -> dict[str, float | None]:
    naive = result["naive"]["wall_s"]
    full, incremental = result["full_build"], result["incremental_build"]
    return {
        "naive_over_full_wall": _ratio(naive, full["wall_s"]),
        "naive_over_incremental_wall": _ratio(naive, incremental["wall_s"]),
        "naive_over_full_history": _ratio(naive, full["history_s"]),
        "history_over_floor": _ratio(full["history_s"], result["floor"]["wall_s"]),
        "incremental_over_full_history": _ratio(incremental["history_s"], full["history_s"]),
        "incremental_over_full_wall": _ratio(incremental["wall_s"], full["wall_s"]),
        "pandas_over_full_wall": _ratio(result["pandas"]["compute_s"], full["wall_s"]),
        "pandas_over_full_history": _ratio(result["pandas"]["compute_s"], full["history_s"]),
    }


# --- results files -----------------------------------------------------------------------------
_SIZE_ORDER: Final = {name: i for i, name in enumerate(SIZES)}


def _engine(run: Mapping[str, Any]) -> str:
    """The run's engine (the runs measured before there were engines are PostgreSQL's)."""
    return str(run.get("engine") or "postgres")


def _run_order(run: Mapping[str, Any]) -> tuple[int, int, int, int]:
    engine = _engine(run)
    return (_SIZE_ORDER.get(run["size"], 9), SHAPES.index(run["shape"]),
            warehouses.ENGINES.index(engine) if engine in warehouses.ENGINES else 9, run["periods"])


def write_results(out_dir: Path, run: Mapping[str, Any], machine: Mapping[str, Any]
                  ) -> tuple[Path, Path]:
    """Merge ``run`` into ``results.json`` (keyed by size-shape-periods, plus the engine unless
    PostgreSQL) and re-render ``results.md`` from every stored run. ``machine`` is merged into
    the stored one (a DuckDB run keeps the PostgreSQL settings of the earlier runs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "results.md"
    stored: dict[str, Any] = {}
    if json_path.is_file():
        try:
            stored = json.loads(json_path.read_text())
        except json.JSONDecodeError:
            stored = {}
    runs = dict(stored.get("runs", {}))
    runs[run["key"]] = {**run, "machine": dict(machine)}
    merged_machine = {**dict(stored.get("machine") or {}), **dict(machine)}
    document = {"machine": merged_machine, "runs": dict(sorted(
        runs.items(), key=lambda kv: _run_order(kv[1])))}
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    md_path.write_text(render_markdown(document))
    return json_path, md_path


def _fmt_s(value: float | None, capped: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:,.2f} s" if value < 100 else f"{value:,.0f} s"
    return f"> {text} (capped)" if capped else text


def _fmt_x(value: float | None, capped: bool = False) -> str:
    if value is None:
        return "–"
    return (f"> {value:,.1f}×" if capped else f"{value:,.1f}×") if value >= 1 else \
        (f"> {value:.2f}×" if capped else f"{value:.2f}×")


def _busy(build: Mapping[str, Any]) -> str:
    """The nodes' execution times summed over the runner's span: how many threads were busy
    on average (on 2 cores, near 2 or above means the build is bound by the CPU)."""
    summed = sum(build["seconds_by_resource_type"].values())
    elapsed = build.get("runner_elapsed_s")
    return f"{summed / elapsed:.1f}" if elapsed else "n/a"


def _fmt_mb(value: float | int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.0f} MB" if value > 2**20 else \
        f"{value / 1024:,.0f} kB"


def _build_command(run: Mapping[str, Any]) -> str:
    """How the run's builds were invoked: the production job (unit tests apart), or, in the
    runs measured before it had its own step, a plain `dbt build` with the unit tests."""
    if "unit_tests" not in run:
        return "`dbt build` (unit tests included)"
    return "`" + " ".join(run["incremental_build"]["command"]) + "`"


def _unit_tests(run: Mapping[str, Any]) -> str:
    if "unit_tests" not in run:
        return "in (b) and (c)"
    unit = run["unit_tests"]
    summed = unit["seconds_by_resource_type"].get("unit_test")
    return f"{_fmt_s(unit['wall_s'])} / {_fmt_s(summed)}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _label(run: Mapping[str, Any]) -> str:
    label = f"{run['size']} {run['shape']}, {run['periods']} mo"
    engine = _engine(run)
    return label if engine == "postgres" else f"{label}, {ENGINE_LABELS.get(engine, engine)}"


def _machine_line(machine: Mapping[str, Any], runs: Sequence[Mapping[str, Any]]) -> str:
    used = {_engine(r) for r in runs}
    parts = [f"**Machine:** {machine.get('cpu')}, {machine.get('cores')} cores, "
             f"{machine.get('ram_gb')} GB RAM"]
    pg = machine.get("postgresql") or {}
    if "postgres" in used and pg:
        parts.append(
            f"PostgreSQL {pg.get('server_version')} ({machine.get('server')}; work_mem "
            f"{pg.get('work_mem')}, shared_buffers {pg.get('shared_buffers')}, "
            f"max_parallel_workers_per_gather {pg.get('max_parallel_workers_per_gather')}, "
            f"jit {pg.get('jit')}, wal_level {pg.get('wal_level', '?')}), "
            f"dbt-postgres {machine.get('dbt_postgres')} "
            f"(threads {machine.get('dbt_threads', '4')})")
    if "duckdb" in used:
        parts.append(f"DuckDB {machine.get('duckdb', '?')}, dbt-duckdb "
                     f"{machine.get('dbt_duckdb', '?')} (threads {_threads_of(runs, 'duckdb')})")
    if "spark" in used:
        parts.append(f"Spark (pyspark {machine.get('pyspark', '?')}, local, session method), "
                     f"dbt-spark {machine.get('dbt_spark', '?')} (threads 1)")
    parts.append(f"Python {machine.get('python')}, dbt-core {machine.get('dbt_core')}, "
                 f"pandas {machine.get('pandas')}.")
    return "; ".join(parts)


def _threads_of(runs: Sequence[Mapping[str, Any]], engine: str) -> str:
    found = sorted({str(r.get("dbt_threads", "?")) for r in runs if _engine(r) == engine})
    return "/".join(found) or "?"


def _engines_table(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """One row per run: the engines side by side."""
    def same(run: Mapping[str, Any]) -> str:
        names = ("naive_vs_ours", "pandas_vs_ours", "incremental_vs_full")
        entries = [run["checks"].get(n) for n in names]
        if any(e is not None and not e["ok"] for e in entries):
            return "**DIFFERENT**"
        return "same" if all(e is not None for e in entries) else "same (naive not compared)"

    ordered = sorted(runs, key=lambda r: (_SIZE_ORDER.get(r["size"], 9),
                                          SHAPES.index(r["shape"]), r["periods"],
                                          _run_order(r)[2]))
    return _table(
        ["engine", "data", "load avg", "(a) naive", "(b) full build wall", "(b) history model",
         "(c) incremental wall", "(c) history model", "(d) floor", "(e) pandas",
         "naive / ours full", "naive / ours incr.", "history / floor", "incr. / full wall",
         "segments"],
        [[ENGINE_LABELS.get(_engine(r), _engine(r)),
          f"{r['size']} {r['shape']}, {r['periods']} mo",
          (f"{r['load_average_1min']['start']:.1f}" if "load_average_1min" in r else "–"),
          _fmt_s(r["naive"]["wall_s"], r["naive"]["capped"]),
          _fmt_s(r["full_build"]["wall_s"]), _fmt_s(r["full_build"]["history_s"]),
          _fmt_s(r["incremental_build"]["wall_s"]), _fmt_s(r["incremental_build"]["history_s"]),
          _fmt_s(r["floor"]["wall_s"]), _fmt_s(r["pandas"]["compute_s"]),
          _fmt_x(r["ratios"]["naive_over_full_wall"], r["naive"]["capped"]),
          _fmt_x(r["ratios"]["naive_over_incremental_wall"], r["naive"]["capped"]),
          _fmt_x(r["ratios"]["history_over_floor"]),
          _fmt_x(r["ratios"]["incremental_over_full_wall"]),
          same(r)] for r in ordered],
    )


def render_markdown(document: Mapping[str, Any]) -> str:
    machine = document["machine"]
    runs = list(document["runs"].values())
    lines = [
        "# Benchmark results",
        "",
        "Written by `rfm bench` (`make bench SIZE=S|M|L ENGINE=postgres|duckdb|spark`); see "
        "[README.md](README.md) for what each measurement is. Every column is one run on one "
        "database and one data set. PostgreSQL-only figures (temp spilled) are n/a on the "
        "other engines.",
        "",
        _machine_line(machine, runs),
        "",
    ]
    noted = [r for r in runs if r.get("command") or r.get("note")]
    if noted:
        lines += ["Runs measured with a recorded command (or note):", ""]
        lines += [f"- {_label(r)} ({r.get('measured_at', '?')}): "
                  + (f"`{r['command']}`" if r.get("command") else "")
                  + (f". {r['note']}" if r.get("note") else "") for r in noted]
        lines += [""]
    headline = [r for r in runs if r["periods"] == SIZES.get(r["size"], (0, 0))[1]] or runs
    if len({_engine(r) for r in runs}) > 1:
        lines += ["## Engines", "",
                  "The same data set (size, shape, seed) on each engine, one run each.", ""]
        lines += _engines_table(headline)
        lines += [""]
    lines += _run_tables(headline)
    scaling: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for run in runs:
        scaling.setdefault((run["size"], run["shape"], _engine(run)), []).append(run)
    for (size, shape, engine), group in scaling.items():
        if len(group) < 2:
            continue
        group = sorted(group, key=lambda r: r["periods"])
        on = "" if engine == "postgres" else f", {ENGINE_LABELS.get(engine, engine)}"
        lines += ["", f"## Scaling with the length of history: {size} {shape}{on}", ""]
        lines += _table(
            ["approach", *(f"{r['periods']} periods" for r in group)],
            [
                ["raw payments", *(f"{r['data']['raw_payments']:,}" for r in group)],
                ["history rows", *(f"{r['data']['history_rows']:,}" for r in group)],
                ["naive statement", *(_fmt_s(r["naive"]["wall_s"], r["naive"]["capped"])
                                      for r in group)],
                ["our full build, wall", *(_fmt_s(r["full_build"]["wall_s"]) for r in group)],
                ["our full build, history model",
                 *(_fmt_s(r["full_build"]["history_s"]) for r in group)],
                ["our incremental build, wall",
                 *(_fmt_s(r["incremental_build"]["wall_s"]) for r in group)],
                ["our incremental build, history model",
                 *(_fmt_s(r["incremental_build"]["history_s"]) for r in group)],
                ["floor statement", *(_fmt_s(r["floor"]["wall_s"]) for r in group)],
                ["pandas (compute only)", *(_fmt_s(r["pandas"]["compute_s"]) for r in group)],
                ["naive / ours (full wall)",
                 *(_fmt_x(r["ratios"]["naive_over_full_wall"], r["naive"]["capped"])
                   for r in group)],
                ["history model / floor",
                 *(_fmt_x(r["ratios"]["history_over_floor"]) for r in group)],
            ],
        )
    other = [r for r in runs if r not in headline]
    if other:
        lines += ["", "## Other runs", ""]
        lines += _run_tables(other, headings=False)
    return "\n".join(lines) + "\n"


def _commit(run: Mapping[str, Any]) -> str:
    state = run.get("git") or {}
    commit = state.get("commit") or "?"
    return f"`{commit}`" + (" + local changes" if state.get("dbt_project_uncommitted_changes")
                            else "")


def _run_tables(runs: Sequence[Mapping[str, Any]], headings: bool = True) -> list[str]:
    header = ["", *(_label(r) for r in runs)]
    lines: list[str] = []
    if headings:
        lines += ["## Times", ""]
    lines += _table(header, [
        ["commit measured", *(_commit(r) for r in runs)],
        ["machine load (1-min load average at start / end)",
         *(f"{r['load_average_1min']['start']:.1f} / {r['load_average_1min']['end']:.1f}"
           if "load_average_1min" in r else "–" for r in runs)],
        ["users", *(f"{r['users']:,}" for r in runs)],
        ["raw payments (appended last period)",
         *(f"{r['data']['raw_payments']:,} ({r['data']['raw_payments_appended']:,})"
           for r in runs)],
        ["payments per user", *(f"{r['data']['clean_payments'] / r['users']:.0f}" for r in runs)],
        ["history rows", *(f"{r['data']['history_rows']:,}" for r in runs)],
        ["the builds timed in (b) and (c)", *(_build_command(r) for r in runs)],
        ["(a) naive statement", *(_fmt_s(r["naive"]["wall_s"], r["naive"]["capped"])
                                  for r in runs)],
        ["(b) our full build: `--full-refresh` wall",
         *(_fmt_s(r["full_build"]["wall_s"]) for r in runs)],
        ["(b) … its history model (run_results.json)",
         *(_fmt_s(r["full_build"]["history_s"]) for r in runs)],
        ["(c) our incremental build: wall, one new period",
         *(_fmt_s(r["incremental_build"]["wall_s"]) for r in runs)],
        ["(c) … its history model", *(_fmt_s(r["incremental_build"]["history_s"]) for r in runs)],
        ["(d) floor statement", *(_fmt_s(r["floor"]["wall_s"]) for r in runs)],
        ["(e) pandas, compute only (clean + per-period groupby)",
         *(_fmt_s(r["pandas"]["compute_s"]) for r in runs)],
        ["(e) … reading raw into pandas (not counted)",
         *(_fmt_s(r["pandas"]["read_s_not_counted"]) for r in runs)],
        ["(f) the unit tests apart (`dbt test --select test_type:unit`): wall / summed",
         *(_unit_tests(r) for r in runs)],
    ])
    if headings:
        lines += ["", "## Ratios", ""]
    else:
        lines += [""]
    lines += _table(header, [
        ["naive / ours, full build (wall)",
         *(_fmt_x(r["ratios"]["naive_over_full_wall"], r["naive"]["capped"]) for r in runs)],
        ["naive / ours, incremental build (wall)",
         *(_fmt_x(r["ratios"]["naive_over_incremental_wall"], r["naive"]["capped"])
           for r in runs)],
        ["naive / our history model (full)",
         *(_fmt_x(r["ratios"]["naive_over_full_history"], r["naive"]["capped"]) for r in runs)],
        ["our history model (full) / floor",
         *(_fmt_x(r["ratios"]["history_over_floor"]) for r in runs)],
        ["incremental / full, history model",
         *(_fmt_x(r["ratios"]["incremental_over_full_history"]) for r in runs)],
        ["incremental / full, wall",
         *(_fmt_x(r["ratios"]["incremental_over_full_wall"]) for r in runs)],
        ["pandas / ours, full build (wall)",
         *(_fmt_x(r["ratios"]["pandas_over_full_wall"]) for r in runs)],
        ["pandas / our history model",
         *(_fmt_x(r["ratios"]["pandas_over_full_history"]) for r in runs)],
    ])
    if headings:
        lines += ["", "## dbt overhead, memory and disk", ""]
    else:
        lines += [""]
    lines += _table(header, [
        ["`dbt parse`, partial (nothing changed)",
         *(_fmt_s(r["dbt_fixed_cost"]["parse_partial_s"]) for r in runs)],
        ["`dbt parse`, full (after `--vars` changed)",
         *(_fmt_s(r["dbt_fixed_cost"]["parse_full_s"]) for r in runs)],
        ["`dbt build` selecting nothing (fixed cost per invocation)",
         *(_fmt_s(r["dbt_fixed_cost"]["build_selecting_nothing_s"]) for r in runs)],
        ["full build: wall − runner elapsed (start-up, parse)",
         *(_fmt_s(r["full_build"]["outside_runner_s"]) for r in runs)],
        ["full build: data tests, summed node time",
         *(_fmt_s(r["full_build"]["seconds_by_resource_type"].get("test")) for r in runs)],
        ["incremental: data tests, summed node time",
         *(_fmt_s(r["incremental_build"]["seconds_by_resource_type"].get("test"))
           for r in runs)],
        ["average busy threads (node times summed ÷ runner elapsed): full / incremental",
         *(f"{_busy(r['full_build'])} / {_busy(r['incremental_build'])}" for r in runs)],
        ["peak RSS of dbt: full / incremental",
         *(f"{r['full_build']['peak_rss_mb']:.0f} / {r['incremental_build']['peak_rss_mb']:.0f}"
           " MB" + (" (dbt only, not Spark's JVM)" if _engine(r) == "spark" else "")
           for r in runs)],
        ["temp spilled by PostgreSQL: naive",
         *(_fmt_mb(r["naive"]["temp_bytes"]) for r in runs)],
        ["… full build / incremental build",
         *(f"{_fmt_mb(r['full_build']['temp_bytes'])} / "
           f"{_fmt_mb(r['incremental_build']['temp_bytes'])}" for r in runs)],
        ["… floor", *(_fmt_mb(r["floor"]["temp_bytes"]) for r in runs)],
    ])
    if headings:
        lines += ["", "## Checks and goals (issue 4)", ""]
    else:
        lines += [""]

    def check(run: Mapping[str, Any], name: str) -> str:
        entry = run["checks"].get(name)
        if entry is None:
            return "not compared (naive capped)"
        return "same" if entry["ok"] else f"**DIFFERENT** ({entry['different']:,} rows)"

    def goal(value: float | None, ok: bool) -> str:
        return "–" if value is None else ("met" if ok else "**missed**")

    lines += _table(header, [
        ["segments: naive = ours", *(check(r, "naive_vs_ours") for r in runs)],
        ["segments: pandas = ours", *(check(r, "pandas_vs_ours") for r in runs)],
        ["every column: incremental = full refresh",
         *(check(r, "incremental_vs_full") for r in runs)],
        ["scheduled run ≥ 5× faster than naive",
         *(goal(r["ratios"]["naive_over_incremental_wall"],
                (r["ratios"]["naive_over_incremental_wall"] or 0) >= 5) for r in runs)],
        ["full build ≥ 2× (normal) / 3× (dense) faster than naive",
         *(goal(r["ratios"]["naive_over_full_wall"],
                (r["ratios"]["naive_over_full_wall"] or 0) >= (3 if r["shape"] == "dense" else 2))
           for r in runs)],
        ["history model within 3× of the floor",
         *(goal(r["ratios"]["history_over_floor"], (r["ratios"]["history_over_floor"] or 99) <= 3)
           for r in runs)],
        ["incremental history ≤ 1/10 of full",
         *(goal(r["ratios"]["incremental_over_full_history"],
                (r["ratios"]["incremental_over_full_history"] or 99) <= 0.1) for r in runs)],
        ["peak RSS of dbt < 1 GiB",
         *("n/a (JVM not measured)" if _engine(r) == "spark" else
           goal(r["full_build"]["peak_rss_mb"],
                max(r["full_build"]["peak_rss_mb"], r["incremental_build"]["peak_rss_mb"]) < 1024)
           for r in runs)],
    ])
    return lines


# --- the `rfm bench` verb ----------------------------------------------------------------------
def _periods_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected e.g. 12,24,36, got {text!r}") from err
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError(f"expected periods >= 2, e.g. 12,24,36, got {text!r}")
    return values


def register(sub: Any) -> None:
    """Add the ``bench`` verb to the ``rfm`` sub-command parsers."""
    parser = sub.add_parser(
        "bench", help="benchmark: naive vs ours vs floor vs pandas (writes benchmarks/results.*)"
    )
    parser.add_argument("--size", choices=list(SIZES), default="S",
                        help="S: 10k users/24 months, M: 100k/36, L: 1M/36 (default S)")
    parser.add_argument("--shape", choices=list(SHAPES), default="normal",
                        help="dense: a quarter of the users, ~80 payments each")
    parser.add_argument("--periods", type=_periods_list, default=None,
                        help="scaling mode: measure at each number of periods, e.g. 12,24,36")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--naive-timeout", type=float, default=900.0,
                        help="cap of the naive statement, seconds (default 900)")
    parser.add_argument("--database", default="rfm_bench",
                        help="database to (re)create on the server (default rfm_bench)")
    parser.add_argument("--output", type=Path, default=None,
                        help="folder of results.md/results.json (default: benchmarks/)")
    parser.add_argument("--explain", action="store_true",
                        help="also EXPLAIN ANALYZE the history's compiled SQL "
                        "(benchmarks/profiles/; PostgreSQL only)")
    parser.add_argument("--engine", choices=list(warehouses.ENGINES), default=None,
                        help="postgres, duckdb or spark (default: DBT_TARGET, else postgres)")
    parser.add_argument("--note", default=None,
                        help="a note kept with the run and shown in results.md (e.g. the "
                        "machine was busy)")
    parser.add_argument("--force", action="store_true",
                        help=f"let --engine spark run sizes above {SPARK_MAX_SIZE}")
    parser.set_defaults(handler=cmd_bench)


def _summary_table(run: Mapping[str, Any]) -> Table:
    table = Table(title=f"{_label(run)}: {run['data']['raw_payments']:,} payments, "
                  f"{run['data']['history_rows']:,} history rows")
    table.add_column("measurement")
    table.add_column("value", justify="right")
    capped = run["naive"]["capped"]
    ratios = run["ratios"]
    for name, value in (
        ("naive statement", _fmt_s(run["naive"]["wall_s"], capped)),
        ("full dbt build (wall)", _fmt_s(run["full_build"]["wall_s"])),
        ("… history model", _fmt_s(run["full_build"]["history_s"])),
        ("incremental dbt build (wall)", _fmt_s(run["incremental_build"]["wall_s"])),
        ("… history model", _fmt_s(run["incremental_build"]["history_s"])),
        ("floor statement", _fmt_s(run["floor"]["wall_s"])),
        ("pandas (compute only)", _fmt_s(run["pandas"]["compute_s"])),
        ("naive / ours full (wall)", _fmt_x(ratios["naive_over_full_wall"], capped)),
        ("naive / ours incremental (wall)", _fmt_x(ratios["naive_over_incremental_wall"], capped)),
        ("history model / floor", _fmt_x(ratios["history_over_floor"])),
        ("incremental / full (history model)", _fmt_x(ratios["incremental_over_full_history"])),
        ("pandas / ours full (wall)", _fmt_x(ratios["pandas_over_full_wall"])),
        ("dbt build selecting nothing", _fmt_s(run["dbt_fixed_cost"]["build_selecting_nothing_s"])),
        ("peak RSS dbt (full)", f"{run['full_build']['peak_rss_mb']:.0f} MB"),
    ):
        table.add_row(name, value)
    return table


_LOCK_KEY: Final = "rfm_segmentation.bench"


def server_lock(connection: postgres.Connection, console: Console | None = None) -> Any:
    """Hold a server-wide advisory lock (on the maintenance database) for one benchmark, so that
    two `rfm bench` on the same server queue instead of dropping each other's database and
    timing each other's load. Released when the returned connection is closed."""
    conn = connection.connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("select pg_try_advisory_lock(hashtext(%s))", (_LOCK_KEY,))
        if not cur.fetchone()[0]:
            if console is not None:
                console.print("[yellow]another rfm bench runs on this server: waiting for it[/]")
            cur.execute("select pg_advisory_lock(hashtext(%s))", (_LOCK_KEY,))
    return conn


def cmd_bench(args: argparse.Namespace, console: Console, root: Path) -> int:
    engine = args.engine or warehouses.engine_from_env()
    out_dir = args.output or root / "benchmarks"
    periods_list: list[int | None] = list(args.periods) if args.periods else [None]
    plans = [make_plan(args.size, args.shape, periods, seed=args.seed) for periods in periods_list]
    if engine != "postgres" and args.explain:
        console.print("[red]--explain is PostgreSQL-only (EXPLAIN ANALYZE of the history)[/]")
        return 2
    if engine == "spark" and _SIZE_ORDER[args.size] > _SIZE_ORDER[SPARK_MAX_SIZE] \
            and not args.force:
        console.print(f"[red]--engine spark runs size {SPARK_MAX_SIZE} only: a local Spark on "
                      f"this machine would take very long at size {args.size}. Add --force to "
                      "run it anyway.[/]")
        return 2
    options = BenchOptions(database=args.database, naive_timeout_s=args.naive_timeout,
                           explain=args.explain, engine=engine)
    notes = {"command": _command(args, engine), "note": args.note}
    if engine != "postgres":
        workdir = root / ".local" / "bench" / engine
        console.print(f"benchmark on {ENGINE_LABELS[engine]}: a fresh warehouse in {workdir}")
        with _folder_lock(workdir, console):
            return _bench_plans(plans, options, None, out_dir, console, root, notes)
    server = postgres.resolve(root)
    console.print(f"benchmark database {options.database!r} on {server.describe()}")
    with closing(server_lock(server, console)):
        return _bench_plans(plans, options, server, out_dir, console, root, notes)


def _command(args: argparse.Namespace, engine: str) -> str:
    """The `rfm bench` command line of a run, for results.md."""
    parts = ["rfm bench", f"--size {args.size}", f"--engine {engine}"]
    if args.shape != "normal":
        parts.append(f"--shape {args.shape}")
    if args.periods:
        parts.append("--periods " + ",".join(str(n) for n in args.periods))
    if args.seed != 42:
        parts.append(f"--seed {args.seed}")
    if args.explain:
        parts.append("--explain")
    if getattr(args, "force", False):
        parts.append("--force")
    return " ".join(parts)


@contextmanager
def _folder_lock(folder: Path, console: Console | None = None) -> Iterator[None]:
    """An exclusive lock on a work folder, so that two `rfm bench` on one engine queue instead
    of deleting each other's warehouse."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if console is not None:
                console.print(f"[yellow]another rfm bench uses {folder}: waiting for it[/]")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _bench_plans(plans: Sequence[BenchPlan], options: BenchOptions,
                 server: postgres.Connection | None, out_dir: Path, console: Console,
                 root: Path, notes: Mapping[str, str | None] | None = None) -> int:
    machine = machine_facts(server)
    failed = False
    for plan in plans:
        console.rule(f"[bold]{run_key(plan, options.engine)}: {plan.users:,} users, "
                     f"{plan.periods} months on {ENGINE_LABELS[options.engine]}")
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
            result = run_benchmark(root, plan, options, progress, connection=server)
        result.update({k: v for k, v in (notes or {}).items() if v})
        json_path, md_path = write_results(out_dir, result, machine)
        console.print(_summary_table(result))
        for check in result["checks"].values():
            if check is not None:
                style = "green" if check["ok"] else "bold red"
                console.print(f"[{style}]{check['summary']}[/]")
                if not check["ok"]:
                    for example in check["examples"]:
                        console.print(f"  [red]{example}[/]")
        if result["naive"]["capped"]:
            console.print(f"[yellow]naive statement capped at {options.naive_timeout_s:.0f}s: "
                          "its segments were not compared[/]")
        console.print(f"wrote {md_path} and {json_path}")
        failed = failed or not result["all_ok"]
    if failed:
        console.print("[bold red]the approaches disagree: the times above are not comparable[/]")
        return 1
    return 0


if __name__ == "__main__":
    # python -m rfm_segmentation.bench spark-sql FOLDER SCHEMA TABLE SQL_FILE OUT_JSON TIMEOUT_S
    if len(sys.argv) == 8 and sys.argv[1] == "spark-sql":
        spark_sql_main(Path(sys.argv[2]), sys.argv[3], sys.argv[4], Path(sys.argv[5]),
                       Path(sys.argv[6]), float(sys.argv[7]))
    else:
        raise SystemExit("usage: python -m rfm_segmentation.bench spark-sql FOLDER SCHEMA TABLE"
                         " SQL_FILE OUT_JSON TIMEOUT_S")
