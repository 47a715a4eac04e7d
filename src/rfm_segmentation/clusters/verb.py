"""The ``rfm clusters`` verb: its arguments here, the work in ``command`` (imported when run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console


def _run(args: argparse.Namespace, console: Console, root: Path) -> int:
    from rfm_segmentation.clusters.command import cmd_clusters

    return cmd_clusters(args, console, root)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``clusters`` verb to the ``rfm`` command."""
    verb = sub.add_parser(
        "clusters",
        help="fit k-means segments on the latest period, store the model, assign them in dbt",
    )
    verb.add_argument("--schema", default=None,
                      help="schema of cluster_features and the model (default: $DBT_SCHEMA "
                           "or analytics)")
    verb.add_argument("--min-segment-share", type=float, default=None,
                      help="smallest cluster share allowed (default: var "
                           "cluster_min_segment_share of dbt_project.yml)")
    verb.add_argument("--k", type=int, default=None, help="force k instead of choosing it")
    verb.add_argument("--seed", type=int, default=0)
    verb.add_argument("--n-init", type=int, default=10, help="k-means restarts per k")
    verb.add_argument("--no-dbt", action="store_true",
                      help="store the model without rebuilding the cluster models")
    verb.set_defaults(handler=_run)
