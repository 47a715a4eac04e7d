"""The k-means model without a database: the knee, the choice of k under a minimum segment
size, stable labels across retrains (Hungarian matching), names, and the demo's known groups."""

from __future__ import annotations

import numpy as np
import pytest

from rfm_segmentation import demo as demo_data
from rfm_segmentation.clusters import model
from rfm_segmentation.clusters.model import ClusterModel, fit, knee, match_labels

NAMES = ("log_recency_days", "log_frequency", "log_monetary")


def blobs(sizes: list[int], centers: list[list[float]], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, 0.3, size=(n, len(c))) for n, c in zip(sizes, centers,
                                                                               strict=True)])


FOUR = [[0, 0, 0], [4, 0, 0], [0, 4, 0], [0, 0, 4]]


def test_knee_of_a_curve() -> None:
    ks = list(range(1, 11))
    assert knee(ks, [100, 30, 12, 10, 9, 8, 7, 6, 5, 4]) == 3
    assert knee(ks, [100 - 10 * k for k in ks]) in ks  # a straight line: any point, no crash
    assert knee([1, 2], [5, 1]) == 1


def test_k_found_and_sizes_respected() -> None:
    x = blobs([150, 150, 150, 150], FOUR)
    result = fit(x, NAMES, min_share=0.05, seed=0, n_init=4)
    assert result.model.k == 4
    assert sorted(result.model.sizes.tolist()) == [150, 150, 150, 150]
    assert result.silhouette > 0.7
    # a 2 % blob may not be a segment of its own at a 5 % minimum share
    tiny = blobs([300, 300, 300, 12], [*FOUR[:3], [9, 9, 9]])
    choice = fit(tiny, NAMES, min_share=0.05, seed=0, n_init=4).choice
    assert all(not p.is_eligible for p in choice.curve if p.min_cluster_share < 0.05)
    assert choice.k in model.K_ALLOWED
    chosen = next(p for p in choice.curve if p.k == choice.k)
    assert chosen.min_cluster_share >= 0.05 or "fell back" in choice.selection


def test_retrain_on_same_data_keeps_labels() -> None:
    x = blobs([120, 80, 200, 100], FOUR, seed=1)
    first = fit(x, NAMES, seed=0, n_init=4)
    again = fit(x, NAMES, previous=first.model, seed=0, n_init=4)
    assert again.model.version == first.model.version + 1
    assert np.array_equal(again.labels, first.labels)
    assert np.array_equal(again.model.predict(x), first.model.predict(x))
    # another seed finds the same clusters in another order: mapped back to the same labels
    other_seed = fit(x, NAMES, previous=first.model, seed=5, n_init=4)
    assert np.array_equal(other_seed.labels, first.labels)
    # first labels: 1..k, the largest cluster first
    assert first.model.cluster_ids[np.argmax(first.model.sizes)] == 1


def test_permuted_fit_is_mapped_back() -> None:
    x = blobs([100, 100, 100, 100], FOUR, seed=2)
    base = fit(x, NAMES, seed=0, n_init=4).model
    permutation = np.array([2, 0, 3, 1])
    previous = ClusterModel(NAMES, base.mean, base.scale, base.centers[permutation],
                            np.array([11, 12, 13, 14]), version=3)
    ids = match_labels(base.centers, base.mean, base.scale, NAMES, previous, base.sizes)
    # new centroid i is the previous centroid j with permutation[j] == i
    expected = np.empty(4, dtype=np.int64)
    expected[permutation] = [11, 12, 13, 14]
    assert ids.tolist() == expected.tolist()
    # with a shifted scaler (retrained on other rows) the match goes through the raw space
    shifted = ClusterModel(NAMES, base.mean + 1.0, base.scale * 2.0,
                           (base.centers * base.scale + base.mean - base.mean - 1.0)
                           / (base.scale * 2.0), np.array([7, 8, 9, 10]), version=4)
    assert match_labels(base.centers, base.mean, base.scale, NAMES, shifted,
                        base.sizes).tolist() == [7, 8, 9, 10]


def test_k_grows_new_labels_above_the_old() -> None:
    x = blobs([100, 100, 100, 100], FOUR, seed=3)
    three = fit(x, NAMES, seed=0, n_init=4, k=3).model
    four = fit(x, NAMES, previous=three, seed=0, n_init=4, k=4).model
    assert set(four.cluster_ids.tolist()) == {1, 2, 3, 4}
    shrunk = fit(x, NAMES, previous=four, seed=0, n_init=4, k=3).model
    assert set(shrunk.cluster_ids.tolist()) <= {1, 2, 3, 4} and shrunk.k == 3


def test_names_from_the_profile() -> None:
    features = ("log_recency_days", "log_frequency", "log_monetary", "log_tenure_days")
    assert model.cluster_name(np.array([-1.0, 0.8, 1.5, 0.1]), features) == \
        "high value · recent · frequent"
    assert model.cluster_name(np.array([0.1, -0.2, 0.3, 0.0]), features) == "average"
    names = model.unique_names(np.array([[1.0, 0, 0, 0], [1.0, 0, 0, 0.6], [1.0, 0, 0, 0.2]]),
                               features, np.array([1, 2, 3]))
    assert len(set(names)) == 3


def test_predict_matches_scikit_learn() -> None:
    x = blobs([100, 150, 50, 200], FOUR, seed=4)
    result = fit(x, NAMES, seed=0, n_init=4)
    expected = result.model.cluster_ids[result.kmeans.predict(result.model.standardise(x))]
    assert np.array_equal(result.model.predict(x), expected)


def test_grouped_demo_is_deterministic_and_default_unchanged() -> None:
    spec = demo_data.DemoSpec(n_users=50, seed=3, behaviour_groups=True)
    assert demo_data.generate_user_groups(spec) == demo_data.generate_user_groups(spec)
    groups = {g for _, g in demo_data.generate_user_groups(demo_data.DemoSpec(
        n_users=400, seed=3, behaviour_groups=True))}
    assert groups == {g[0] for g in demo_data.BEHAVIOUR_GROUPS}
    with pytest.raises(ValueError):
        demo_data.generate_user_groups(demo_data.DemoSpec(n_users=5))
    users = demo_data.generate_users(demo_data.DemoSpec(n_users=30))
    assert len(users) == 30 and len({u[0] for u in users}) == 30
    balances = demo_data.generate_balances(demo_data.DemoSpec(n_users=30))
    assert all(b[2] > 0 for b in balances)
