"""The benchmark harness (`rfm bench`) on a tiny size: the naive SQL, our dbt build (full and
incremental) and the pandas way must give every (period, user) the same segment, else its times
would compare wrong answers. Runs the whole harness once (~30 s)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from rfm_segmentation import bench, database

ROOT = Path(__file__).resolve().parents[2]


def test_plans_of_the_named_sizes() -> None:
    m = bench.make_plan("M")
    assert (m.users, m.periods, m.key) == (100_000, 36, "M-normal-36")
    assert m.start == date(2022, 1, 1)
    assert m.previous_as_of == datetime(2024, 12, 1)
    dense = bench.make_plan("M", "dense")
    assert dense.users == 25_000
    assert dense.demo_spec().rate_mean_per_month > m.demo_spec().rate_mean_per_month
    assert bench.make_plan("S", periods=12).start == date(2024, 1, 1)
    with pytest.raises(ValueError, match="unknown size"):
        bench.make_plan("XL")


def test_render_sql_substitutes_the_psql_variables() -> None:
    text = bench.render_sql(ROOT / "benchmarks" / "naive.sql", datetime(2025, 1, 1), "raw")
    assert ":'rfm_as_of'" not in text and ':"raw_schema"' not in text
    assert "cast('2025-01-01 00:00:00' as timestamp)" in text
    assert '"raw".fact_payments' in text


def test_segment_matrix_is_complete() -> None:
    assert len(bench.SEGMENT_MATRIX) == 25


def test_tiny_benchmark_naive_dbt_and_pandas_agree(
    server: database.Connection, tmp_path: Path
) -> None:
    plan = bench.make_plan("S", users=300, periods=12, seed=7)
    options = bench.BenchOptions(database="rfm_test_bench", naive_timeout_s=120,
                                 workdir=tmp_path / "work")
    result = bench.run_benchmark(ROOT, plan, options, connection=server)

    checks = result["checks"]
    for name in ("naive_vs_ours", "pandas_vs_ours", "incremental_vs_full"):
        assert checks[name] is not None, name
        assert checks[name]["ok"], checks[name]["summary"] + "\n" + "\n".join(
            checks[name]["examples"])
    assert result["all_ok"]
    data = result["data"]
    assert data["raw_payments_appended"] > 0
    assert data["history_rows"] == checks["naive_vs_ours"]["rows_left"] > 0
    assert result["full_build"]["history_s"] is not None
    assert result["incremental_build"]["history_s"] is not None

    # the result files render
    json_path, md_path = bench.write_results(tmp_path / "out", result, {
        "cpu": "test", "cores": 1, "ram_gb": 1, "python": "3", "postgresql": {},
        "server": "embedded", "dbt_core": "-", "dbt_postgres": "-", "pandas": "-",
        "dbt_threads": "4",
    })
    assert "S-normal-12" in json.loads(json_path.read_text())["runs"]
    assert "naive / ours, full build (wall)" in md_path.read_text()
