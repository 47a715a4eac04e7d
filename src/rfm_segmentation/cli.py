"""`rfm`: run the project on the embedded PostgreSQL (or on yours when PGHOST is set), or on
DuckDB / Spark with DBT_TARGET=duckdb|spark (`make demo TARGET=duckdb`).

    rfm demo                  server + demo data + dbt build + summary + report
    rfm server start|stop|status
    rfm env                   the PG* settings, as shell exports
    rfm load-demo             (re)load the demo data into the raw schema
    rfm dbt ARGS...           dbt with the connection set (e.g. rfm dbt build --full-refresh);
                              on PostgreSQL, build/run/seed wait for another such run on the
                              same schema
    rfm exec -- CMD...        any command with the connection set (e.g. sqlfluff lint)
    rfm summary               segments of the latest period
    rfm report                HTML + PNG charts of the marts
    rfm clusters              fit the k-means segments, store the model, assign them in dbt
    rfm ltv                   choose and train the lifetime-value model, write ltv_predictions
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from rfm_segmentation import bench, clusters, database, demo_data, engines, report, summary
from rfm_segmentation.ltv import command as ltv_command

DEMO_SPEC = demo_data.DemoSpec()


def _dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_with_connection(
    command: Sequence[str], where: engines.Warehouse | database.Connection, root: Path
) -> int:
    """Run ``command`` in the project folder with the warehouse's settings (DBT_TARGET and the
    PG* variables, or the engine's own) set."""
    warehouse = engines.as_warehouse(where)
    env = {k: v for k, v in os.environ.items() if k not in database.LIBPQ_VARIABLES}
    env.update(warehouse.dbt_env())
    return subprocess.run(list(command), cwd=root, env=env, check=False).returncode


def demo_vars(spec: demo_data.DemoSpec = DEMO_SPEC) -> str:
    return "{rfm_as_of: '" + spec.as_of.isoformat(sep=" ") + "'}"


def cmd_server(args: argparse.Namespace, console: Console, root: Path) -> int:
    if args.action == "start":
        connection = database.start_embedded(root)
        console.print(f"[green]running[/] {connection.describe()}")
    elif args.action == "stop":
        stopped = database.stop_embedded(root)
        console.print("stopped the embedded PostgreSQL" if stopped else "not running")
    else:
        socket_dir = database.embedded_status(root)
        console.print(f"running, socket in {socket_dir}" if socket_dir else "not running")
    return 0


def cmd_env(args: argparse.Namespace, console: Console, root: Path) -> int:
    warehouse = engines.resolve(root)
    for key, value in warehouse.dbt_env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def load_demo(where: engines.Warehouse | database.Connection,
              spec: demo_data.DemoSpec) -> dict[str, int]:
    warehouse = engines.as_warehouse(where)
    schema = os.environ.get("RAW_SCHEMA", "raw")
    counts = warehouse.load_raw(
        demo_data.generate_payments(spec),
        demo_data.generate_calendar(spec.start, spec.as_of.date()),
        schema=schema,
    )
    if isinstance(warehouse, engines.PostgresWarehouse):
        # the optional sources of issue 8 (dim_users, fact_balances, the groups' ground truth);
        # the other engines build without them
        groups = demo_data.generate_user_groups(spec) if spec.behaviour_groups else None
        conn = warehouse.connection.connect()
        try:
            counts.update(demo_data.load_enrichment(
                conn, demo_data.generate_users(spec), demo_data.generate_balances(spec), groups,
                schema=schema,
            ))
        finally:
            conn.close()
    return counts


def cmd_load_demo(args: argparse.Namespace, console: Console, root: Path) -> int:
    warehouse = engines.resolve(root)
    spec = demo_data.DemoSpec(n_users=args.users, seed=args.seed, behaviour_groups=args.groups)
    counts = load_demo(warehouse, spec)
    console.print(f"loaded {counts} into raw on {warehouse.describe()}")
    return 0


# dbt commands that write to the warehouse: `rfm dbt` runs one of them at a time per target
# schema, so that two scheduler runs that overlap queue up instead of colliding.
WRITING_DBT_COMMANDS = frozenset({"build", "run", "seed", "snapshot"})


def cmd_dbt(args: argparse.Namespace, console: Console, root: Path) -> int:
    warehouse = engines.resolve(root)
    command = [_dbt_executable(), *args.dbt_args]
    writes = bool(WRITING_DBT_COMMANDS.intersection(args.dbt_args[:1]))
    if not writes or not isinstance(warehouse, engines.PostgresWarehouse):
        # DuckDB and a local Spark metastore let one process write at a time anyway.
        return run_with_connection(command, warehouse, root)
    connection = warehouse.connection
    schema = os.environ.get("DBT_SCHEMA", "analytics")
    key = f"rfm_segmentation:{connection.env.get('PGDATABASE', 'postgres')}.{schema}"
    with database.advisory_lock(
        connection, key,
        on_wait=lambda: console.print(f"waiting for the other dbt run on schema {schema}..."),
    ):
        return run_with_connection(command, connection, root)


def cmd_exec(args: argparse.Namespace, console: Console, root: Path) -> int:
    command = [a for a in args.command if a != "--"] if args.command[:1] == ["--"] else args.command
    if not command:
        console.print("[red]rfm exec: give a command after --[/]")
        return 2
    warehouse = engines.resolve(root)
    if args.database:
        if not isinstance(warehouse, engines.PostgresWarehouse):
            console.print("[red]rfm exec --database: PostgreSQL only[/]")
            return 2
        warehouse = engines.PostgresWarehouse(
            database.ensure_database(warehouse.connection, args.database)
        )
    return run_with_connection(command, warehouse, root)


def cmd_summary(args: argparse.Namespace, console: Console, root: Path) -> int:
    warehouse = engines.resolve(root)
    schema = os.environ.get("DBT_SCHEMA", "analytics")
    console.print(summary.render(summary.fetch(warehouse, schema)))
    return 0


def cmd_demo(args: argparse.Namespace, console: Console, root: Path) -> int:
    connection = engines.resolve(root)  # the warehouse of DBT_TARGET
    console.rule("[bold]1/3 database")
    console.print(connection.describe())
    console.rule("[bold]2/3 demo data")
    spec = demo_data.DemoSpec(n_users=args.users, seed=args.seed, behaviour_groups=args.groups)
    started = time.perf_counter()
    counts = load_demo(connection, spec)
    console.print(
        f"raw.fact_payments: {counts['fact_payments']:,} rows, "
        f"raw.dim_calendar: {counts['dim_calendar']:,} rows "
        f"({time.perf_counter() - started:.1f}s)"
    )
    # The raw tables were just replaced wholesale: rebuild the history from scratch.
    command = ["build", "--full-refresh", "--vars", demo_vars(spec)]
    console.rule("[bold]3/3 dbt " + " ".join(command))
    started = time.perf_counter()
    code = run_with_connection([_dbt_executable(), *command], connection, root)
    elapsed = time.perf_counter() - started
    if code != 0:
        console.print(f"[red]dbt build failed (exit {code})[/]")
        return code
    console.print(f"dbt build: {elapsed:.1f}s")
    schema = os.environ.get("DBT_SCHEMA", "analytics")
    console.print(summary.render(summary.fetch(connection, schema)))
    charts = report.build_report(connection, schema, root / ".local" / "report")
    console.print(f"charts: open {charts.html.as_uri()} in a browser (`make report` redraws it)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rfm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="verb", required=True)

    demo = sub.add_parser("demo", help="server + demo data + dbt build + summary")
    load = sub.add_parser("load-demo", help="(re)load the demo data into the raw schema")
    for verb in (demo, load):
        verb.add_argument("--users", type=int, default=DEMO_SPEC.n_users)
        verb.add_argument("--seed", type=int, default=DEMO_SPEC.seed)
        verb.add_argument("--groups", action="store_true",
                          help="users drawn from known behaviour groups (to check the clusters)")
    demo.set_defaults(handler=cmd_demo)
    load.set_defaults(handler=cmd_load_demo)

    server = sub.add_parser("server", help="the embedded PostgreSQL")
    server.add_argument("action", choices=["start", "stop", "status"])
    server.set_defaults(handler=cmd_server)

    sub.add_parser("env", help="print the PG* settings as shell exports").set_defaults(
        handler=cmd_env
    )
    sub.add_parser("summary", help="segments of the latest period").set_defaults(
        handler=cmd_summary
    )

    dbt = sub.add_parser("dbt", help="run dbt with the connection set")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(handler=cmd_dbt)

    exec_ = sub.add_parser("exec", help="run a command with the connection set")
    exec_.add_argument("--database", help="use (and create if missing) this database instead")
    exec_.add_argument("command", nargs=argparse.REMAINDER)
    exec_.set_defaults(handler=cmd_exec)
    report.register(sub)
    bench.register(sub)
    clusters.register(sub)
    ltv_command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # rich assumes 80 columns when the output is not a terminal (CI logs, pipes): too narrow
    # for the summary table.
    console = Console() if sys.stdout.isatty() else Console(width=110)
    root = database.project_root()
    return int(args.handler(args, console, root))


if __name__ == "__main__":
    raise SystemExit(main())
