"""What the reliability tests share (tests/python/test_reliability.py): the demo data cut at
three rfm_as_of, the public tables read as text and compared, `dbt build` as a subprocess a test
can kill, and the watch on pg_stat_activity that times each kill."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from psycopg2 import sql

from rfm_segmentation import demo as demo_data
from rfm_segmentation.warehouses import postgres as database

from conftest import DBT, RFM, ROOT, SCHEMA, PaymentRow, Warehouse, yaml_flow

SPEC = demo_data.DemoSpec(
    n_users=3000, start=date(2023, 1, 1), as_of=datetime(2024, 11, 5, 6, 0, 0), seed=5
)
AS_OF_FIRST = datetime(2024, 7, 20, 12, 0, 0)  # first build
AS_OF_SECOND = datetime(2024, 9, 10, 6, 0, 0)  # incremental run, after new payments arrived
AS_OF_THIRD = SPEC.as_of  # full refresh, after more payments arrived

PUBLIC_TABLES = (
    "rfm_segments_history",
    "rfm_segments_current",
    "rfm_segment_transitions",
    "rfm_segment_summary",
    "payments_rejected",
)
# Built from the history: a build killed during the history model must leave them untouched.
HISTORY_AND_DOWNSTREAM = PUBLIC_TABLES[:4]
HISTORY_NODE = "model.rfm_segmentation.rfm_segments_history"
CURRENT_NODE = "model.rfm_segmentation.rfm_segments_current"

BUILD_TIMEOUT_S = 300.0
KILL_WINDOW_TIMEOUT_S = 240.0
BACKENDS_GRACE_S = 20.0  # the server's own detection of a dead client, before we terminate
ANSI = re.compile(r"\x1b\[[0-9;]*m")

Tables = dict[str, Counter[str] | None]


# --- data ---------------------------------------------------------------------------------------

@cache
def chunks() -> tuple[list[PaymentRow], list[PaymentRow], list[PaymentRow]]:
    """The demo payments cut at the two first rfm_as_of: what is loaded before the first
    build, what arrives before the incremental run, what arrives before the full refresh."""
    first: list[PaymentRow] = []
    second: list[PaymentRow] = []
    third: list[PaymentRow] = []
    for row in demo_data.generate_payments(SPEC):
        when = row[2]
        if when is None or when < AS_OF_FIRST:
            first.append(row)
        elif when < AS_OF_SECOND:
            second.append(row)
        else:
            third.append(row)
    return first, second, third


def load_first(connection: database.Connection) -> None:
    conn = connection.connect()
    try:
        database.load_raw(
            conn, chunks()[0], demo_data.generate_calendar(date(2023, 1, 1), date(2024, 12, 31))
        )
    finally:
        conn.close()


def append(connection: database.Connection, rows: list[PaymentRow]) -> None:
    conn = connection.connect()
    try:
        database.append_payments(conn, rows)
    finally:
        conn.close()


def as_of_vars(as_of: datetime) -> dict[str, Any]:
    return {"rfm_as_of": as_of.isoformat(sep=" ")}


# --- tables -------------------------------------------------------------------------------------

def public_tables(connection: database.Connection,
                  names: tuple[str, ...] = PUBLIC_TABLES) -> Tables:
    """Every row of each table as its text form (None for a missing table)."""
    tables: Tables = {}
    with database.cursor(connection) as cur:
        for name in names:
            cur.execute("select to_regclass(%s)", (f"{SCHEMA}.{name}",))
            if cur.fetchone()[0] is None:
                tables[name] = None
                continue
            cur.execute(
                sql.SQL("select t::text from {} as t").format(sql.Identifier(SCHEMA, name))
            )
            tables[name] = Counter(row[0] for row in cur)
    return tables


def table_differences(actual: Tables, expected: Tables) -> list[str]:
    problems = []
    for name, want in expected.items():
        got = actual.get(name)
        if got == want:
            continue
        if got is None or want is None:
            problems.append(f"{name}: {'missing' if got is None else 'exists'}, expected "
                            f"{'missing' if want is None else str(want.total()) + ' rows'}")
            continue
        missing, extra = want - got, got - want
        problems.append(
            f"{name}: {got.total()} rows, expected {want.total()}; {missing.total()} missing "
            f"(e.g. {list(missing)[:2]}), {extra.total()} unexpected (e.g. {list(extra)[:2]})"
        )
    return problems


def assert_tables_equal(actual: Tables, expected: Tables, context: str) -> None:
    problems = table_differences(actual, expected)
    assert not problems, f"{context}:\n" + "\n".join(problems)


def leftover_relations(connection: database.Connection) -> list[str]:
    with database.cursor(connection) as cur:
        cur.execute(
            "select c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm')"
            " and c.relname ~ '__dbt_(tmp|backup)'", (SCHEMA,)
        )
        return [row[0] for row in cur.fetchall()]


def row_count(connection: database.Connection, table: str) -> int:
    with database.cursor(connection) as cur:
        cur.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(SCHEMA, table)))
        return int(cur.fetchone()[0])


@dataclass(frozen=True)
class Reference:
    first: Tables  # after the first build at AS_OF_FIRST
    incremental: Tables  # after the incremental run at AS_OF_SECOND


# --- dbt as a subprocess ------------------------------------------------------------------------

@dataclass
class Build:
    process: subprocess.Popen[str]
    log: Path
    target: Path

    def wait(self, timeout: float = BUILD_TIMEOUT_S) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return ANSI.sub("", self.log.read_text(errors="replace"))


def start_build(warehouse: Warehouse, processes: list[subprocess.Popen[str]], name: str,
                *flags: str, as_of: datetime, env: dict[str, str] | None = None,
                via_cli: bool = False) -> Build:
    """`dbt build` as a scheduler starts it (same command and environment as Warehouse.dbt,
    or through `rfm dbt build` with ``via_cli``), in a process group of its own so that it can
    be killed whole."""
    env = env or warehouse.env()
    log = warehouse.workdir / f"{name}.log"
    program = [RFM, "dbt"] if via_cli else [DBT]
    command = [*program, "build", *flags, "--vars",
               yaml_flow({**warehouse.vars, **as_of_vars(as_of)})]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
    processes.append(process)
    return Build(process, log, Path(env["DBT_TARGET_PATH"]))


def execute_windows(target: Path) -> dict[str, tuple[float, float]]:
    """Epoch seconds of the execute phase of each node of the last run (run_results.json)."""
    windows = {}
    for result in json.loads((target / "run_results.json").read_text())["results"]:
        for timing in result["timing"]:
            if timing["name"] == "execute" and timing.get("started_at"):
                windows[result["unique_id"]] = (
                    datetime.fromisoformat(timing["started_at"]).timestamp(),
                    datetime.fromisoformat(timing["completed_at"]).timestamp(),
                )
    return windows


# --- pg_stat_activity ---------------------------------------------------------------------------

def monitor(connection: database.Connection) -> Any:
    conn = connection.connect()
    conn.autocommit = True
    return conn


def dbt_backends(conn: Any) -> list[tuple[int, str, str | None, str]]:
    """(pid, state, wait_event_type, query) of dbt's sessions on this database."""
    with conn.cursor() as cur:
        cur.execute(
            "select pid, state, wait_event_type, query from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
            " and application_name = 'dbt'"
        )
        return cur.fetchall()


def statement(query: str) -> str:
    """A logged query without dbt's leading comment, on one line."""
    return " ".join(query.split("*/", 1)[-1].split())


@dataclass
class Kill:
    build: str
    phase: str  # the history statement that was running (or waiting) when dbt was killed
    seconds_to_clear: float = 0.0  # until the server had no session of the dead dbt left
    terminated: list[str] = field(default_factory=list)  # sessions we had to terminate


def wait_for_history_statement(build: Build, conn: Any, phase: str, *,
                               waiting_on_lock: bool) -> str:
    """Poll pg_stat_activity until a statement of the history model matching ``phase`` is
    active (and, with ``waiting_on_lock``, waiting for a lock); the statement, shortened."""
    tag = f'"node_id": "{HISTORY_NODE}"'
    pattern = re.compile(phase, re.IGNORECASE)
    deadline = time.monotonic() + KILL_WINDOW_TIMEOUT_S
    while True:
        for _pid, state, wait_event_type, query in dbt_backends(conn):
            if (state == "active" and tag in query and pattern.search(statement(query))
                    and (not waiting_on_lock or wait_event_type == "Lock")):
                return re.sub(r'"[^"]+"\.', "", statement(query))[:60]
        assert build.process.poll() is None, (
            f"dbt ended before a history statement matching {phase!r} was seen; "
            f"output:\n{build.output()[-3000:]}"
        )
        sessions = [(state, wait, statement(query)[:200])
                    for _, state, wait, query in dbt_backends(conn)]
        assert time.monotonic() < deadline, (
            f"no history statement matching {phase!r}; dbt's sessions: {sessions}")
        time.sleep(0.002)


def kill_during_history(build: Build, conn: Any, phase: str, *, waiting_on_lock: bool = False,
                        release: Callable[[], None] | None = None) -> Kill:
    """Wait for a statement of the history model matching ``phase`` (see
    wait_for_history_statement), SIGKILL the whole dbt process group, then wait until the
    server has dropped every session of it."""
    seen = wait_for_history_statement(build, conn, phase, waiting_on_lock=waiting_on_lock)
    os.killpg(build.process.pid, signal.SIGKILL)
    assert build.wait(timeout=30) == -signal.SIGKILL, "dbt was not killed by SIGKILL"
    if release is not None:
        release()
    kill = Kill(build.log.stem, seen)
    killed_at = grace_from = time.monotonic()
    while backends := dbt_backends(conn):
        if time.monotonic() - grace_from > BACKENDS_GRACE_S:
            # Realistic: an operator (or a watchdog) ends the sessions of a client that died.
            with conn.cursor() as cur:
                for pid, state, _, query in backends:
                    cur.execute("select pg_terminate_backend(%s)", (pid,))
                    kill.terminated.append(f"{pid} {state}: {statement(query)[:60]}")
            grace_from = time.monotonic()
        time.sleep(0.01)
    kill.seconds_to_clear = time.monotonic() - killed_at
    return kill


@contextmanager
def holding(connection: database.Connection, statement_sql: str) -> Iterator[Callable[[], None]]:
    """Run ``statement_sql`` in a transaction left open (its locks held) on a connection of
    its own; yield the function that ends it."""
    conn = connection.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(statement_sql)
        yield conn.rollback
    finally:
        conn.close()


def report(title: str, lines: list[str]) -> str:
    text = "\n".join([f"RELIABILITY {title}", *(f"  {line}" for line in lines)])
    print("\n" + text)
    return text
