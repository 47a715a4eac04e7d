"""The scoring methods of docs/scores.md in the plain-Python reference, on their own: the rule of
the seed's bins, the mid-rank's definition, and what each method does with a heavy tie (on
made-up ties and on the CDNOW purchase history of tests/fixtures)."""

from __future__ import annotations

import csv
from collections import Counter
from decimal import Decimal
from itertools import permutations
from pathlib import Path

import pytest

import reference_scores as scores
from reference_scores import ScoreBin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def bins_of(metric: str, *bounds: tuple[int, int | None, int | None]) -> list[ScoreBin]:
    return [
        ScoreBin(metric, score, None if lo is None else Decimal(lo),
                 None if hi is None else Decimal(hi))
        for score, lo, hi in bounds
    ]


GOOD_FREQUENCY = ((1, None, 2), (2, 2, 3), (3, 3, 5), (4, 5, 10), (5, 10, None))
OTHER_METRICS = [
    *bins_of("recency", (5, None, 31), (4, 31, 91), (3, 91, 181), (2, 181, 366), (1, 366, None)),
    *bins_of("monetary", (1, None, 50), (2, 50, 150), (3, 150, 500), (4, 500, 2000),
             (5, 2000, None)),
]


def test_the_shipped_bins_cover_every_value_once_and_the_fixture_is_the_seed() -> None:
    shipped = scores.load_thresholds()
    assert scores.threshold_problems(shipped) == []
    assert {(b.metric, b.score) for b in shipped} == {
        (m, s) for m in scores.METRICS for s in range(1, 6)
    }
    # the dbt unit tests read the fixture: it must be the seed
    assert (FIXTURES / "rfm_score_thresholds.csv").read_text() == (
        scores.THRESHOLDS_SEED.read_text()
    )
    # the example bins, frequency 1 / 2 / 3-4 / 5-9 / 10+
    frequency = [b for b in shipped if b.metric == "frequency"]
    assert [scores.threshold_score(v, "frequency", frequency) for v in range(0, 13)] == [
        1, 1, 2, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5
    ]


@pytest.mark.parametrize(
    ("frequency", "problem"),
    [
        (((1, None, 2), (2, 2, 3), (3, 3, 5), (4, 6, 10), (5, 10, None)),
         "frequency 5.5: in the bins of scores []"),
        (((1, None, 2), (2, 2, 3), (3, 3, 6), (4, 5, 10), (5, 10, None)),
         "frequency 5.5: in the bins of scores [3, 4]"),
        (((1, 1, 2), (2, 2, 3), (3, 3, 5), (4, 5, 10), (5, 10, None)),
         "frequency 0: in the bins of scores []"),
        (((1, None, 2), (2, 2, 3), (3, 3, 5), (4, 5, 10), (5, 10, 100)),
         "frequency 101: in the bins of scores []"),
        (((1, None, 2), (2, 2, 3), (3, 3, 5), (3, 5, 10), (5, 10, None)),
         "frequency score 4: 0 bins"),
        (((1, None, 2), (2, 2, 3), (3, 3, 5), (4, 5, 10), (5, 10, None), (5, None, None)),
         "frequency score 5: 2 bins"),
    ],
    ids=["gap", "overlap", "no-lowest", "no-highest", "score-missing", "open-duplicate"],
)
def test_broken_bins_are_named(frequency: tuple, problem: str) -> None:
    found = scores.threshold_problems([*OTHER_METRICS, *bins_of("frequency", *frequency)])
    assert problem in found, found
    assert scores.threshold_problems([*OTHER_METRICS, *bins_of("frequency", *GOOD_FREQUENCY)]) == []


@pytest.mark.parametrize(
    "values",
    [[3, 1, 3, 2, 3], [5, 5, 5, 5], [1, 2, 3, 4, 5, 6], [2, 2, 1, 1, 7], [4]],
)
@pytest.mark.parametrize("descending", [False, True])
def test_mid_rank_is_the_mean_percent_rank_over_every_order_of_the_ties(
    values: list[int], descending: bool
) -> None:
    """docs/scores.md defines mid_rank as the average of the percent_ranks a user would get
    over every way to break the ties: counted here by brute force over all orders."""
    n = len(values)
    totals = [0.0] * n
    orders = list(permutations(range(n)))
    for tie_break in orders:
        position = sorted(
            range(n), key=lambda i: (-values[i] if descending else values[i], tie_break.index(i))
        )
        for place, i in enumerate(position):
            totals[i] += place / (n - 1) if n > 1 else 0.0
    expected = [total / len(orders) for total in totals]
    assert scores.mid_rank(values, descending) == pytest.approx(expected, abs=1e-12)
    # and percent_rank puts every tie at its lowest position
    assert all(p <= m for p, m in zip(scores.percent_rank(values, descending),
                                      scores.mid_rank(values, descending), strict=True))


def test_a_heavy_tie_under_each_method() -> None:
    """Half of 1,000 users bought once, the others 2..501 times: percent_rank scores all the
    one-time buyers 1 and leaves 2 empty; mid_rank puts them at the middle of their tie,
    (0 + 499 / 2) / 999 = 0.2497...: all score 2, and 1 is empty; the bins score them 1 and
    fill every score."""
    frequency = [1] * 500 + list(range(2, 502))
    bins = bins_of("frequency", *GOOD_FREQUENCY)

    def distribution(method: str) -> Counter[int]:
        return Counter(scores.scores(frequency, "frequency", method, bins=bins))

    assert distribution("percent_rank") == {1: 500, 3: 100, 4: 200, 5: 200}
    assert scores.mid_rank(frequency)[0] == pytest.approx(249.5 / 999)
    assert distribution("mid_rank") == {2: 500, 3: 100, 4: 200, 5: 200}
    assert distribution("thresholds") == {1: 500, 2: 1, 3: 2, 4: 5, 5: 492}


def test_cdnow_one_time_buyers_leave_a_rank_score_empty_and_fill_every_bin() -> None:
    """The CDNOW customers (tests/fixtures/README.md): 1,411 of 2,357 bought once (x = 0 repeat
    purchases, so frequency 1). No rank method can split them; the bins can."""
    with (FIXTURES / "cdnow_customers_summary.csv").open(newline="") as handle:
        frequency = [int(row["x"]) + 1 for row in csv.DictReader(handle)]
    assert len(frequency) == 2357 and frequency.count(1) == 1411
    bins = bins_of("frequency", *GOOD_FREQUENCY)
    by_method = {
        method: Counter(scores.scores(frequency, "frequency", method, bins=bins))
        for method in scores.SCORE_METHODS
    }
    assert set(by_method["percent_rank"]) == {1, 3, 4, 5}
    assert set(by_method["mid_rank"]) == {2, 4, 5}
    assert by_method["thresholds"] == {1: 1411, 2: 439, 3: 314, 4: 159, 5: 34}
