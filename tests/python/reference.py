"""Plain-Python reference implementation of the RFM product contract (/work/shared/SPEC.md).

This module is derived from SPEC.md alone, never from the dbt/SQL implementation, so that tests
can compare the two column by column. It is deliberately naive: for every period it re-filters
all clean payments. That is quadratic and fine for the few thousand payments of a test fixture;
obvious correctness matters more here than speed.

All timestamps are naive datetimes in UTC, as ``fact_payments.payment_date`` is
("timestamp (UTC, no tz)").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import reference_scores

__all__ = [
    "GRAINS",
    "REJECTION_REASONS",
    "SEGMENT_MATRIX",
    "CleanPayment",
    "RawPayment",
    "compute_history",
    "current_segments",
    "expected_periods",
    "period_start",
    "score",
    "screen_payments",
]

GRAINS: tuple[str, ...] = ("month", "week")
"""SPEC "Run parameters": `rfm_grain` is `month` or `week` (ISO week, starting Monday)."""

REJECTION_REASONS: tuple[str, ...] = (
    "missing_payment_id",
    "missing_user_id",
    "missing_payment_date",
    "missing_payment_amount",
    "non_positive_amount",
    "after_as_of",
    "duplicate_payment_id",
)
"""SPEC "Cleaning (staging)": the rejection reasons, in the order in which they are tried."""

SEGMENT_MATRIX: dict[tuple[int, int], str] = {
    # r = 1
    (1, 1): "Hibernating",
    (1, 2): "Hibernating",
    (1, 3): "At Risk",
    (1, 4): "At Risk",
    (1, 5): "Cannot Lose Them",
    # r = 2
    (2, 1): "Hibernating",
    (2, 2): "Hibernating",
    (2, 3): "At Risk",
    (2, 4): "At Risk",
    (2, 5): "Cannot Lose Them",
    # r = 3
    (3, 1): "About to Sleep",
    (3, 2): "About to Sleep",
    (3, 3): "Need Attention",
    (3, 4): "Loyal Customers",
    (3, 5): "Loyal Customers",
    # r = 4
    (4, 1): "Promising",
    (4, 2): "Potential Loyalists",
    (4, 3): "Potential Loyalists",
    (4, 4): "Loyal Customers",
    (4, 5): "Loyal Customers",
    # r = 5
    (5, 1): "New Customers",
    (5, 2): "Potential Loyalists",
    (5, 3): "Potential Loyalists",
    (5, 4): "Champions",
    (5, 5): "Champions",
}
"""SPEC segment table: (recency_score r, frequency_score f) -> rfm_segment, typed in by cell."""

HISTORY_COLUMNS: tuple[str, ...] = (
    "snapshot_period",
    "snapshot_at",
    "is_period_closed",
    "user_id",
    "first_payment_at",
    "last_payment_at",
    "recency_days",
    "frequency",
    "monetary",
    "recency_percentile",
    "frequency_percentile",
    "monetary_percentile",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_segment",
    "previous_segment",
    "segment_since",
)
"""SPEC "Public tables": the columns of one `rfm_segments_history` row (the keys of each dict)."""


@dataclass(frozen=True)
class RawPayment:
    """One row of the source `fact_payments` (SPEC "Inputs"); every field may be null."""

    payment_id: str | None
    user_id: str | None
    payment_date: datetime | None  # naive UTC
    payment_amount: Decimal | None


@dataclass(frozen=True)
class CleanPayment:
    """A raw payment that passed every rule of SPEC "Cleaning (staging)"; ids are trimmed."""

    payment_id: str  # trimmed
    user_id: str  # trimmed
    payment_date: datetime
    payment_amount: Decimal


# --------------------------------------------------------------------------------------------
# Cleaning
# --------------------------------------------------------------------------------------------


def _trim(value: str | None) -> str | None:
    """SPEC "Ids are trimmed text".

    Only the ASCII space ' ' is stripped, on both ends, because that is what SQL ``trim(x)``
    does by default (PostgreSQL ``btrim(x)`` removes spaces only). Python's bare ``str.strip()``
    would also remove tabs and newlines and so disagree with the SQL side.
    """
    if value is None:
        return None
    return value.strip(" ")


def _is_blank(value: str | None) -> bool:
    """SPEC rules 1 and 2: "null or blank after trimming" (blank = empty after trimming)."""
    trimmed = _trim(value)
    return trimmed is None or trimmed == ""


def _first_failed_rule(row: RawPayment, as_of: datetime) -> str | None:
    """SPEC "Cleaning" rules 1-6, tried in order; returns the first reason that applies."""
    if _is_blank(row.payment_id):
        return "missing_payment_id"
    if _is_blank(row.user_id):
        return "missing_user_id"
    if row.payment_date is None:
        return "missing_payment_date"
    if row.payment_amount is None:
        return "missing_payment_amount"
    if row.payment_amount <= 0:
        return "non_positive_amount"
    if row.payment_date >= as_of:
        return "after_as_of"
    return None


def _dedup_key(row: RawPayment) -> tuple[datetime, Decimal, str]:
    """SPEC rule 7 ordering: earliest payment_date, then smallest amount, then smallest user_id.

    user_id is compared as a Python ``str`` (Unicode code point order, which for UTF-8 text is
    the same as byte order). The SQL side must sort in a collation that agrees, i.e. byte order
    (``COLLATE "C"``); a linguistic collation (en_US) could pick a different row.
    Only called on rows that passed rules 1-6, so no field is null.
    """
    assert row.payment_date is not None
    assert row.payment_amount is not None
    user_id = _trim(row.user_id)
    assert user_id is not None
    return (row.payment_date, row.payment_amount, user_id)


def screen_payments(
    raw: list[RawPayment], as_of: datetime
) -> tuple[list[CleanPayment], list[tuple[RawPayment, str]]]:
    """Split raw payments into clean payments and (raw row, rejection_reason) pairs.

    SPEC "Cleaning (staging)": every raw row ends in exactly one of the two lists, with the
    first reason that applies, in the order of ``REJECTION_REASONS``. Rule 7: among the rows
    that passed rules 1-6 and share a (trimmed) payment_id, the one with the earliest
    payment_date, then the smallest amount, then the smallest (trimmed) user_id is kept; every
    other one is rejected as ``duplicate_payment_id``. Rows that tie on all three keys: exactly
    one is kept (the first in input order) and the rest are rejected.

    Both output lists keep the input order. Invariant: ``len(raw) == len(clean) + len(rejected)``.
    """
    reason_by_index: dict[int, str] = {}
    candidates_by_id: dict[str, list[int]] = defaultdict(list)

    for index, row in enumerate(raw):
        reason = _first_failed_rule(row, as_of)
        if reason is not None:
            reason_by_index[index] = reason
            continue
        payment_id = _trim(row.payment_id)
        assert payment_id is not None
        candidates_by_id[payment_id].append(index)

    for indexes in candidates_by_id.values():
        # min() returns the first of equal keys, so full ties keep the earliest input row.
        keeper = min(indexes, key=lambda i: _dedup_key(raw[i]))
        for index in indexes:
            if index != keeper:
                reason_by_index[index] = "duplicate_payment_id"

    clean: list[CleanPayment] = []
    rejected: list[tuple[RawPayment, str]] = []
    for index, row in enumerate(raw):
        if index in reason_by_index:
            rejected.append((row, reason_by_index[index]))
            continue
        payment_id = _trim(row.payment_id)
        user_id = _trim(row.user_id)
        assert payment_id is not None and user_id is not None
        assert row.payment_date is not None and row.payment_amount is not None
        clean.append(
            CleanPayment(
                payment_id=payment_id,
                user_id=user_id,
                payment_date=row.payment_date,
                payment_amount=row.payment_amount,
            )
        )
    return clean, rejected


def staged_rows(
    raw: list[RawPayment], as_of: datetime
) -> list[tuple[str | None, str | None, datetime | None, Decimal | None, str | None]]:
    """What `stg_billing__payments` holds: every raw row, ids trimmed, with its rejection
    reason (None for a clean payment), as (payment_id, user_id, payment_date, payment_amount,
    rejection_reason), clean rows first, each list in input order."""
    clean, rejected = screen_payments(raw, as_of)
    return [
        (c.payment_id, c.user_id, c.payment_date, c.payment_amount, None) for c in clean
    ] + [
        (_trim(r.payment_id), _trim(r.user_id), r.payment_date, r.payment_amount, reason)
        for r, reason in rejected
    ]


# --------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------


def _check_grain(grain: str) -> None:
    """SPEC "Run parameters": `rfm_grain` is `month` or `week`; anything else is an error."""
    if grain not in GRAINS:
        raise ValueError(f"rfm_grain must be one of {GRAINS}, got {grain!r}")


def period_start(ts: datetime | date, grain: str) -> date:
    """First day of the period containing ``ts``.

    SPEC "Run parameters": ``month`` -> the first day of the month; ``week`` -> the ISO week,
    starting Monday. A ``datetime`` is reduced to its calendar date first.
    """
    _check_grain(grain)
    day = ts.date() if isinstance(ts, datetime) else ts
    if grain == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())  # weekday(): Monday == 0


def _shift_period(start: date, grain: str, periods: int) -> date:
    """The start of the period ``periods`` periods after (negative: before) period ``start``."""
    _check_grain(grain)
    if grain == "week":
        return start + timedelta(weeks=periods)
    month_index = start.year * 12 + (start.month - 1) + periods
    return date(month_index // 12, month_index % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    """A period start as a timestamp (midnight UTC of that day)."""
    return datetime.combine(day, time())


def expected_periods(first_payment: datetime, as_of: datetime, grain: str) -> list[date]:
    """Every period from the first clean payment's period to the period containing as_of.

    SPEC "Snapshots": every period ``p`` from the period of the first clean payment up to and
    including the period that contains ``rfm_as_of``, restricted to periods with
    ``period_start < rfm_as_of``. (So when as_of is exactly a period start, that period is not
    included; the previous one is then the last, and it is closed.)
    """
    periods: list[date] = []
    current = period_start(first_payment, grain)
    last = period_start(as_of, grain)
    while current <= last and _midnight(current) < as_of:
        periods.append(current)
        current = _shift_period(current, grain, 1)
    return periods


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------


def score(percentile: float) -> int:
    """SPEC `*_score`: 5 if percentile >= 0.8, 4 if >= 0.6, 3 if >= 0.4, 2 if >= 0.2, else 1."""
    if percentile >= 0.8:
        return 5
    if percentile >= 0.6:
        return 4
    if percentile >= 0.4:
        return 3
    if percentile >= 0.2:
        return 2
    return 1


def _percent_rank(values: list[Any], descending: bool = False) -> list[float]:
    """SQL ``percent_rank()`` over one partition, one result per input value (same order).

    ``percent_rank = (rank - 1) / (n - 1)``, and 0.0 when the partition has a single row, where
    ``rank`` is SQL ``rank()``: 1 + the number of rows strictly before this one in the sort
    order, so tied rows share the lowest rank. Computed as float division, like PostgreSQL's
    double precision result.
    """
    n = len(values)
    if n == 1:
        return [0.0]
    result: list[float] = []
    for value in values:
        if descending:
            ahead = sum(1 for other in values if other > value)
        else:
            ahead = sum(1 for other in values if other < value)
        rank = ahead + 1
        result.append((rank - 1) / (n - 1))
    return result


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


def compute_history(
    clean: list[CleanPayment],
    as_of: datetime,
    grain: str = "month",
    window_periods: int | None = None,
    score_methods: Mapping[str, str] | None = None,
    thresholds: Sequence[reference_scores.ScoreBin] | None = None,
) -> list[dict[str, Any]]:
    """The full `rfm_segments_history`: one dict per (snapshot_period, user_id).

    SPEC "Snapshots" and the per-(period, user) column table, literally:

    - periods: ``expected_periods(first clean payment, as_of, grain)``;
    - ``snapshot_at``: the next period's start if that is ``<= as_of`` (closed period), else
      ``as_of`` (the open period, ``is_period_closed = False``);
    - users: everyone with a clean payment before ``snapshot_at`` (a user appears in every
      period from the one of their first clean payment onwards);
    - ``first_payment_at`` / ``last_payment_at``: over all clean payments before
      ``snapshot_at``, never windowed;
    - counted payments: clean payments with ``payment_date < snapshot_at`` and, with a window W,
      ``payment_date >= start of period p-(W-1)``; ``frequency`` is their count (0 possible),
      ``monetary`` their sum (``Decimal(0)`` when none);
    - ``recency_days``: ``date(snapshot_at) - date(last_payment_at)`` in whole days;
    - percentiles: ``percent_rank()`` within the period, recency by recency_days DESC,
      frequency and monetary ASC; scores by each metric's method of ``score_methods``
      (``reference_scores.scores``; default ``percent_rank``, i.e. ``score`` of the
      percentile; ``thresholds`` reads the bins ``thresholds``); segment via
      ``SEGMENT_MATRIX[(r, f)]``;
    - ``previous_segment``: the user's segment in the previous period (None in their first);
    - ``segment_since``: first period of the user's current unbroken run in ``rfm_segment``.

    The keys of every dict are ``HISTORY_COLUMNS``. Rows are sorted by (snapshot_period,
    user_id). No clean payments -> no periods -> an empty list.
    """
    _check_grain(grain)
    if window_periods is not None and window_periods < 1:
        raise ValueError(f"rfm_window_periods must be >= 1, got {window_periods!r}")
    methods = {**reference_scores.DEFAULT_METHODS, **(score_methods or {})}
    if not clean:
        return []

    first_payment = min(p.payment_date for p in clean)
    rows: list[dict[str, Any]] = []
    # user_id -> (segment in the previous period, segment_since of that row)
    last_state: dict[str, tuple[str, date]] = {}

    for period in expected_periods(first_payment, as_of, grain):
        next_start = _midnight(_shift_period(period, grain, 1))
        is_closed = next_start <= as_of
        snapshot_at = next_start if is_closed else as_of
        if window_periods is None:
            window_start: datetime | None = None
        else:
            window_start = _midnight(_shift_period(period, grain, -(window_periods - 1)))

        before_snapshot = [p for p in clean if p.payment_date < snapshot_at]
        user_ids = sorted({p.user_id for p in before_snapshot})

        period_rows: list[dict[str, Any]] = []
        for user_id in user_ids:
            history = [p for p in before_snapshot if p.user_id == user_id]
            counted = [p for p in history if window_start is None or p.payment_date >= window_start]
            first_payment_at = min(p.payment_date for p in history)
            last_payment_at = max(p.payment_date for p in history)
            period_rows.append(
                {
                    "snapshot_period": period,
                    "snapshot_at": snapshot_at,
                    "is_period_closed": is_closed,
                    "user_id": user_id,
                    "first_payment_at": first_payment_at,
                    "last_payment_at": last_payment_at,
                    "recency_days": (snapshot_at.date() - last_payment_at.date()).days,
                    "frequency": len(counted),
                    "monetary": sum((p.payment_amount for p in counted), Decimal(0)),
                }
            )

        recency_pct = _percent_rank([r["recency_days"] for r in period_rows], descending=True)
        frequency_pct = _percent_rank([r["frequency"] for r in period_rows])
        monetary_pct = _percent_rank([r["monetary"] for r in period_rows])
        period_scores = {
            metric: reference_scores.scores(
                [r[column] for r in period_rows], metric, methods[metric],
                descending=metric == "recency", bins=thresholds,
            )
            for metric, column in (("recency", "recency_days"), ("frequency", "frequency"),
                                   ("monetary", "monetary"))
        }

        for row, r_pct, f_pct, m_pct, recency_score, frequency_score, monetary_score in zip(
            period_rows, recency_pct, frequency_pct, monetary_pct, *period_scores.values(),
            strict=True,
        ):
            segment = SEGMENT_MATRIX[(recency_score, frequency_score)]
            previous = last_state.get(row["user_id"])
            previous_segment = previous[0] if previous is not None else None
            if previous is not None and previous[0] == segment:
                segment_since = previous[1]
            else:
                segment_since = period
            last_state[row["user_id"]] = (segment, segment_since)
            row.update(
                {
                    "recency_percentile": r_pct,
                    "frequency_percentile": f_pct,
                    "monetary_percentile": m_pct,
                    "recency_score": recency_score,
                    "frequency_score": frequency_score,
                    "monetary_score": monetary_score,
                    "rfm_segment": segment,
                    "previous_segment": previous_segment,
                    "segment_since": segment_since,
                }
            )
            rows.append({column: row[column] for column in HISTORY_COLUMNS})

    rows.sort(key=lambda r: (r["snapshot_period"], r["user_id"]))
    return rows


def current_segments(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SPEC `rfm_segments_current`: the rows of the latest period of the history.

    One row per user, same columns, in the order of ``history``; empty history -> [].
    """
    if not history:
        return []
    latest = max(row["snapshot_period"] for row in history)
    return [row for row in history if row["snapshot_period"] == latest]
