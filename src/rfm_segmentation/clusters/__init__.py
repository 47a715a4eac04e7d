"""Statistical segments beside the R x F rules: k-means on the RFM features, the model
stored in the warehouse, 'what drives it', and the ``rfm clusters`` verb. See docs/clusters.md.

The submodules import scikit-learn and pandas; this package imports nothing heavy, so that every
``rfm`` command does not pay for them (``run`` imports the work when the verb runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

__all__ = ["run"]


def run(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm clusters`: ``command.cmd_clusters``, imported only now."""
    from rfm_segmentation.clusters.command import cmd_clusters

    return cmd_clusters(args, console, root)
