"""The benchmark harness (`rfm bench`) on a tiny size: the naive SQL, our dbt build (full and
incremental) and the pandas way must give every (period, user) the same segment, else its times
would compare wrong answers. Runs the whole harness once on PostgreSQL and once on DuckDB
(~30-40 s each)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from rfm_segmentation import bench
from rfm_segmentation.warehouses import postgres as database

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


PEER_SQL = ("article", "naive", "floor", "floor_scheduled")
PSQL_VARIABLE = re.compile(":'\\w+'|:\"\\w+\"")


@pytest.mark.parametrize("name", PEER_SQL)
def test_render_sql_in_each_engine_dialect(name: str) -> None:
    path = ROOT / "benchmarks" / f"{name}.sql"
    for engine in ("postgres", "duckdb", "spark"):
        text = bench.render_sql(path, datetime(2025, 1, 1), "raw", engine=engine)
        assert not PSQL_VARIABLE.search(text), (engine, PSQL_VARIABLE.search(text))
        assert "cast('2025-01-01 00:00:00' as timestamp)" in text
    duck = bench.render_sql(path, datetime(2025, 1, 1), "raw", engine="duckdb")
    assert "collate" not in duck and '"raw".fact_payments' in duck
    spark = bench.render_sql(path, datetime(2025, 1, 1), "raw", engine="spark")
    assert "`raw`.fact_payments" in spark and '"raw"' not in spark
    for postgres_only in ("collate", "::", " as text)", "as date) - cast(",
                          "date_month - max("):
        assert postgres_only not in spark, postgres_only
    # every engine substitution still finds its PostgreSQL text (no peer was reworded)
    texts = [(ROOT / "benchmarks" / f"{peer}.sql").read_text() for peer in PEER_SQL]
    for postgres_text, _ in bench._DIALECTS["spark"]:
        assert any(postgres_text in text for text in texts), postgres_text
    with pytest.raises(ValueError, match="unknown engine"):
        bench.render_sql(path, datetime(2025, 1, 1), engine="oracle")


def _fake_run(size: str, shape: str = "normal", engine: str = "postgres", *,
              article_s: float | None = 30.0, full_s: float = 10.0, incremental_s: float = 3.0,
              article_capped: bool = False) -> dict[str, Any]:
    """A results.json entry with round figures; ``article_s`` None: a run measured before the
    article's query and the scheduled floor were peers."""
    from rfm_segmentation.bench import runner

    periods = bench.SIZES[size][1]
    build = {"wall_s": full_s, "history_s": full_s / 2, "runner_elapsed_s": full_s - 1,
             "outside_runner_s": 1.0, "peak_rss_mb": 300.0, "temp_bytes": 0, "temp_files": 0,
             "seconds_by_resource_type": {"model": full_s / 2, "test": 1.0},
             "command": ["dbt", *bench.PRODUCTION_BUILD]}
    run: dict[str, Any] = {
        "key": bench.run_key(bench.make_plan(size, shape), engine), "engine": engine,
        "size": size, "shape": shape, "periods": periods, "users": 1000,
        "data": {"raw_payments": 20_000, "raw_payments_appended": 600,
                 "clean_payments": 19_000, "history_rows": 30_000},
        "naive": {"wall_s": 20.0, "capped": False, "temp_bytes": 2**21, "temp_files": 2},
        "full_build": build,
        "incremental_build": {**build, "wall_s": incremental_s, "history_s": incremental_s / 2},
        "floor": {"wall_s": 2.0, "temp_bytes": 0, "temp_files": 0},
        "pandas": {"compute_s": 40.0, "read_s_not_counted": 1.0},
        "dbt_fixed_cost": {"parse_partial_s": 1.0, "parse_full_s": 2.0,
                           "build_selecting_nothing_s": 2.5},
        "checks": {name: {"ok": True} for name in
                   ("naive_vs_ours", "pandas_vs_ours", "incremental_vs_full")},
    }
    run["article"] = {"wall_s": article_s or 1.0, "capped": article_capped,
                      "temp_bytes": 3 * 2**20, "temp_files": 3}
    run["floor_scheduled"] = {"wall_s": 0.5, "temp_bytes": 0, "temp_files": 0}
    run["bench_process"] = {"peak_rss_mb_after_load": 200.0, "peak_rss_mb": 900.0}
    run["ratios"] = runner._ratios(run)
    if article_s is None:  # an entry stored before: none of the new peers, none of their ratios
        for name in ("article", "floor_scheduled", "bench_process"):
            del run[name]
        for name in ("article_over_full_wall", "article_over_incremental_wall",
                     "article_over_full_history", "incremental_history_over_scheduled_floor"):
            del run["ratios"][name]
    return run


def _fake_document(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"machine": {"cpu": "test", "cores": 2, "ram_gb": 24, "python": "3",
                        "postgresql": {}, "server": "embedded"},
            "runs": {run["key"]: run for run in runs}}


def test_ratios_lead_with_the_article_query() -> None:
    run = _fake_run("M", article_s=30.0, full_s=10.0, incremental_s=3.0)
    ratios = run["ratios"]
    assert list(ratios)[:3] == ["article_over_full_wall", "article_over_incremental_wall",
                                "article_over_full_history"]
    assert (ratios["article_over_full_wall"], ratios["article_over_incremental_wall"],
            ratios["article_over_full_history"]) == (3.0, 10.0, 6.0)
    assert ratios["incremental_history_over_scheduled_floor"] == 3.0  # 1.5 s / 0.5 s


def test_results_md_heads_every_table_with_the_article_query() -> None:
    text = bench.render_markdown(_fake_document(_fake_run("M")))
    # the article's query first wherever peers are listed
    for heading, peer_row in (("## Times", "| ("), ("## Ratios", "| "),
                              ("## dbt overhead, memory and disk", "| temp spilled")):
        rows = text.split(heading, 1)[1].split("| --- |", 1)[1].splitlines()[1:]
        first = next(row for row in rows if row.startswith(peer_row))
        assert "article" in first, (heading, first)
    engines = bench.render_markdown(_fake_document(
        _fake_run("M"), _fake_run("M", engine="duckdb"))).split("## Engines", 1)[1]
    assert engines.splitlines()[4].startswith(
        "| engine | data | load avg | (a) article query | (b) naive |")
    assert "| (a) the article's query, as written | 30.00 s |" in text
    assert "| article query / ours, full build (wall) | 3.0× |" in text
    assert "| article query / ours, scheduled run (wall) | 10.0× |" in text
    assert "| (f) scheduled floor statement (the recomputed periods) | 0.50 s |" in text
    assert "| our history model (scheduled) / scheduled floor | 3.0× |" in text
    assert "| temp spilled by PostgreSQL: (a) article query | 3 MB in 3 files |" in text
    assert "200 / 900 MB" in text  # the bench process's own peak memory
    # one letter per peer, the same everywhere
    for letter, peer in (("(a)", "article"), ("(b)", "naive"), ("(c)", "full build"),
                         ("(d)", "scheduled"), ("(e)", "floor"), ("(f)", "scheduled floor"),
                         ("(g)", "pandas")):
        assert any(line.startswith(f"| {letter} ") and peer in line
                   for line in text.splitlines()), letter


def test_results_md_goals_apply_by_size_and_engine() -> None:
    runs = (
        _fake_run("S"),
        _fake_run("M", article_s=30.0, full_s=10.0, incremental_s=3.0),  # 3× and 10×
        _fake_run("M", "dense", article_s=30.0, full_s=20.0, incremental_s=15.0),  # 1.5× and 2×
        _fake_run("L", article_s=900.0, full_s=300.0, incremental_s=150.0,
                  article_capped=True),  # > 3× and > 6×: the cap decides the first only
        _fake_run("M", engine="duckdb", article_s=8.0, full_s=10.0, incremental_s=3.0),
    )
    text = bench.render_markdown(_fake_document(*runs))
    goals = text.split("## Checks and goals", 1)[1]

    def cells(label: str) -> list[str]:
        row = next(line for line in goals.splitlines() if line.startswith(f"| {label}"))
        return [cell.strip() for cell in row.strip("|").split("|")][1:]

    assert cells("goal: full build ≥ 1.5×") == [
        "–", "met (3.0×)", "**missed** (1.5×)", "met (> 3.0×)", "–"]
    assert cells("goal: scheduled run ≥ 2.5×") == [
        "–", "met (10.0×)", "**missed** (2.0×)", "not decided (> 6.0×: article capped)", "–"]
    assert cells("goal: DuckDB at M, full build") == ["–", "–", "–", "–", "**missed** (0.80×)"]
    assert cells("goal: DuckDB at M, scheduled run") == ["–", "–", "–", "–", "met (2.7×)"]
    assert cells("goal: history model within 3× of the floor")[0] == "met (2.5×)"
    assert cells("goal: history model within 3× of the scheduled floor")[0] == "met (3.0×)"
    assert cells("goal: a scheduled run never slower")[0] == "met (0.30×)"
    assert "≥ 5× faster than naive" not in text  # the old goals are gone


def test_results_md_marks_figures_a_run_predates() -> None:
    text = bench.render_markdown(_fake_document(_fake_run("M", article_s=None)))
    assert "| (a) the article's query, as written | not measured yet |" in text
    assert "| goal: full build ≥ 1.5× (M normal) / 2× (M dense, L) faster than the article's " \
           "query | not measured yet |" in text
    assert "| (b) naive statement (the article's query with the cleaning) | 20.00 s |" in text


def test_the_last_period_waits_in_a_file_not_in_memory() -> None:
    from decimal import Decimal

    from rfm_segmentation.bench.data import RowSpool

    rows = [(f"p{i}", f"u{i % 7}", datetime(2024, 12, 1 + i % 28), Decimal("9.90"))
            for i in range(120_001)] + [(None, " ", None, None)]
    spool = RowSpool()
    for row in rows:
        spool.append(row)
    assert len(spool) == len(rows)
    assert list(spool) == rows
    assert list(spool) == rows  # read back again, as often as needed
    spool.close()


def test_spark_refuses_big_sizes_without_force(tmp_path: Path) -> None:
    from rich.console import Console

    from rfm_segmentation import cli

    args = cli.build_parser().parse_args(["bench", "--size", "M", "--engine", "spark",
                              "--output", str(tmp_path)])
    console = Console(record=True, width=200)
    assert bench.cmd_bench(args, console, ROOT) == 2
    assert "--force" in console.export_text()


def test_segment_matrix_is_complete() -> None:
    assert len(bench.segment_matrix(ROOT)) == 25


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
    assert "article query / ours, full build (wall)" in md_path.read_text()
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
