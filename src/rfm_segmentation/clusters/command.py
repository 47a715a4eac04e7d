"""``rfm clusters`` (registered by ``verb.py``): read cluster_features, fit, store the next
model version, explain the segments, and rebuild the dbt models that assign and profile them."""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from psycopg2 import sql
from rich.console import Console
from rich.table import Table
from sklearn.metrics import adjusted_rand_score

from rfm_segmentation import dbt_runner, warehouses
from rfm_segmentation.clusters import drivers, model, store
from rfm_segmentation.warehouses import postgres

#: The dbt models rebuilt after a training (the model's staging views and what reads them).
DBT_SELECTION = (
    "stg_cluster_model__scaler+",
    "stg_cluster_model__centroids+",
    "stg_cluster_model__clusters+",
)


@dataclass(frozen=True)
class TrainOutcome:
    result: model.FitResult
    version: int
    n_users: int
    ari: float | None
    drivers: pd.DataFrame


def project_var(root: Path, name: str, default: float) -> float:
    """A var's default from dbt_project.yml (one place for the setting)."""
    try:
        config = yaml.safe_load((root / "dbt_project.yml").read_text(encoding="utf-8"))
        value = (config.get("vars") or {}).get(name)
    except (OSError, yaml.YAMLError):
        value = None
    return default if value is None else float(value)


def ground_truth_ari(connection: postgres.Connection, raw_schema: str,
                     users: pd.Series, labels: np.ndarray) -> float | None:
    """Adjusted Rand index against the demo's known groups (raw.demo_user_groups), if any."""
    if not store.relation_exists(connection, raw_schema, "demo_user_groups"):
        return None
    with postgres.cursor(connection) as cur:
        cur.execute(sql.SQL("select user_id, behaviour_group from {}").format(
            sql.Identifier(raw_schema, "demo_user_groups")))
        truth = dict(cur.fetchall())
    known = np.array([u in truth for u in users])
    if not known.any():
        return None
    groups = [truth[u] for u in users[known]]
    return float(adjusted_rand_score(groups, labels[known]))


def train(
    connection: postgres.Connection,
    schema: str,
    *,
    raw_schema: str = "raw",
    min_share: float = 0.05,
    seed: int = 0,
    n_init: int = 10,
    k: int | None = None,
    with_drivers: bool = True,
) -> TrainOutcome:
    """Fit on the latest period of ``schema``.cluster_features and store the next version."""
    if not store.relation_exists(connection, schema, "cluster_features"):
        raise LookupError(f"{schema}.cluster_features does not exist: run `dbt build` first")
    frame = store.read_features(connection, schema)
    if len(frame) < 10:
        raise ValueError(f"{len(frame)} users in the latest period: too few to cluster")
    names, x = store.model_inputs(frame)
    previous = store.load_latest(connection, schema)
    result = model.fit(x, names, previous=previous, min_share=min_share, seed=seed,
                       n_init=n_init, k=k)
    ari = ground_truth_ari(connection, raw_schema, frame["user_id"], result.labels)
    explained = pd.DataFrame()
    if with_drivers:
        matrix, groups = drivers.driver_matrix(frame, names)
        label_of = dict(zip(result.model.cluster_ids.tolist(), result.model.cluster_names,
                            strict=True))
        explained = pd.concat([
            drivers.segment_drivers(matrix, groups, frame["rfm_segment"].to_numpy(),
                                    segmentation="rfm", seed=seed),
            drivers.segment_drivers(matrix, groups,
                                    np.array([label_of[i] for i in result.labels.tolist()]),
                                    segmentation="cluster", seed=seed),
        ], ignore_index=True)
    period = frame["snapshot_period"].iloc[0]
    info = store.RunInfo(period, len(frame), min_share, n_init, seed, ari)
    version = store.save(connection, schema, result, info, explained)
    return TrainOutcome(result, version, len(frame), ari, explained)


def render(outcome: TrainOutcome) -> Table:
    result = outcome.result
    fitted = result.model
    table = Table(title=(
        f"cluster model v{outcome.version}: k={fitted.k} ({result.choice.selection}), "
        f"silhouette {result.silhouette:.3f}, {outcome.n_users:,} users"
        + (f", adjusted Rand index vs the demo's groups {outcome.ari:.3f}"
           if outcome.ari is not None else "")
    ))
    table.add_column("id", justify="right")
    table.add_column("name", no_wrap=True)
    for column in ("users", "share", *(f.removeprefix("log_") for f in fitted.feature_names)):
        table.add_column(column, justify="right")
    for i in np.argsort(fitted.cluster_ids):
        table.add_row(
            str(fitted.cluster_ids[i]), fitted.cluster_names[i], f"{fitted.sizes[i]:,}",
            f"{fitted.sizes[i] / max(outcome.n_users, 1):.1%}",
            *(f"{v:+.2f}" for v in fitted.centers[i]),
        )
    return table


def cmd_clusters(args: argparse.Namespace, console: Console, root: Path) -> int:
    refusal = warehouses.postgres_only_refusal(
        "clusters", "clustering",
        "the cluster models build on every engine once the model tables exist")
    if refusal:
        console.print(f"[red]{refusal}[/]")
        return 2
    connection = postgres.resolve(root)
    schema = args.schema or os.environ.get("DBT_SCHEMA") or "analytics"
    min_share = (args.min_segment_share if args.min_segment_share is not None
                 else project_var(root, "cluster_min_segment_share", 0.05))
    started = time.perf_counter()
    try:
        outcome = train(
            connection, schema, raw_schema=os.environ.get("RAW_SCHEMA", "raw"),
            min_share=min_share, seed=args.seed, n_init=args.n_init, k=args.k,
        )
    except (LookupError, ValueError) as err:
        console.print(f"[red]rfm clusters: {err}[/]")
        return 1
    console.print(render(outcome))
    console.print("centroids in standard deviations of the log features; "
                  f"trained in {time.perf_counter() - started:.1f}s, "
                  f"stored as version {outcome.version} in schema {schema}")
    if args.no_dbt:
        return 0
    command = ["build", "--select", *DBT_SELECTION]
    console.rule("[bold]dbt " + " ".join(command))
    return dbt_runner.report_failure(
        dbt_runner.run(connection, root, command, console=console), console)
