"""The optional sources of the demo: ``dim_users`` (attributes that are not used to segment)
and ``fact_balances`` (assets under management), from random streams of their own so that the
payments of a spec do not change."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from rfm_segmentation.demo.payments import (
    AMOUNT_MEDIAN,
    BEHAVIOUR_GROUPS,
    DemoSpec,
    Population,
    behaviour_groups,
    cents_to_decimal,
    epoch_seconds_ceil,
    epoch_seconds_floor,
    from_epoch_seconds,
    population,
    random_stream,
)
from rfm_segmentation.raw import BalanceRow, UserRow

__all__ = ["AGE_BANDS", "CHANNELS", "COUNTRIES", "generate_balances", "generate_users"]

_STREAM_ENRICHMENT: Final = 4  # dim_users (index 0) and fact_balances (index 1)
_GROUP_AUM_LOG_SD: Final = 0.6

COUNTRIES: Final = ("DE", "FR", "NL", "ES", "IT")
CHANNELS: Final = ("organic", "paid_search", "social", "referral", "partner")
AGE_BANDS: Final = ("18-24", "25-34", "35-44", "45-54", "55+")
# P(channel), P(age band) for high-value and other users: the enrichment attributes over-index
# in the best groups, so that the profiles have something to find. Country is independent.
_CHANNEL_P: Final = {
    "high": (0.25, 0.10, 0.05, 0.45, 0.15),
    "other": (0.35, 0.30, 0.25, 0.05, 0.05),
}
_AGE_P: Final = {"high": (0.02, 0.13, 0.30, 0.35, 0.20), "other": (0.25, 0.35, 0.20, 0.12, 0.08)}
_COUNTRY_P: Final = (0.35, 0.25, 0.15, 0.15, 0.10)


def _is_high_value(spec: DemoSpec, pop: Population) -> npt.NDArray[np.bool_]:
    if spec.behaviour_groups:
        return behaviour_groups(spec) == 0
    value = np.log1p(pop.rate) + pop.log_amount
    return value >= np.quantile(value, 0.75)


def _enrichment_population(spec: DemoSpec) -> tuple[Population, int]:
    start_s = epoch_seconds_floor(datetime.combine(spec.start, time()))
    end_s = epoch_seconds_ceil(spec.as_of)
    return population(spec, start_s, end_s), end_s


def generate_users(spec: DemoSpec) -> list[UserRow]:
    """``dim_users``: attributes that are not used to segment (country, acquisition channel,
    signup date: up to 30 days before the first payment, age band). Channel and age band lean
    towards referral and older bands for the high-value users; country is independent."""
    pop, _end_s = _enrichment_population(spec)
    rng = random_stream(spec.seed, _STREAM_ENRICHMENT, 0)
    high = _is_high_value(spec, pop)
    n = spec.n_users
    country = rng.choice(len(COUNTRIES), size=n, p=_COUNTRY_P)
    channel_high = rng.choice(len(CHANNELS), size=n, p=_CHANNEL_P["high"])
    channel_other = rng.choice(len(CHANNELS), size=n, p=_CHANNEL_P["other"])
    age_high = rng.choice(len(AGE_BANDS), size=n, p=_AGE_P["high"])
    age_other = rng.choice(len(AGE_BANDS), size=n, p=_AGE_P["other"])
    channel = np.where(high, channel_high, channel_other)
    age = np.where(high, age_high, age_other)
    lead_days = rng.integers(0, 31, size=n)
    rows: list[UserRow] = []
    for i in range(n):
        signup = from_epoch_seconds(int(pop.arrival[i])).date() - timedelta(days=int(lead_days[i]))
        rows.append((str(pop.user_ids[i]), COUNTRIES[country[i]], CHANNELS[channel[i]], signup,
                     AGE_BANDS[age[i]]))
    return rows


def generate_balances(spec: DemoSpec) -> list[BalanceRow]:
    """``fact_balances``: one row per user who holds assets (start date between the first
    payment and ``as_of``, assets under management log-normal; larger for bigger spenders, or
    by group with ``behaviour_groups``)."""
    pop, end_s = _enrichment_population(spec)
    rng = random_stream(spec.seed, _STREAM_ENRICHMENT, 1)
    n = spec.n_users
    if spec.behaviour_groups:
        group = behaviour_groups(spec)
        has = rng.random(n) < np.array([g[7] for g in BEHAVIOUR_GROUPS])[group]
        log_aum = np.log(np.array([g[6] for g in BEHAVIOUR_GROUPS])[group])
        log_aum = log_aum + _GROUP_AUM_LOG_SD * rng.standard_normal(n)
    else:
        has = rng.random(n) < 0.6
        log_aum = math.log(3_000.0) + 1.5 * (pop.log_amount - math.log(AMOUNT_MEDIAN))
        log_aum = log_aum + 0.8 * rng.standard_normal(n)
    start = pop.arrival + np.floor(rng.random(n) * np.minimum(end_s - pop.arrival, 60 * 86_400))
    rows: list[BalanceRow] = []
    for i in np.flatnonzero(has).tolist():
        cents = max(1, int(round(math.exp(float(log_aum[i])) * 100.0)))
        rows.append((str(pop.user_ids[i]), from_epoch_seconds(int(start[i])).date(),
                     cents_to_decimal(cents)))
    return rows
