"""`rfm ltv` on generated data whose purchase process is known (BG/NBD buyers, Gamma-Gamma
spend): the chosen model beats every naive baseline out of time, the run is reproducible, the
predictions reach rfm_segments_current, short or missing history gives a clear message, and the
computed traits are compared out of time when the project has events."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from rfm_segmentation import demo as demo_data
from rfm_segmentation.ltv import pipeline, report
from rfm_segmentation.ltv import warehouse as ltv_warehouse
from rfm_segmentation.ltv.candidates import trait_columns
from rfm_segmentation.raw import EventRow
from rfm_segmentation.warehouses import postgres as database

from conftest import RFM, ROOT, Warehouse
from simulate import SimulationSpec, simulate_payments

SPEC = SimulationSpec(n_users=1200, start=date(2022, 1, 1), as_of=datetime(2024, 1, 10, 12, 0))
BASELINES = ("zero", "last_horizon", "historical_rate")
TRAIN_CUTOFFS = 4


def build(built: Warehouse, spec: SimulationSpec) -> None:
    built.load(simulate_payments(spec),
               demo_data.generate_calendar(spec.start, spec.as_of.date()))
    built.dbt("build", vars={"rfm_as_of": spec.as_of.isoformat(sep=" ")}).assert_ok()


@pytest.fixture(scope="module")
def built(server: database.Connection, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Warehouse]:
    connection = database.ensure_database(server, "rfm_test_ltv", recreate=True)
    result = Warehouse(connection, tmp_path_factory.mktemp("ltv"))
    build(result, SPEC)
    yield result


@pytest.fixture(scope="module")
def outcome(built: Warehouse) -> pipeline.Outcome:
    return train(built)


def train(built: Warehouse, seed: int = 0) -> pipeline.Outcome:
    periods, horizon = ltv_warehouse.load_periods(built.connection, "analytics")
    plan = pipeline.make_plan(periods, horizon, train_cutoffs=TRAIN_CUTOFFS)
    features = ltv_warehouse.load_features(built.connection, "analytics", plan.periods_needed)
    return pipeline.run(features, plan, seed=seed)


def rfm_ltv(built: Warehouse, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RFM, "ltv", "--out", str(built.workdir / "report"), *args],
                          cwd=ROOT, env=built.env(), capture_output=True, text=True,
                          check=False)


def test_chosen_model_beats_every_naive_baseline_out_of_time(outcome: pipeline.Outcome
                                                             ) -> None:
    assert outcome.plan.validation is not None
    assert outcome.plan.validation.snapshot_period == date(2023, 9, 1)
    assert len(outcome.plan.validation_train) == TRAIN_CUTOFFS
    results = {r.name: r.metrics for r in outcome.results}
    assert all(m is not None for m in results.values()), outcome.results
    assert outcome.chosen not in BASELINES
    chosen = results[outcome.chosen]
    assert chosen is not None
    for name in BASELINES:
        baseline = results[name]
        assert baseline is not None
        assert chosen.rmse < baseline.rmse, (outcome.chosen, name, results)
        assert chosen.top_decile_share > baseline.top_decile_share, (outcome.chosen, name)
    assert 0.7 < chosen.predicted_to_actual < 1.3


def test_reproducible_and_reaches_the_current_segments(built: Warehouse,
                                                     outcome: pipeline.Outcome) -> None:
    """`rfm ltv` in another process (same seed) writes exactly the predictions of the run in
    this one, and dbt joins them into rfm_segments_current."""
    first = outcome
    done = rfm_ltv(built, "--train-cutoffs", str(TRAIN_CUTOFFS), "--seed", "0")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    for name in ("zero", "last_horizon", "historical_rate", "bgnbd_gamma_gamma",
                 "gbm_poisson", "hybrid_gbm_bgnbd", "chosen:", "predicted_ltv"):
        assert name in done.stdout
    assert (built.workdir / "report" / "report.md").read_text().count("|") > 40

    current = built.query(
        "select user_id, predicted_ltv, predicted_payments, ltv_model, ltv_as_of, snapshot_at"
        " from analytics.rfm_segments_current order by user_id"
    )
    expected = first.predictions.set_index("user_id")
    assert len(current) == len(expected) == SPEC_USERS(built)
    for row in current:
        want = expected.loc[row["user_id"]]
        assert row["predicted_ltv"] == want["predicted_revenue"]  # bit for bit
        assert row["predicted_payments"] == want["predicted_payments"]
        assert row["ltv_model"] == first.chosen
        assert row["ltv_as_of"] == row["snapshot_at"] == SPEC.as_of
    report = built.query("select model, is_chosen, rmse from ml.ltv_model_report")
    assert {r["model"] for r in report if r["is_chosen"]} == {first.chosen}
    assert len(report) == 6


def SPEC_USERS(built: Warehouse) -> int:  # noqa: N802
    return built.query("select count(*) as n from analytics.rfm_segments_history"
                       " where snapshot_period = '2024-01-01'")[0]["n"]


def test_short_history_falls_back_to_bgnbd_and_missing_data_is_clear(
    warehouse: Warehouse,
) -> None:
    missing = rfm_ltv(warehouse, "--no-dbt")
    assert missing.returncode == 1
    assert "rfm_user_features does not exist" in missing.stdout

    short = SimulationSpec(n_users=300, start=date(2023, 1, 1), as_of=datetime(2023, 4, 15))
    build(warehouse, short)
    done = rfm_ltv(warehouse, "--no-dbt")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "history too short for out-of-time validation" in done.stdout
    rows = warehouse.query("select model, count(*) as n from ml.ltv_predictions group by 1")
    assert rows == [{"model": "bgnbd_gamma_gamma", "n": short.n_users}]


def test_report_markdown_lists_every_candidate(outcome: pipeline.Outcome) -> None:
    text = report.markdown(outcome, datetime(2024, 1, 1))
    for result in outcome.results:
        assert f"| {result.name}" in text
    assert "(chosen)" in text


# Every payment is announced: its user clicks an e-mail CLICK_LEAD before paying. At a snapshot,
# the clicks of the last 90 days (emails_clicked_counter) and the last event (last_seen_at) then
# tell of payments in the month after it, which no payment feature sees.
CLICK_LEAD = timedelta(days=30)


def announced_by_clicks(spec: SimulationSpec) -> list[EventRow]:
    begin = datetime(spec.start.year, spec.start.month, spec.start.day)
    return [(f"click-{payment_id}", paid_at - CLICK_LEAD, "email_clicked", user_id, None, None,
             None, None)
            for payment_id, user_id, paid_at, _ in simulate_payments(spec)
            if paid_at - CLICK_LEAD >= begin]


def test_computed_traits_are_compared_out_of_time_and_help_when_they_carry_signal(
    warehouse: Warehouse, outcome: pipeline.Outcome,
) -> None:
    # without event sources no user has traits: no candidate with traits (the fixture's build)
    assert "gbm_poisson_traits" not in {r.name for r in outcome.results}

    warehouse.load(simulate_payments(SPEC),
                   demo_data.generate_calendar(SPEC.start, SPEC.as_of.date()))
    loaded = warehouse.backend.load_events(announced_by_clicks(SPEC), [])
    assert loaded["fact_events"] > 1000
    warehouse.dbt("build", vars={"rfm_as_of": SPEC.as_of.isoformat(sep=" ")}).assert_ok()
    periods, horizon = ltv_warehouse.load_periods(warehouse.connection, "analytics")
    plan = pipeline.make_plan(periods, horizon, train_cutoffs=TRAIN_CUTOFFS)
    features = ltv_warehouse.load_features(warehouse.connection, "analytics",
                                           plan.periods_needed)
    assert set(trait_columns(features)) >= {
        "trait_emails_clicked_counter", "trait_last_seen_at_days_ago"}
    with_traits = pipeline.run(features, plan, seed=0)
    results = {r.name: r.metrics for r in with_traits.results}
    plain, traits = results["gbm_poisson"], results["gbm_poisson_traits"]
    assert plain is not None and traits is not None
    assert traits.rmse < plain.rmse, (traits, plain)
    verdict = [m for m in with_traits.messages if "computed traits" in m]
    assert verdict and verdict[0].startswith("the computed traits helped out of time"), verdict
    assert f"- note: {verdict[0]}" in report.markdown(with_traits, datetime(2024, 1, 1))
