"""The analysts' and the CRM's side: analyses that run, and a reverse-ETL role that can read the
current segments and nothing else."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import psycopg2
import pytest

from rfm_segmentation import demo as demo_data
from rfm_segmentation.warehouses import postgres as database

from conftest import SCHEMA, SharedBuilds, Warehouse

AS_OF = datetime(2024, 9, 10, 6, 0, 0)
SPEC = demo_data.DemoSpec(n_users=400, start=date(2023, 6, 1), as_of=AS_OF, seed=11)


def load(warehouse: Warehouse) -> Warehouse:
    warehouse.load(
        demo_data.generate_payments(SPEC),
        demo_data.generate_calendar(date(2023, 1, 1), date(2024, 12, 31)),
    )
    warehouse.vars = {"rfm_as_of": AS_OF.isoformat(sep=" ")}
    return warehouse


@pytest.fixture
def built(warehouse: Warehouse) -> Warehouse:
    """Loaded, not built: a fresh database for the tests that build it their own way."""
    return load(warehouse)


@pytest.fixture
def built_once(server: database.Connection, shared_builds: SharedBuilds) -> Warehouse:
    """Loaded and built with `dbt build`, once: for the tests that only read it."""
    return shared_builds.get("postgres", "marts",
                             lambda warehouse: load(warehouse).dbt("build").assert_ok())


def compiled_analysis(warehouse: Warehouse, name: str) -> str:
    path = warehouse.workdir / "target" / "compiled" / "rfm_segmentation" / "analyses" / name
    return Path(path).read_text()


def test_analyses_compile_and_answer_from_the_history(built_once: Warehouse) -> None:
    built = built_once
    built.dbt("compile", "--select", "resource_type:analysis").assert_ok()
    history = built.table("rfm_segments_history", "snapshot_period, user_id")
    periods = sorted({row["snapshot_period"] for row in history})
    latest = periods[-1]

    mix = built.query(compiled_analysis(built, "segment_mix_per_period.sql"))
    assert Counter({(r["snapshot_period"], r["rfm_segment"]): r["users"] for r in mix}) == Counter(
        (r["snapshot_period"], r["rfm_segment"]) for r in history
    )

    retention = built.query(compiled_analysis(built, "segment_cohort_retention.sql"))
    cohort_period = periods[-4]  # default: 3 periods before the latest
    cohort = {r["user_id"] for r in history
              if r["snapshot_period"] == cohort_period and r["rfm_segment"] == "Champions"}
    assert cohort, "the demo data must have Champions in the cohort period"
    expected = Counter(
        (r["snapshot_period"], r["rfm_segment"]) for r in history
        if r["user_id"] in cohort and r["snapshot_period"] >= cohort_period
    )
    assert {(r["snapshot_period"], r["rfm_segment"]): r["users"] for r in retention} == expected
    for period in periods[-4:]:
        shares = [r["share_of_cohort"] for r in retention if r["snapshot_period"] == period]
        assert abs(sum(shares) - 1) < 1e-9

    entering = built.query(compiled_analysis(built, "users_entering_segment.sql"))
    assert {r["user_id"] for r in entering} == {
        r["user_id"] for r in history
        if r["snapshot_period"] == latest and r["rfm_segment"] == "At Risk"
        and r["previous_segment"] != "At Risk"
    }


def test_docs_generate_renders_the_doc_blocks(built_once: Warehouse) -> None:
    built = built_once
    built.dbt("docs", "generate").assert_ok()
    target = built.workdir / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    history = manifest["nodes"]["model.rfm_segmentation.rfm_segments_history"]
    assert "Snapshot semantics" in history["description"]
    segment = history["columns"]["rfm_segment"]["description"]
    assert "Cannot Lose Them" in segment
    assert "model.rfm_segmentation.rfm_segment_transitions" in catalog["nodes"]
    assert {e.split(".")[-1] for e in manifest["exposures"]} == {
        "segment_dashboard", "crm_segment_sync", "ml_point_in_time_features"
    }


def test_reverse_etl_role_reads_the_current_segments_and_nothing_else(built: Warehouse) -> None:
    role = f"crm_sync_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    built.execute(f"create role {role} login password '{password}'")
    try:
        built.dbt("build", vars={"reverse_etl_role": role}).assert_ok()
        as_role = built.connection.with_user(role, password).connect()
        try:
            with as_role.cursor() as cur:
                cur.execute(
                    f"select count(*), count(distinct user_id) from {SCHEMA}.rfm_segments_current"
                )
                users, distinct_users = cur.fetchone()
            assert users == distinct_users > 0
            for table in (f"{SCHEMA}.rfm_segments_history", f"{SCHEMA}.payments_rejected",
                          f"{SCHEMA}.rfm_segment_summary", "raw.fact_payments"):
                as_role.rollback()
                with as_role.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(f"select 1 from {table} limit 1")
        finally:
            as_role.close()
    finally:
        built.execute(f"drop owned by {role}")
        built.execute(f"drop role {role}")


def test_reverse_etl_role_must_be_a_plain_role_name(built: Warehouse) -> None:
    result = built.dbt("compile", "--select", "rfm_segments_current",
                       vars={"reverse_etl_role": "crm; drop table raw.fact_payments"})
    assert result.returncode != 0
    assert "Invalid var reverse_etl_role=crm; drop table raw.fact_payments" in result.output
