"""Payments whose true purchase process is known: a BG/NBD customer base with Gamma-Gamma
spend, for testing that `rfm ltv` learns something (tests/python/test_ltv.py).

Each customer arrives at a uniform instant between ``start`` and ``as_of`` and pays then; while
alive, they pay as a Poisson process of rate λ ~ Gamma(r, α) per week; after each repeat
payment they drop out with probability p ~ Beta(a, b); each payment's amount is
Gamma(spend_p, ν) with ν ~ Gamma(spend_q, spend_gamma) per customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np

from rfm_segmentation.raw import PaymentRow


@dataclass(frozen=True)
class SimulationSpec:
    n_users: int = 1200
    start: date = date(2022, 1, 1)
    as_of: datetime = datetime(2024, 1, 1)
    r: float = 0.75
    alpha: float = 3.0
    a: float = 1.0
    b: float = 5.0
    spend_p: float = 6.0
    spend_q: float = 4.0
    spend_gamma: float = 20.0
    seed: int = 7


def simulate_payments(spec: SimulationSpec = SimulationSpec()) -> list[PaymentRow]:
    """Clean payment rows, ordered by time (deterministic for a spec)."""
    rng = np.random.default_rng(spec.seed)
    begin = datetime(spec.start.year, spec.start.month, spec.start.day)
    span_weeks = (spec.as_of - begin).total_seconds() / (7 * 86_400)
    events: list[tuple[float, str, float]] = []
    for i in range(spec.n_users):
        user = f"s{i + 1:05d}"
        arrival = rng.uniform(0.0, span_weeks)
        rate = rng.gamma(spec.r, 1.0 / spec.alpha)
        dropout = rng.beta(spec.a, spec.b)
        nu = rng.gamma(spec.spend_q, 1.0 / spec.spend_gamma)
        t = arrival
        while True:
            events.append((t, user, rng.gamma(spec.spend_p, 1.0 / nu)))
            if t != arrival and rng.random() < dropout:
                break
            t += rng.exponential(1.0 / rate) if rate > 0 else np.inf
            if t >= span_weeks:
                break
    events.sort()
    rows: list[PaymentRow] = []
    for n, (weeks, user, amount) in enumerate(events, start=1):
        when = begin + timedelta(seconds=int(weeks * 7 * 86_400))
        cents = max(1, int(round(amount * 100)))
        rows.append((f"sp{n:07d}", user, when, Decimal(cents) / 100))
    return rows
