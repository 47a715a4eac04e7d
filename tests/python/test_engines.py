"""The engine layer itself: target selection, the raw loaders, and the Spark settings that live
in two places (profiles.yml for dbt, spark.spark_conf for the raw-table registration)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from rfm_segmentation import warehouses as engines
from rfm_segmentation.warehouses import spark

from conftest import ROOT


def test_the_engine_is_the_dbt_target() -> None:
    assert engines.engine_from_env({}) == "postgres"
    assert engines.engine_from_env({"DBT_TARGET": "duckdb"}) == "duckdb"
    with pytest.raises(SystemExit, match="DBT_TARGET='snowflake': expected one of"):
        engines.engine_from_env({"DBT_TARGET": "snowflake"})


def test_every_engine_has_a_target_in_profiles() -> None:
    profile = yaml.safe_load((ROOT / "profiles.yml").read_text())["rfm_segmentation"]
    assert set(profile["outputs"]) == set(engines.ENGINES)


def test_spark_settings_are_the_same_for_dbt_and_for_the_raw_loader(tmp_path: Path) -> None:
    profile = yaml.safe_load((ROOT / "profiles.yml").read_text())["rfm_segmentation"]
    rendered = {
        key: re.sub(r"\{\{ env_var\('RFM_SPARK_DIR', '\.local/spark'\) \}\}", str(tmp_path),
                    str(value))
        for key, value in profile["outputs"]["spark"]["server_side_parameters"].items()
    }
    assert rendered == spark.spark_conf(tmp_path)


@pytest.mark.duckdb
def test_duckdb_loader_keeps_blanks_nulls_and_exact_amounts(tmp_path: Path) -> None:
    warehouse = engines.DuckDBWarehouse(tmp_path / "w.duckdb")
    rows = [
        ("p1", " u1 ", datetime(2024, 1, 2, 3, 4, 5, 678901), Decimal("12.34")),
        ("", None, None, None),
        ("p3", "u3", datetime(2024, 2, 1), Decimal("0.0000000001")),
    ]
    counts = warehouse.load_raw(rows, [(date(2024, 1, 1), date(2024, 1, 1))])
    assert counts == {"fact_payments": 3, "dim_calendar": 1}
    assert warehouse.append_payments([("p4", "u4", datetime(2024, 3, 1), Decimal("1"))]) == 1
    stored = [tuple(r.values()) for r in warehouse.table("raw", "fact_payments", "payment_id")]
    assert stored == sorted([*rows, ("p4", "u4", datetime(2024, 3, 1), Decimal("1"))],
                            key=lambda r: r[0])
