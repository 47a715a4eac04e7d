"""pytest fixtures: a real PostgreSQL (the embedded one, or yours when PGHOST is set), one fresh
database per scenario, and a way to run dbt against it exactly as a scheduler would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from psycopg2 import sql

from rfm_segmentation import database, demo_data

ROOT = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).with_name("dbt"))
RFM = str(Path(sys.executable).with_name("rfm"))
SCHEMA = "analytics"

PaymentRow = tuple[str | None, str | None, datetime | None, Decimal | None]


@dataclass
class DbtResult:
    returncode: int
    output: str

    def assert_ok(self) -> DbtResult:
        assert self.returncode == 0, self.output[-6000:]
        return self


@dataclass
class Warehouse:
    """One database on the test server, with its raw data and the dbt project built into it."""

    connection: database.Connection
    workdir: Path
    vars: dict[str, Any] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        # Only what a scheduler would set: PATH, HOME and the libpq variables. dbt's own
        # artefacts go to a folder of this database, so that scenarios do not share parse caches.
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.workdir)),
            **self.connection.env,
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
        conn = self.connection.connect()
        try:
            demo_data.load_raw(conn, payments, calendar)
        finally:
            conn.close()

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        with database.cursor(self.connection) as cur:
            cur.execute(statement, params)

    def query(self, statement: str | sql.Composable, params: Sequence[Any] | None = None
              ) -> list[dict[str, Any]]:
        with database.cursor(self.connection) as cur:
            cur.execute(statement, params)
            names = [c.name for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def table(self, name: str, order_by: str) -> list[dict[str, Any]]:
        return self.query(
            sql.SQL("select * from {} order by " + order_by).format(sql.Identifier(SCHEMA, name))
        )


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
    name = "rfm_test_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    connection = database.ensure_database(server, name, recreate=True)
    yield Warehouse(connection, tmp_path)
