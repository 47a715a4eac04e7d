"""The ``rfm bench`` verb: its arguments, the locks that make two benchmarks queue, the runs of
the plans and what is printed."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from rfm_segmentation import warehouses
from rfm_segmentation.bench.measure import machine_facts
from rfm_segmentation.bench.plan import (
    ENGINE_LABELS,
    SIZE_ORDER,
    SPARK_MAX_SIZE,
    BenchOptions,
    BenchPlan,
    make_plan,
    run_key,
)
from rfm_segmentation.bench.results import summary_table, write_results
from rfm_segmentation.bench.runner import run_benchmark
from rfm_segmentation.warehouses import postgres

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
    if engine == "spark" and SIZE_ORDER[args.size] > SIZE_ORDER[SPARK_MAX_SIZE] \
            and not args.force:
        console.print(f"[red]--engine spark runs size {SPARK_MAX_SIZE} only: a local Spark on "
                      f"this machine would take very long at size {args.size}. Add --force to "
                      "run it anyway.[/]")
        return 2
    options = BenchOptions(database=args.database, naive_timeout_s=args.naive_timeout,
                           explain=args.explain, engine=engine, events=args.events)
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
    if args.events:
        parts.append("--events")
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
        console.print(summary_table(result))
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
