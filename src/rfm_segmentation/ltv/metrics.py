"""Metrics that stay honest on zero-heavy revenue: most users buy nothing in the horizon, so a
model predicting 0 for everyone already has a small MAE. RMSE punishes missing the big
spenders, the top-decile share measures the ranking marketing acts on, and Σpredicted/Σactual
the calibration of the total."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Metrics:
    rmse: float
    mae: float
    top_decile_share: float
    """Share of the actual revenue made by the 10% of users with the highest predictions."""
    predicted_to_actual: float
    """Σ predicted / Σ actual revenue (1 = the total is right)."""
    users: int
    actual_total: float


def evaluate(predicted: npt.ArrayLike, actual: npt.ArrayLike, user_ids: npt.ArrayLike
             ) -> Metrics:
    """The four figures; the top decile breaks ties in predictions by user id (deterministic,
    so a constant prediction gets an arbitrary but reproducible decile)."""
    pred = np.asarray(predicted, dtype=float)
    act = np.asarray(actual, dtype=float)
    ids = np.asarray(user_ids).astype(str)
    if pred.shape != act.shape or pred.shape != ids.shape:
        raise ValueError("predicted, actual and user_ids differ in length")
    n = len(pred)
    if n == 0:
        return Metrics(math.nan, math.nan, math.nan, math.nan, 0, 0.0)
    error = pred - act
    total = float(act.sum())
    order = np.lexsort((ids, -pred))  # highest prediction first, then user id
    top = order[: max(1, math.ceil(0.1 * n))]
    return Metrics(
        rmse=float(np.sqrt(np.mean(error**2))),
        mae=float(np.mean(np.abs(error))),
        top_decile_share=float(act[top].sum() / total) if total > 0 else math.nan,
        predicted_to_actual=float(pred.sum() / total) if total > 0 else math.nan,
        users=n,
        actual_total=total,
    )
