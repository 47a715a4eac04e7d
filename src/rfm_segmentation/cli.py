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
import sys
from collections.abc import Sequence

from rich.console import Console

from rfm_segmentation import bench, clusters, commands, dbt_runner, report, summary
from rfm_segmentation.ltv import command as ltv_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rfm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="verb", required=True)

    demo = sub.add_parser("demo", help="server + demo data + dbt build + summary")
    load = sub.add_parser("load-demo", help="(re)load the demo data into the raw schema")
    for verb in (demo, load):
        verb.add_argument("--users", type=int, default=commands.DEMO_SPEC.n_users)
        verb.add_argument("--seed", type=int, default=commands.DEMO_SPEC.seed)
        verb.add_argument("--groups", action="store_true",
                          help="users drawn from known behaviour groups (to check the clusters)")
    demo.set_defaults(handler=commands.cmd_demo)
    load.set_defaults(handler=commands.cmd_load_demo)

    server = sub.add_parser("server", help="the embedded PostgreSQL")
    server.add_argument("action", choices=["start", "stop", "status"])
    server.set_defaults(handler=commands.cmd_server)

    sub.add_parser("env", help="print the PG* settings as shell exports").set_defaults(
        handler=dbt_runner.cmd_env
    )
    sub.add_parser("summary", help="segments of the latest period").set_defaults(
        handler=summary.cmd_summary
    )

    dbt = sub.add_parser("dbt", help="run dbt with the connection set")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(handler=dbt_runner.cmd_dbt)

    exec_ = sub.add_parser("exec", help="run a command with the connection set")
    exec_.add_argument("--database", help="use (and create if missing) this database instead")
    exec_.add_argument("command", nargs=argparse.REMAINDER)
    exec_.set_defaults(handler=dbt_runner.cmd_exec)
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
    root = dbt_runner.project_root()
    return int(args.handler(args, console, root))


if __name__ == "__main__":
    raise SystemExit(main())
