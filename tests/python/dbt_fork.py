"""dbt commands of the tests, each in a process forked from a server that imported dbt once.

Importing dbt and its adapters costs seconds of CPU, paid by every `dbt` process; the suite runs
hundreds of them. A multiprocessing fork server imports them once (per test process), parses the
project once per engine (warm_parse: a child's own full parse then costs about 40% less), and
forks a child for each command, which runs it as the `dbt` executable would: the same arguments,
environment and working directory, its output in one stream, exit code 0 (success), 1 (a node
failed) or 2 (dbt itself failed). Commands that a test must kill or observe as a process (the
SIGKILL and concurrency tests) start the real executable instead.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import sys
import tempfile
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

_context = multiprocessing.get_context("forkserver")
# the engines whose project the fork server parses once when it starts (warm_parse)
WARM_UP_ENGINES = "RFM_DBT_FORK_WARM_UP"
_HERE = str(Path(__file__).resolve().parent)
_server_lock = threading.Lock()
_server_started = False


def preload(adapters: Sequence[str]) -> None:
    """Import dbt and these adapters (e.g. "postgres") in the fork server, when it starts, and
    parse the project once per adapter there (warm_parse)."""
    os.environ[WARM_UP_ENGINES] = ",".join(adapters)  # the fork server inherits it
    _context.set_forkserver_preload(["dbt_fork", "dbt.cli.main",
                                     *(f"dbt.adapters.{name}" for name in adapters),
                                     "warm_parse"])


def _start_server() -> None:
    """Start the fork server with this folder on its path: it imports its preload modules with
    the interpreter's default path (and skips, silently, those it cannot find)."""
    global _server_started
    with _server_lock:
        if _server_started:
            return
        saved = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_HERE, saved) if p)
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            if saved is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = saved
        _server_started = True


def _child(args: Sequence[str], env: Mapping[str, str], cwd: str, out_path: str) -> None:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    out = os.open(out_path, os.O_WRONLY | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(out, 2)
    code = 2
    try:
        code = invoke(args)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def invoke(args: Sequence[str]) -> int:
    """Run `dbt ARGS` in this process; the `dbt` executable's exit code, its errors printed
    as it would print them."""
    try:
        from dbt.cli.main import dbtRunner

        result = dbtRunner().invoke(list(args))
    except BaseException:  # reported as the `dbt` executable would, in its output
        traceback.print_exc()
        return 2
    if result.exception is not None:
        print(f"dbt failed: {result.exception!r}", file=sys.stderr)
    return 0 if result.success else (1 if result.exception is None else 2)


def run(args: Sequence[str], env: Mapping[str, str], cwd: Path) -> tuple[int, str]:
    """Run `dbt ARGS` (args without the leading "dbt"); (exit code, stdout + stderr)."""
    with tempfile.NamedTemporaryFile("rb", prefix="rfm-dbt-", suffix=".log") as out:
        process = _context.Process(target=_child, args=(list(args), dict(env), str(cwd), out.name))
        _start_server()
        process.start()
        process.join()
        output = Path(out.name).read_bytes().decode(errors="replace")
    code = process.exitcode
    assert code is not None and code >= 0, f"dbt was killed by signal {-(code or 0)}:\n{output}"
    return code, output
