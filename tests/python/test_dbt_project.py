"""The dbt project, built by dbt in a real PostgreSQL, against the plain-Python reference
implementation of SPEC.md (tests/python/reference.py), column by column."""

from __future__ import annotations

import csv
import math
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from rfm_segmentation import demo as demo_data

import reference
import reference_scores
from conftest import (
    ENGINE_PARAMS_BUT_SPARK,
    ROOT,
    SCHEMA,
    DbtResult,
    PaymentRow,
    SharedBuilds,
    Warehouse,
    engine_cases,
    upstream_of,
)

AS_OF = datetime(2024, 7, 10, 12, 0, 0)
SPEC = demo_data.DemoSpec(n_users=300, start=date(2023, 10, 1), as_of=AS_OF, seed=7)
HISTORY_KEY = ("snapshot_period", "user_id")


def payments(spec: demo_data.DemoSpec = SPEC) -> list[PaymentRow]:
    return list(demo_data.generate_payments(spec))


def calendar(until: date = date(2024, 12, 31)) -> list[tuple[date, date]]:
    return list(demo_data.generate_calendar(date(2023, 1, 1), until))


def as_raw(rows: list[PaymentRow]) -> list[reference.RawPayment]:
    return [reference.RawPayment(*row) for row in rows]


def expected_history(rows: list[PaymentRow], as_of: datetime, **options: Any) -> list[dict]:
    clean, _ = reference.screen_payments(as_raw(rows), as_of)
    return reference.compute_history(clean, as_of, **options)


def values_equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return math.isclose(float(actual), float(expected), rel_tol=0, abs_tol=1e-12)
    if isinstance(expected, Decimal):
        return Decimal(actual) == expected
    return bool(actual == expected)


def assert_same_rows(actual: list[dict], expected: list[dict], key: tuple[str, ...]) -> None:
    """Compare two tables column by column, reporting the first differences of each column."""
    assert expected, "the reference produced no rows: the scenario tests nothing"
    by_key = {tuple(row[k] for k in key): row for row in actual}
    assert len(by_key) == len(actual), "duplicate keys in the dbt output"
    expected_keys = {tuple(row[k] for k in key) for row in expected}
    missing = sorted(expected_keys - by_key.keys())[:5]
    extra = sorted(by_key.keys() - expected_keys)[:5]
    assert not missing and not extra, f"rows missing: {missing}; rows not expected: {extra}"
    mismatches: dict[str, list[str]] = {}
    for want in expected:
        got = by_key[tuple(want[k] for k in key)]
        for column, value in want.items():
            if not values_equal(got[column], value):
                mismatches.setdefault(column, []).append(
                    f"{tuple(want[k] for k in key)}: dbt {got[column]!r} != reference {value!r}"
                )
    report = {column: (len(found), found[:3]) for column, found in mismatches.items()}
    assert not mismatches, f"columns that differ (count, first examples): {report}"


def expected_transitions(history_rows: list[dict]) -> list[dict]:
    """SPEC.md rfm_segment_transitions, derived from the reference history."""
    first = min(row["snapshot_period"] for row in history_rows)
    moves = Counter(
        (row["snapshot_period"], row["previous_segment"], row["rfm_segment"])
        for row in history_rows if row["snapshot_period"] > first
    )
    return [
        {"snapshot_period": p, "from_segment": f, "to_segment": t, "users": n}
        for (p, f, t), n in moves.items()
    ]


def expected_summary(history_rows: list[dict]) -> list[dict]:
    """SPEC.md rfm_segment_summary, derived from the reference history."""
    groups: dict[tuple[date, str], list[dict]] = {}
    for row in history_rows:
        groups.setdefault((row["snapshot_period"], row["rfm_segment"]), []).append(row)
    period_users = Counter(row["snapshot_period"] for row in history_rows)
    return [
        {
            "snapshot_period": period,
            "rfm_segment": segment,
            "users": len(rows),
            "share_of_users": len(rows) / period_users[period],
            "monetary_total": sum((r["monetary"] for r in rows), Decimal(0)),
            "avg_recency_days": sum(r["recency_days"] for r in rows) / len(rows),
            "avg_frequency": sum(r["frequency"] for r in rows) / len(rows),
        }
        for (period, segment), rows in groups.items()
    ]


def assert_marts_match(warehouse: Warehouse, expected: list[dict]) -> None:
    assert_same_rows(
        warehouse.table("rfm_segment_transitions", "snapshot_period"),
        expected_transitions(expected),
        ("snapshot_period", "from_segment", "to_segment"),
    )
    summary = warehouse.table("rfm_segment_summary", "snapshot_period")
    assert_same_rows(summary, expected_summary(expected), ("snapshot_period", "rfm_segment"))
    for row in summary:
        # avg_monetary: a decimal division, exact to 1e-12 relative on PostgreSQL's numeric and
        # rounded to the 10 decimals of decimal(38,10) on the other engines
        assert math.isclose(
            float(row["avg_monetary"]), float(row["monetary_total"]) / row["users"],
            rel_tol=1e-12, abs_tol=0 if warehouse.engine == "postgres" else 5e-11,
        )


COMPARED_MARTS = ("rfm_segments_history", "rfm_segment_transitions", "rfm_segment_summary",
                  "rfm_segments_current", "rfm_user_features")
# A scenario that compares only these builds them, their parents and their data tests
BUILD_COMPARED_MARTS = upstream_of(*COMPARED_MARTS)


def marts(warehouse: Warehouse) -> tuple[list[dict], ...]:
    """Every public table, rows in a canonical order, for before/after comparisons."""
    return tuple(
        sorted(warehouse.table(name, "1"), key=lambda row: [str(v) for v in row.values()])
        for name in COMPARED_MARTS
    )


def history(warehouse: Warehouse) -> list[dict]:
    return warehouse.table("rfm_segments_history", "snapshot_period, user_id")


def build(warehouse: Warehouse, *flags: str, **vars: Any) -> None:
    warehouse.dbt("build", *flags, vars=vars).assert_ok()


# The build in which dbt's unit tests run, once per engine
UNIT_TESTS_VARS = {"rfm_as_of": AS_OF.isoformat(sep=" "), "rfm_grain": "month"}


def built_once(shared_builds: SharedBuilds, engine: str, dbt_vars: dict[str, Any]) -> Warehouse:
    """payments() and calendar() loaded and built with these vars, once per engine: for the
    tests that only read the result."""
    def load_and_build(warehouse: Warehouse) -> None:
        warehouse.unit_tests = dbt_vars == UNIT_TESTS_VARS
        warehouse.load(payments(), calendar())
        build(warehouse, **dbt_vars)

    name = "dbt_project_" + "_".join(str(value) for value in dbt_vars.values())
    return shared_builds.get(engine, name, load_and_build)


# Spark builds the month case (its build also runs the unit tests); its week and window paths
# meet the reference in test_incremental_run_equals_full_refresh[spark-week-window3]
@pytest.mark.parametrize("engine, options", engine_cases({
    "month": {"grain": "month"},
    "week": {"grain": "week"},
    "month-window3": {"grain": "month", "window_periods": 3},
}, on_spark={"month"}))
def test_history_matches_the_reference(engine: str, shared_builds: SharedBuilds,
                                       options: dict[str, Any]) -> None:
    rows = payments()
    dbt_vars = {"rfm_as_of": AS_OF.isoformat(sep=" "), "rfm_grain": options["grain"]}
    if "window_periods" in options:
        dbt_vars["rfm_window_periods"] = options["window_periods"]
    warehouse = built_once(shared_builds, engine, dbt_vars)

    expected = expected_history(rows, AS_OF, **options)
    assert_same_rows(history(warehouse), expected, HISTORY_KEY)
    assert_same_rows(
        warehouse.table("rfm_segments_current", "user_id"),
        reference.current_segments(expected),
        ("user_id",),
    )
    assert_marts_match(warehouse, expected)


# Scored by business bins where ties are heavy (recency in days, frequency), by the tie-fair rank
# where they are not (amounts)
MIXED_METHODS = {"recency": "thresholds", "frequency": "thresholds", "monetary": "mid_rank"}


def one_time_buyer_payments(n_users: int = 240, seed: int = 22) -> list[PaymentRow]:
    """Payments of a retailer where most customers buy once: 60% of the users pay once, the
    others 2 to 14 times; last payments spread over 540 days before AS_OF, so that every
    recency bin of the seed is reached."""
    rng = random.Random(seed)
    rows: list[PaymentRow] = []
    for user in range(n_users):
        payments = 1 if rng.random() < 0.6 else rng.randint(2, 14)
        last = AS_OF - timedelta(days=rng.randint(0, 540), minutes=rng.randint(1, 1000))
        for k in range(payments):
            rows.append((
                f"p{user}-{k}", f"u{user:04d}", last - timedelta(days=9 * k),
                Decimal(rng.randint(500, 300_000)) / 100,
            ))
    return rows


# Not on Spark: it scores through the same macro, compared with the reference there by
# test_incremental_run_equals_full_refresh[spark-week-window3-methods]
@pytest.mark.parametrize("engine", ENGINE_PARAMS_BUT_SPARK)
def test_thresholds_populate_every_segment_the_data_supports(
    engine: str, shared_builds: SharedBuilds
) -> None:
    """On data with many one-time buyers, scored by the seed's bins (recency, frequency) and
    mid_rank (monetary): the history, current segments and marts equal the reference, and the
    latest period holds every segment of the matrix, where percent_rank leaves some empty."""
    rows = one_time_buyer_payments()
    dbt_vars = {"rfm_as_of": AS_OF.isoformat(sep=" "),
                **{f"rfm_{m}_score_method": method for m, method in MIXED_METHODS.items()}}

    def load_and_build(warehouse: Warehouse) -> None:
        warehouse.load(rows, demo_data.generate_calendar(date(2022, 1, 1), date(2024, 12, 31)))
        build(warehouse, **dbt_vars)

    warehouse = shared_builds.get(engine, "dbt_project_one_time_buyers", load_and_build)
    bins = reference_scores.load_thresholds()
    expected = expected_history(rows, AS_OF, score_methods=MIXED_METHODS, thresholds=bins)
    assert_same_rows(history(warehouse), expected, HISTORY_KEY)
    current = reference.current_segments(expected)
    assert_same_rows(warehouse.table("rfm_segments_current", "user_id"), current, ("user_id",))
    assert_marts_match(warehouse, expected)

    one_time = sum(1 for row in current if row["frequency"] == 1)
    assert one_time / len(current) > 0.5, "the scenario needs a majority of one-time buyers"
    every_segment = set(reference.SEGMENT_MATRIX.values())
    assert {row["rfm_segment"] for row in current} == every_segment
    assert {(m, s) for row in current for m, s in (
        ("recency", row["recency_score"]), ("frequency", row["frequency_score"]))
    } == {(m, s) for m in ("recency", "frequency") for s in range(1, 6)}
    by_rank = reference.current_segments(expected_history(rows, AS_OF))
    assert {row["frequency_score"] for row in by_rank} == {1, 3, 4, 5}, (
        "percent_rank scores every one-time buyer 1 and leaves frequency score 2 empty"
    )
    assert every_segment - {row["rfm_segment"] for row in by_rank}, (
        "percent_rank leaves a segment of the matrix empty on this data"
    )

    # the warning names the degenerate scores of the build (read-only: a warning test)
    result = warehouse.dbt("test", "--select", "warn_degenerate_scores", vars=dbt_vars)
    result.assert_ok()
    latest = AS_OF.date().replace(day=1).isoformat()
    share = sum(1 for row in current if row["frequency_score"] == 1) / len(current)
    assert share > 0.5 and f"{latest} frequency score 1: " in result.output, result.output[-3000:]
    assert "more than rfm_score_max_share=0.5" in result.output


def test_screening_matches_the_reference(engine: str, shared_builds: SharedBuilds) -> None:
    rows = payments()
    # the build of test_history_matches_the_reference[month], which also runs the unit tests
    warehouse = built_once(shared_builds, engine, UNIT_TESTS_VARS)

    staged = reference.staged_rows(as_raw(rows), AS_OF)
    expected_rejected = [row for row in staged if row[4] is not None]
    expected_clean = [row[:4] for row in staged if row[4] is None]
    db_rejected = [
        tuple(row.values())
        for row in warehouse.query(
            f"select payment_id, user_id, payment_date, payment_amount, rejection_reason"
            f" from {SCHEMA}.payments_rejected"
        )
    ]
    assert Counter(db_rejected) == Counter(expected_rejected)
    assert {reason for *_, reason in expected_rejected} == set(reference.REJECTION_REASONS), (
        "the demo data must exercise every rejection reason"
    )
    db_clean = warehouse.query(
        f"select payment_id, user_id, payment_date, payment_amount"
        f" from {SCHEMA}.stg_billing__payments where rejection_reason is null"
    )
    assert Counter(tuple(r.values()) for r in db_clean) == Counter(expected_clean)
    assert len(db_clean) + len(db_rejected) == len(rows)


def shift_period(period: date, grain: str, n: int) -> date:
    if grain == "week":
        return period + timedelta(weeks=n)
    months = period.year * 12 + period.month - 1 + n
    return date(months // 12, months % 12 + 1, 1)


# the window's frequency 0 falls in the first frequency bin; recency ranked with its ties split
WINDOW_METHODS = {"recency": "mid_rank", "frequency": "thresholds", "monetary": "thresholds"}


# Spark runs the week-window3-methods case only: its month path meets the reference in
# test_history_matches_the_reference[spark-month]
@pytest.mark.parametrize("engine_warehouse, options", engine_cases({
    "month": {"grain": "month"},
    "week-window3-methods": {"grain": "week", "window_periods": 3,
                             "score_methods": WINDOW_METHODS},
}, on_spark={"week-window3-methods"}), indirect=["engine_warehouse"])
def test_incremental_run_equals_full_refresh(engine_warehouse: Warehouse,
                                             options: dict[str, Any]) -> None:
    """Run at a first rfm_as_of, then new payments arrive together with late ones dated inside
    the lookback; the incremental run at a later rfm_as_of equals a --full-refresh and the
    reference, and running it again changes nothing. With scoring methods: a change of method
    then fails an incremental run naming the var, and broken bins fail the seed's test."""
    warehouse = engine_warehouse
    grain = options["grain"]
    first_as_of = datetime(2024, 5, 22, 8, 30, 0)
    rows = payments()
    last_stored = reference.period_start(first_as_of, grain)
    recompute_from = datetime.combine(shift_period(last_stored, grain, -1), datetime.min.time())
    late = {
        i for i, row in enumerate(rows)
        if row[2] is not None and recompute_from <= row[2] < first_as_of and i % 4 == 0
    }
    assert len(late) > 10, "the scenario needs late payments inside the lookback"
    first_rows = [
        row for i, row in enumerate(rows)
        if i not in late and (row[2] is None or row[2] < first_as_of)
    ]
    dbt_vars: dict[str, Any] = {"rfm_grain": grain}
    if "window_periods" in options:
        dbt_vars["rfm_window_periods"] = options["window_periods"]
    methods = options.get("score_methods", {})
    dbt_vars.update({f"rfm_{metric}_score_method": m for metric, m in methods.items()})
    if methods:
        options = {**options, "thresholds": reference_scores.load_thresholds()}

    warehouse.load(first_rows, calendar())
    build(warehouse, *BUILD_COMPARED_MARTS, rfm_as_of=first_as_of.isoformat(sep=" "), **dbt_vars)
    assert_same_rows(history(warehouse), expected_history(first_rows, first_as_of, **options),
                     HISTORY_KEY)

    warehouse.load(rows, calendar())
    build(warehouse, *BUILD_COMPARED_MARTS, rfm_as_of=AS_OF.isoformat(sep=" "), **dbt_vars)
    expected = expected_history(rows, AS_OF, **options)
    assert_same_rows(history(warehouse), expected, HISTORY_KEY)
    assert_marts_match(warehouse, expected)
    incremental = marts(warehouse)

    build(warehouse, *BUILD_COMPARED_MARTS, rfm_as_of=AS_OF.isoformat(sep=" "), **dbt_vars)
    assert marts(warehouse) == incremental, "a second run with the same inputs changed rows"

    build(warehouse, *BUILD_COMPARED_MARTS, "--full-refresh", rfm_as_of=AS_OF.isoformat(sep=" "),
          **dbt_vars)
    assert marts(warehouse) == incremental, "incremental result differs from --full-refresh"
    if methods:
        as_of = {"rfm_as_of": AS_OF.isoformat(sep=" ")}
        assert_method_change_and_broken_bins_fail(warehouse, {**dbt_vars, **as_of})


def assert_method_change_and_broken_bins_fail(warehouse: Warehouse,
                                              dbt_vars: dict[str, Any]) -> None:
    """An incremental run with another scoring method fails naming the var, the stored method
    and the run's; the history is untouched. A gap in the seed's bins fails their test."""
    before = history(warehouse)
    changed = {**dbt_vars, "rfm_frequency_score_method": "percent_rank"}
    result = warehouse.dbt("run", "--select", "rfm_segments_history", vars=changed)
    assert result.returncode != 0
    assert (
        "was scored with rfm_frequency_score_method=thresholds (this run: percent_rank)"
        in result.output and "rebuild it with --full-refresh" in result.output
    ), result.output[-3000:]
    assert history(warehouse) == before

    if warehouse.engine == "spark":
        return  # the tests read Spark's parquet tables through views: no delete there
    warehouse.execute(
        f"delete from {SCHEMA}.rfm_score_thresholds where metric = 'frequency' and score = 4")
    result = warehouse.dbt("test", "--select", "assert_score_thresholds_cover_every_value",
                           vars=dbt_vars)
    assert result.returncode != 0 and "Got 2 results" in result.output, result.output[-3000:]


def raw_fingerprint(warehouse: Warehouse) -> list[dict]:
    """Every relation of the raw schema (tables, views, indexes) and a hash of each table."""
    return warehouse.query(
        "select c.relname, c.relkind from pg_class as c"
        " join pg_namespace as n on n.oid = c.relnamespace where n.nspname = 'raw'"
        " order by c.relname"
    ) + warehouse.query(
        "select (select md5(string_agg(p::text, '|' order by p::text)) from raw.fact_payments as p)"
        " as payments, (select md5(string_agg(c::text, '|' order by c::text))"
        " from raw.dim_calendar as c) as calendar"
    )


def test_scheduler_build_with_only_pg_variables(warehouse: Warehouse) -> None:
    """`dbt build` from the repository root with nothing but PG* set (no vars: rfm_as_of is the
    run's start) builds everything from raw and leaves raw untouched."""
    warehouse.load(payments(), calendar(until=date.today() + timedelta(days=40)))
    before = raw_fingerprint(warehouse)
    started = datetime.now(UTC).replace(tzinfo=None)

    warehouse.dbt("build").assert_ok()

    assert raw_fingerprint(warehouse) == before
    current = warehouse.query(
        f"select snapshot_period, max(snapshot_at) as snapshot_at, bool_or(is_period_closed)"
        f" as any_closed, count(*) as users from {SCHEMA}.rfm_segments_current group by 1"
    )
    assert len(current) == 1
    assert current[0]["snapshot_period"] == started.date().replace(day=1)
    assert started - timedelta(minutes=5) <= current[0]["snapshot_at"]
    assert current[0]["snapshot_at"] <= datetime.now(UTC).replace(tzinfo=None)
    assert current[0]["any_closed"] is False
    assert current[0]["users"] == len({r["user_id"] for r in expected_history(
        payments(), current[0]["snapshot_at"])}) > 0


@pytest.mark.parametrize(
    ("dbt_vars", "message"),
    [
        ({"rfm_grain": "day"}, "Invalid var rfm_grain=day: allowed values are 'month' and 'week'"),
        ({"rfm_window_periods": 0}, "Invalid var rfm_window_periods=0: expected an integer >= 1"),
        ({"rfm_window_periods": -1}, "Invalid var rfm_window_periods=-1"),
        ({"rfm_lookback_periods": "one"}, "Invalid var rfm_lookback_periods=one"),
        ({"rfm_as_of": "yesterday"}, "Invalid var rfm_as_of=yesterday: expected a UTC timestamp"),
        ({"rfm_as_of": "2024-02-30"}, "Invalid var rfm_as_of=2024-02-30: not a real date"),
        ({"rfm_as_of": "2024-01-01' or 1=1 --"}, "Invalid var rfm_as_of=2024-01-01' or 1=1 --"),
        ({"rfm_frequency_score_method": "ntile"},
         "Invalid var rfm_frequency_score_method=ntile: allowed values are 'percent_rank',"
         " 'thresholds' and 'mid_rank'"),
        ({"rfm_identity": "email"},
         "Invalid var rfm_identity=email: allowed values are 'user_id' (every user_id is a"
         " customer) and 'profile'"),
        ({"rfm_events": "maybe"}, "Invalid var rfm_events=maybe: expected true or false"),
        ({"rfm_events": False, "rfm_identity": "profile"},
         "Invalid var rfm_events=False: rfm_identity: profile needs the identity graph"),
    ],
    ids=["grain-day", "window-0", "window-neg", "lookback-text", "as_of-word", "as_of-feb30",
         "as_of-injection", "score-method", "identity", "events-word", "events-off-profile"],
)
def test_wrong_vars_fail_at_compile_time_naming_the_var(
    warehouse: Warehouse, dbt_vars: dict[str, Any], message: str
) -> None:
    result = warehouse.dbt("compile", "--select", "rfm_segments_history", vars=dbt_vars)
    assert result.returncode != 0
    assert "Compilation Error" in result.output
    assert message in result.output


def test_calendar_gap_fails_the_build_naming_the_missing_periods(warehouse: Warehouse) -> None:
    gap = [(day, month) for day, month in calendar() if month not in (date(2024, 2, 1),)]
    short = [(day, month) for day, month in gap if day < date(2024, 6, 1)]
    warehouse.load(payments(), short)

    result = warehouse.dbt("build", vars={"rfm_as_of": AS_OF.isoformat(sep=" ")})

    assert result.returncode != 0
    assert (
        "dim_calendar does not cover 3 month period(s) needed from the first clean payment to "
        "rfm_as_of: 2024-02-01, 2024-06-01, 2024-07-01"
    ) in result.output
    built = warehouse.query(
        "select table_name from information_schema.tables"
        " where table_schema = %s and table_name = 'rfm_segments_history'", (SCHEMA,)
    )
    assert built == [], "the history must not be built over a broken calendar"


def test_without_events_the_graph_is_left_out_and_the_trait_columns_stay_null(
    warehouse: Warehouse,
) -> None:
    """rfm_events: false builds none of the event sources' models, and the current table keeps
    one null column per trait of the seed (the CRM's mapping does not change); the history is
    the reference's."""
    warehouse.load(payments(), calendar())
    dbt_vars = {"rfm_as_of": AS_OF.isoformat(sep=" "), "rfm_events": False}
    warehouse.dbt("build", vars=dbt_vars).assert_ok()

    built = {row["table_name"] for row in warehouse.query(
        "select table_name from information_schema.tables where table_schema = %s", (SCHEMA,))}
    graph = {"stg_events__events", "stg_events__identifies", "events_rejected",
             "int_identity_observations", "int_identity_nodes", "int_identity_links",
             "int_identity_components", "identity_map", "customer_profiles", "profile_traits",
             "int_profile_events", "rfm_user_traits"}
    assert not built & graph, sorted(built & graph)
    assert {"rfm_segments_history", "rfm_segments_current", "segment_profiles"} <= built

    with (ROOT / "seeds" / "computed_traits.csv").open() as seed:
        traits = [row["trait_name"] for row in csv.DictReader(seed)]
    assert traits, "the seed defines the shipped traits"
    columns = ", ".join(f"count({name}) as {name}" for name in [*traits, "profile_id"])
    counts = warehouse.query(f"select count(*) as users, {columns} "
                             f"from {SCHEMA}.rfm_segments_current")[0]
    assert counts.pop("users") > 0
    assert counts == dict.fromkeys([*traits, "profile_id"], 0)
    assert_same_rows(warehouse.table("rfm_segments_history", "1"),
                     expected_history(payments(), AS_OF), HISTORY_KEY)


def test_grid_test_finds_a_missing_history_row(warehouse: Warehouse) -> None:
    """assert_history_grid_is_dense names the users whose rows do not form the range from
    their first payment's period to the latest, in `dbt test` (every period) and in a scheduled
    build (the recomputed periods). The key test fails when the unique index is gone."""
    warehouse.load(payments(), calendar())
    as_of = {"rfm_as_of": AS_OF.isoformat(sep=" ")}
    history_only = upstream_of("rfm_segments_history")
    warehouse.dbt("build", *history_only, vars=as_of).assert_ok()
    history = f"{SCHEMA}.rfm_segments_history"
    first_user = warehouse.query(
        f"select user_id from {history} group by user_id having count(*) > 3 order by 1 limit 1")
    user = first_user[0]["user_id"]

    def grid_test(*args: str) -> DbtResult:
        return warehouse.dbt(*args, "--select", "assert_history_grid_is_dense", vars=as_of)

    grid_test("test").assert_ok()
    # a row in the middle of the user's range goes missing: `dbt test` reads every period
    warehouse.execute(
        f"delete from {history} where user_id = %s and snapshot_period ="
        f" (select min(snapshot_period) + interval '1 month' from {history} where user_id = %s)",
        (user, user))
    result = grid_test("test")
    assert result.returncode != 0 and "Got 1 result" in result.output, result.output[-3000:]
    # a row of the latest period goes missing: a scheduled build checks the recomputed periods
    warehouse.dbt("build", *history_only, "--full-refresh", vars=as_of).assert_ok()
    warehouse.execute(
        f"delete from {history} where user_id = %s and snapshot_period ="
        f" (select max(snapshot_period) from {history})", (user,))
    result = grid_test("build")
    assert result.returncode != 0 and "Got 1 result" in result.output, result.output[-3000:]

    # the key test of the history checks, on PostgreSQL, that its unique index exists
    key_test = ("test", "--select",
                "rfm_segments_history,test_name:unique_combination_of_columns")
    warehouse.dbt(*key_test, vars=as_of).assert_ok()
    [index] = warehouse.query(
        f"select indexname from pg_indexes where schemaname = '{SCHEMA}'"
        f" and tablename = 'rfm_segments_history' and indexdef like 'CREATE UNIQUE%'")
    name = index["indexname"]
    warehouse.execute(f'drop index {SCHEMA}."{name}"')
    result = warehouse.dbt(*key_test, vars=as_of)
    assert result.returncode != 0 and "Got 1 result" in result.output, result.output[-3000:]
