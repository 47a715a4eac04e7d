"""The benchmark harness (`rfm bench`) on a tiny size: the naive SQL, our dbt build (full and
incremental) and the pandas way must give every (period, user) the same segment, else its times
would compare wrong answers. Runs the whole harness once on PostgreSQL and once on DuckDB
(~30-40 s each)."""

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
    assert 'collate "C"' in text


@pytest.mark.parametrize("name", ["naive", "floor"])
def test_render_sql_in_each_engine_dialect(name: str) -> None:
    path = ROOT / "benchmarks" / f"{name}.sql"
    duck = bench.render_sql(path, datetime(2025, 1, 1), "raw", engine="duckdb")
    assert "collate" not in duck and '"raw".fact_payments' in duck
    spark = bench.render_sql(path, datetime(2025, 1, 1), "raw", engine="spark")
    assert "`raw`.fact_payments" in spark and '"raw"' not in spark
    for postgres_only in ("collate", "::", " as text)", "as date) - cast("):
        assert postgres_only not in spark, postgres_only
    # every engine substitution still finds its PostgreSQL text (naive.sql was not reworded)
    naive = (ROOT / "benchmarks" / "naive.sql").read_text()
    floor = (ROOT / "benchmarks" / "floor.sql").read_text()
    for postgres_text, _ in bench._DIALECTS["spark"]:
        assert postgres_text in naive or postgres_text in floor, postgres_text
    with pytest.raises(ValueError, match="unknown engine"):
        bench.render_sql(path, datetime(2025, 1, 1), engine="oracle")


def test_spark_refuses_big_sizes_without_force(tmp_path: Path) -> None:
    from rich.console import Console

    from rfm_segmentation import cli

    args = cli.build_parser().parse_args(["bench", "--size", "M", "--engine", "spark",
                              "--output", str(tmp_path)])
    console = Console(record=True, width=200)
    assert bench.cmd_bench(args, console, ROOT) == 2
    assert "--force" in console.export_text()


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
    # each dbt step's run_results.json is kept beside its log, for profiling
    kept = json.loads(next((tmp_path / "work").glob("*-incremental.run_results.json")).read_text())
    assert {r["unique_id"] for r in kept["results"]} >= {
        "model.rfm_segmentation.rfm_segments_history"}
    # the timed builds are the production job; the unit tests run apart, and all of them
    kinds = {r["unique_id"].split(".")[0] for r in kept["results"]}
    assert "unit_test" not in kinds and "model" in kinds
    assert result["incremental_build"]["command"] == ["dbt", *bench.PRODUCTION_BUILD]
    unit_results = json.loads(
        next((tmp_path / "work").glob("*-unit-tests.run_results.json")).read_text())["results"]
    assert unit_results and {r["status"] for r in unit_results} == {"pass"}
    assert {r["unique_id"].split(".")[0] for r in unit_results} == {"unit_test"}

    # the result files render
    json_path, md_path = bench.write_results(tmp_path / "out", result, {
        "cpu": "test", "cores": 1, "ram_gb": 1, "python": "3", "postgresql": {},
        "server": "embedded", "dbt_core": "-", "dbt_postgres": "-", "pandas": "-",
        "dbt_threads": "4",
    })
    assert "S-normal-12" in json.loads(json_path.read_text())["runs"]
    assert "naive / ours, full build (wall)" in md_path.read_text()
    assert "average busy threads" in md_path.read_text()
    assert "the unit tests apart" in md_path.read_text()


@pytest.mark.duckdb
def test_tiny_benchmark_on_duckdb_naive_dbt_and_pandas_agree(tmp_path: Path) -> None:
    plan = bench.make_plan("S", users=300, periods=12, seed=7)
    options = bench.BenchOptions(naive_timeout_s=120, workdir=tmp_path / "work",
                                 engine="duckdb")
    result = bench.run_benchmark(ROOT, plan, options)

    assert result["engine"] == "duckdb"
    assert result["key"] == "S-normal-12-duckdb"
    assert (tmp_path / "work" / "warehouse.duckdb").is_file()  # its own file, not the demo's
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
    assert result["naive"]["temp_bytes"] is None  # PostgreSQL-only: n/a

    # the engines render side by side with a PostgreSQL run of the same plan
    postgres_run = {**result, "engine": "postgres", "key": "S-normal-12"}
    out = tmp_path / "out"
    bench.write_results(out, postgres_run, {"cpu": "test", "cores": 1, "ram_gb": 1,
                                            "python": "3", "postgresql": {"work_mem": "4MB"},
                                            "server": "embedded", "dbt_threads": "4"})
    json_path, md_path = bench.write_results(out, result, bench.machine_facts())
    document = json.loads(json_path.read_text())
    assert set(document["runs"]) == {"S-normal-12", "S-normal-12-duckdb"}
    assert document["machine"]["postgresql"] == {"work_mem": "4MB"}  # kept from the PG run
    text = md_path.read_text()
    assert "## Engines" in text and "| DuckDB | S normal, 12 mo |" in text
    assert "S normal, 12 mo, DuckDB" in text and "n/a" in text


def test_the_embedded_server_writes_a_new_table_without_wal(server: database.Connection) -> None:
    """The embedded server's own settings (database.EMBEDDED_SETTINGS), set at its first start:
    the figures of benchmarks/ were measured with them."""
    if not server.embedded:
        pytest.skip("PGHOST is set: the server is yours and keeps its own settings")
    with database.cursor(server) as cur:
        cur.execute("select name, setting from pg_settings where name = any(%s)",
                    (list(database.EMBEDDED_SETTINGS),))
        settings = dict(cur.fetchall())
    assert settings == {"wal_level": "minimal", "max_wal_senders": "0", "deadlock_timeout": "100"}
