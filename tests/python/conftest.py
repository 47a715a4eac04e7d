"""pytest fixtures: a real PostgreSQL (the embedded one, or yours when PGHOST is set), one fresh
database per scenario, and a way to run dbt against it exactly as a scheduler would.

`engine_warehouse` runs a scenario on every engine of RFM_TEST_ENGINES (default
``postgres,duckdb``; add ``spark`` for the local Spark): a fresh database, DuckDB file or Spark
warehouse folder each time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from psycopg2 import sql

from rfm_segmentation import warehouses as engines
from rfm_segmentation.raw import PaymentRow
from rfm_segmentation.warehouses import postgres as database

ROOT = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).with_name("dbt"))
RFM = str(Path(sys.executable).with_name("rfm"))
SCHEMA = "analytics"
TEST_ENGINES = tuple(
    e.strip() for e in os.environ.get("RFM_TEST_ENGINES", "postgres,duckdb").split(",") if e.strip()
)


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
        }

    def dbt(self, *args: str, vars: dict[str, Any] | None = None) -> DbtResult:
        merged = {**self.vars, **(vars or {})}
        command = [DBT, *args]
        if merged:
            command += ["--vars", yaml_flow(merged)]
        done = subprocess.run(
            command, cwd=ROOT, env=self.env(), capture_output=True, text=True, check=False
        )
        return DbtResult(done.returncode, done.stdout + done.stderr)

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


def yaml_flow(values: dict[str, Any]) -> str:
    """A --vars argument: JSON is a YAML flow mapping, with every string safely quoted."""
    return json.dumps(values)


@pytest.fixture(scope="session")
def server() -> database.Connection:
    return database.resolve(ROOT)


@pytest.fixture
def warehouse(server: database.Connection, request: pytest.FixtureRequest,
              tmp_path: Path) -> Iterator[Warehouse]:
    """A fresh, empty database named after the test."""
    yield Warehouse(_postgres_database(server, request), tmp_path)


def _postgres_database(server: database.Connection,
                       request: pytest.FixtureRequest) -> engines.PostgresWarehouse:
    name = "rfm_test_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    return engines.PostgresWarehouse(database.ensure_database(server, name, recreate=True))


@pytest.fixture(params=TEST_ENGINES)
def engine_warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """A fresh, empty warehouse on each engine of RFM_TEST_ENGINES."""
    engine = request.param
    if engine == "postgres":
        yield Warehouse(_postgres_database(request.getfixturevalue("server"), request), tmp_path)
    elif engine == "duckdb":
        yield Warehouse(engines.DuckDBWarehouse(tmp_path / "warehouse.duckdb"), tmp_path)
    elif engine == "spark":
        from rfm_segmentation.warehouses import spark

        backend = spark.SparkWarehouse(tmp_path / "spark")
        try:
            yield Warehouse(backend, tmp_path)
        finally:
            backend.close()
    else:
        raise ValueError(f"RFM_TEST_ENGINES: unknown engine {engine!r}")
