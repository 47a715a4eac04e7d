"""'What drives it': a classifier learns segment membership from the features, and permutation
importances say, per segment, how much its recognition suffers when one feature is shuffled.

One random forest per segmentation (R x F segments, clusters), trained on 70 % of the users; on
the other 30 %, each feature (a categorical attribute's one-hot columns together) is shuffled
``n_repeats`` times, and for every segment the drop of its one-vs-rest balanced accuracy
(recall of the segment and of the rest, averaged) is the feature's importance for that segment.
One prediction per shuffle serves every segment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from rfm_segmentation.clusters.store import ATTRIBUTES_CATEGORY, ATTRIBUTES_NUMERIC

#: Readable feature names: the log inputs are reported under their raw names (a monotone
#: transform changes nothing for a tree).
FEATURE_LABELS: dict[str, str] = {
    "log_recency_days": "recency_days",
    "log_frequency": "frequency",
    "log_monetary": "monetary",
    "log_tenure_days": "tenure_days",
    "log_aum_per_day": "aum_per_day",
}
MAX_ROWS = 20_000  # a seeded sample beyond this: importances are averages, not per user


def driver_matrix(frame: pd.DataFrame, inputs: Sequence[str]
                  ) -> tuple[np.ndarray, dict[str, list[int]]]:
    """Numeric inputs + numeric attributes + one-hot categorical attributes (those present),
    and the columns of each reported feature."""
    columns: list[np.ndarray] = []
    groups: dict[str, list[int]] = {}
    for name in (*inputs, *ATTRIBUTES_NUMERIC):
        if name in frame and frame[name].notna().any():
            groups[FEATURE_LABELS.get(name, name)] = [len(columns)]
            values = frame[name].to_numpy(np.float64)
            columns.append(np.where(np.isnan(values), np.nanmedian(values), values))
    for name in ATTRIBUTES_CATEGORY:
        if name in frame and frame[name].notna().any():
            dummies = pd.get_dummies(frame[name].fillna("(missing)"), dtype=np.float64)
            groups[name] = list(range(len(columns), len(columns) + dummies.shape[1]))
            columns.extend(dummies.to_numpy().T)
    return np.column_stack(columns), groups


def _balanced_accuracy(truth: np.ndarray, predicted: np.ndarray, segment: object) -> float:
    actual = truth == segment
    guessed = predicted == segment
    if actual.all() or not actual.any():
        return float("nan")
    return 0.5 * (float(guessed[actual].mean()) + float((~guessed[~actual]).mean()))


def segment_drivers(
    x: np.ndarray,
    groups: dict[str, list[int]],
    segments: np.ndarray,
    *,
    segmentation: str,
    seed: int = 0,
    n_repeats: int = 5,
) -> pd.DataFrame:
    """Per segment and feature: importance_mean/std (drop of the balanced accuracy),
    importance_rank (1 = strongest in the segment) and segment_score (the unshuffled balanced
    accuracy on the held-out users)."""
    rng = np.random.default_rng(seed)
    segments = np.asarray(segments, dtype=object)
    if len(segments) > MAX_ROWS:
        keep = rng.choice(len(segments), MAX_ROWS, replace=False)
        x, segments = x[keep], segments[keep]
    labels, counts = np.unique(segments, return_counts=True)
    if len(labels) < 2:
        return pd.DataFrame()
    stratify = segments if counts.min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, segments, test_size=0.3, random_state=seed, stratify=stratify
    )
    forest = RandomForestClassifier(
        n_estimators=100, min_samples_leaf=3, random_state=seed, n_jobs=1
    ).fit(x_train, y_train)
    baseline_prediction = forest.predict(x_test)
    baseline = {s: _balanced_accuracy(y_test, baseline_prediction, s) for s in labels}
    drops: dict[tuple[object, str], list[float]] = {}
    for feature, cols in groups.items():
        for _ in range(n_repeats):
            shuffled = x_test.copy()
            order = rng.permutation(len(x_test))
            shuffled[:, cols] = x_test[order][:, cols]
            prediction = forest.predict(shuffled)
            for s in labels:
                drops.setdefault((s, feature), []).append(
                    baseline[s] - _balanced_accuracy(y_test, prediction, s)
                )
    rows = [
        {
            "segmentation": segmentation,
            "segment": str(s),
            "feature_name": feature,
            "importance_mean": float(np.mean(values)),
            "importance_std": float(np.std(values)),
            "segment_score": baseline[s],
        }
        for (s, feature), values in drops.items()
    ]
    table = pd.DataFrame(rows)
    table["importance_rank"] = (
        table.groupby("segment")["importance_mean"].rank(ascending=False, method="first")
        .fillna(0).astype(int)
    )
    return table.sort_values(["segment", "importance_rank"]).reset_index(drop=True)
