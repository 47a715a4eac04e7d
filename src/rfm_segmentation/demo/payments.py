"""Deterministic demo payments for the RFM project (the warehouses load them: ``warehouses/``).

The generator simulates a customer base with numpy, one calendar month at a time, and streams the
rows in payment-time order, so memory stays bounded by one month of payments:

* **Acquisition** grows over time: arrival instants between ``start`` and ``as_of`` follow a
  truncated exponential density whose rate at ``as_of`` is ``ACQUISITION_GROWTH`` times the rate
  at ``start``. Every customer makes their first payment at their arrival instant. User ids are
  numbered in arrival order (``u000001`` arrived first).
* **Purchase rate**: after arriving, a customer buys as a Poisson process whose rate per month is
  gamma-distributed across customers (shape ``RATE_SHAPE``, mean ``RATE_MEAN_PER_MONTH``): many
  light buyers and a long tail of heavy ones.
* **Churn**: a share ``ONE_TIME_SHARE`` of customers never buys again; the others stop buying
  after an exponential lifetime (mean ``LIFETIME_MEAN_MONTHS``), so many are dormant by
  ``as_of``.
* **Amounts**: each customer has a log-normal typical basket (median ``AMOUNT_MEDIAN``, log-sd
  ``AMOUNT_USER_LOG_SD``); each payment scatters log-normally around it
  (log-sd ``AMOUNT_PAYMENT_LOG_SD``), rounded to cents, at least 0.01.

Timestamps are naive UTC with whole seconds, all strictly before ``as_of``. Payment ids
(``p0000001``...) are numbered in stream order and unique for clean rows.

With ``DemoSpec.dirty_rows`` a fixed plan of dirty rows (see ``DIRTY_KINDS``) is woven into the
stream at deterministic positions, spread over the months of history; each dirty row is modelled
on a clean row of the month it appears in and is inserted right after it.

With ``DemoSpec(behaviour_groups=True)`` users are drawn from the known groups of
``BEHAVIOUR_GROUPS`` instead (their ground truth: ``generate_user_groups``), to check the
clusters. The optional sources ``dim_users`` and ``fact_balances`` come from their own random
streams (``enrichment``), so the payments of a spec do not change.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt

from rfm_segmentation.raw import PaymentRow

__all__ = [
    "ACQUISITION_GROWTH",
    "AMOUNT_MEDIAN",
    "AMOUNT_PAYMENT_LOG_SD",
    "AMOUNT_USER_LOG_SD",
    "DIRTY_KINDS",
    "BEHAVIOUR_GROUPS",
    "DemoSpec",
    "LIFETIME_MEAN_MONTHS",
    "ONE_TIME_SHARE",
    "RATE_MEAN_PER_MONTH",
    "RATE_SHAPE",
    "generate_calendar",
    "generate_payments",
    "generate_user_groups",
]


# --- simulation parameters -------------------------------------------------------------------
ACQUISITION_GROWTH: Final = 4.0
"""New customers per unit of time at ``as_of`` relative to ``start`` (exponential growth)."""
ONE_TIME_SHARE: Final = 0.2
"""Share of customers who never buy again after their first payment."""
LIFETIME_MEAN_MONTHS: Final = 14.0
"""Mean of the exponential buying lifetime of the other customers."""
RATE_SHAPE: Final = 0.7
"""Shape of the gamma distribution of purchase rates (< 1: many light, few heavy buyers)."""
RATE_MEAN_PER_MONTH: Final = 4.0
"""Mean purchase rate per month while a customer is active (on top of the first payment)."""
AMOUNT_MEDIAN: Final = 35.0
"""Median over customers of the typical payment amount."""
AMOUNT_USER_LOG_SD: Final = 0.6
"""Log-sd of customers' typical amount around ``AMOUNT_MEDIAN``."""
AMOUNT_PAYMENT_LOG_SD: Final = 0.4
"""Log-sd of single payments around their customer's typical amount."""

_SECONDS_PER_MONTH: Final = 30.436875 * 86_400.0  # mean Gregorian month
_EPOCH: Final = datetime(1970, 1, 1)
_ONE_SECOND: Final = timedelta(seconds=1)

# Independent random streams, keyed by SeedSequence spawn keys (stream, index).
_STREAM_USERS: Final = 0
_STREAM_PAYMENTS: Final = 1
_STREAM_DIRTY: Final = 2
_STREAM_GROUPS: Final = 3  # behaviour groups (index 0: membership, 1: their parameters)

# --- dirty rows --------------------------------------------------------------------------------
_NULL_PAYMENT_ID: Final = "null_payment_id"
_BLANK_PAYMENT_ID: Final = "blank_payment_id"
_NULL_USER_ID: Final = "null_user_id"
_BLANK_USER_ID: Final = "blank_user_id"
_NULL_PAYMENT_DATE: Final = "null_payment_date"
_NULL_PAYMENT_AMOUNT: Final = "null_payment_amount"
_ZERO_AMOUNT: Final = "zero_amount"
_NEGATIVE_AMOUNT: Final = "negative_amount"
_FUTURE_DATE: Final = "future_date"
_EXACT_DUPLICATE: Final = "exact_duplicate"
_CONFLICT_COPY_WINS: Final = "conflicting_duplicate_copy_wins"
_CONFLICT_ORIGINAL_WINS: Final = "conflicting_duplicate_original_wins"
_PADDED_IDS: Final = "padded_ids"

DIRTY_KINDS: Final[tuple[tuple[str, int], ...]] = (
    (_NULL_PAYMENT_ID, 3),
    (_BLANK_PAYMENT_ID, 3),
    (_NULL_USER_ID, 3),
    (_BLANK_USER_ID, 3),
    (_NULL_PAYMENT_DATE, 3),
    (_NULL_PAYMENT_AMOUNT, 3),
    (_ZERO_AMOUNT, 3),
    (_NEGATIVE_AMOUNT, 3),
    (_FUTURE_DATE, 3),
    (_EXACT_DUPLICATE, 3),
    (_CONFLICT_COPY_WINS, 2),
    (_CONFLICT_ORIGINAL_WINS, 2),
    (_PADDED_IDS, 3),
)
"""(kind, how many) of the dirty rows added when ``DemoSpec.dirty_rows`` is true.

Every kind except ``padded_ids`` adds one extra raw row next to a clean row. ``padded_ids``
instead rewrites a clean row with spaces around its ids; it must still be accepted after
trimming. For ``conflicting_duplicate_copy_wins`` the added row has an earlier date, so the
dbt tie-break keeps it and rejects the original; either way exactly one copy survives.
"""

# Dirty kinds whose added row carries a payment id of its own (taken from the id sequence).
_FRESH_ID_KINDS: Final = frozenset(
    {
        _NULL_USER_ID,
        _BLANK_USER_ID,
        _NULL_PAYMENT_DATE,
        _NULL_PAYMENT_AMOUNT,
        _ZERO_AMOUNT,
        _NEGATIVE_AMOUNT,
        _FUTURE_DATE,
    }
)
_BLANK_PAYMENT_IDS: Final = ("   ", "", " ")
_BLANK_USER_IDS: Final = ("  ", "   ", "")
_ZERO_AMOUNTS: Final = (Decimal("0.00"), Decimal("0"), Decimal("-0.00"))
_MAX_CONFLICT_SHIFT_SECONDS: Final = 3 * 86_400
_MAX_FUTURE_SHIFT_SECONDS: Final = 30 * 86_400
_ROWS_PER_SLICE: Final = 65_536  # rows converted to Python objects at a time

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DemoSpec:
    """What to generate. Same spec, same rows in the same order."""

    n_users: int = 2000
    start: date = date(2023, 1, 1)  # first day customers can arrive
    as_of: datetime = datetime(2025, 1, 15, 12, 0, 0)  # data ends just before; the demo's rfm_as_of
    seed: int = 42
    dirty_rows: bool = True  # add a few dirty rows of every rejection kind
    # Shape of the customer base (defaults: the module constants above). The benchmark's dense
    # shape (subscriptions, savings deposits) raises the rate and lifetime and lowers the share
    # of one-time buyers.
    rate_mean_per_month: float = RATE_MEAN_PER_MONTH
    rate_shape: float = RATE_SHAPE
    lifetime_mean_months: float = LIFETIME_MEAN_MONTHS
    one_time_share: float = ONE_TIME_SHARE
    # Draw every customer from one of the known behaviour groups of ``BEHAVIOUR_GROUPS`` instead
    # of the shape above (the clusters must recover them). Off: payments unchanged.
    behaviour_groups: bool = False

    def __post_init__(self) -> None:
        if self.n_users < 1:
            raise ValueError(f"n_users must be at least 1, got {self.n_users}")
        if self.rate_mean_per_month < 0 or self.rate_shape <= 0 or self.lifetime_mean_months <= 0:
            raise ValueError("rate_mean_per_month must be >= 0, rate_shape and "
                             "lifetime_mean_months > 0")
        if not 0.0 <= self.one_time_share <= 1.0:
            raise ValueError(f"one_time_share must be in [0, 1], got {self.one_time_share}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if self.as_of.tzinfo is not None:
            raise ValueError("as_of must be a naive datetime (UTC)")
        if datetime.combine(self.start, time()) >= self.as_of:
            raise ValueError(f"start {self.start} must be before as_of {self.as_of}")


@dataclass(frozen=True)
class Population:
    arrival: IntArray  # epoch seconds of the first payment, ascending
    churn: IntArray  # epoch seconds after which the customer stops buying (<= end)
    rate: FloatArray  # repeat purchases per month while active
    log_amount: FloatArray  # log of the customer's typical amount
    user_ids: npt.NDArray[np.object_]  # 'u000001'...


@dataclass(frozen=True)
class _Batch:
    users: IntArray
    seconds: IntArray
    cents: IntArray


@dataclass(frozen=True)
class _DirtyItem:
    kind: str
    instance: int  # 0.. within the kind, selects deterministic variants


@dataclass(frozen=True)
class _Ref:
    """A clean row a dirty row is modelled on."""

    payment_id: str
    user_index: int
    user_id: str
    seconds: int
    cents: int


def epoch_seconds_floor(value: datetime) -> int:
    return (value - _EPOCH) // _ONE_SECOND


def epoch_seconds_ceil(value: datetime) -> int:
    return -((_EPOCH - value) // _ONE_SECOND)


def from_epoch_seconds(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def cents_to_decimal(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def random_stream(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, index)))


def _month_windows(start_s: int, end_s: int) -> list[tuple[int, int]]:
    """[lo, hi) epoch-second windows of the calendar months covering [start_s, end_s)."""
    first = from_epoch_seconds(start_s).date().replace(day=1)
    windows: list[tuple[int, int]] = []
    month = first
    while True:
        nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        lo = max(epoch_seconds_floor(datetime.combine(month, time())), start_s)
        hi = min(epoch_seconds_floor(datetime.combine(nxt, time())), end_s)
        if lo >= end_s:
            break
        windows.append((lo, hi))
        month = nxt
    return windows


def population(spec: DemoSpec, start_s: int, end_s: int) -> Population:
    n = spec.n_users
    rng = random_stream(spec.seed, _STREAM_USERS, 0)
    span = end_s - start_s
    # Truncated exponential arrivals by inverse CDF: density ∝ growth ** x on x in [0, 1).
    u = rng.random(n)
    x = np.log1p(u * (ACQUISITION_GROWTH - 1.0)) / math.log(ACQUISITION_GROWTH)
    arrival = np.sort(start_s + np.floor(x * span).astype(np.int64))
    one_time = rng.random(n) < spec.one_time_share
    lifetime = np.floor(rng.exponential(spec.lifetime_mean_months, n) * _SECONDS_PER_MONTH)
    churn = np.where(one_time, arrival, np.minimum(arrival + lifetime.astype(np.int64), end_s))
    rate = rng.gamma(spec.rate_shape, spec.rate_mean_per_month / spec.rate_shape, n)
    log_amount = math.log(AMOUNT_MEDIAN) + AMOUNT_USER_LOG_SD * rng.standard_normal(n)
    user_ids = np.array([f"u{i:06d}" for i in range(1, n + 1)], dtype=object)
    if spec.behaviour_groups:  # independent streams: the default population is untouched
        arrival, group = _group_arrivals(spec, start_s, end_s)
        grng = random_stream(spec.seed, _STREAM_GROUPS, 1)
        params = np.array([g[2:6] for g in BEHAVIOUR_GROUPS], dtype=np.float64)
        rate_mean, lifetime_mean, one_time_p, amount_median = params[group].T
        one_time = grng.random(n) < one_time_p
        lifetime = np.floor(
            (_GROUP_MIN_LIFETIME_MONTHS + grng.exponential(lifetime_mean)) * _SECONDS_PER_MONTH
        )
        churn = np.where(
            one_time, arrival, np.minimum(arrival + lifetime.astype(np.int64), end_s)
        )
        rate = grng.gamma(_GROUP_RATE_SHAPE, rate_mean / _GROUP_RATE_SHAPE)
        log_amount = np.log(amount_median) + _GROUP_AMOUNT_LOG_SD * grng.standard_normal(n)
    return Population(arrival, churn.astype(np.int64), rate, log_amount, user_ids)


def _month_batch(pop: Population, seed: int, index: int, lo: int, hi: int) -> _Batch:
    """Clean payments with lo <= time < hi, sorted by (time, user)."""
    rng = random_stream(seed, _STREAM_PAYMENTS, index)
    first_lo, first_hi = np.searchsorted(pop.arrival, [lo, hi], side="left")
    new_users = np.arange(first_lo, first_hi, dtype=np.int64)
    # Repeat purchases: Poisson process on [max(arrival, lo), min(churn, hi)).
    # Only customers who arrived before hi can be active.
    win_lo = np.maximum(pop.arrival[:first_hi], lo)
    exposure = np.minimum(pop.churn[:first_hi], hi) - win_lo
    active = np.flatnonzero(exposure > 0)
    counts = rng.poisson(pop.rate[active] * (exposure[active] / _SECONDS_PER_MONTH))
    rep_users = np.repeat(active, counts)
    offsets = np.floor(rng.random(rep_users.size) * exposure[rep_users]).astype(np.int64)
    users = np.concatenate([new_users, rep_users])
    seconds = np.concatenate([pop.arrival[first_lo:first_hi], win_lo[rep_users] + offsets])
    log_cents = pop.log_amount[users] + AMOUNT_PAYMENT_LOG_SD * rng.standard_normal(users.size)
    cents = np.maximum(np.rint(np.exp(log_cents) * 100.0), 1.0).astype(np.int64)
    order = np.lexsort((users, seconds))
    return _Batch(users[order], seconds[order], cents[order])


def _dirty_plan(n_batches: int) -> list[list[_DirtyItem]]:
    """Dirty items per month batch: kinds interleaved, instances spread evenly over history."""
    items: list[_DirtyItem] = []
    for instance in range(max(count for _, count in DIRTY_KINDS)):
        items.extend(_DirtyItem(kind, instance) for kind, count in DIRTY_KINDS if instance < count)
    plan: list[list[_DirtyItem]] = [[] for _ in range(n_batches)]
    for i, item in enumerate(items):
        plan[i * n_batches // len(items)].append(item)
    return plan


@dataclass(frozen=True)
class _DirtyContext:
    start_s: int
    end_s: int
    as_of: datetime
    n_users: int
    user_ids: npt.NDArray[np.object_]


def _other_user(ctx: _DirtyContext, ref: _Ref, rng: np.random.Generator) -> str:
    if ctx.n_users == 1:
        return ref.user_id
    other = int(rng.integers(0, ctx.n_users - 1))
    other += other >= ref.user_index
    return str(ctx.user_ids[other])


def _dirty_row(
    item: _DirtyItem,
    ref: _Ref,
    fresh_id: str | None,
    ctx: _DirtyContext,
    rng: np.random.Generator,
) -> PaymentRow:
    """The raw row for a dirty item modelled on ``ref``.

    For ``padded_ids`` it is the replacement of ``ref`` itself; otherwise an additional row.
    """
    kind, j = item.kind, item.instance
    when = from_epoch_seconds(ref.seconds)
    amount = cents_to_decimal(ref.cents)
    if kind == _NULL_PAYMENT_ID:
        return (None, ref.user_id, when, amount)
    if kind == _BLANK_PAYMENT_ID:
        return (_BLANK_PAYMENT_IDS[j % len(_BLANK_PAYMENT_IDS)], ref.user_id, when, amount)
    if kind == _NULL_USER_ID:
        return (fresh_id, None, when, amount)
    if kind == _BLANK_USER_ID:
        return (fresh_id, _BLANK_USER_IDS[j % len(_BLANK_USER_IDS)], when, amount)
    if kind == _NULL_PAYMENT_DATE:
        return (fresh_id, ref.user_id, None, amount)
    if kind == _NULL_PAYMENT_AMOUNT:
        return (fresh_id, ref.user_id, when, None)
    if kind == _ZERO_AMOUNT:
        return (fresh_id, ref.user_id, when, _ZERO_AMOUNTS[j % len(_ZERO_AMOUNTS)])
    if kind == _NEGATIVE_AMOUNT:  # a refund booked as a payment
        return (fresh_id, ref.user_id, when, -amount)
    if kind == _FUTURE_DATE:  # the first one exactly at as_of: the bound is exclusive
        shift = 0 if j == 0 else int(rng.integers(1, _MAX_FUTURE_SHIFT_SECONDS))
        return (fresh_id, ref.user_id, ctx.as_of + timedelta(seconds=shift), amount)
    if kind == _EXACT_DUPLICATE:
        return (ref.payment_id, ref.user_id, when, amount)
    if kind == _CONFLICT_COPY_WINS:  # earlier (and cheaper): the copy is kept, the original not
        shift = int(rng.integers(1, _MAX_CONFLICT_SHIFT_SECONDS))
        seconds = max(ref.seconds - shift, ctx.start_s)
        cents = max(1, ref.cents * int(rng.integers(30, 90)) // 100)
        user = _other_user(ctx, ref, rng)
        return (ref.payment_id, user, from_epoch_seconds(seconds), cents_to_decimal(cents))
    if kind == _CONFLICT_ORIGINAL_WINS:  # later (and dearer), still before as_of
        shift = int(rng.integers(1, _MAX_CONFLICT_SHIFT_SECONDS))
        seconds = min(ref.seconds + shift, ctx.end_s - 1)
        cents = ref.cents + max(1, ref.cents * int(rng.integers(10, 70)) // 100)
        user = _other_user(ctx, ref, rng)
        return (ref.payment_id, user, from_epoch_seconds(seconds), cents_to_decimal(cents))
    if kind == _PADDED_IDS:
        pad_payment, pad_user = ((" ", " "), ("", "  "), ("  ", ""))[j % 3]
        payment_id = f"{pad_payment}{fresh_id or ref.payment_id}{pad_payment}"
        return (payment_id, f"{pad_user}{ref.user_id}{pad_user}", when, amount)
    raise ValueError(f"unknown dirty kind {kind!r}")  # pragma: no cover


def _payment_id(number: int) -> str:
    return f"p{number:07d}"


def _clean_rows(
    batch: _Batch, numbers: IntArray, user_ids: npt.NDArray[np.object_], lo: int, hi: int
) -> Iterator[PaymentRow]:
    """Rows lo..hi-1 of a batch, converted to Python objects a slice at a time."""
    for a in range(lo, hi, _ROWS_PER_SLICE):
        b = min(a + _ROWS_PER_SLICE, hi)
        yield from zip(
            [_payment_id(k) for k in numbers[a:b].tolist()],
            user_ids[batch.users[a:b]].tolist(),
            batch.seconds[a:b].astype("datetime64[s]").astype(object).tolist(),
            [cents_to_decimal(c) for c in batch.cents[a:b].tolist()],
            strict=True,
        )


def _ref(batch: _Batch, numbers: IntArray, user_ids: npt.NDArray[np.object_], pos: int) -> _Ref:
    user = int(batch.users[pos])
    return _Ref(
        _payment_id(int(numbers[pos])),
        user,
        str(user_ids[user]),
        int(batch.seconds[pos]),
        int(batch.cents[pos]),
    )


def _ref_row(ref: _Ref) -> PaymentRow:
    return (
        ref.payment_id,
        ref.user_id,
        from_epoch_seconds(ref.seconds),
        cents_to_decimal(ref.cents),
    )


def generate_payments(spec: DemoSpec) -> Iterator[PaymentRow]:
    """Deterministic for a given spec (same spec -> identical rows in identical order).

    Rows stream month by month in payment-time order: one month is held as numpy arrays and
    converted to Python objects a slice at a time.
    """
    start_s = epoch_seconds_floor(datetime.combine(spec.start, time()))
    end_s = epoch_seconds_ceil(spec.as_of)  # payments at whole seconds < end_s are < as_of
    pop = population(spec, start_s, end_s)
    windows = _month_windows(start_s, end_s)
    plan = _dirty_plan(len(windows)) if spec.dirty_rows else [[] for _ in windows]
    ctx = _DirtyContext(start_s, end_s, spec.as_of, spec.n_users, pop.user_ids)

    next_number = 1
    pending: list[_DirtyItem] = []
    last_ref: _Ref | None = None
    for index, (lo, hi) in enumerate(windows):
        batch = _month_batch(pop, spec.seed, index, lo, hi)
        n = batch.users.size
        due = pending + plan[index]
        take = min(len(due), n)
        items, pending = due[:take], due[take:]

        rng = random_stream(spec.seed, _STREAM_DIRTY, index)
        positions = rng.choice(n, size=take, replace=False) if take else np.empty(0, np.int64)
        fresh_positions = np.sort(
            np.array(
                [
                    p
                    for p, it in zip(positions.tolist(), items, strict=True)
                    if it.kind in _FRESH_ID_KINDS
                ],
                dtype=np.int64,
            )
        )
        # A row's number is shifted by the fresh-id dirty rows inserted before it.
        numbers = (
            next_number
            + np.arange(n, dtype=np.int64)
            + np.searchsorted(fresh_positions, np.arange(n), side="left")
        )
        next_number += n + fresh_positions.size

        prev = 0
        for pos, item in sorted(zip(positions.tolist(), items, strict=True), key=lambda t: t[0]):
            yield from _clean_rows(batch, numbers, pop.user_ids, prev, pos)
            ref = _ref(batch, numbers, pop.user_ids, pos)
            fresh = _payment_id(int(numbers[pos]) + 1) if item.kind in _FRESH_ID_KINDS else None
            row = _dirty_row(item, ref, fresh, ctx, rng)
            if item.kind != _PADDED_IDS:  # padded ids replace the clean row, others follow it
                yield _ref_row(ref)
            yield row
            prev = pos + 1
        yield from _clean_rows(batch, numbers, pop.user_ids, prev, n)
        if n:
            last_ref = _ref(batch, numbers, pop.user_ids, n - 1)

    # Only for tiny specs: items that found no clean row in their month or later all reuse the
    # last clean row, appended at the end (padded ids then come as an extra clean payment).
    if pending and last_ref is not None:
        rng = random_stream(spec.seed, _STREAM_DIRTY, len(windows))
        for item in pending:
            fresh = None
            if item.kind in _FRESH_ID_KINDS or item.kind == _PADDED_IDS:
                fresh = _payment_id(next_number)
                next_number += 1
            yield _dirty_row(item, last_ref, fresh, ctx, rng)


def generate_calendar(start: date, end: date) -> Iterator[tuple[date, date]]:
    """(date_day, date_month) for every day start..end inclusive; date_month = first day of that
    month."""
    day = start
    one_day = timedelta(days=1)
    while day <= end:
        yield day, day.replace(day=1)
        day += one_day


# --- behaviour groups ----------------------------------------------------------------------------
BEHAVIOUR_GROUPS: Final[tuple[tuple[str, float, float, float, float, float, float, float,
                                      float, float], ...]] = (
    # name, share, purchases/month, mean lifetime (months), one-time share, median amount,
    # median AUM, share with a balance, arrival window (fractions of start..as_of)
    ("loyal_high_value", 0.15, 8.0, 1000.0, 0.0, 200.0, 100_000.0, 1.0, 0.0, 0.5),
    ("regular", 0.25, 1.5, 1000.0, 0.0, 30.0, 20_000.0, 1.0, 0.0, 0.8),
    ("lapsed", 0.25, 3.0, 2.0, 0.0, 50.0, 3_000.0, 1.0, 0.0, 0.4),
    ("one_off", 0.20, 0.0, 1.0, 1.0, 10.0, 300.0, 0.0, 0.0, 0.9),
    ("new", 0.15, 4.0, 1000.0, 0.0, 60.0, 10_000.0, 1.0, 0.92, 1.0),
)
"""Known groups of ``DemoSpec(behaviour_groups=True)``: users differ in purchase rate, lifetime,
basket and balances, so that the clusters can be checked against them (adjusted Rand index)."""
_GROUP_MIN_LIFETIME_MONTHS: Final = 2.0  # a repeat buyer stays at least this long
_GROUP_RATE_SHAPE: Final = 6.0  # gamma shape of rates within a group (low dispersion)
_GROUP_AMOUNT_LOG_SD: Final = 0.35


def _group_arrivals(spec: DemoSpec, start_s: int, end_s: int) -> tuple[IntArray, IntArray]:
    """Arrival instants (ascending, so user ids stay in arrival order) and the group of each
    user: groups are drawn first, then an arrival uniform in the group's window."""
    rng = random_stream(spec.seed, _STREAM_GROUPS, 0)
    shares = np.array([g[1] for g in BEHAVIOUR_GROUPS])
    group = rng.choice(len(BEHAVIOUR_GROUPS), size=spec.n_users, p=shares / shares.sum())
    window = np.array([g[8:10] for g in BEHAVIOUR_GROUPS], dtype=np.float64)[group]
    x = window[:, 0] + rng.random(spec.n_users) * (window[:, 1] - window[:, 0])
    arrival = start_s + np.floor(x * (end_s - 1 - start_s)).astype(np.int64)
    order = np.argsort(arrival, kind="stable")
    return arrival[order], group[order].astype(np.int64)


def behaviour_groups(spec: DemoSpec) -> IntArray:
    start_s = epoch_seconds_floor(datetime.combine(spec.start, time()))
    return _group_arrivals(spec, start_s, epoch_seconds_ceil(spec.as_of))[1]


def generate_user_groups(spec: DemoSpec) -> list[tuple[str, str]]:
    """(user_id, behaviour group) of every demo user: the ground truth of a grouped demo."""
    if not spec.behaviour_groups:
        raise ValueError("the demo has behaviour groups only with behaviour_groups=True")
    names = [g[0] for g in BEHAVIOUR_GROUPS]
    return [(f"u{i + 1:06d}", names[g]) for i, g in enumerate(behaviour_groups(spec).tolist())]
