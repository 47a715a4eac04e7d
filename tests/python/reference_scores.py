"""Plain-Python reference of the scoring methods (docs/scores.md), written from the docs alone,
never from the SQL: ``percent_rank`` (the article's), ``thresholds`` (business bins of the seed
rfm_score_thresholds) and ``mid_rank`` (the tie-fair percentile). Also the rule the seed's bins
must follow (each metric's values covered exactly once)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

METRICS: tuple[str, ...] = ("recency", "frequency", "monetary")
SCORE_METHODS: tuple[str, ...] = ("percent_rank", "thresholds", "mid_rank")
DEFAULT_METHODS: Mapping[str, str] = dict.fromkeys(METRICS, "percent_rank")

THRESHOLDS_SEED = Path(__file__).resolve().parents[2] / "seeds" / "rfm_score_thresholds.csv"


@dataclass(frozen=True)
class ScoreBin:
    """One row of the seed: ``score`` for the values v of ``metric`` with
    ``lower_bound <= v < upper_bound`` (None: open on that side)."""

    metric: str
    score: int
    lower_bound: Decimal | None
    upper_bound: Decimal | None

    def holds(self, value: Any) -> bool:
        return (self.lower_bound is None or value >= self.lower_bound) and (
            self.upper_bound is None or value < self.upper_bound
        )


def load_thresholds(path: Path = THRESHOLDS_SEED) -> list[ScoreBin]:
    """The bins of a seed CSV (metric, score, lower_bound, upper_bound; empty = open)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            ScoreBin(
                row["metric"], int(row["score"]),
                Decimal(row["lower_bound"]) if row["lower_bound"] else None,
                Decimal(row["upper_bound"]) if row["upper_bound"] else None,
            )
            for row in csv.DictReader(handle)
        ]


def threshold_problems(bins: Iterable[ScoreBin]) -> list[str]:
    """What breaks the seed's rule, [] when it holds: per metric, each score 1-5 has one bin,
    and every number falls in exactly one bin. The number of bins holding a value changes only
    at a bound, so probing every bound, a point between each two consecutive bounds and a point
    beyond each end checks every number."""
    bins = list(bins)
    problems: list[str] = []
    for metric in METRICS:
        mine = [b for b in bins if b.metric == metric]
        for score_ in range(1, 6):
            count = sum(1 for b in mine if b.score == score_)
            if count != 1:
                problems.append(f"{metric} score {score_}: {count} bins")
        bounds = sorted({x for b in mine for x in (b.lower_bound, b.upper_bound) if x is not None})
        probes = [*bounds, *((a + b) / 2 for a, b in zip(bounds, bounds[1:], strict=False))]
        probes += [bounds[0] - 1, bounds[-1] + 1] if bounds else [Decimal(0)]
        for value in sorted(probes):
            holders = sorted(b.score for b in mine if b.holds(value))
            if len(holders) != 1:
                problems.append(f"{metric} {value}: in the bins of scores {holders}")
    return problems


def score(percentile: float) -> int:
    """The 1-5 score of a percentile: 5 if >= 0.8, 4 if >= 0.6, 3 if >= 0.4, 2 if >= 0.2, else 1."""
    for threshold, result in ((0.8, 5), (0.6, 4), (0.4, 3), (0.2, 2)):
        if percentile >= threshold:
            return result
    return 1


def percent_rank(values: Sequence[Any], descending: bool = False) -> list[float]:
    """SQL ``percent_rank()`` of each value among ``values``: (users strictly before it in the
    order) / (n - 1); 0.0 for a lone value. Tied values all take the lowest position."""
    n = len(values)
    if n == 1:
        return [0.0]
    return [_before(values, v, descending) / (n - 1) for v in values]


def mid_rank(values: Sequence[Any], descending: bool = False) -> list[float]:
    """The mid-rank percentile of each value: (users strictly before it + (users tied with it,
    itself included, - 1) / 2) / (n - 1); 0.0 for a lone value. It is the mean of the
    percent_ranks the tied users would get if their tie were broken in every possible order:
    a tie sits at the middle of the positions it covers. Float division of the doubled
    integers, as in the SQL."""
    n = len(values)
    if n == 1:
        return [0.0]
    return [
        (2 * _before(values, v, descending) + sum(1 for o in values if o == v) - 1) / (2 * (n - 1))
        for v in values
    ]


def _before(values: Sequence[Any], value: Any, descending: bool) -> int:
    if descending:
        return sum(1 for other in values if other > value)
    return sum(1 for other in values if other < value)


def threshold_score(value: Any, metric: str, bins: Sequence[ScoreBin]) -> int:
    """The score of the one bin of ``metric`` that holds ``value``."""
    holders = [b.score for b in bins if b.metric == metric and b.holds(value)]
    if len(holders) != 1:
        raise ValueError(f"{metric}={value!r} falls in {len(holders)} bins: {holders}")
    return holders[0]


def scores(values: Sequence[Any], metric: str, method: str, descending: bool = False,
           bins: Sequence[ScoreBin] | None = None) -> list[int]:
    """The score of each of one period's values of ``metric`` under ``method``."""
    if method == "percent_rank":
        return [score(p) for p in percent_rank(values, descending)]
    if method == "mid_rank":
        return [score(p) for p in mid_rank(values, descending)]
    if method == "thresholds":
        if bins is None:
            raise ValueError("the thresholds method needs the bins")
        return [threshold_score(v, metric, bins) for v in values]
    raise ValueError(f"unknown scoring method {method!r}, expected one of {SCORE_METHODS}")
