"""Generated inputs: hypothesis draws small raw payment sets and run parameters, dbt
builds each one in its own database, and every public output is compared with the plain-Python
reference of SPEC.md (tests/python/reference.py).

A dbt build costs seconds, a hypothesis example microseconds, so the two are decoupled:
1. hypothesis draws the cases (``draw_cases``: the generate phase only, derandomized, no example
   database, so CI always gets the same cases);
2. each case gets a fresh database, its raw tables and a *single* ``dbt build`` of the models
   only (plus the calendar-coverage test, which must pass when nothing needs covering); the
   other data tests and the unit tests run elsewhere. Cases run in parallel threads, each
   driving its own dbt process (most of a dbt run is Python start-up and parsing);
3. every case is compared with the reference, and all discrepancies are reported together, each
   with a reproduction (raw rows, vars, calendar) and the differing columns.

Knobs: RFM_PROPERTY_CASES (default 40), RFM_PROPERTY_WORKERS (default 3), RFM_PROPERTY_SEED
(unset: derandomized, the same cases on every run; set: other cases, to explore locally).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from psycopg2 import sql

from rfm_segmentation import demo as demo_data
from rfm_segmentation import warehouses as engines
from rfm_segmentation.warehouses import postgres as database
from test_dbt_project import (
    HISTORY_KEY,
    as_raw,
    assert_same_rows,
    expected_summary,
    expected_transitions,
    shift_period,
)

import reference
from conftest import SCHEMA, PaymentRow, Warehouse

N_CASES = int(os.environ.get("RFM_PROPERTY_CASES", "40"))
WORKERS = int(os.environ.get("RFM_PROPERTY_WORKERS", "3"))
SEED = os.environ.get("RFM_PROPERTY_SEED")
CALENDAR_START, CALENDAR_END = date(2019, 1, 1), date(2030, 12, 31)
US, SECOND = timedelta(microseconds=1), timedelta(seconds=1)

# Only the models (and the seed they read), plus the one data test that matters here: a case
# without clean payments must pass calendar coverage even with an empty or stale calendar.
DBT_BUILD = (
    "build",
    "--select", "+rfm_segment_summary", "+rfm_segment_transitions", "+rfm_segments_current",
    "+payments_rejected", "test_name:calendar_covers_payment_periods",
    "--indirect-selection", "empty",
)

USER_IDS = (
    "u1", "u2", "u9", "u10", "U1", "e", "é", "ü", "ß", "ss", "用户", "🙂", "u 1", "u\\1",
    "\tu1",  # trim() removes spaces only: the tab stays, this is not u1
    "a" * 300, "ü" * 1000,  # long ids (the second one is 2000 bytes of UTF-8)
)
PAYMENT_IDS = tuple(f"p{i}" for i in range(1, 13))
AMOUNTS = tuple(Decimal(a) for a in (
    "1", "1.00", "0.01", "10", "10.5", "99.99", "1000000000000.123456", "999999999999999999.99",
))
NON_POSITIVE_AMOUNTS = (Decimal("0"), Decimal("0.00"), Decimal("-0.01"), Decimal("-5"))


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


@dataclass(frozen=True)
class Case:
    rows: tuple[PaymentRow, ...]
    as_of: datetime
    as_of_text: str  # as passed in --vars (date only, 'T' or ' ' separator, with or without µs)
    grain: str
    window: int | None
    calendar: str  # full (2019-2030), or without clean rows also empty | stale (2019 only)

    def dbt_vars(self) -> dict[str, Any]:
        dbt_vars: dict[str, Any] = {"rfm_as_of": self.as_of_text, "rfm_grain": self.grain}
        if self.window is not None:
            dbt_vars["rfm_window_periods"] = self.window
        return dbt_vars

    def calendar_rows(self) -> list[tuple[date, date]]:
        end = {"full": CALENDAR_END, "stale": date(2019, 12, 31), "empty": None}[self.calendar]
        return [] if end is None else list(demo_data.generate_calendar(CALENDAR_START, end))

    def repro(self) -> str:
        rows = ",\n  ".join(repr(row) for row in self.rows)
        return (f"vars={self.dbt_vars()} calendar={self.calendar}\n"
                f"rows (payment_id, user_id, payment_date, payment_amount) = [\n  {rows}\n]")


def naive_datetimes(low: datetime, high: datetime) -> st.SearchStrategy[datetime]:
    """Naive UTC instants with microseconds (fold, meaningless here, kept out of reprs)."""
    return st.datetimes(low, high).map(lambda value: value.replace(fold=0))


def _padded(ids: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pad = st.sampled_from(["", "", " ", "  ", "\t"])  # a tab is not trimmed
    return st.builds(lambda left, value, right: left + value + right, pad, ids, pad)


@st.composite
def dirty_rows(draw: Callable[..., Any], payment_ids: st.SearchStrategy[str],
               user_ids: st.SearchStrategy[str], instants: st.SearchStrategy[datetime],
               amounts: st.SearchStrategy[Decimal]) -> PaymentRow:
    """A row failing one of the rules 1-5, drawn first: the fields before it are valid, the
    fields after it valid or not (the first rule that applies must win)."""
    defect = draw(st.integers(0, 4))  # payment id, user id, date, null amount, amount <= 0
    good = [payment_ids, user_ids, instants, amounts]
    bad = [st.sampled_from([None, "", "   "]), st.sampled_from([None, "", " "]), st.none(),
           st.sampled_from((None, *NON_POSITIVE_AMOUNTS))]
    position = min(defect, 3)
    failing = {3: st.none(), 4: st.sampled_from(NON_POSITIVE_AMOUNTS)}.get(defect, bad[position])
    return (*(draw(good[i]) for i in range(position)), draw(failing),
            *(draw(good[i] | bad[i]) for i in range(position + 1, 4)))


@st.composite
def cases(draw: Callable[..., Any]) -> Case:
    grain = draw(st.sampled_from(reference.GRAINS))
    if grain == "month":
        anchor = date(draw(st.integers(2021, 2029)), draw(st.integers(1, 12)), 1)
    else:
        day = draw(st.dates(date(2021, 1, 4), date(2029, 12, 24)))
        anchor = day - timedelta(days=day.weekday())
    start, next_start = midnight(anchor), midnight(shift_period(anchor, grain, 1))
    as_of = draw(st.sampled_from([start, start + US, start + SECOND, next_start - US,
                                  next_start - SECOND])
                 | naive_datetimes(start, next_start - US))
    if as_of.time() == datetime.min.time() and draw(st.booleans()):
        as_of_text = as_of.date().isoformat()
    else:
        as_of_text = as_of.isoformat(sep=draw(st.sampled_from([" ", "T"])))
    window = draw(st.none() | st.integers(1, 4))

    # Payment instants: mostly from a pool of boundaries (so that dates tie), else anywhere.
    n_back = draw(st.integers(0, 6))
    pool = {as_of, as_of - US, as_of + US, as_of - SECOND, as_of + SECOND,
            midnight(as_of.date()), midnight(as_of.date()) - US}
    for k in range(-n_back, 2):
        boundary = midnight(shift_period(anchor, grain, k))
        pool |= {boundary, boundary - US, boundary - SECOND, boundary + US}
    first_start = midnight(shift_period(anchor, grain, -n_back))
    instants = (st.sampled_from(sorted(pool))
                | naive_datetimes(first_start - timedelta(days=1), as_of + timedelta(days=2))
                | naive_datetimes(as_of - timedelta(days=400), as_of))

    user_pool = draw(st.lists(
        st.sampled_from(USER_IDS)
        | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
                  max_size=12),
        min_size=1, max_size=7, unique=True,
    ))
    payment_ids = _padded(st.sampled_from(PAYMENT_IDS))
    user_ids = _padded(st.sampled_from(user_pool))
    amounts = st.sampled_from(AMOUNTS) | st.decimals(Decimal("0.01"), Decimal("5000"), places=2)
    # Rows valid field by field (they may still be after rfm_as_of), each with its own payment
    # id; then conflicting copies of some of them (same payment id, each other field either
    # copied, so that the tie-break goes to the next key, or drawn anew); then dirty rows (each
    # field dirty or not, at least one dirty, so that rows with several defects test the order
    # of the rules; their payment ids may collide with valid rows').
    valid = draw(st.lists(st.tuples(user_ids, instants, amounts), max_size=12))
    rows: list[PaymentRow] = [
        (draw(_padded(st.just(f"p{i}"))), *fields) for i, fields in enumerate(valid, start=1)
    ]
    if rows:
        for original, fresh, keep in draw(st.lists(
            st.tuples(st.sampled_from(rows), st.tuples(user_ids, instants, amounts),
                      st.tuples(st.booleans(), st.booleans(), st.booleans())),
            max_size=4,
        )):
            rows.append((
                draw(_padded(st.just(trimmed(original[0]) or ""))),
                *(old if kept else new
                  for old, new, kept in zip(original[1:], fresh, keep, strict=True)),
            ))
    rows += draw(st.lists(dirty_rows(payment_ids, user_ids, instants, amounts),
                          max_size=draw(st.sampled_from([2, 0, 5]))))
    if rows:  # identical copies of whole rows
        rows += [rows[i] for i in draw(st.lists(st.integers(0, len(rows) - 1), max_size=2))]
        rows = draw(st.permutations(rows))

    clean, _ = reference.screen_payments(as_raw(rows), as_of)
    calendar = "full" if clean else draw(st.sampled_from(["full", "empty", "stale"]))
    return Case(tuple(rows), as_of, as_of_text, grain, window, calendar)


@dataclass(frozen=True, eq=False)
class Drawn:
    """A case with what the reference expects of it and what it exercises."""

    case: Case
    clean: list[reference.CleanPayment]
    rejected: list[tuple[reference.RawPayment, str]]
    history: list[dict]
    features: frozenset[str]


def expect(case: Case) -> Drawn:
    clean, rejected = reference.screen_payments(as_raw(list(case.rows)), case.as_of)
    history = reference.compute_history(clean, case.as_of, case.grain, case.window)
    found = features(case, clean, rejected, history)
    return Drawn(case, clean, rejected, history, frozenset(found))


def draw_cases(n: int, pool_size: int) -> list[Drawn]:
    """n cases out of pool_size hypothesis examples: dbt builds are expensive, examples cheap.

    Hypothesis explores around each random example (it copies values between places, which
    makes ties, and early examples are small), so consecutive examples often share their run
    parameters. Deterministic selection: first, greedily, the example adding the most input
    kinds not yet covered (``features``); then those with at least 3 clean payments, least used
    (rfm_as_of, rfm_grain, window) first, most clean payments first; then the rest likewise.
    Exact repeats are skipped.
    """
    pool: list[Case] = []

    @settings(max_examples=pool_size, derandomize=SEED is None, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(cases())
    def collect(case: Case) -> None:
        pool.append(case)

    (collect if SEED is None else seed(int(SEED))(collect))()
    candidates = list({case: expect(case) for case in pool}.values())  # drops exact repeats
    chosen: list[Drawn] = []
    covered: set[str] = set()
    while len(chosen) < n:
        best = max(candidates, key=lambda d: len(d.features - covered), default=None)
        if best is None or not best.features - covered:
            break
        chosen.append(best)
        candidates.remove(best)
        covered |= best.features
    families: Counter[tuple[Any, ...]] = Counter(family(d) for d in chosen)
    while len(chosen) < n and candidates:
        best = min(candidates,  # min() is stable: drawn order among equals
                   key=lambda d: (len(d.clean) < 3, families[family(d)], -len(d.clean)))
        chosen.append(best)
        candidates.remove(best)
        families[family(best)] += 1
    return chosen


def family(drawn: Drawn) -> tuple[Any, ...]:
    return (drawn.case.as_of, drawn.case.grain, drawn.case.window)


def features(case: Case, clean: list[reference.CleanPayment],
             rejected: list[tuple[reference.RawPayment, str]], history: list[dict]) -> set[str]:
    """The kinds of input a case exercises (REQUIRED_FEATURES must all be covered)."""
    found = {f"reason:{reason}" for _, reason in rejected}
    found |= {f"grain:{case.grain}", "window" if case.window else "no_window",
              f"calendar:{case.calendar}"}
    if not case.rows:
        found.add("no_raw_rows")
    if case.rows and not clean:
        found.add("every_row_rejected")
    users = {p.user_id for p in clean}
    periods = {row["snapshot_period"] for row in history}
    found |= {"single_user"} if len(users) == 1 else {"several_users"} if users else set()
    found |= {"single_period"} if len(periods) == 1 else {"several_periods"} if periods else set()
    if midnight(reference.period_start(case.as_of, case.grain)) == case.as_of:
        found.add("as_of_at_period_start")
    for p in clean:
        start = midnight(reference.period_start(p.payment_date, case.grain))
        if p.payment_date == start:
            found.add("payment_at_period_start")
        if p.payment_date + US == midnight(shift_period(start.date(), case.grain, 1)):
            found.add("payment_1us_before_period_start")
        if p.payment_date + SECOND == midnight(shift_period(start.date(), case.grain, 1)):
            found.add("payment_1s_before_period_start")
        if p.payment_date + US == case.as_of:
            found.add("payment_1us_before_as_of")
        if not p.user_id.isascii():
            found.add("unicode_user_id")
        if len(p.user_id) >= 300:
            found.add("long_user_id")
    for raw, reason in rejected:
        if reason == "after_as_of" and raw.payment_date == case.as_of:
            found.add("payment_at_as_of")
        if reason == "after_as_of" and raw.payment_date == case.as_of + US:
            found.add("payment_1us_after_as_of")
        if reason == "duplicate_payment_id":
            copies = Counter(case.rows)[
                (raw.payment_id, raw.user_id, raw.payment_date, raw.payment_amount)]
            found.add("identical_duplicate" if copies > 1 else "conflicting_duplicate")
    if any(row[0] != trimmed(row[0]) or row[1] != trimmed(row[1]) for row in case.rows
           if row[0] and row[1]):
        found.add("padded_id")
    by_period: dict[date, list[dict]] = {}
    for row in history:
        by_period.setdefault(row["snapshot_period"], []).append(row)
    for rows in by_period.values():
        for column in ("recency_days", "frequency", "monetary"):
            values = [row[column] for row in rows]
            if len(values) > len(set(values)):
                found.add(f"tie:{column}")
        if any(row[f"{column}_percentile"] in (0.2, 0.4, 0.6, 0.8)
               for row in rows for column in ("recency", "frequency", "monetary")):
            found.add("percentile_at_a_score_threshold")
        if case.window and any(row["frequency"] == 0 for row in rows):
            found.add("window:frequency_0")
    return found


REQUIRED_FEATURES = {
    *(f"reason:{reason}" for reason in reference.REJECTION_REASONS),
    "grain:month", "grain:week", "window", "no_window", "calendar:full", "calendar:empty",
    "calendar:stale", "no_raw_rows", "every_row_rejected", "single_user", "several_users",
    "single_period", "several_periods", "as_of_at_period_start", "payment_at_period_start",
    "payment_1us_before_period_start", "payment_1s_before_period_start",
    "payment_1us_before_as_of", "payment_at_as_of", "payment_1us_after_as_of",
    "identical_duplicate", "conflicting_duplicate", "padded_id", "unicode_user_id",
    "long_user_id", "tie:recency_days", "tie:frequency", "tie:monetary", "window:frequency_0",
    "percentile_at_a_score_threshold",
}


# --------------------------------------------------------------------------------------------
# Comparison of one built case with the reference
# --------------------------------------------------------------------------------------------


def trimmed(value: str | None) -> str | None:
    return None if value is None else value.strip(" ")


def check_screening(warehouse: Warehouse, drawn: Drawn) -> None:
    db_rejected = warehouse.query(
        f"select payment_id, user_id, payment_date, payment_amount, rejection_reason"
        f" from {SCHEMA}.payments_rejected"
    )
    assert Counter(tuple(r.values()) for r in db_rejected) == Counter(
        (trimmed(p.payment_id), trimmed(p.user_id), p.payment_date, p.payment_amount, reason)
        for p, reason in drawn.rejected
    ), "payments_rejected differs from the reference"
    db_clean = warehouse.query(
        f"select payment_id, user_id, payment_date, payment_amount"
        f" from {SCHEMA}.stg_billing__payments where rejection_reason is null"
    )
    assert Counter(tuple(r.values()) for r in db_clean) == Counter(
        (p.payment_id, p.user_id, p.payment_date, p.payment_amount) for p in drawn.clean
    ), "clean payments differ from the reference"
    assert len(db_clean) + len(db_rejected) == len(drawn.case.rows), "raw != clean + rejected"


def assert_same_or_both_empty(actual: list[dict], expected: list[dict], key: tuple[str, ...],
                              table: str) -> None:
    if not expected:  # assert_same_rows refuses an empty reference
        assert actual == [], f"{table}: the reference has no rows, dbt has {actual[:3]}"
    else:
        assert_same_rows(actual, expected, key)


def check_outputs(warehouse: Warehouse, drawn: Drawn) -> None:
    """History column by column, current segments, transitions and summary (all empty when
    there is no clean payment)."""
    expected = drawn.history
    tables = {
        "rfm_segments_history": (expected, HISTORY_KEY),
        "rfm_segments_current": (reference.current_segments(expected), ("user_id",)),
        "rfm_segment_transitions": (expected_transitions(expected) if expected else [],
                                    ("snapshot_period", "from_segment", "to_segment")),
        "rfm_segment_summary": (expected_summary(expected), ("snapshot_period", "rfm_segment")),
    }
    for table, (want, key) in tables.items():
        actual = warehouse.table(table, "1")
        try:
            assert_same_or_both_empty(actual, want, key, table)
        except AssertionError as error:
            raise AssertionError(f"{table}: {error}") from None
    for row in warehouse.table("rfm_segment_summary", "1"):
        assert abs(float(row["avg_monetary"]) - float(row["monetary_total"]) / row["users"]) \
            <= 1e-12 * max(1.0, float(row["monetary_total"])), f"avg_monetary of {row}"


# --------------------------------------------------------------------------------------------
# Running the cases
# --------------------------------------------------------------------------------------------


def run_case(server: database.Connection, workdir: Path, index: int, drawn: Drawn
             ) -> tuple[float, str | None]:
    """Build one case in a fresh database; (dbt seconds, failure message or None)."""
    case = drawn.case
    name = f"rfm_test_prop_{index:03d}"
    backend = engines.PostgresWarehouse(database.ensure_database(server, name, recreate=True))
    warehouse = Warehouse(backend, workdir / name, vars=case.dbt_vars())
    warehouse.workdir.mkdir(parents=True)
    warehouse.load(case.rows, case.calendar_rows())
    started = time.monotonic()
    result = warehouse.dbt(*DBT_BUILD)
    seconds = time.monotonic() - started
    try:
        result.assert_ok()
        check_screening(warehouse, drawn)
        check_outputs(warehouse, drawn)
    except AssertionError as error:  # the database is kept for inspection
        return seconds, f"case {index} (database {name}): {error}\n{case.repro()}"
    drop_database(server, name)
    return seconds, None


def drop_database(server: database.Connection, name: str) -> None:
    admin = server.connect()
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("drop database if exists {} with (force)")
                        .format(sql.Identifier(name)))
    finally:
        admin.close()


def test_generated_inputs_match_the_reference(server: database.Connection, tmp_path: Path
                                              ) -> None:
    started = time.monotonic()
    chosen = draw_cases(N_CASES, pool_size=8 * N_CASES)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(lambda job: run_case(server, tmp_path, *job), enumerate(chosen)))
    failures = [failure for _, failure in outcomes if failure]

    covered = Counter(feature for drawn in chosen for feature in drawn.features)
    reasons = Counter(reason for drawn in chosen for _, reason in drawn.rejected)
    print(
        f"{len(chosen)} generated cases, {sum(len(d.case.rows) for d in chosen)} raw payment rows"
        f" ({sum(len(d.clean) for d in chosen)} clean; rejected: {dict(reasons)}),"
        f" {sum(len(d.history) for d in chosen)} history rows;"
        f" dbt {sum(seconds for seconds, _ in outcomes):.0f} s in {WORKERS} parallel processes,"
        f" {time.monotonic() - started:.0f} s wall; {len(failures)} failing case(s)\n"
        f"covered: {dict(sorted(covered.items()))}"
    )
    assert not failures, f"{len(failures)} of {len(chosen)} cases differ from the reference:\n" \
        + "\n\n".join(failure[:4000] for failure in failures[:5])
    assert len(chosen) == N_CASES
    missing = REQUIRED_FEATURES - covered.keys()
    assert not missing, f"the drawn cases no longer exercise {sorted(missing)}: draw more cases"
