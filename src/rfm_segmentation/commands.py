"""The verbs of `rfm` that are not a package of their own: the embedded server, the demo data
loaded into a warehouse, and the demo end to end (data, dbt build, summary, report)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.console import Console

from rfm_segmentation import dbt_runner, demo, report, summary, warehouses
from rfm_segmentation.warehouses import postgres

DEMO_SPEC = demo.DemoSpec()


def demo_vars(spec: demo.DemoSpec = DEMO_SPEC) -> dict[str, str]:
    """The dbt vars of a demo: its rfm_as_of."""
    return {"rfm_as_of": spec.as_of.isoformat(sep=" ")}


def demo_spec(args: argparse.Namespace) -> demo.DemoSpec:
    return demo.DemoSpec(n_users=args.users, seed=args.seed, behaviour_groups=args.groups)


def load_demo(where: warehouses.Warehouse | postgres.Connection,
              spec: demo.DemoSpec) -> dict[str, int]:
    """Generate the demo of ``spec`` and load it into the raw schema (RAW_SCHEMA, default raw):
    the payments, the calendar and the optional event sources (fact_events, identifies) on
    every engine; on PostgreSQL also the optional sources dim_users, fact_balances and the
    groups' ground truth, which the other engines build without."""
    warehouse = warehouses.as_warehouse(where)
    schema = os.environ.get("RAW_SCHEMA", "raw")
    counts = warehouse.load_raw(
        demo.generate_payments(spec),
        demo.generate_calendar(spec.start, spec.as_of.date()),
        schema=schema,
    )
    events = demo.generate_events(spec)
    counts.update(warehouse.load_events(events.events, events.identifies, schema=schema))
    if isinstance(warehouse, warehouses.PostgresWarehouse):
        groups = demo.generate_user_groups(spec) if spec.behaviour_groups else None
        counts.update(warehouse.load_enrichment(
            demo.generate_users(spec), demo.generate_balances(spec), groups,
            schema=schema,
        ))
    return counts


def cmd_server(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm server start|stop|status`"""
    if args.action == "start":
        connection = postgres.start_embedded(root)
        console.print(f"[green]running[/] {connection.describe()}")
    elif args.action == "stop":
        stopped = postgres.stop_embedded(root)
        console.print("stopped the embedded PostgreSQL" if stopped else "not running")
    else:
        socket_dir = postgres.embedded_status(root)
        console.print(f"running, socket in {socket_dir}" if socket_dir else "not running")
    return dbt_runner.OK


def cmd_load_demo(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm load-demo`"""
    warehouse = warehouses.resolve(root)
    counts = load_demo(warehouse, demo_spec(args))
    console.print(f"loaded {counts} into raw on {warehouse.describe()}")
    return dbt_runner.OK


def cmd_demo(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm demo`: the warehouse of DBT_TARGET, the demo data, dbt build, summary, report."""
    warehouse = warehouses.resolve(root)
    console.rule("[bold]1/3 database")
    console.print(warehouse.describe())
    console.rule("[bold]2/3 demo data")
    spec = demo_spec(args)
    started = time.perf_counter()
    counts = load_demo(warehouse, spec)
    console.print(
        f"raw.fact_payments: {counts['fact_payments']:,} rows, "
        f"raw.dim_calendar: {counts['dim_calendar']:,} rows, "
        f"raw.fact_events: {counts['fact_events']:,} rows, "
        f"raw.identifies: {counts['identifies']:,} rows "
        f"({time.perf_counter() - started:.1f}s)"
    )
    # The raw tables were just replaced wholesale: rebuild the history from scratch.
    command = ["build", "--full-refresh"]
    dbt_vars = demo_vars(spec)
    console.rule("[bold]3/3 dbt " + " ".join([*command, *dbt_runner.vars_option(dbt_vars)]))
    started = time.perf_counter()
    code = dbt_runner.run(warehouse, root, command, dbt_vars=dbt_vars, console=console)
    elapsed = time.perf_counter() - started
    if code != dbt_runner.OK:
        return dbt_runner.report_failure(code, console)
    console.print(f"dbt build: {elapsed:.1f}s")
    schema = dbt_runner.target_schema()
    console.print(summary.render(summary.fetch(warehouse, schema)))
    charts = report.build_report(warehouse, schema, root / ".local" / "report")
    console.print(f"charts: open {charts.html.as_uri()} in a browser (`make report` redraws it)")
    return dbt_runner.OK
