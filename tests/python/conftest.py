"""pytest fixtures: a real PostgreSQL (the embedded one, or yours when PGHOST is set), one fresh
database per scenario, and a way to run dbt against it exactly as a scheduler would.

`engine_warehouse` runs a scenario on every engine of RFM_TEST_ENGINES (default
``postgres,duckdb``; add ``spark`` for the local Spark): a fresh database, DuckDB file or Spark
warehouse folder each time.

Tiers: every test gets exactly one of the markers ``fast`` (no warehouse), ``postgres``,
``duckdb`` or ``spark`` (pyproject.toml registers them; `make test-fast`, `make test-postgres`...
select one). An engine_warehouse test is in its engine's tier; a test that uses ``server`` or
``warehouse`` (directly or through another fixture) is in ``postgres``; a test that reaches
another engine without these fixtures says so with an explicit mark; every other test is
``fast``."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from psycopg2 import sql

from rfm_segmentation import warehouses as engines
from rfm_segmentation.raw import PaymentRow
from rfm_segmentation.warehouses import postgres as database

import dbt_fork
import spark_server
from spark_server import ServedSparkWarehouse

ROOT = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).with_name("dbt"))
RFM = str(Path(sys.executable).with_name("rfm"))
SCHEMA = "analytics"
TEST_ENGINES = tuple(
    e.strip() for e in os.environ.get("RFM_TEST_ENGINES", "postgres,duckdb").split(",") if e.strip()
)

# The Spark server's JVM (tests/python/spark_server.py) works on small data: the C1 compiler alone
# and the serial collector cut its CPU time without changing any result. Yours wins if set.
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")

# Warehouse.dbt forks dbt from a server that imported it once (tests/python/dbt_fork.py)
dbt_fork.preload(sorted({"postgres", *TEST_ENGINES} - {"spark"}))  # Spark: spark_server

ENGINE_TIERS = ("postgres", "duckdb", "spark")
TIERS = ("fast", *ENGINE_TIERS)
# The fixtures that reach a PostgreSQL server: a test using one of them (even through another
# fixture, e.g. a module-scoped build) is in the postgres tier.
POSTGRES_FIXTURES = frozenset({"server", "warehouse", "pg_uri"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these markers (and before xdist)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put every test in exactly one tier (see the module's docstring); keep the tests that
    share a module- or session-scoped fixture of this suite in one pytest-xdist group (one
    worker builds it, in file order); start the longest work first."""
    for item in items:
        tiers = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
        if not tiers:
            fixtures = set(getattr(item, "fixturenames", ()))
            tiers = {"postgres"} if fixtures & POSTGRES_FIXTURES else {"fast"}
            item.add_marker(tiers.copy().pop())
        if len(tiers) != 1:
            raise pytest.UsageError(f"{item.nodeid}: in more than one tier: {sorted(tiers)}")
        # one worker runs every Spark test, one after the other: two Spark JVMs side by side
        # on 2 cores thrash (each test build took ~4 min with two side by side)
        group = "spark" if tiers == {"spark"} else _shared_state_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=_start_order)  # stable: file order within each rank
    _publish_groups(config, items)


# pytest-xdist's own `--dist loadgroup` renames each grouped test's node id, which pytest 9
# ignores (the groups are then silently lost). So the workers write {node id: group} to a file
# that the controller names (every worker collects the same tests) and the controller schedules
# with GroupScheduling, which reads it.
GROUPS_FILE = "RFM_XDIST_GROUPS_FILE"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and config.getoption("dist", "no") == "loadgroup":
        handle, path = tempfile.mkstemp(prefix="rfm-xdist-groups-", suffix=".json")
        os.close(handle)
        os.environ[GROUPS_FILE] = path  # the workers, started later, inherit it


def _publish_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    path = os.environ.get(GROUPS_FILE)
    if path is None or not hasattr(config, "workerinput"):
        return
    groups = {item.nodeid: mark.args[0] for item in items
              for mark in item.iter_markers("xdist_group")}
    partial = Path(f"{path}.{os.getpid()}")
    partial.write_text(json.dumps(groups))
    partial.replace(path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist", "no") != "loadgroup" or GROUPS_FILE not in os.environ:
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        """--dist loadscope whose scope is the test's group (else the test itself)."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # called once the workers have collected
                self.groups = json.loads(Path(os.environ[GROUPS_FILE]).read_text() or "{}")
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


# The time of each tier, summed over its tests (setup, call and teardown), printed at the end of
# every run: `make test` runs the tiers side by side, so the sums exceed its wall time.
_TIER_SECONDS: Counter[str] = Counter()
_TIER_TESTS: Counter[str] = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tier = next((tier for tier in TIERS if tier in report.keywords), None)
    if tier is not None:
        _TIER_SECONDS[tier] += report.duration
        _TIER_TESTS[tier] += report.when == "call"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _TIER_TESTS:
        terminalreporter.write_line("time per tier, summed over its tests: " + ", ".join(
            f"{tier} {_TIER_TESTS[tier]} test(s) {_TIER_SECONDS[tier] / 60:.1f} min"
            for tier in TIERS if _TIER_TESTS[tier]))


def _tier(item: pytest.Item) -> str:
    return next(mark.name for mark in item.iter_markers() if mark.name in TIERS)


def _shared_state_group(item: pytest.Item) -> str | None:
    """The module (and engine) of a test that uses a non-function-scoped fixture defined in
    this suite, other than the server (each worker resolves it)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for name in item.fixturenames:
        definitions = info.name2fixturedefs.get(name)
        if not definitions or name == "server":
            continue
        definition = definitions[-1]
        if definition.scope != "function" and Path(definition.func.__code__.co_filename
                                                   ).parent == Path(__file__).parent:
            module = item.module.__name__ if item.module else item.nodeid.split("::")[0]
            return f"{module}-{_tier(item)}"
    return None


# What starts first under pytest-xdist (--dist loadgroup --no-loadscope-reorder): the longest
# work (a tier or a module), so that no long test is left to run alone at the end; then the
# other engine tests, the fast ones last (they fill the gaps).
START_FIRST: tuple[str, ...] = (
    "spark", "test_properties", "test_reliability", "test_bench", "test_clusters_warehouse",
    "test_ltv", "test_features", "test_bad_input",
)


def _start_order(item: pytest.Item) -> int:
    keys = (_tier(item), item.module.__name__ if item.module else "")
    for rank, key in enumerate(START_FIRST):
        if key in keys:
            return rank
    return len(START_FIRST) + (1 if _tier(item) == "fast" else 0)


@dataclass
class DbtResult:
    returncode: int
    output: str

    def assert_ok(self) -> DbtResult:
        assert self.returncode == 0, self.output[-6000:]
        return self


@dataclass
class Warehouse:
    """One database on one engine, with its raw data and the dbt project built into it."""

    backend: engines.Warehouse
    workdir: Path
    vars: dict[str, Any] = field(default_factory=dict)
    # dbt's unit tests check SQL logic, not data: they run in one build per engine (the shared
    # build of test_dbt_project that sets this), not in every scenario's builds
    unit_tests: bool = False
    # data tests: in every build, but on Spark (where each is a job of a second or more) only in
    # that same shared build; a Spark scenario compares its tables with the reference instead
    data_tests: bool = True

    def __post_init__(self) -> None:
        # a PostgreSQL connection will do (the tests of PostgreSQL-only features pass one)
        self.backend = engines.as_warehouse(self.backend)

    @property
    def engine(self) -> str:
        return self.backend.engine

    @property
    def connection(self) -> database.Connection:
        """The PostgreSQL connection (for the tests of PostgreSQL-only features)."""
        assert isinstance(self.backend, engines.PostgresWarehouse), "PostgreSQL only"
        return self.backend.connection

    def env(self) -> dict[str, str]:
        # Only what a scheduler would set: PATH, HOME and the engine's settings (the libpq
        # variables on PostgreSQL). dbt's own artefacts go to a folder of this database, so
        # that scenarios do not share parse caches.
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.workdir)),
            **self.backend.dbt_env(),
            "DBT_TARGET_PATH": str(self.workdir / "target"),
            "DBT_LOG_PATH": str(self.workdir / "logs"),
            **self._excluded_resources(),
        }

    def _excluded_resources(self) -> dict[str, str]:
        excluded = [kind for kind, run in (("unit_test", self.unit_tests),
                                           ("test", self.data_tests)) if not run]
        return {"DBT_EXCLUDE_RESOURCE_TYPES": " ".join(excluded)} if excluded else {}

    def dbt(self, *args: str, vars: dict[str, Any] | None = None) -> DbtResult:
        served = isinstance(self.backend, ServedSparkWarehouse)
        merged = {**(self.backend.dbt_vars() if served else {}), **self.vars, **(vars or {})}
        command = [*args]
        if merged:
            command += ["--vars", yaml_flow(merged)]
        if served:
            return DbtResult(*self.backend.server.dbt(command, self.env(), ROOT))
        return DbtResult(*dbt_fork.run(command, self.env(), ROOT))

    def load(self, payments: Iterable[PaymentRow], calendar: Iterable[tuple[date, date]]) -> None:
        self.backend.load_raw(payments, calendar)

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        if params is None and not isinstance(self.backend, engines.PostgresWarehouse):
            with self.backend.cursor() as cur:
                cur.execute(statement)
            return
        with database.cursor(self.connection) as cur:
            cur.execute(statement, params)

    def query(self, statement: str | sql.Composable, params: Sequence[Any] | None = None
              ) -> list[dict[str, Any]]:
        if params is None and isinstance(statement, str):
            return self.backend.query(statement)
        with database.cursor(self.connection) as cur:
            cur.execute(statement, params)
            names = [c.name for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def table(self, name: str, order_by: str) -> list[dict[str, Any]]:
        return self.backend.table(SCHEMA, name, order_by)


def upstream_of(*models: str) -> tuple[str, ...]:
    """dbt's selection of these models, their parents, and the data tests whose parents are all
    selected: for a scenario that reads only these models."""
    return ("--select", *(f"+{model}" for model in models), "--indirect-selection", "cautious")


def yaml_flow(values: dict[str, Any]) -> str:
    """A --vars argument: JSON is a YAML flow mapping, with every string safely quoted."""
    return json.dumps(values)


@cache
def _server() -> database.Connection:
    # pytest-xdist workers, and `make test`'s lint beside pytest, start the same embedded
    # server: one at a time, the others find it running
    lock = database.pgdata_dir(ROOT).parent / "server.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        return database.resolve(ROOT)


@pytest.fixture(scope="session")
def server() -> database.Connection:
    return _server()


@pytest.fixture
def warehouse(server: database.Connection, request: pytest.FixtureRequest,
              tmp_path: Path) -> Iterator[Warehouse]:
    """A fresh, empty database named after the test."""
    yield Warehouse(_postgres_database(server, request), tmp_path)


def _postgres_database(server: database.Connection,
                       request: pytest.FixtureRequest) -> engines.PostgresWarehouse:
    # the test's name, and a hash of its id: tests running side by side (pytest-xdist) whose
    # names share their first 40 characters (the cases of one parametrised test) never meet
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    name = "rfm_test_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40] + "_" + digest
    return engines.PostgresWarehouse(database.ensure_database(server, name, recreate=True))


ENGINE_PARAMS = [pytest.param(name, marks=getattr(pytest.mark, name)) for name in TEST_ENGINES]
# For a test whose SQL paths another test compares on Spark (it says which)
ENGINE_PARAMS_BUT_SPARK = [param for param in ENGINE_PARAMS if param.values[0] != "spark"]


def engine_cases(cases: dict[str, Any], *, on_spark: Collection[str]) -> list[Any]:
    """(engine, case) parameters: every case on each engine of RFM_TEST_ENGINES but Spark, and
    only the cases named in ``on_spark`` on Spark, where a dbt build costs a minute or more (the
    caller says which other test compares the other cases' SQL paths on Spark)."""
    unknown = set(on_spark) - cases.keys()
    assert not unknown, f"on_spark names unknown cases: {sorted(unknown)}"
    return [
        pytest.param(engine, case, id=f"{engine}-{name}", marks=getattr(pytest.mark, engine))
        for engine in TEST_ENGINES
        for name, case in cases.items()
        if engine != "spark" or name in on_spark
    ]


@pytest.fixture(params=ENGINE_PARAMS)
def engine_warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """A fresh, empty warehouse on each engine of RFM_TEST_ENGINES."""
    engine = request.param
    backend = _new_backend(engine, lambda: _postgres_database(_server(), request), tmp_path)
    try:
        yield Warehouse(backend, tmp_path, data_tests=engine != "spark")
    finally:
        _close(backend)


def _close(backend: engines.Warehouse) -> None:
    close = getattr(backend, "close", None)  # the Spark warehouse has one
    if close is not None:
        close()


def _new_backend(engine: str, postgres: Callable[[], engines.Warehouse],
                 folder: Path) -> engines.Warehouse:
    if engine == "postgres":
        return postgres()
    if engine == "duckdb":
        return engines.DuckDBWarehouse(folder / "warehouse.duckdb")
    if engine == "spark":
        # one Spark server per test process, in its pytest folder (the parent of every test's)
        digest = hashlib.sha1(str(folder).encode()).hexdigest()[:8]
        return ServedSparkWarehouse(spark_server.server(folder.parent / "spark"), f"t{digest}_")
    raise ValueError(f"RFM_TEST_ENGINES: unknown engine {engine!r}")


@pytest.fixture(params=ENGINE_PARAMS)
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine of RFM_TEST_ENGINES, for the tests that read a shared build."""
    return str(request.param)


@dataclass
class SharedBuilds:
    """Warehouses built once per engine and data set, for the tests that only read them (a
    test that changes a warehouse keeps a fresh one of its own). The first test that asks
    builds it; when that build fails, every test that asks for it fails with its error."""

    factory: pytest.TempPathFactory
    built: dict[tuple[str, str], Warehouse | BaseException] = field(default_factory=dict)

    def get(self, engine: str, name: str, build: Callable[[Warehouse], None]) -> Warehouse:
        key = (engine, name)
        if key not in self.built:
            # one database per pytest-xdist worker: two workers may build the same data set
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            label = re.sub(r"[^a-z0-9]+", "_", f"{name}_{worker}".lower())
            workdir = self.factory.mktemp(f"shared_{engine}_{label}")
            try:
                backend = _new_backend(engine, lambda: engines.PostgresWarehouse(
                    database.ensure_database(_server(), f"rfm_shared_{label}"[:63],
                                             recreate=True)), workdir)
                warehouse = Warehouse(backend, workdir)
                build(warehouse)
                self.built[key] = warehouse
            except BaseException as error:
                self.built[key] = error
                raise
        value = self.built[key]
        if isinstance(value, BaseException):
            pytest.fail(f"the shared build {name} on {engine} failed (see the first test that "
                        f"asked for it): {value!r}"[:4000])
        return value


@pytest.fixture(scope="session")
def shared_builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedBuilds]:
    builds = SharedBuilds(tmp_path_factory)
    yield builds
    for value in builds.built.values():
        if isinstance(value, Warehouse):
            _close(value.backend)
