"""The one way to run dbt (and any command that needs dbt's connection): the environment of a
warehouse, the per-schema lock of the writing commands, ``--vars``, the exit code.

`rfm dbt`, `rfm demo`, `rfm ltv`, `rfm clusters` and `rfm bench` run dbt through here, so that
they all see the warehouse the same way and two writing runs on one PostgreSQL schema queue up
instead of colliding.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from rich.console import Console

from rfm_segmentation import warehouses
from rfm_segmentation.warehouses import postgres

DEFAULT_SCHEMA: Final = "analytics"
WRITING_COMMANDS: Final = frozenset({"build", "run", "seed", "snapshot"})
"""dbt commands that write to the warehouse: one of them at a time per target schema."""
# exit codes of the verbs (dbt's own code is passed through)
OK: Final = 0
FAILED: Final = 1
REFUSED: Final = 2


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding
    ``dbt_project.yml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dbt_project.yml").is_file():
            return folder
    raise FileNotFoundError(f"no dbt_project.yml at or above {here}")


def executable() -> str:
    """The dbt of this Python environment, else the one on PATH."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def target_schema(environ: Mapping[str, str] | None = None) -> str:
    """The schema dbt builds into (profiles.yml: DBT_SCHEMA, default analytics)."""
    environ = os.environ if environ is None else environ
    return environ.get("DBT_SCHEMA") or DEFAULT_SCHEMA


def vars_option(values: Mapping[str, Any] | None) -> list[str]:
    """``--vars`` with ``values`` as JSON (a YAML flow mapping, every string safely quoted)."""
    return ["--vars", json.dumps(dict(values))] if values else []


def environment(where: warehouses.Warehouse | postgres.Connection,
                overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment with the warehouse's settings (DBT_TARGET and the PG*
    variables, the DuckDB file or the Spark folder) instead of any inherited ones."""
    warehouse = warehouses.as_warehouse(where)
    drop = warehouses.settings_variables()  # never inherited: always the warehouse's own
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(warehouse.dbt_env())
    env.update(overrides or {})
    return env


def run_command(command: Sequence[str], where: warehouses.Warehouse | postgres.Connection,
                root: Path) -> int:
    """Run ``command`` in the project folder with the warehouse's environment; its exit code."""
    return subprocess.run(list(command), cwd=root, env=environment(where),
                          check=False).returncode


@contextmanager
def schema_lock(where: warehouses.Warehouse | postgres.Connection, schema: str,
                on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the lock of dbt runs on ``schema`` (a PostgreSQL advisory lock, released by the
    server if we die). DuckDB and a local Spark metastore let one process write at a time
    anyway: nothing to hold there."""
    warehouse = warehouses.as_warehouse(where)
    if not isinstance(warehouse, warehouses.PostgresWarehouse):
        yield
        return
    connection = warehouse.connection
    key = f"rfm_segmentation:{connection.env.get('PGDATABASE', 'postgres')}.{schema}"
    with postgres.advisory_lock(connection, key, on_wait=on_wait):
        yield


def run(where: warehouses.Warehouse | postgres.Connection, root: Path, args: Sequence[str], *,
        dbt_vars: Mapping[str, Any] | None = None, console: Console | None = None) -> int:
    """``dbt ARGS [--vars ...]`` on the warehouse; a writing command waits for another one on
    the same schema first. Returns dbt's exit code."""
    command = [executable(), *args, *vars_option(dbt_vars)]
    if not WRITING_COMMANDS.intersection(list(args)[:1]):
        return run_command(command, where, root)
    schema = target_schema()

    def on_wait() -> None:
        if console is not None:
            console.print(f"waiting for the other dbt run on schema {schema}...")

    with schema_lock(where, schema, on_wait):
        return run_command(command, where, root)


def report_failure(code: int, console: Console, what: str = "dbt build") -> int:
    """Say that ``what`` failed when ``code`` is not 0; return ``code``."""
    if code != OK:
        console.print(f"[red]{what} failed (exit {code})[/]")
    return code


# --- the verbs -------------------------------------------------------------------------------
def cmd_dbt(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm dbt ARGS...`"""
    return run(warehouses.resolve(root), root, args.dbt_args, console=console)


def cmd_exec(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm exec [--database NAME] -- CMD...`"""
    command = [a for a in args.command if a != "--"] if args.command[:1] == ["--"] else args.command
    if not command:
        console.print("[red]rfm exec: give a command after --[/]")
        return REFUSED
    warehouse = warehouses.resolve(root)
    if args.database:
        if not isinstance(warehouse, warehouses.PostgresWarehouse):
            console.print("[red]rfm exec --database: PostgreSQL only[/]")
            return REFUSED
        warehouse = warehouses.PostgresWarehouse(
            postgres.ensure_database(warehouse.connection, args.database)
        )
    return run_command(command, warehouse, root)


def cmd_env(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm env`: the warehouse's settings as shell exports."""
    for key, value in warehouses.resolve(root).dbt_env().items():
        print(f"export {key}={shlex.quote(value)}")
    return OK
