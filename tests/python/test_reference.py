"""Tests of the plain-Python reference (tests/python/reference.py) against SPEC.md.

Every expected value below is worked out by hand from SPEC.md; the arithmetic is in the comments.
These tests need no database.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import product
from typing import Any

import pytest

from reference import (
    REJECTION_REASONS,
    SEGMENT_MATRIX,
    CleanPayment,
    RawPayment,
    compute_history,
    current_segments,
    expected_periods,
    period_start,
    score,
    screen_payments,
)

D = Decimal
AS_OF = datetime(2024, 3, 15, 12, 0)
OK_DATE = datetime(2024, 3, 1, 9, 30)
TEN = D("10")


def raw(
    payment_id: str | None = "p",
    user_id: str | None = "u",
    payment_date: datetime | None = OK_DATE,
    payment_amount: Decimal | None = TEN,
) -> RawPayment:
    return RawPayment(payment_id, user_id, payment_date, payment_amount)


def reasons(rows: list[RawPayment], as_of: datetime = AS_OF) -> list[str | None]:
    """The rejection reason of every row in input order (None = clean)."""
    clean, rejected = screen_payments(rows, as_of)
    assert len(rows) == len(clean) + len(rejected)
    by_identity = {id(row): reason for row, reason in rejected}
    return [by_identity.get(id(row)) for row in rows]


def pay(user_id: str, when: datetime, amount: str = "10") -> CleanPayment:
    """A clean payment with a payment_id made unique from the user and the timestamp."""
    return CleanPayment(f"{user_id}@{when.isoformat()}", user_id, when, D(amount))


def rows_of(history: list[dict[str, Any]], period: date) -> dict[str, dict[str, Any]]:
    return {r["user_id"]: r for r in history if r["snapshot_period"] == period}


# ---------------------------------------------------------------------------------------------
# Cleaning
# ---------------------------------------------------------------------------------------------


def test_rejection_reasons_in_spec_order() -> None:
    assert REJECTION_REASONS == (
        "missing_payment_id",
        "missing_user_id",
        "missing_payment_date",
        "missing_payment_amount",
        "non_positive_amount",
        "after_as_of",
        "duplicate_payment_id",
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (raw(payment_id=None), "missing_payment_id"),
        (raw(payment_id=""), "missing_payment_id"),
        (raw(payment_id="   "), "missing_payment_id"),  # blank after trimming
        (raw(user_id=None), "missing_user_id"),
        (raw(user_id="  "), "missing_user_id"),
        (raw(payment_date=None), "missing_payment_date"),
        (raw(payment_amount=None), "missing_payment_amount"),
        (raw(payment_amount=D("0")), "non_positive_amount"),  # 0 <= 0
        (raw(payment_amount=D("-0.01")), "non_positive_amount"),
        (raw(payment_date=AS_OF), "after_as_of"),  # payment_date >= as_of, equality included
        (raw(payment_date=datetime(2024, 3, 16)), "after_as_of"),
        (raw(payment_date=datetime(2024, 3, 15, 11, 59, 59)), None),  # 1 s before as_of: clean
        (raw(payment_amount=D("0.01")), None),
    ],
)
def test_each_rejection_reason(row: RawPayment, reason: str | None) -> None:
    assert reasons([row]) == [reason]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        # rule 1 beats rule 5: blank payment id AND non-positive amount
        (raw(payment_id=" ", payment_amount=D("-5")), "missing_payment_id"),
        # rule 1 beats everything else too
        (
            raw(payment_id=None, user_id=None, payment_date=None, payment_amount=None),
            "missing_payment_id",
        ),
        # rule 2 beats rule 3
        (raw(user_id=None, payment_date=None), "missing_user_id"),
        # rule 3 beats rule 4
        (raw(payment_date=None, payment_amount=None), "missing_payment_date"),
        # rule 4 beats rule 6
        (raw(payment_date=AS_OF, payment_amount=None), "missing_payment_amount"),
        # rule 5 beats rule 6
        (raw(payment_date=AS_OF, payment_amount=D("0")), "non_positive_amount"),
    ],
)
def test_rejection_precedence(row: RawPayment, reason: str) -> None:
    assert reasons([row]) == [reason]


def test_rows_failing_rules_1_to_6_do_not_take_part_in_deduplication() -> None:
    # Same payment_id "d" three times. The earliest (Jan 1) has amount -1 -> rule 5; the
    # next one is after as_of -> rule 6. Only the Mar 2 row passed 1-6, so it is kept
    # (it is not a duplicate of rows that were rejected earlier).
    rows = [
        raw("d", "u", datetime(2024, 1, 1), D("-1")),
        raw("d", "u", datetime(2024, 3, 20), D("5")),
        raw("d", "u", datetime(2024, 3, 2), D("5")),
    ]
    assert reasons(rows) == ["non_positive_amount", "after_as_of", None]


def test_ids_are_trimmed_of_spaces_only() -> None:
    rows = [raw("  p1 ", "  u1  "), raw(" p2\t", "u2")]
    clean, rejected = screen_payments(rows, AS_OF)
    assert rejected == []
    # Only ' ' is trimmed (like SQL trim()); the tab stays part of the id.
    assert [(c.payment_id, c.user_id) for c in clean] == [("p1", "u1"), ("p2\t", "u2")]
    assert clean[0] == CleanPayment("p1", "u1", OK_DATE, D("10"))


def test_duplicate_tie_break_by_date_then_amount_then_user_id() -> None:
    rows = [
        # payment "a": Mar 2 vs Mar 1 -> earliest date (Mar 1) kept, even with a bigger amount
        raw("a", "u1", datetime(2024, 3, 2), D("1")),
        raw("a", "u1", datetime(2024, 3, 1), D("99")),
        # payment "b": same date, amounts 5 vs 3 -> smallest amount (3) kept, even though its
        # user_id "z" is larger
        raw("b", "a", datetime(2024, 3, 1), D("5")),
        raw("b", "z", datetime(2024, 3, 1), D("3")),
        # payment "c": same date and amount -> smallest user_id as text: "u10" < "u2"
        # (character '1' < '2'), so "u10" is kept
        raw("c", "u2", datetime(2024, 3, 1), D("3")),
        raw("c", "u10", datetime(2024, 3, 1), D("3")),
        # payment "e": ids that are equal after trimming are duplicates; user " u0" trims to
        # "u0" < "u1", so the second row is kept
        raw(" e", "u1", datetime(2024, 3, 1), D("3")),
        raw("e ", " u0", datetime(2024, 3, 1), D("3")),
    ]
    dup = "duplicate_payment_id"
    assert reasons(rows) == [dup, None, dup, None, dup, None, dup, None]


def test_full_ties_keep_exactly_one() -> None:
    same = raw("t", "u", datetime(2024, 3, 1), D("7"))
    rows = [same, raw("t", "u", datetime(2024, 3, 1), D("7.00")), same]
    clean, rejected = screen_payments(rows, AS_OF)
    # 3 rows, equal on (date, amount 7 = 7.00, user) -> 1 clean + 2 duplicates
    assert len(clean) == 1
    assert [reason for _, reason in rejected] == ["duplicate_payment_id"] * 2
    assert clean[0].payment_id == "t"


def test_invariant_raw_equals_clean_plus_rejected() -> None:
    rows = [
        raw(None),
        raw("x", None),
        raw("x", "u", None),
        raw("x", "u", OK_DATE, None),
        raw("x", "u", OK_DATE, D("0")),
        raw("x", "u", AS_OF),
        raw("x", "u", OK_DATE),  # kept
        raw("x", "u", OK_DATE),  # duplicate of the previous row
        raw("y", "u", OK_DATE),  # kept
    ]
    clean, rejected = screen_payments(rows, AS_OF)
    assert len(rows) == len(clean) + len(rejected) == 9
    assert len(clean) == 2
    # every reason used exactly once, in SPEC order (rows were built in that order)
    assert [reason for _, reason in rejected] == list(REJECTION_REASONS)
    # every raw row is in exactly one list
    ids = [id(c) for c in rows]
    rejected_ids = [id(r) for r, _ in rejected]
    assert len(set(rejected_ids)) == len(rejected_ids)
    assert set(rejected_ids) <= set(ids)


# ---------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------


def test_period_start_month_and_iso_week() -> None:
    assert period_start(datetime(2024, 2, 29, 23, 59), "month") == date(2024, 2, 1)
    assert period_start(date(2024, 1, 1), "month") == date(2024, 1, 1)
    # 2024-01-03 is a Wednesday; its ISO week starts Monday 2024-01-01
    assert period_start(date(2024, 1, 3), "week") == date(2024, 1, 1)
    # Sunday 2024-01-07 23:59 still belongs to the week of Monday 2024-01-01
    assert period_start(datetime(2024, 1, 7, 23, 59), "week") == date(2024, 1, 1)
    assert period_start(datetime(2024, 1, 8), "week") == date(2024, 1, 8)  # a Monday
    # Friday 2021-01-01 is in ISO week 2020-W53, which starts Monday 2020-12-28
    assert period_start(date(2021, 1, 1), "week") == date(2020, 12, 28)


def test_unknown_grain_is_an_error() -> None:
    with pytest.raises(ValueError):
        period_start(date(2024, 1, 1), "day")
    with pytest.raises(ValueError):
        compute_history([pay("u", datetime(2024, 1, 1))], AS_OF, grain="quarter")


def test_expected_periods() -> None:
    # as_of in the middle of March -> Jan, Feb, Mar (Mar 1 < as_of)
    assert expected_periods(datetime(2024, 1, 31), AS_OF, "month") == [
        date(2024, 1, 1),
        date(2024, 2, 1),
        date(2024, 3, 1),
    ]
    # as_of exactly at Mar 1 00:00 -> March's period_start is not < as_of: Jan, Feb only
    assert expected_periods(datetime(2024, 1, 31), datetime(2024, 3, 1), "month") == [
        date(2024, 1, 1),
        date(2024, 2, 1),
    ]
    # across a year boundary
    assert expected_periods(datetime(2023, 12, 5), datetime(2024, 1, 1, 0, 0, 1), "month") == [
        date(2023, 12, 1),
        date(2024, 1, 1),
    ]
    # weeks: Wed 2024-01-03 .. Wed 2024-01-17 -> Mondays Jan 1, 8, 15
    assert expected_periods(datetime(2024, 1, 3), datetime(2024, 1, 17), "week") == [
        date(2024, 1, 1),
        date(2024, 1, 8),
        date(2024, 1, 15),
    ]


# ---------------------------------------------------------------------------------------------
# Scores and segments
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percentile", "expected"),
    [
        (0.0, 1),
        (0.1999, 1),
        (0.2, 2),
        (0.3999, 2),
        (0.4, 3),
        (0.5999, 3),
        (0.6, 4),
        (0.7999, 4),
        (0.8, 5),
        (1.0, 5),
    ],
)
def test_score_thresholds(percentile: float, expected: int) -> None:
    assert score(percentile) == expected


def test_every_r_f_pair_maps_to_exactly_one_segment() -> None:
    assert set(SEGMENT_MATRIX) == set(product(range(1, 6), range(1, 6)))
    assert len(SEGMENT_MATRIX) == 25
    assert set(SEGMENT_MATRIX.values()) == {
        "Hibernating",
        "At Risk",
        "Cannot Lose Them",
        "About to Sleep",
        "Need Attention",
        "Loyal Customers",
        "Promising",
        "Potential Loyalists",
        "New Customers",
        "Champions",
    }
    # spot checks of the table's corners and special cells
    assert SEGMENT_MATRIX[(1, 1)] == "Hibernating"
    assert SEGMENT_MATRIX[(1, 5)] == "Cannot Lose Them"
    assert SEGMENT_MATRIX[(5, 1)] == "New Customers"
    assert SEGMENT_MATRIX[(5, 5)] == "Champions"
    assert SEGMENT_MATRIX[(3, 3)] == "Need Attention"
    assert SEGMENT_MATRIX[(4, 1)] == "Promising"
    assert SEGMENT_MATRIX[(2, 3)] == "At Risk"


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------


def test_percentiles_land_exactly_on_thresholds() -> None:
    # User u<k> (k = 1..6) pays k times 10.00 in January 2024, the last on Jan (25 + k).
    # as_of = Feb 1 00:00 -> periods: Jan only (Feb start is not < as_of); Jan is closed,
    # snapshot_at = Feb 1 00:00.
    payments = [
        pay(f"u{k}", datetime(2024, 1, 25 + k - j, 10), "10.00")
        for k in range(1, 7)
        for j in range(k)
    ]
    as_of = datetime(2024, 2, 1)
    history = compute_history(payments, as_of)
    assert [r["user_id"] for r in history] == ["u1", "u2", "u3", "u4", "u5", "u6"]
    # recency_days = Feb 1 - Jan (25+k) = 7 - k -> 6,5,4,3,2,1 ; DESC ranks 1..6
    # frequency = k -> 1..6 ; ASC ranks 1..6 ; monetary = 10k -> ASC ranks 1..6
    # percent_rank = (rank-1)/5 -> 0, .2, .4, .6, .8, 1.0 -> scores 1,2,3,4,5,5
    pct = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    scores = [1, 2, 3, 4, 5, 5]
    # (r, f): (1,1),(2,2) Hibernating; (3,3) Need Attention; (4,4) Loyal; (5,5) Champions
    segments = [
        "Hibernating",
        "Hibernating",
        "Need Attention",
        "Loyal Customers",
        "Champions",
        "Champions",
    ]
    for k, row in enumerate(history, start=1):
        assert row["snapshot_period"] == date(2024, 1, 1)
        assert row["snapshot_at"] == datetime(2024, 2, 1)
        assert row["is_period_closed"] is True
        assert row["recency_days"] == 7 - k
        assert row["frequency"] == k
        assert row["monetary"] == D(10 * k)
        assert row["first_payment_at"] == datetime(2024, 1, 26, 10)  # 25 + k - (k - 1)
        assert row["last_payment_at"] == datetime(2024, 1, 25 + k, 10)
        for column in ("recency", "frequency", "monetary"):
            assert row[f"{column}_percentile"] == pct[k - 1]
            assert row[f"{column}_score"] == scores[k - 1]
        assert row["rfm_segment"] == segments[k - 1]
        assert row["previous_segment"] is None
        assert row["segment_since"] == date(2024, 1, 1)
    assert set(history[0]) == {
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
    }


def test_ties_share_the_lowest_rank() -> None:
    # One closed period (Jan 2024, snapshot_at Feb 1 00:00), 4 users:
    #   a: Jan 22               -> recency 10, frequency 1, monetary 5
    #   b: Jan 10, Jan 22       -> recency 10, frequency 2, monetary 10
    #   c: Jan 11, Jan 29       -> recency  3, frequency 2, monetary 10
    #   d: Jan 1, Jan 2, Jan 29 -> recency  3, frequency 3, monetary 15
    payments = [
        pay("a", datetime(2024, 1, 22), "5"),
        pay("b", datetime(2024, 1, 10), "5"),
        pay("b", datetime(2024, 1, 22), "5"),
        pay("c", datetime(2024, 1, 11), "5"),
        pay("c", datetime(2024, 1, 29), "5"),
        pay("d", datetime(2024, 1, 1), "5"),
        pay("d", datetime(2024, 1, 2), "5"),
        pay("d", datetime(2024, 1, 29), "5"),
    ]
    rows = rows_of(compute_history(payments, datetime(2024, 2, 1)), date(2024, 1, 1))
    # recency DESC: 10,10 rank 1; 3,3 rank 3 -> (1-1)/3 = 0, (3-1)/3 = 0.666.. -> scores 1,1,4,4
    assert [rows[u]["recency_percentile"] for u in "abcd"] == [0.0, 0.0, 2 / 3, 2 / 3]
    assert [rows[u]["recency_score"] for u in "abcd"] == [1, 1, 4, 4]
    # frequency ASC: 1 rank 1; 2,2 rank 2; 3 rank 4 -> 0, 1/3, 1/3, 1 -> scores 1,2,2,5
    assert [rows[u]["frequency_percentile"] for u in "abcd"] == [0.0, 1 / 3, 1 / 3, 1.0]
    assert [rows[u]["frequency_score"] for u in "abcd"] == [1, 2, 2, 5]
    # monetary 5,10,10,15 -> same ranks as frequency
    assert [rows[u]["monetary_score"] for u in "abcd"] == [1, 2, 2, 5]
    # segments: a (1,1) Hibernating, b (1,2) Hibernating, c (4,2) Potential Loyalists,
    # d (4,5) Loyal Customers
    assert [rows[u]["rfm_segment"] for u in "abcd"] == [
        "Hibernating",
        "Hibernating",
        "Potential Loyalists",
        "Loyal Customers",
    ]


def test_single_user_period_gets_percentile_zero() -> None:
    history = compute_history([pay("solo", datetime(2024, 1, 31, 23, 59), "100")], AS_OF)
    # periods Jan, Feb, Mar; one user each -> percent_rank 0.0 -> scores 1 -> Hibernating
    assert [r["snapshot_period"] for r in history] == [
        date(2024, 1, 1),
        date(2024, 2, 1),
        date(2024, 3, 1),
    ]
    for row in history:
        assert (
            row["recency_percentile"],
            row["frequency_percentile"],
            row["monetary_percentile"],
        ) == (0.0, 0.0, 0.0)
        assert (row["recency_score"], row["frequency_score"], row["monetary_score"]) == (1, 1, 1)
        assert row["rfm_segment"] == "Hibernating"
    # recency: Feb 1 - Jan 31 = 1; Mar 1 - Jan 31 = 1 + 29 (2024 is leap) = 30;
    # open March: date(as_of) Mar 15 - Jan 31 = 30 + 14 = 44
    assert [r["recency_days"] for r in history] == [1, 30, 44]
    # previous_segment None only in the first period; the run never breaks
    assert [r["previous_segment"] for r in history] == [None, "Hibernating", "Hibernating"]
    assert [r["segment_since"] for r in history] == [date(2024, 1, 1)] * 3


def test_payment_at_period_start_and_open_last_period() -> None:
    # A pays Jan 10 2024; B pays exactly at Feb 1 00:00 (the start of February).
    # as_of = Mar 15 12:00 -> periods Jan, Feb, Mar.
    payments = [pay("A", datetime(2024, 1, 10), "10"), pay("B", datetime(2024, 2, 1), "20")]
    history = compute_history(payments, AS_OF)
    jan = rows_of(history, date(2024, 1, 1))
    feb = rows_of(history, date(2024, 2, 1))
    mar = rows_of(history, date(2024, 3, 1))
    # Jan: snapshot_at Feb 1 00:00; B's payment is not < snapshot_at -> B not in January
    assert set(jan) == {"A"}
    assert jan["A"]["snapshot_at"] == datetime(2024, 2, 1)
    assert jan["A"]["is_period_closed"] is True
    assert jan["A"]["recency_days"] == 22  # Feb 1 - Jan 10
    # Feb: B's payment belongs to February and counts in its snapshot (snapshot_at Mar 1)
    assert set(feb) == {"A", "B"}
    assert feb["B"]["frequency"] == 1
    assert feb["B"]["monetary"] == D("20")
    assert feb["B"]["first_payment_at"] == datetime(2024, 2, 1)
    assert feb["B"]["previous_segment"] is None  # B's first period
    assert feb["B"]["segment_since"] == date(2024, 2, 1)
    assert feb["A"]["snapshot_at"] == datetime(2024, 3, 1)
    assert feb["A"]["is_period_closed"] is True
    # recency at Mar 1: A = 22 + 29 = 51, B = 29 -> DESC: A rank 1 (0.0, r1), B rank 2 (1.0, r5)
    assert (feb["A"]["recency_days"], feb["B"]["recency_days"]) == (51, 29)
    # frequency 1 and 1 tie -> both 0.0 -> f1; A (1,1) Hibernating, B (5,1) New Customers
    assert (feb["A"]["rfm_segment"], feb["B"]["rfm_segment"]) == ("Hibernating", "New Customers")
    # Mar: Apr 1 > as_of -> open period, snapshot_at = as_of
    for row in mar.values():
        assert row["snapshot_at"] == AS_OF
        assert row["is_period_closed"] is False
    # recency at date(as_of) = Mar 15: A = 51 + 14 = 65, B = 29 + 14 = 43
    assert (mar["A"]["recency_days"], mar["B"]["recency_days"]) == (65, 43)
    # current = rows of the latest (open) period, one per user
    current = current_segments(history)
    assert [(r["snapshot_period"], r["user_id"]) for r in current] == [
        (date(2024, 3, 1), "A"),
        (date(2024, 3, 1), "B"),
    ]
    # sorted by (snapshot_period, user_id)
    keys = [(r["snapshot_period"], r["user_id"]) for r in history]
    assert keys == sorted(keys)
    assert len(keys) == 5


def test_weekly_grain() -> None:
    # u1 pays Wed 2024-01-03, u2 pays Mon 2024-01-08 00:00; as_of = Wed 2024-01-10 06:00.
    # Weeks: Mon Jan 1 (closed, snapshot_at Jan 8 00:00), Mon Jan 8 (open, snapshot_at = as_of)
    as_of = datetime(2024, 1, 10, 6)
    payments = [pay("u1", datetime(2024, 1, 3, 15)), pay("u2", datetime(2024, 1, 8))]
    history = compute_history(payments, as_of, grain="week")
    w1 = rows_of(history, date(2024, 1, 1))
    w2 = rows_of(history, date(2024, 1, 8))
    assert set(w1) == {"u1"}
    assert w1["u1"]["snapshot_at"] == datetime(2024, 1, 8)
    assert w1["u1"]["is_period_closed"] is True
    assert w1["u1"]["recency_days"] == 5  # Jan 8 - Jan 3
    assert set(w2) == {"u1", "u2"}
    assert w2["u2"]["snapshot_at"] == as_of
    assert w2["u2"]["is_period_closed"] is False
    # Jan 10 - Jan 3 = 7; Jan 10 - Jan 8 = 2
    assert (w2["u1"]["recency_days"], w2["u2"]["recency_days"]) == (7, 2)
    assert [r["snapshot_period"].weekday() for r in history] == [0, 0, 0]  # all Mondays


def test_window_of_two_periods() -> None:
    # as_of = May 1 00:00 -> periods Jan..Apr 2024, all closed.
    # W = 2: period p counts payments >= start of p-1 and < snapshot_at (start of p+1).
    payments = [
        pay("A", datetime(2024, 1, 5), "10"),
        pay("A", datetime(2024, 2, 5), "20"),
        pay("A", datetime(2024, 4, 5), "40"),
        pay("B", datetime(2024, 1, 20), "1"),
        pay("B", datetime(2024, 3, 3), "2"),
        pay("C", datetime(2024, 1, 10), "5"),
    ]
    as_of = datetime(2024, 5, 1)
    history = compute_history(payments, as_of, window_periods=2)
    fm = {
        (r["snapshot_period"].month, r["user_id"]): (r["frequency"], r["monetary"]) for r in history
    }
    # Jan: window from Dec 1 2023 -> A 1/10, B 1/1, C 1/5
    assert (fm[(1, "A")], fm[(1, "B")], fm[(1, "C")]) == ((1, D(10)), (1, D(1)), (1, D(5)))
    # Feb: window from Jan 1 -> A Jan5+Feb5 = 2/30, B Jan20 = 1/1, C Jan10 = 1/5
    assert (fm[(2, "A")], fm[(2, "B")], fm[(2, "C")]) == ((2, D(30)), (1, D(1)), (1, D(5)))
    # Mar: window from Feb 1 -> A Feb5 = 1/20, B Mar3 = 1/2, C none = 0/0
    assert (fm[(3, "A")], fm[(3, "B")], fm[(3, "C")]) == ((1, D(20)), (1, D(2)), (0, D(0)))
    # Apr: window from Mar 1 -> A Apr5 = 1/40, B Mar3 = 1/2, C 0/0
    assert (fm[(4, "A")], fm[(4, "B")], fm[(4, "C")]) == ((1, D(40)), (1, D(2)), (0, D(0)))
    mar = rows_of(history, date(2024, 3, 1))
    # first/last never windowed: C still has first = last = Jan 10 in March
    assert mar["C"]["first_payment_at"] == mar["C"]["last_payment_at"] == datetime(2024, 1, 10)
    # Mar frequency ASC: C 0 rank 1; A 1, B 1 rank 2 -> 0, 0.5, 0.5 -> f 1, 3, 3
    assert [mar[u]["frequency_percentile"] for u in "ABC"] == [0.5, 0.5, 0.0]
    assert [mar[u]["frequency_score"] for u in "ABC"] == [3, 3, 1]
    # Mar monetary ASC: C 0, B 2, A 20 -> 0, 0.5, 1.0 -> m 1, 3, 5
    assert [mar[u]["monetary_score"] for u in "ABC"] == [5, 3, 1]
    apr = rows_of(history, date(2024, 4, 1))
    assert apr["A"]["first_payment_at"] == datetime(2024, 1, 5)
    # without a window, April counts everything: A 3 payments, 70
    unwindowed = rows_of(compute_history(payments, as_of), date(2024, 4, 1))
    assert (unwindowed["A"]["frequency"], unwindowed["A"]["monetary"]) == (3, D(70))


def test_window_reaches_back_across_a_year_boundary() -> None:
    # W = 3, period Jan 2024 counts from Nov 1 2023; Dec 2023 counts from Oct 1 2023.
    payments = [pay("u", datetime(2023, 10, 15), "1"), pay("u", datetime(2023, 11, 15), "2")]
    history = compute_history(payments, datetime(2024, 2, 1), window_periods=3)
    fm = {r["snapshot_period"]: (r["frequency"], r["monetary"]) for r in history}
    assert fm == {
        date(2023, 10, 1): (1, D(1)),  # Oct: Oct 15
        date(2023, 11, 1): (2, D(3)),  # Nov: from Sep 1 -> Oct 15, Nov 15
        date(2023, 12, 1): (2, D(3)),  # Dec: from Oct 1 -> Oct 15, Nov 15
        date(2024, 1, 1): (1, D(2)),  # Jan: from Nov 1 -> Nov 15
    }


def test_segment_since_across_a_broken_and_resumed_run() -> None:
    # as_of = May 1 00:00 -> periods Jan..Apr 2024, all closed. Two users, so every
    # percentile is 0.0 or 1.0 (or 0.0 for both on a tie): scores 1 or 5.
    payments = [
        pay("A", datetime(2024, 1, 5)),
        pay("B", datetime(2024, 1, 20)),
        pay("A", datetime(2024, 2, 10)),
        pay("B", datetime(2024, 4, 2)),
        pay("B", datetime(2024, 4, 3)),
    ]
    history = compute_history(payments, datetime(2024, 5, 1))
    # Jan (snapshot Feb 1): recency A 27, B 12 -> A r1, B r5; freq 1,1 tie -> f1 both
    #   A (1,1) Hibernating; B (5,1) New Customers
    # Feb (snapshot Mar 1): recency A Mar1-Feb10 = 20, B Mar1-Jan20 = 41 -> A r5, B r1;
    #   freq A 2, B 1 -> A f5, B f1; A (5,5) Champions; B (1,1) Hibernating
    # Mar (snapshot Apr 1): recency A 20+31 = 51, B 41+31 = 72 -> A r5, B r1; freq same
    #   A Champions; B Hibernating
    # Apr (snapshot May 1): recency A 51+30 = 81, B May1-Apr3 = 28 -> A r1, B r5;
    #   freq A 2, B 3 -> A f1, B f5; A (1,1) Hibernating; B (5,5) Champions
    by_user: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
    for row in history:
        by_user[row["user_id"]].append(row)
    a, b = by_user["A"], by_user["B"]
    assert [r["recency_days"] for r in a] == [27, 20, 51, 81]
    assert [r["recency_days"] for r in b] == [12, 41, 72, 28]
    assert [r["rfm_segment"] for r in a] == ["Hibernating", "Champions", "Champions", "Hibernating"]
    assert [r["previous_segment"] for r in a] == [None, "Hibernating", "Champions", "Champions"]
    # A's Hibernating run broke in Feb; the April one starts a new run -> since Apr, not Jan
    assert [r["segment_since"] for r in a] == [
        date(2024, 1, 1),
        date(2024, 2, 1),
        date(2024, 2, 1),
        date(2024, 4, 1),
    ]
    assert [r["rfm_segment"] for r in b] == [
        "New Customers",
        "Hibernating",
        "Hibernating",
        "Champions",
    ]
    assert [r["previous_segment"] for r in b] == [
        None,
        "New Customers",
        "Hibernating",
        "Hibernating",
    ]
    assert [r["segment_since"] for r in b] == [
        date(2024, 1, 1),
        date(2024, 2, 1),
        date(2024, 2, 1),
        date(2024, 4, 1),
    ]
    current = current_segments(history)
    assert [(r["user_id"], r["rfm_segment"], r["segment_since"]) for r in current] == [
        ("A", "Hibernating", date(2024, 4, 1)),
        ("B", "Champions", date(2024, 4, 1)),
    ]


def test_empty_inputs() -> None:
    assert compute_history([], AS_OF) == []
    assert current_segments([]) == []
    assert screen_payments([], AS_OF) == ([], [])


def test_screen_then_history_end_to_end() -> None:
    # The duplicate "p1" on Jan 9 is rejected (Jan 5 is earlier); the after_as_of row is
    # rejected; so u1 has one clean payment (Jan 5, 10) and u2 one (Feb 2, 3).
    rows = [
        raw("p1", "u1", datetime(2024, 1, 9), D("50")),
        raw(" p1", "u1 ", datetime(2024, 1, 5), D("10")),
        raw("p2", "u2", datetime(2024, 2, 2), D("3")),
        raw("p3", "u2", datetime(2024, 3, 1), D("3")),
    ]
    clean, rejected = screen_payments(rows, datetime(2024, 3, 1))
    assert [reason for _, reason in rejected] == ["duplicate_payment_id", "after_as_of"]
    history = compute_history(clean, datetime(2024, 3, 1))
    # periods Jan, Feb (Mar 1 is not < as_of); Feb is closed with snapshot_at = as_of
    assert [
        (r["snapshot_period"], r["user_id"], r["frequency"], r["monetary"]) for r in history
    ] == [
        (date(2024, 1, 1), "u1", 1, D(10)),
        (date(2024, 2, 1), "u1", 1, D(10)),
        (date(2024, 2, 1), "u2", 1, D(3)),
    ]
    assert all(r["is_period_closed"] for r in history)
