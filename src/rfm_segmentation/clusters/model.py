"""The k-means segments: standardised log features, k chosen from the elbow and the silhouette
under a minimum segment size, labels kept stable across retrains, readable names.

Everything here is pure computation on numpy arrays (no database): ``store`` persists a
``ClusterModel`` as tables, ``cluster_assignments`` (dbt) applies it in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The k-means inputs: columns of the dbt model cluster_features, in this order when present.
FEATURES: tuple[str, ...] = (
    "log_recency_days",
    "log_frequency",
    "log_monetary",
    "log_tenure_days",
    "log_aum_per_day",
)

K_RANGE = range(1, 11)  # the elbow curve
K_ALLOWED = range(3, 9)  # the chosen k
NAME_THRESHOLD = 0.5  # |centroid| in standard deviations for a feature to name a cluster
NAME_WORDS: dict[str, tuple[str, str]] = {  # feature: (word when high, word when low)
    "log_monetary": ("high value", "low value"),
    "log_recency_days": ("lapsed", "recent"),
    "log_frequency": ("frequent", "one-off"),
    "log_tenure_days": ("long-standing", "new"),
    "log_aum_per_day": ("high AUM", "low AUM"),
}
SILHOUETTE_SAMPLE = 4000  # silhouette on a seeded sample: O(n^2) otherwise


@dataclass(frozen=True)
class KPoint:
    """One k of the curve: within-cluster sum of squares, silhouette (None for k = 1), share of
    the smallest cluster, and whether k is allowed (3-8, smallest share >= the minimum)."""

    k: int
    inertia: float
    silhouette: float | None
    min_cluster_share: float
    is_eligible: bool


@dataclass(frozen=True)
class KChoice:
    k: int
    knee: int
    selection: str  # how k was chosen, in words
    curve: tuple[KPoint, ...]


@dataclass
class ClusterModel:
    """A fitted model as stored: standardised space = (x - mean) / scale; ``centers[i]`` is the
    centroid of stable label ``cluster_ids[i]``."""

    feature_names: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    centers: FloatArray
    cluster_ids: IntArray
    cluster_names: tuple[str, ...] = ()
    sizes: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    version: int = 0

    @property
    def k(self) -> int:
        return int(self.centers.shape[0])

    def standardise(self, x: FloatArray) -> FloatArray:
        return (x - self.mean) / self.scale

    def predict(self, x: FloatArray) -> IntArray:
        """Stable labels of raw (log) feature rows: the nearest centroid, ties to the smallest
        label (as the SQL does)."""
        distances = cdist(self.standardise(x), self.centers, "sqeuclidean")
        order = np.argsort(self.cluster_ids, kind="stable")
        return self.cluster_ids[order][np.argmin(distances[:, order], axis=1)]


@dataclass
class FitResult:
    model: ClusterModel
    choice: KChoice
    kmeans: KMeans  # scikit-learn's estimator on the standardised rows (index i = centers[i])
    labels: IntArray  # stable label of every training row
    silhouette: float
    inertia: float


def fit_scaler(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Mean and population standard deviation per column (scikit-learn's StandardScaler); a
    constant column gets scale 1."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 0, scale, 1.0)


def knee(ks: Sequence[int], inertia: Sequence[float]) -> int:
    """The elbow of a decreasing curve (Kneedle): normalise both axes to [0, 1] and take the k
    farthest below the chord from the first to the last point."""
    x = np.asarray(ks, dtype=np.float64)
    y = np.asarray(inertia, dtype=np.float64)
    if len(x) < 3 or y[0] == y[-1]:
        return int(x[0])
    xn = (x - x[0]) / (x[-1] - x[0])
    yn = (y - y[-1]) / (y[0] - y[-1])
    return int(x[int(np.argmax((1.0 - xn) - yn))])


def _kmeans(k: int, seed: int, n_init: int) -> KMeans:
    return KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed)


def choose_k(
    xs: FloatArray, *, min_share: float, seed: int, n_init: int
) -> tuple[KChoice, dict[int, KMeans]]:
    """Fit k = 1..10 and choose k in 3..8: among the allowed k (smallest cluster >= min_share)
    within one of the elbow's knee, the best silhouette; if none is that close, the best
    silhouette of all allowed k; if no k is allowed, 3."""
    n = xs.shape[0]
    fits: dict[int, KMeans] = {}
    curve: list[KPoint] = []
    for k in K_RANGE:
        if k > n:
            break
        km = _kmeans(k, seed, n_init).fit(xs)
        fits[k] = km
        counts = np.bincount(km.labels_, minlength=k)
        silhouette = None
        if 2 <= k < n and len(np.unique(km.labels_)) > 1:
            silhouette = float(silhouette_score(
                xs, km.labels_, sample_size=min(n, SILHOUETTE_SAMPLE), random_state=seed
            ))
        share = float(counts.min() / n)
        curve.append(KPoint(k, float(km.inertia_), silhouette, share,
                            k in K_ALLOWED and share >= min_share and silhouette is not None))
    knee_k = knee([p.k for p in curve], [p.inertia for p in curve])
    eligible = [p for p in curve if p.is_eligible]
    near = [p for p in eligible if abs(p.k - min(max(knee_k, 3), 8)) <= 1]
    if near:
        best = max(near, key=lambda p: (p.silhouette or -1.0, -p.k))
        selection = f"best silhouette within 1 of the elbow's knee (k={knee_k})"
    elif eligible:
        best = max(eligible, key=lambda p: (p.silhouette or -1.0, -p.k))
        selection = f"best silhouette of the allowed k (knee k={knee_k} not allowed)"
    else:
        best = next(p for p in curve if p.k == min(3, len(curve)))
        selection = f"no k in 3-8 keeps every cluster >= {min_share:.0%}: fell back to k=3"
    return KChoice(best.k, knee_k, selection, tuple(curve)), fits


def match_labels(
    centers: FloatArray,
    mean: FloatArray,
    scale: FloatArray,
    feature_names: Sequence[str],
    previous: ClusterModel | None,
    sizes: IntArray,
) -> IntArray:
    """Stable labels for new centroids (standardised with ``mean``/``scale``).

    Without a previous model: 1..k, largest cluster first. Otherwise the previous centroids are
    mapped into the new standardised space (through the raw log features, on the features both
    models share) and matched to the new ones by the Hungarian algorithm on Euclidean distance
    (``linear_sum_assignment``): a matched cluster keeps its label, an unmatched one (k grew)
    gets a new label above every previous one."""
    k = centers.shape[0]
    if previous is None:
        ids = np.empty(k, dtype=np.int64)
        ids[np.argsort(-sizes, kind="stable")] = np.arange(1, k + 1)
        return ids
    common = [f for f in feature_names if f in previous.feature_names]
    ids = np.full(k, -1, dtype=np.int64)
    if common:
        new_cols = [list(feature_names).index(f) for f in common]
        old_cols = [list(previous.feature_names).index(f) for f in common]
        previous_raw = previous.centers[:, old_cols] * previous.scale[old_cols] \
            + previous.mean[old_cols]
        previous_here = (previous_raw - mean[new_cols]) / scale[new_cols]
        cost = cdist(centers[:, new_cols], previous_here)
        rows, cols = linear_sum_assignment(cost)
        ids[rows] = previous.cluster_ids[cols]
    next_id = int(previous.cluster_ids.max(initial=0)) + 1
    for i in np.flatnonzero(ids < 0):
        ids[i] = next_id
        next_id += 1
    return ids


def cluster_name(center: FloatArray, feature_names: Sequence[str], *, words: int = 3) -> str:
    """'high value · recent · frequent': the features whose centroid is at least
    NAME_THRESHOLD standard deviations from the population mean, strongest first."""
    ranked = sorted(range(len(feature_names)), key=lambda i: -abs(float(center[i])))
    parts = [
        NAME_WORDS.get(feature_names[i], (f"high {feature_names[i]}", f"low {feature_names[i]}"))
        [0 if center[i] > 0 else 1]
        for i in ranked
        if abs(float(center[i])) >= NAME_THRESHOLD
    ][:words]
    return " · ".join(parts) if parts else "average"


def unique_names(centers: FloatArray, feature_names: Sequence[str],
                 cluster_ids: IntArray) -> tuple[str, ...]:
    """A name per cluster; a name two clusters share gets one more word, then the label."""
    names = [cluster_name(c, feature_names) for c in centers]
    for i, name in enumerate(names):
        if names.count(name) > 1:
            longer = cluster_name(centers[i], feature_names, words=4)
            names[i] = longer
    for i, name in enumerate(names):
        if names.count(name) > 1:
            names[i] = f"{name} ({int(cluster_ids[i])})"
    return tuple(names)


def fit(
    x: FloatArray,
    feature_names: Sequence[str],
    *,
    previous: ClusterModel | None = None,
    min_share: float = 0.05,
    seed: int = 0,
    n_init: int = 10,
    k: int | None = None,
) -> FitResult:
    """Standardise, choose k (or take ``k``), fit, and label stably against ``previous``.

    One thread: scikit-learn's OpenMP k-means spins its threads against each other on a busy
    small machine (measured 40x slower with 2 threads on 2 loaded cores), and one thread makes
    the result independent of the machine."""
    with threadpool_limits(limits=1):
        return _fit(x, feature_names, previous=previous, min_share=min_share, seed=seed,
                    n_init=n_init, k=k)


def _fit(
    x: FloatArray,
    feature_names: Sequence[str],
    *,
    previous: ClusterModel | None,
    min_share: float,
    seed: int,
    n_init: int,
    k: int | None,
) -> FitResult:
    mean, scale = fit_scaler(x)
    xs = (x - mean) / scale
    choice, fits = choose_k(xs, min_share=min_share, seed=seed, n_init=n_init)
    if k is not None:
        choice = KChoice(k, choice.knee, f"k={k} given", choice.curve)
        if k not in fits:
            fits[k] = _kmeans(k, seed, n_init).fit(xs)
    km = fits[choice.k]
    centers = km.cluster_centers_.astype(np.float64)
    sizes = np.bincount(km.labels_, minlength=choice.k).astype(np.int64)
    ids = match_labels(centers, mean, scale, feature_names, previous, sizes)
    model = ClusterModel(
        feature_names=tuple(feature_names),
        mean=mean,
        scale=scale,
        centers=centers,
        cluster_ids=ids,
        cluster_names=unique_names(centers, feature_names, ids),
        sizes=sizes,
        version=(previous.version + 1) if previous else 1,
    )
    point = next(p for p in choice.curve if p.k == choice.k)
    return FitResult(
        model=model,
        choice=choice,
        kmeans=km,
        labels=ids[km.labels_],
        silhouette=float(point.silhouette) if point.silhouette is not None else float("nan"),
        inertia=float(km.inertia_),
    )
