"""`rfm ltv`: train, compare and choose the lifetime-value model out of time, write the
predictions to the warehouse and rebuild the current segments so the CRM gets predicted_ltv."""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from rfm_segmentation import dbt_runner, warehouses
from rfm_segmentation.ltv import pipeline, report, warehouse
from rfm_segmentation.ltv.candidates import trait_columns
from rfm_segmentation.warehouses import postgres


def cmd_ltv(args: argparse.Namespace, console: Console, root: Path) -> int:
    refusal = warehouses.postgres_only_refusal(
        "ltv", "training", "rfm_user_features and the predicted_ltv columns build on every engine")
    if refusal:
        console.print(f"[red]{refusal}[/]")
        return 2
    connection = postgres.resolve(root)
    schema = args.schema or os.environ.get("DBT_SCHEMA", "analytics")
    started = time.perf_counter()
    console.rule("[bold]1/4 features")
    console.print(connection.describe())
    try:
        periods, horizon = warehouse.load_periods(connection, schema)
        plan = pipeline.make_plan(periods, horizon, train_cutoffs=args.train_cutoffs)
        features = warehouse.load_features(connection, schema, plan.periods_needed)
    except pipeline.InsufficientDataError as error:
        console.print(f"[red]rfm ltv: {error}[/]")
        return 1
    console.print(
        f"{schema}.{warehouse.FEATURES_TABLE}: {len(periods)} periods, horizon {horizon} "
        f"periods; loaded {len(features):,} rows of {len(plan.periods_needed)} periods"
    )
    traits = trait_columns(features)
    if traits:
        console.print(
            f"{schema}.{warehouse.TRAITS_TABLE}: {len(traits)} trait input(s) "
            f"({', '.join(traits)}), compared out of time with and without them"
        )
    console.rule("[bold]2/4 candidates, out of time")
    outcome = pipeline.run(features, plan, seed=args.seed, progress=console.print)
    for message in outcome.messages:
        console.print(f"[yellow]note:[/] {message}")
    console.print(report.candidates_table(outcome))
    console.print(f"chosen: [bold]{outcome.chosen}[/] ({outcome.reason})")

    console.rule("[bold]3/4 write")
    trained_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    warehouse.write(connection, args.ltv_schema, outcome, trained_at)
    out = Path(args.out) if args.out else root / ".local" / "ltv"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(report.markdown(outcome, trained_at), encoding="utf-8")
    console.print(
        f"{args.ltv_schema}.{warehouse.PREDICTIONS_TABLE}: {len(outcome.predictions):,} rows; "
        f"{args.ltv_schema}.{warehouse.REPORT_TABLE} and {out / 'report.md'}: the figures"
    )
    if args.no_dbt:
        console.print(f"done in {time.perf_counter() - started:.1f}s (dbt not run: --no-dbt)")
        return 0

    console.rule("[bold]4/4 dbt: the current segments with predicted_ltv")
    dbt_vars = {**json.loads(args.dbt_vars or "{}"), "ltv_schema": args.ltv_schema}
    code = dbt_runner.run(connection, root, ["build", "--select", "stg_ml__ltv_predictions+"],
                          dbt_vars=dbt_vars, console=console)
    if code != dbt_runner.OK:
        return dbt_runner.report_failure(code, console)
    segments, top = report.fetch_current(connection, schema)
    for table in report.current_tables(segments, top):
        console.print(table)
    console.print(f"done in {time.perf_counter() - started:.1f}s")
    return 0
