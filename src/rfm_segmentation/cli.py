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
    rfm sync [CONFIG]         push the current segments to the CRM (syncs/crm_contacts.yml)
    rfm crm serve             a local CRM with the batch API and fault switches
    rfm sync-bench            plan time, throughput and calls of a sync (docs/reverse_etl.md)
    rfm identity-bench        passes and time of the identity graph and traits (docs/identity.md)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from rfm_segmentation import bench, clusters, commands, dbt_runner, report, summary, warehouses
from rfm_segmentation.bench import identity
from rfm_segmentation.ltv import command as ltv_command
from rfm_segmentation.sync import command as sync_command


def _periods_list(text: str) -> list[int]:
    """``--periods 12,24,36``"""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected e.g. 12,24,36, got {text!r}") from err
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError(f"expected periods >= 2, e.g. 12,24,36, got {text!r}")
    return values


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

    report_ = sub.add_parser(
        "report", help="HTML + PNG report: segment mix, latest transitions, R x F grid"
    )
    report_.add_argument(
        "--out", help="output folder (default: .local/report in the project)", default=None
    )
    report_.add_argument(
        "--schema", default=None, help="schema of the marts (default: $DBT_SCHEMA or analytics)"
    )
    report_.set_defaults(handler=report.cmd_report)

    bench_ = sub.add_parser(
        "bench", help="benchmark: naive vs ours vs floor vs pandas (writes benchmarks/results.*)"
    )
    bench_.add_argument("--size", choices=list(bench.SIZES), default="S",
                        help="S: 10k users/24 months, M: 100k/36, L: 1M/36 (default S)")
    bench_.add_argument("--shape", choices=list(bench.SHAPES), default="normal",
                        help="dense: a quarter of the users, ~80 payments each")
    bench_.add_argument("--periods", type=_periods_list, default=None,
                        help="scaling mode: measure at each number of periods, e.g. 12,24,36")
    bench_.add_argument("--seed", type=int, default=42)
    bench_.add_argument("--naive-timeout", type=float, default=900.0,
                        help="cap of the naive statement, seconds (default 900)")
    bench_.add_argument("--database", default="rfm_bench",
                        help="database to (re)create on the server (default rfm_bench)")
    bench_.add_argument("--output", type=Path, default=None,
                        help="folder of results.md/results.json (default: benchmarks/)")
    bench_.add_argument("--explain", action="store_true",
                        help="also EXPLAIN ANALYZE the history's compiled SQL "
                        "(benchmarks/profiles/; PostgreSQL only)")
    bench_.add_argument("--engine", choices=list(warehouses.ENGINES), default=None,
                        help="postgres, duckdb or spark (default: DBT_TARGET, else postgres)")
    bench_.add_argument("--note", default=None,
                        help="a note kept with the run and shown in results.md (e.g. the "
                        "machine was busy)")
    bench_.add_argument("--events", action="store_true",
                        help="keep the identity graph's models in the measured builds "
                        "(rfm_events: true); the bench's data has no event sources")
    bench_.add_argument("--force", action="store_true",
                        help=f"let --engine spark run sizes above {bench.SPARK_MAX_SIZE}")
    bench_.set_defaults(handler=bench.cmd_bench)

    clusters_ = sub.add_parser(
        "clusters",
        help="fit k-means segments on the latest period, store the model, assign them in dbt",
    )
    clusters_.add_argument("--schema", default=None,
                           help="schema of cluster_features and the model (default: "
                                "$DBT_SCHEMA or analytics)")
    clusters_.add_argument("--min-segment-share", type=float, default=None,
                           help="smallest cluster share allowed (default: var "
                                "cluster_min_segment_share of dbt_project.yml)")
    clusters_.add_argument("--k", type=int, default=None, help="force k instead of choosing it")
    clusters_.add_argument("--seed", type=int, default=0)
    clusters_.add_argument("--n-init", type=int, default=10, help="k-means restarts per k")
    clusters_.add_argument("--no-dbt", action="store_true",
                           help="store the model without rebuilding the cluster models")
    clusters_.set_defaults(handler=clusters.run)

    ltv = sub.add_parser(
        "ltv", help="train/choose the lifetime-value model out of time, write ltv_predictions"
    )
    ltv.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ltv.add_argument("--train-cutoffs", type=int, default=6,
                     help="labelled periods the supervised models train on (default 6)")
    ltv.add_argument("--schema", default=None,
                     help="schema of the marts (default: $DBT_SCHEMA or analytics)")
    ltv.add_argument("--ltv-schema", default=os.environ.get("LTV_SCHEMA", "ml"),
                     help="schema of ltv_predictions (dbt var ltv_schema; default ml)")
    ltv.add_argument("--out", default=None, help="report folder (default .local/ltv)")
    ltv.add_argument("--dbt-vars", default=None,
                     help="extra dbt --vars (JSON) for the rebuild, e.g. reverse_etl_role")
    ltv.add_argument("--no-dbt", action="store_true",
                     help="only write the predictions; do not rebuild rfm_segments_current")
    ltv.set_defaults(handler=ltv_command.cmd_ltv)

    sync = sub.add_parser("sync", help="push the current segments to the CRM (docs/reverse_etl.md)")
    sync.add_argument("config", type=Path, nargs="?", default=sync_command.DEFAULT_CONFIG,
                      help="the sync's YAML file (default syncs/crm_contacts.yml)")
    sync.add_argument("--plan", action="store_true",
                      help="show the counts and a sample of each kind; send nothing")
    sync.add_argument("--allow-large-change", action="store_true",
                      help="pass the guardrail (max_change_share of the configuration)")
    sync.add_argument("--local-crm", action="store_true",
                      help="start the local CRM for this run (the demo; .local/crm)")
    sync.set_defaults(handler=sync_command.cmd_sync)

    sync_bench = sub.add_parser("sync-bench", help="the figures of docs/reverse_etl.md")
    sync_bench.add_argument("--users", type=int, default=1_000_000)
    sync_bench.add_argument("--changed", type=float, default=0.01,
                            help="share of the users whose segment changes (default 0.01)")
    sync_bench.set_defaults(handler=sync_command.cmd_sync_bench)
    identity_bench = sub.add_parser(
        "identity-bench", help="the identity graph and traits at scale (benchmarks/identity.md)")
    identity_bench.add_argument("--size", choices=list(identity.SIZES), default="S",
                                help="S: 10k people, M: 100k, L: 200k (~1M ids, 10M events)")
    identity_bench.add_argument("--engine", choices=["postgres", "duckdb"], default=None,
                                help="default: DBT_TARGET, else postgres")
    identity_bench.add_argument("--output", type=Path, default=None,
                                help="folder of identity.md/identity.json (default: benchmarks/)")
    identity_bench.set_defaults(handler=identity.cmd_identity_bench)

    crm_ = sub.add_parser("crm", help="the local CRM (batch API with fault switches)")
    crm_.add_argument("action", choices=["serve"])
    crm_.add_argument("--host", default="127.0.0.1")
    crm_.add_argument("--port", type=int, default=8765)
    crm_.add_argument("--store", type=Path, default=Path(".local/crm/contacts.sqlite"))
    for fault, text in (("rate-limit", "share of calls answered 429"),
                        ("server-error", "share of calls answered 5xx"),
                        ("timeout", "share of calls that hang, then apply"),
                        ("reject", "share of records rejected (207)"),
                        ("drop-after-apply", "share of calls whose connection drops after "
                         "the batch was applied")):
        crm_.add_argument(f"--{fault}", type=float, default=0.0, help=text)
    crm_.add_argument("--slow-ms", type=float, default=0.0, help="added to every call")
    crm_.add_argument("--retry-after", type=float, default=1.0,
                      help="seconds a 429 asks to wait")
    crm_.set_defaults(handler=sync_command.cmd_crm)
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
