"""One Spark JVM for every Spark command of a test process.

A Spark command of the product (a dbt command, the raw tables' registration) starts a JVM of
its own and opens the embedded Derby metastore: tens of seconds before the first query, paid by
every command. The Spark tests are many commands, so a test process keeps one long-lived server
process instead: it starts a Spark session once, on one folder, and runs each command in it, as
dbt-spark's ``session`` method and ``spark.register_tables`` would run it in a process of their
own (the same arguments, environment, working directory and exit codes as the ``dbt``
executable; the output of dbt and of the JVM in one stream).

A Spark session's warehouse folder and metastore are fixed when it starts, so the tests share
them and keep apart by schema: ``ServedSparkWarehouse`` names every schema of a test with a
prefix of its own (dbt's target schema through ``DBT_SCHEMA``, the raw and ML schemas through
the project's vars) and shows the test the schemas without it.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from rfm_segmentation.warehouses import spark
from rfm_segmentation.warehouses.duckdb import DuckDBWarehouse

import dbt_fork

_context = multiprocessing.get_context("spawn")


def _serve(requests: Any, folder: str) -> None:
    """The server's loop: one request at a time, until the pipe closes."""
    os.environ["TZ"] = "UTC"
    session = spark.start_session(Path(folder))

    while True:
        try:
            request = requests.recv()
        except EOFError:
            break
        kind, payload = request
        if kind == "dbt":
            requests.send(_run_dbt(*payload))
        elif kind == "register":
            try:
                spark.register_tables(session, payload[0], Path(payload[1]))
                requests.send(None)
            except Exception:  # the caller raises it, with the JVM's message
                requests.send(traceback.format_exc())
    session.stop()


def _run_dbt(args: Sequence[str], env: Mapping[str, str], cwd: str
             ) -> tuple[int, str]:
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_fds = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            code = dbt_fork.invoke(args)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            for fd in saved_fds:
                os.close(fd)
            os.environ.clear()
            os.environ.update(saved_env)
            os.chdir(saved_cwd)
        out.seek(0)
        output = out.read().decode(errors="replace")
    return code, output


class SparkServer:
    """The client end: a server process with a Spark session on ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pipe, child = _context.Pipe()
        self._process = _context.Process(target=_serve, args=(child, str(self.folder)),
                                         daemon=True)
        self._process.start()
        child.close()

    def _call(self, kind: str, *payload: Any) -> Any:
        self._pipe.send((kind, payload))
        try:
            return self._pipe.recv()
        except EOFError:
            raise RuntimeError(f"the Spark server stopped (exit code "
                               f"{self._process.exitcode})") from None

    def dbt(self, args: Sequence[str], env: Mapping[str, str], cwd: Path) -> tuple[int, str]:
        """Run `dbt ARGS` in the server; (exit code, stdout + stderr)."""
        return self._call("dbt", list(args), dict(env), str(cwd))

    def register(self, schema: str, files: Path) -> None:
        failure = self._call("register", schema, str(files))
        if failure is not None:
            raise RuntimeError(f"registering the raw tables in Spark failed:\n{failure[-4000:]}")

    def close(self) -> None:
        self._pipe.close()
        self._process.join(timeout=60)
        if self._process.is_alive():
            self._process.kill()


@cache
def server(folder: Path) -> SparkServer:
    """The test process's server (started at its first Spark test, stopped at its exit)."""
    started = SparkServer(folder)
    atexit.register(started.close)
    return started


class ServedSparkWarehouse(spark.SparkWarehouse):
    """A test's Spark warehouse in the server's folder: its schemas carry ``prefix``."""

    def __init__(self, served_by: SparkServer, prefix: str) -> None:
        super().__init__(served_by.folder)
        self.server = served_by
        self.prefix = prefix

    def dbt_env(self) -> dict[str, str]:
        return {**super().dbt_env(), "DBT_SCHEMA": f"{self.prefix}analytics"}

    def dbt_vars(self) -> dict[str, str]:
        """The project's vars that name the other schemas it reads."""
        return {"raw_schema": f"{self.prefix}raw", "ltv_schema": f"{self.prefix}ml"}

    def _staging(self) -> DuckDBWarehouse:
        return DuckDBWarehouse(self.folder / "raw_files" / f"{self.prefix}load.duckdb")

    def _raw_dir(self, schema: str) -> Path:
        return super()._raw_dir(self.prefix + schema)

    def _register(self, schema: str) -> None:
        self.server.register(self.prefix + schema, self._raw_dir(schema))

    def _schema_dirs(self) -> list[tuple[str, Path]]:
        """This test's schemas, named without the prefix."""
        return [(name.removeprefix(self.prefix), path) for name, path in super()._schema_dirs()
                if name.startswith(self.prefix)]
