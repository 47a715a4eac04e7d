"""dbt commands of the tests, each in a process forked from a server that imported dbt once.

Importing dbt and its adapters costs seconds of CPU, paid by every `dbt` process; the suite runs
hundreds of them. A multiprocessing fork server imports them once (per test process) and forks a
child for each command, which runs it as the `dbt` executable would: the same arguments,
environment and working directory, its output in one stream, exit code 0 (success), 1 (a node
failed) or 2 (dbt itself failed). Commands that a test must kill or observe as a process (the
SIGKILL and concurrency tests) start the real executable instead.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

_context = multiprocessing.get_context("forkserver")


def preload(adapters: Sequence[str]) -> None:
    """Import dbt and these adapters (e.g. "postgres") in the fork server, when it starts."""
    _context.set_forkserver_preload(
        ["dbt_fork", "dbt.cli.main", *(f"dbt.adapters.{name}" for name in adapters)])


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
        process.start()
        process.join()
        output = Path(out.name).read_bytes().decode(errors="replace")
    code = process.exitcode
    assert code is not None and code >= 0, f"dbt was killed by signal {-(code or 0)}:\n{output}"
    return code, output
