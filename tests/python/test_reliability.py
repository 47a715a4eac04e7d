"""Failure, retry, concurrency and readers, against the real PostgreSQL.

* A `dbt build` killed with SIGKILL in the middle of the history model, then run again, leaves
  exactly what an uninterrupted build leaves: on a first build (in the first step of the fold), on
  an incremental run (killed twice: in its first step, and in the middle of the fold,
  after the first step's delete+insert) and on a `--full-refresh` (killed while its rename waits
  behind an analyst's open transaction). Each kill lands where it is meant to because the
  statement it targets waits on a lock the test holds.
* Two `dbt build`s started at once on one database: both succeed, or one fails cleanly (exit 1
  with a database error, no traceback) while the other succeeds, and the data is right either
  way.
* A reader loop on another connection during an incremental and a full-refresh build never sees
  an error nor a row count other than the old or the new one.

"An uninterrupted build" is the same data built the same way, without interference, in a
reference database of this module. Figures are printed (`pytest -s` or `-rA` shows them) and
repeated in the assertion messages.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2
import pytest

from rfm_segmentation.warehouses import postgres as database

from conftest import SCHEMA, Warehouse
from reliability_support import (
    AS_OF_FIRST,
    AS_OF_SECOND,
    AS_OF_THIRD,
    BUILD_TIMEOUT_S,
    CURRENT_NODE,
    HISTORY_AND_DOWNSTREAM,
    HISTORY_NODE,
    Build,
    Kill,
    Reference,
    append,
    as_of_vars,
    assert_tables_equal,
    chunks,
    execute_windows,
    holding,
    kill_during_history,
    leftover_relations,
    load_first,
    monitor,
    public_tables,
    report,
    row_count,
    start_build,
    table_differences,
    wait_for_history_statement,
)

READ_TABLES = ("rfm_segments_current", "rfm_segments_history")

# Safety bounds only: the reader must outlast the build it watches (on a loaded machine the
# incremental run takes minutes before it reaches rfm_segments_current).
READER_MAX_S = BUILD_TIMEOUT_S + 30.0
READER_MAX_QUERIES = 1_000_000


@pytest.fixture(scope="module")
def reference_build(server: database.Connection,
                    tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The uninterrupted builds every test compares with, in a database of their own."""
    connection = database.ensure_database(server, "rfm_test_reliability_reference",
                                          recreate=True)
    warehouse = Warehouse(connection, tmp_path_factory.mktemp("reference"))
    load_first(connection)
    warehouse.dbt("build", vars=as_of_vars(AS_OF_FIRST)).assert_ok()
    first = public_tables(connection)
    append(connection, chunks()[1])
    warehouse.dbt("build", vars=as_of_vars(AS_OF_SECOND)).assert_ok()
    return Reference(first, public_tables(connection))


# --- dbt as a subprocess ------------------------------------------------------------------------

@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """dbt processes started by a test; any still running at its end is killed (by its own
    process group, which only it belongs to)."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


# --- 1. SIGKILL in the middle of the history model, then retry ---------------------------------

def retry(warehouse: Warehouse, as_of: datetime) -> None:
    warehouse.dbt("build", vars=as_of_vars(as_of)).assert_ok()
    assert leftover_relations(warehouse.connection) == []


def kill_in_first_step(warehouse: Warehouse, build: Build, conn: Any) -> Kill:
    """Kill ``build`` in the first step of the history's fold (the model's own select: dbt's
    check of its contract, then the `create table` or temp table that runs it). The step is
    quick, so the test makes it wait: it holds the history's advisory lock (rfm_lock_model)
    until the model's pre-hook waits for it, then locks the segment matrix seed, which only the
    steps read, and lets the pre-hook go on; the first statement to wait on the seed is the
    first step's."""
    this = '"{}"."{}"."rfm_segments_history"'.format(
        warehouse.connection.env["PGDATABASE"], SCHEMA)
    with holding(warehouse.connection,
                 f"select pg_advisory_xact_lock(hashtext('{this}'))") as release_model:
        wait_for_history_statement(build, conn, r"pg_advisory_xact_lock", waiting_on_lock=True)
        with holding(warehouse.connection,
                     f"lock table {SCHEMA}.rfm_segment_map in access exclusive mode"
                     ) as release_seed:
            release_model()
            return kill_during_history(build, conn, r"\bsnapshot as \(", waiting_on_lock=True,
                                       release=release_seed)


def test_sigkill_mid_history_then_retry_equals_an_uninterrupted_build(
    warehouse: Warehouse, reference_build: Reference, processes: list[subprocess.Popen[str]]
) -> None:
    """Four kills, each followed by a check that the history and its downstream tables are
    exactly as before the killed run, and (after the retries) equal to the uninterrupted
    builds: a first build in the fold's first step (before its table exists), an incremental
    run in its first step, the same run in the middle of its fold (the step of the
    latest stored period waits to delete rows the test holds FOR SHARE, after the first step's
    delete+insert), and a --full-refresh whose rename waits behind an open reader transaction,
    as behind a long BI query."""
    conn = monitor(warehouse.connection)
    kills: list[Kill] = []
    history_reader = f"select count(*) from {SCHEMA}.rfm_segments_history"
    latest_rows_held = (f"select 1 from {SCHEMA}.rfm_segments_history where snapshot_period ="
                        f" (select max(snapshot_period) from {SCHEMA}.rfm_segments_history)"
                        " for share")
    try:
        load_first(warehouse.connection)
        build = start_build(warehouse, processes, "first-build", as_of=AS_OF_FIRST)
        kills.append(kill_in_first_step(warehouse, build, conn))
        assert public_tables(warehouse.connection, HISTORY_AND_DOWNSTREAM) == dict.fromkeys(
            HISTORY_AND_DOWNSTREAM), "a first build killed mid-history left tables behind"
        retry(warehouse, AS_OF_FIRST)
        assert_tables_equal(public_tables(warehouse.connection), reference_build.first,
                            "first build killed mid-history, then retried")

        append(warehouse.connection, chunks()[1])
        before = public_tables(warehouse.connection, HISTORY_AND_DOWNSTREAM)
        build = start_build(warehouse, processes, "incremental-first-step", as_of=AS_OF_SECOND)
        kills.append(kill_in_first_step(warehouse, build, conn))
        assert_tables_equal(public_tables(warehouse.connection, HISTORY_AND_DOWNSTREAM), before,
                            "an incremental run killed in its first step changed the tables")
        with holding(warehouse.connection, latest_rows_held) as release:
            build = start_build(warehouse, processes, "incremental-mid-fold",
                                as_of=AS_OF_SECOND)
            kills.append(kill_during_history(build, conn, r"^delete from",
                                             waiting_on_lock=True, release=release))
        assert_tables_equal(public_tables(warehouse.connection, HISTORY_AND_DOWNSTREAM), before,
                            "an incremental run killed in the middle of its fold changed the "
                            "tables")
        retry(warehouse, AS_OF_SECOND)
        assert_tables_equal(public_tables(warehouse.connection), reference_build.incremental,
                            "incremental run killed twice mid-history, then retried")

        with holding(warehouse.connection, history_reader) as release:
            build = start_build(warehouse, processes, "full-refresh-rename", "--full-refresh",
                                as_of=AS_OF_SECOND)
            kills.append(kill_during_history(build, conn, r"\brename to\b",
                                             waiting_on_lock=True, release=release))
        assert_tables_equal(
            public_tables(warehouse.connection, HISTORY_AND_DOWNSTREAM),
            {name: reference_build.incremental[name] for name in HISTORY_AND_DOWNSTREAM},
            "a --full-refresh killed at its rename changed the tables",
        )
        retry(warehouse, AS_OF_SECOND)
        assert_tables_equal(public_tables(warehouse.connection), reference_build.incremental,
                            "--full-refresh killed mid-history, then a normal run")
    finally:
        conn.close()

    terminated = sum(len(kill.terminated) for kill in kills)
    report(f"SIGKILL mid-history: {len(kills)} kills survived, {terminated} leftover "
           f"session(s) terminated by the test", [
        f"{kill.build}: killed in `{kill.phase}`, server clear after "
        f"{kill.seconds_to_clear:.2f} s" + (f", terminated {kill.terminated}"
                                            if kill.terminated else "")
        for kill in kills
    ])


# --- 2. two builds at once ---------------------------------------------------------------------

@dataclass
class PairOutcome:
    scenario: str
    codes: list[int]
    errors: list[list[str]]  # per build: "kind in node: first line of the error"
    history_overlap_s: float | None  # how long both history models ran at the same time
    problems: list[str]


def dbt_errors(output: str) -> list[str]:
    """dbt's closing summary of what went wrong, one entry per node: "Database Error in model x:
    <message>", "Failure in test y: Got n results, configured to fail if != 0"."""
    entries: list[list[str]] = []  # [kind, node, message]
    for raw in output.partition("Completed with")[2].splitlines()[1:]:
        line = re.sub(r"^\d\d:\d\d:\d\d\s+", "", raw).strip()
        header = re.match(r"(\w+ Error|Failure) in (\w+ \S+)", line)
        if header and entries and not entries[-1][2] and entries[-1][1] == header[2]:
            entries[-1][0] = header[1]  # "Failure in model x", then "Database Error in model x"
        elif header:
            entries.append([header[1], header[2], ""])
        elif line and entries and not entries[-1][2] and not line.startswith(
                ("compiled code at", "Done.")):
            entries[-1][2] = line
    return [f"{kind} in {node}: {message}" for kind, node, message in entries]


def run_pair(warehouse: Warehouse, processes: list[subprocess.Popen[str]], scenario: str,
             *flags: str, as_of: datetime, via_cli: bool) -> PairOutcome:
    """Two `dbt build`s with the same vars, started together. Each gets its own target and log
    folder (two scheduler workers), so that only the database is shared. ``via_cli``: started
    as `rfm dbt build`, which queues runs on the same schema, so both must succeed."""
    builds = []
    for side in ("a", "b"):
        env = {**warehouse.env(),
               "DBT_TARGET_PATH": str(warehouse.workdir / f"target-{scenario}-{side}"),
               "DBT_LOG_PATH": str(warehouse.workdir / f"logs-{scenario}-{side}")}
        builds.append(start_build(warehouse, processes, f"{scenario}-{side}", *flags,
                                  as_of=as_of, env=env, via_cli=via_cli))
    codes = []
    for build in builds:
        try:
            codes.append(build.wait())
        except subprocess.TimeoutExpired:
            pytest.fail(f"{build.log.stem} still runs after {BUILD_TIMEOUT_S:.0f} s (a lock "
                        f"wait that never ends?):\n{build.output()[-3000:]}")
    outcome = PairOutcome(scenario, codes, [], None, [])
    windows = []
    for build, code in zip(builds, codes, strict=True):
        output = build.output()
        errors = dbt_errors(output)
        outcome.errors.append(errors)
        if "Traceback (most recent call last)" in output:
            outcome.problems.append(f"{build.log.stem}: Python traceback:\n{output[-3000:]}")
        clean = code == 1 and errors and all(e.startswith("Database Error") for e in errors)
        if code != 0 and not clean:
            outcome.problems.append(f"{build.log.stem}: exit {code} without a clean database "
                                    f"error:\n{output[-3000:]}")
        if (build.target / "run_results.json").is_file():
            window = execute_windows(build.target).get(HISTORY_NODE)
            if window is not None:
                windows.append(window)
    if len(windows) == 2:
        (a_start, a_end), (b_start, b_end) = windows
        outcome.history_overlap_s = max(0.0, min(a_end, b_end) - max(a_start, b_start))
    if all(code != 0 for code in codes):
        outcome.problems.append(f"both builds failed: {outcome.errors}")
    if via_cli and any(code != 0 for code in codes):
        outcome.problems.append(f"`rfm dbt build` runs must queue, not fail: {outcome.errors}")
    return outcome


def test_two_builds_at_once_fail_cleanly_or_both_succeed_and_the_data_is_right(
    warehouse: Warehouse, reference_build: Reference, processes: list[subprocess.Popen[str]]
) -> None:
    """Two builds started at the same time, three times: a first build and an incremental run
    through `rfm dbt build` (it holds an advisory lock per schema, so the second run waits and
    both succeed), then the history and its incremental marts (`--select
    rfm_segments_history+`) with plain `dbt build`, as a scheduler calling dbt directly would:
    each incremental model takes a transaction-level advisory lock, so both succeed one after
    the other, or one fails with a database error (exit 1, no traceback). Either way the
    tables equal the uninterrupted build right after the pair, and again after a final normal
    `dbt build` when one failed. (Two plain `dbt build`s of a first build can both fail on
    "relation already exists": dbt's relation cache is read before any lock can be taken;
    docs/reliability.md says so, and `rfm dbt` is the answer.)"""
    outcomes = []
    for scenario, flags, as_of, expected, via_cli in (
        ("first-build", (), AS_OF_FIRST, reference_build.first, True),
        ("incremental", (), AS_OF_SECOND, reference_build.incremental, True),
        ("history-and-marts", ("--select", "rfm_segments_history+"), AS_OF_SECOND,
         reference_build.incremental, False),
    ):
        if scenario == "first-build":
            load_first(warehouse.connection)
        elif scenario == "incremental":
            append(warehouse.connection, chunks()[1])
        outcome = run_pair(warehouse, processes, scenario, *flags, as_of=as_of,
                           via_cli=via_cli)
        outcomes.append(outcome)
        # what readers see until the next run, whatever the exit codes
        outcome.problems += [
            f"right after the pair: {problem}" for problem in
            table_differences(public_tables(warehouse.connection), expected)
        ]
        if any(code != 0 for code in outcome.codes):
            final = warehouse.dbt("build", vars=as_of_vars(as_of))
            if final.returncode != 0:
                outcome.problems.append(f"the final normal build failed:\n{final.output[-3000:]}")
            outcome.problems += [
                f"after a final normal build: {problem}" for problem in
                table_differences(public_tables(warehouse.connection), expected)
            ]
        outcome.problems += [f"leftover relation {name}"
                             for name in leftover_relations(warehouse.connection)]

    text = report("two builds at once", [
        f"{o.scenario}: exit codes {o.codes}, history models ran together for "
        + ("n/a" if o.history_overlap_s is None else f"{o.history_overlap_s:.2f} s")
        + f"; errors {o.errors}" + (f"; PROBLEMS {o.problems}" if o.problems else "")
        for o in outcomes
    ])
    assert not any(o.problems for o in outcomes), text


# --- 3. readers during a build -----------------------------------------------------------------

@dataclass(frozen=True)
class Read:
    table: str
    started: float  # epoch seconds
    finished: float
    count: int | None
    error: str | None


class ReaderLoop(threading.Thread):
    """`select count(*)` of the current segments and of the history, alternately, each in its
    own autocommit transaction on one connection, until stopped (or READER_MAX_S seconds, or
    READER_MAX_QUERIES queries). Records every count and every error."""

    def __init__(self, connection: database.Connection) -> None:
        super().__init__(daemon=True)
        self.connection = connection
        self.stop = threading.Event()
        self.started_reading = threading.Event()
        self.reads: list[Read] = []
        self.crash: BaseException | None = None

    def run(self) -> None:
        queries = {table: f"select count(*) from {SCHEMA}.{table}" for table in READ_TABLES}
        deadline = time.monotonic() + READER_MAX_S
        conn = None
        try:
            while (not self.stop.is_set() and len(self.reads) < READER_MAX_QUERIES
                   and time.monotonic() < deadline):
                if conn is None or conn.closed:
                    conn = self.connection.connect()
                    conn.autocommit = True
                table = READ_TABLES[len(self.reads) % 2]
                started = time.time()
                try:
                    with conn.cursor() as cur:
                        cur.execute(queries[table])
                        read = Read(table, started, time.time(), int(cur.fetchone()[0]), None)
                except psycopg2.Error as exc:
                    read = Read(table, started, time.time(), None,
                                f"{type(exc).__name__}: {str(exc).strip()}")
                self.reads.append(read)
                if len(self.reads) >= 2:
                    self.started_reading.set()
        except BaseException as exc:  # reported by the test
            self.crash = exc
        finally:
            self.started_reading.set()
            if conn is not None:
                conn.close()


def read_during_build(warehouse: Warehouse, processes: list[subprocess.Popen[str]], name: str,
                      *flags: str, as_of: datetime) -> tuple[ReaderLoop, Build]:
    reader = ReaderLoop(warehouse.connection)
    reader.start()
    try:
        assert reader.started_reading.wait(timeout=30), "the reader never started"
        build = start_build(warehouse, processes, name, *flags, as_of=as_of)
        code = build.wait()
        outlasted = reader.is_alive()
    finally:
        reader.stop.set()
        reader.join(timeout=30)
    assert code == 0, build.output()[-6000:]
    assert reader.crash is None, f"the reader loop crashed: {reader.crash!r}"
    assert outlasted, (f"the reader stopped before the {name} build ended "
                       f"({len(reader.reads)} reads: a safety bound of ReaderLoop was reached)")
    return reader, build


def check_reads(reader: ReaderLoop, build: Build, old: dict[str, int],
                new: dict[str, int]) -> tuple[str, list[str]]:
    """The figures of one build, and what is wrong with its reads."""
    windows = execute_windows(build.target)
    problems = []
    errors = [read for read in reader.reads if read.error is not None]
    if errors:
        problems.append(f"{len(errors)} read error(s), e.g. "
                        f"{[(r.table, r.error) for r in errors[:5]]}")
    figures = [f"{len(reader.reads)} reads in "
               f"{reader.reads[-1].finished - reader.reads[0].started:.1f} s, "
               f"{len(errors)} errors"]
    for table, node in zip(READ_TABLES, (CURRENT_NODE, HISTORY_NODE), strict=True):
        reads = [read for read in reader.reads if read.table == table]
        counts = Counter(read.count for read in reads if read.count is not None)
        start, end = windows[node]
        during = [read for read in reads if read.started <= end and read.finished >= start]
        longest = max(read.finished - read.started for read in reads)
        figures.append(
            f"{table}: {len(reads)} reads, {len(during)} while its model ran "
            f"({end - start:.2f} s); counts seen {dict(counts)} (old {old[table]}, new "
            f"{new[table]}); longest read {longest * 1000:.0f} ms"
        )
        unexpected = {count: n for count, n in counts.items()
                      if count not in (old[table], new[table])}
        if unexpected:
            problems.append(f"{table}: counts other than the old or the new one: {unexpected}")
        if old[table] == new[table]:
            problems.append(f"{table}: the scenario must change its row count")
        elif not (counts[old[table]] and counts[new[table]]):
            problems.append(f"{table}: the reader did not see both the old and the new count")
        if not during:
            problems.append(f"{table}: no read overlapped the run of its model")
    return "; ".join(figures[:1]) + "\n    " + "\n    ".join(figures[1:]), problems


def test_readers_during_builds_see_no_error_and_only_the_old_or_new_row_count(
    warehouse: Warehouse, reference_build: Reference, processes: list[subprocess.Popen[str]]
) -> None:
    """While an incremental run (new payments, later rfm_as_of) and then a --full-refresh (more
    payments, later rfm_as_of) replace the history and rfm_segments_current, a reader loop on
    another connection counts both tables as fast as it can."""
    load_first(warehouse.connection)
    warehouse.dbt("build", vars=as_of_vars(AS_OF_FIRST)).assert_ok()

    def counts() -> dict[str, int]:
        return {table: row_count(warehouse.connection, table) for table in READ_TABLES}

    results = []
    for name, flags, as_of, rows in (
        ("incremental", (), AS_OF_SECOND, chunks()[1]),
        ("full-refresh", ("--full-refresh",), AS_OF_THIRD, chunks()[2]),
    ):
        append(warehouse.connection, rows)
        old = counts()
        reader, build = read_during_build(warehouse, processes, name, *flags, as_of=as_of)
        figures, problems = check_reads(reader, build, old, counts())
        results.append((name, figures, problems))
        if name == "incremental":
            assert_tables_equal(public_tables(warehouse.connection),
                                reference_build.incremental,
                                "the incremental run with readers differs from the reference")

    text = report("readers during builds", [
        f"{name}: {figures}" + (f"\n    PROBLEMS {problems}" if problems else "")
        for name, figures, problems in results
    ])
    assert not any(problems for _, _, problems in results), text
