"""rfm_user_features: point in time (no look-ahead) and labels equal to the future payments.

The expected values are computed here in plain Python from the generated payments, never from
the SQL."""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from rfm_segmentation import demo as demo_data
from rfm_segmentation.warehouses import postgres as database

from conftest import Warehouse, upstream_of
from simulate import SimulationSpec, simulate_payments

SPEC = SimulationSpec(n_users=400, start=date(2022, 6, 1), as_of=datetime(2023, 9, 10, 8, 0))
HORIZON = 3
CHECKED_PERIOD = date(2023, 3, 1)  # its snapshot: 2023-04-01; labels: April-June 2023
LABELS = ("next_payments", "next_revenue", "is_label_complete")


def month_add(day: date, months: int) -> date:
    n = day.year * 12 + day.month - 1 + months
    return date(n // 12, n % 12 + 1, 1)


def calendar() -> list[tuple[date, date]]:
    return list(demo_data.generate_calendar(SPEC.start, date(2023, 12, 31)))


def build(warehouse: Warehouse, rows: list[Any], as_of: datetime) -> None:
    warehouse.load(rows, calendar())
    result = warehouse.dbt(
        "build", *upstream_of("rfm_user_features"),
        vars={"rfm_as_of": as_of.isoformat(sep=" "), "ltv_horizon_periods": HORIZON},
    )
    result.assert_ok()


@pytest.fixture(scope="module")
def full(server: database.Connection, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The project built once on the whole generated data."""
    built = Warehouse(database.ensure_database(server, "rfm_test_features_full", recreate=True),
                      tmp_path_factory.mktemp("features_full"))
    build(built, simulate_payments(SPEC), SPEC.as_of)
    return built


def features(warehouse: Warehouse, where: str = "true") -> dict[tuple[date, str], dict]:
    rows = warehouse.query(f"select * from analytics.rfm_user_features where {where}")
    return {(r["snapshot_period"], r["user_id"]): r for r in rows}


def test_features_and_labels_equal_plain_python_sums(full: Warehouse) -> None:
    rows = simulate_payments(SPEC)
    by_user: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for _, user, when, amount in rows:
        by_user[user].append((when, amount))
    for payments in by_user.values():
        payments.sort()

    def between(user: str, lo: datetime | None, hi: datetime) -> tuple[int, Decimal]:
        times = [t for t, _ in by_user[user]]
        i = 0 if lo is None else bisect.bisect_left(times, lo)
        j = bisect.bisect_left(times, hi)
        return j - i, sum((a for _, a in by_user[user][i:j]), Decimal(0))

    built = features(full)
    assert built, "no feature rows"
    labelled = 0
    for (period, user), row in built.items():
        at = row["snapshot_at"]
        assert (row["lifetime_payments"], row["lifetime_revenue"]) == between(user, None, at)
        for k in (1, 3, 6):
            start = datetime.combine(month_add(period, 1 - k), datetime.min.time())
            assert (row[f"payments_last_{k}"], row[f"revenue_last_{k}"]) == \
                between(user, start, at), (period, user, k)
        end = datetime.combine(month_add(period, 1 + HORIZON), datetime.min.time())
        complete = row["is_period_closed"] and end <= SPEC.as_of
        assert row["is_label_complete"] == complete, (period, user)
        if row["is_period_closed"]:
            assert row["label_window_end_at"] == end
        if complete:
            labelled += 1
            assert (row["next_payments"], row["next_revenue"]) == between(user, at, end), \
                (period, user)
        else:
            assert row["next_payments"] is None and row["next_revenue"] is None
    # May 2023's window (June-August) has closed by 2023-09-10, June's (to 2023-10-01) not
    assert {p for (p, _), r in built.items() if r["is_label_complete"]} == {
        month_add(SPEC.start, n) for n in range(12)
    }
    assert labelled > 1000


def test_no_look_ahead(full: Warehouse, warehouse: Warehouse) -> None:
    """The features of a period, rebuilt in another database from the payments truncated at its
    snapshot_at (and rfm_as_of = snapshot_at), are identical column by column."""
    rows = simulate_payments(SPEC)
    complete = features(full, f"snapshot_period = '{CHECKED_PERIOD}'")
    cutoff = datetime.combine(month_add(CHECKED_PERIOD, 1), datetime.min.time())
    assert all(r["snapshot_at"] == cutoff for r in complete.values())
    assert any(r["is_label_complete"] for r in complete.values())

    build(warehouse, [r for r in rows if r[2] < cutoff], cutoff)
    past = features(warehouse, f"snapshot_period = '{CHECKED_PERIOD}'")
    assert past.keys() == complete.keys()
    differences = [
        (key, column, complete[key][column], past[key][column])
        for key in complete for column in complete[key]
        if column not in LABELS and complete[key][column] != past[key][column]
    ]
    assert not differences, differences[:5]
    assert all(r["next_revenue"] is None and not r["is_label_complete"] for r in past.values())


@pytest.mark.parametrize("value", ["0", "null"])
def test_wrong_horizon_fails_naming_the_var(warehouse: Warehouse, value: str) -> None:
    result = warehouse.dbt(
        "compile", "--select", "rfm_user_features",
        vars={"ltv_horizon_periods": None if value == "null" else value},
    )
    assert result.returncode != 0
    assert "Invalid var ltv_horizon_periods" in result.output, result.output[-2000:]


def test_incremental_run_with_another_horizon_fails_asking_for_a_full_refresh(
        warehouse: Warehouse) -> None:
    """The stored features count HORIZON periods (payments_last_horizon, horizon_periods); a run
    with another horizon would mix two definitions with the view's labels, so it stops (at the
    features table and at the view) and says how to rebuild."""
    build(warehouse, simulate_payments(SPEC), SPEC.as_of)
    for selection in ("rfm_user_features", "int_user_features+"):
        result = warehouse.dbt(
            "build", "--select", selection,
            vars={"rfm_as_of": SPEC.as_of.isoformat(sep=" "), "ltv_horizon_periods": HORIZON + 1},
        )
        assert result.returncode != 0
        assert f"built with ltv_horizon_periods={HORIZON}" in result.output, result.output[-2000:]
    assert "--full-refresh" in result.output
    result = warehouse.dbt(
        "build", "--select", "int_user_features+", "--full-refresh",
        vars={"rfm_as_of": SPEC.as_of.isoformat(sep=" "), "ltv_horizon_periods": HORIZON + 1},
    )
    result.assert_ok()
    assert {r["horizon_periods"] for r in features(warehouse).values()} == {HORIZON + 1}
