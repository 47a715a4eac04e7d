"""One benchmark run end to end (see the package docstring): data, dbt builds, the article's
query, the naive SQL, the two floors, pandas, the checks, dbt's fixed cost; its results entry."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import (
    Progress,
    TaskID,
)

from rfm_segmentation.bench.backends import PostgresBench, engine_bench
from rfm_segmentation.bench.data import append_later, load_initial, snapshot_periods
from rfm_segmentation.bench.dbt_runs import DbtRun, DbtRunner, dbt_vars
from rfm_segmentation.bench.measure import SqlStep, dbt_threads, explain_analyze
from rfm_segmentation.bench.peers import pandas_clean, pandas_segments, render_sql, segment_matrix
from rfm_segmentation.bench.plan import (
    BENCH_SCHEMA,
    DBT_SCHEMA,
    HISTORY_COLUMNS,
    HISTORY_MODEL,
    HISTORY_TABLE,
    NOTHING_SELECTOR,
    PRODUCTION_BUILD,
    BenchError,
    BenchOptions,
    BenchPlan,
    quoted,
    run_key,
)
from rfm_segmentation.warehouses import postgres


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 2)


def _dbt_entry(run: DbtRun, history_model: str = HISTORY_MODEL) -> dict[str, Any]:
    return {
        "command": ["dbt", *run.args],
        "wall_s": round(run.wall_s, 2),
        "history_s": round_or_none(run.node_time(history_model)),
        "runner_elapsed_s": round_or_none(run.elapsed_s),
        "outside_runner_s": round_or_none(run.wall_s - run.elapsed_s if run.elapsed_s else None),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "temp_bytes": run.temp_bytes,
        "temp_files": run.temp_files,
        **run.node_summary(),
        "log": run.log_path,
    }


def bench_peak_rss_mb() -> float:
    """The peak RSS of this process (the harness: data generation, loading, pandas) so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def round_or_none(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


class _Steps:
    """Progress display of the steps of a run (or nothing, without a Progress)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.descriptions: dict[TaskID, str] = {}

    def start(self, description: str) -> TaskID | None:
        if self.progress is None:
            return None
        task = self.progress.add_task(description, total=None)
        self.descriptions[task] = description
        return task

    def done(self, task: TaskID | None, note: str = "") -> None:
        if self.progress is not None and task is not None:
            description = self.descriptions[task] + (f": {note}" if note else "")
            self.progress.update(task, total=1, completed=1, description=description)


def run_benchmark(
    root: Path,
    plan: BenchPlan,
    options: BenchOptions | None = None,
    progress: Progress | None = None,
    connection: postgres.Connection | None = None,
) -> dict[str, Any]:
    """Measure one plan end to end (see the module docstring) on ``options.engine`` and return
    its results entry.

    Raises BenchError when dbt fails. Disagreeing segments do not raise here: they are in
    ``result["checks"]`` (``all_ok`` false), so that the caller can record them first.
    """
    options = options or BenchOptions()
    if options.explain and options.engine != "postgres":
        raise BenchError("--explain is PostgreSQL-only")
    bench = engine_bench(root, options, connection)
    engine = bench.engine
    workdir = bench.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    runner = DbtRunner(root, bench.warehouse, workdir)
    steps = _Steps(progress)
    bench_dir = root / "benchmarks"
    # the bench's data has no event sources: by default the project is built as a team
    # without them runs it (rfm_events: false); --events keeps the graph's models
    previous_vars = dbt_vars(plan.previous_as_of, events=options.events)
    final_vars = dbt_vars(plan.as_of, events=options.events)
    load_before = os.getloadavg()[0]
    try:
        bench.prepare()

        # 1. data
        started = time.perf_counter()
        counts, later_rows = load_initial(bench.warehouse, plan, progress)
        load_s = time.perf_counter() - started
        peak_after_load = bench_peak_rss_mb()

        def timed_dbt(args: list[str], dbt_vars: dict[str, str], label: str) -> DbtRun:
            task = steps.start(f"dbt {' '.join(args)} {dbt_vars['rfm_as_of']}")
            token = bench.before_step()
            run = runner.run(args, dbt_vars, label=label)
            run.temp_bytes, run.temp_files = bench.after_step(token)
            steps.done(task, f"{run.wall_s:.1f}s")
            return run

        # 2. the stored history, up to the previous period
        parse_task = steps.start("dbt parse (vars changed: full parse)")
        parse_full = runner.run(["parse"], previous_vars, label="parse-full")
        steps.done(parse_task, f"{parse_full.wall_s:.1f}s")
        full_previous = timed_dbt([*PRODUCTION_BUILD, "--full-refresh"], previous_vars,
                                 "full-previous")

        # 3. one new period arrives; the scheduled run
        appended = append_later(bench.warehouse, later_rows)
        runner.run(["parse"], final_vars, label="parse-warm-up")  # as a scheduler: partial parse
        incremental = timed_dbt([*PRODUCTION_BUILD], final_vars, "incremental")
        incremental_sql = runner.compiled_path().read_text()
        explains: dict[str, Any] = {}
        if options.explain and isinstance(bench, PostgresBench):
            task = steps.start("EXPLAIN ANALYZE incremental history")
            plan_text, explains["incremental"] = explain_analyze(bench.conn, incremental_sql)
            _write_profile(bench_dir, plan, "incremental", plan_text, explains["incremental"])
            steps.done(task)
        bench.snapshot_incremental()

        # 4. our full build at the same instant
        full = timed_dbt([*PRODUCTION_BUILD, "--full-refresh"], final_vars, "full")
        full_sql = runner.compiled_path().read_text()
        unit_tests = timed_dbt(["test", "--select", "test_type:unit"], final_vars, "unit-tests")

        # 5. the article's query, naive; 6. the floors
        def timed_sql(name: str, table: str, timeout_s: float | None = None) -> SqlStep:
            cap = f" (capped at {timeout_s:.0f}s)" if timeout_s else ""
            task = steps.start(f"{name}.sql{cap}")
            statement = render_sql(bench_dir / f"{name}.sql", plan.as_of, engine=engine)
            token = bench.before_step()
            step = bench.run_sql(statement, table, timeout_s)
            step.temp_bytes, step.temp_files = bench.after_step(token)  # type: ignore[assignment]
            steps.done(task, f"{step.wall_s:.1f}s" + (" CAPPED" if step.capped else ""))
            return step

        article = timed_sql("article", f"{BENCH_SCHEMA}.article_history",
                            options.naive_timeout_s)
        naive = timed_sql("naive", f"{BENCH_SCHEMA}.naive_history", options.naive_timeout_s)
        floor = timed_sql("floor", f"{BENCH_SCHEMA}.floor_history")
        floor_scheduled = timed_sql("floor_scheduled", f"{BENCH_SCHEMA}.floor_scheduled")

        # 7. pandas
        task = steps.start("pandas: read raw (not timed), clean + per-period groupby (timed)")
        started = time.perf_counter()
        raw_frame, days = bench.raw_payments()
        periods = snapshot_periods(days, plan.as_of)
        read_s = time.perf_counter() - started
        matrix = segment_matrix(root)
        started = time.perf_counter()
        clean = pandas_clean(raw_frame, plan.as_of)
        clean_s = time.perf_counter() - started
        del raw_frame
        if progress is not None and task is not None:
            progress.update(task, total=len(periods), completed=0)

        def on_period(done: int) -> None:
            if progress is not None and task is not None:
                progress.update(task, completed=done)

        started = time.perf_counter()
        segments = pandas_segments(clean, periods, matrix, on_period)
        groupby_s = time.perf_counter() - started
        bench.store_pandas(segments)
        del clean, segments
        steps.done(task, f"{clean_s + groupby_s:.1f}s")

        # 8. checks
        task = steps.start("compare segments")
        comparisons = bench.compare({
            "naive_vs_ours": None if naive.capped else (
                f"{BENCH_SCHEMA}.naive_history", HISTORY_TABLE, ("rfm_segment",)),
            "pandas_vs_ours": (f"{BENCH_SCHEMA}.pandas_segments", HISTORY_TABLE,
                               ("rfm_segment",)),
            "incremental_vs_full": (f"{BENCH_SCHEMA}.incremental_history", HISTORY_TABLE,
                                    HISTORY_COLUMNS),
        })
        checks = {
            name: (None if c is None else {**asdict(c), "ok": c.ok, "summary": c.describe()})
            for name, c in comparisons.items()
        }
        all_ok = all(c is None or c.ok for c in comparisons.values())
        steps.done(task, "all same" if all_ok else "MISMATCH")

        # 9. dbt's fixed cost, with partial parsing warm (same vars as the last run)
        task = steps.start("dbt fixed cost")
        parse_partial = runner.run(["parse"], final_vars, label="parse-partial")
        build_nothing = runner.run(["build", "--select", NOTHING_SELECTOR], final_vars,
                                   label="build-nothing")
        steps.done(task, f"{build_nothing.wall_s:.1f}s")

        if options.explain and isinstance(bench, PostgresBench):
            task = steps.start("EXPLAIN ANALYZE full-refresh history")
            plan_text, explains["full"] = explain_analyze(bench.conn, full_sql)
            _write_profile(bench_dir, plan, "full", plan_text, explains["full"])
            steps.done(task)

        history = quoted(HISTORY_TABLE)
        history_rows = bench.scalar(f"select count(*) from {history}")
        result: dict[str, Any] = {
            "key": run_key(plan, engine),
            "engine": engine,
            "size": plan.size,
            "shape": plan.shape,
            "periods": plan.periods,
            "users": plan.users,
            "seed": plan.seed,
            "rfm_as_of": plan.as_of.isoformat(sep=" "),
            "rfm_as_of_previous": plan.previous_as_of.isoformat(sep=" "),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "git": _git_state(root),
            "load_average_1min": {"start": round(load_before, 2),
                                  "end": round(os.getloadavg()[0], 2)},
            "dbt_threads": dbt_threads(engine),
            "data": {
                "raw_payments": counts["fact_payments"] + appended,
                "raw_payments_first_load": counts["fact_payments"],
                "raw_payments_appended": appended,
                "clean_payments": bench.scalar(
                    "select count(*) from "
                    f"{quoted(DBT_SCHEMA + '.stg_billing__payments')} "
                    "where rejection_reason is null"),
                "history_rows": history_rows,
                "history_users_last_period": bench.scalar(
                    f"select count(*) from {history} where snapshot_period = "
                    f"(select max(snapshot_period) from {history})"),
                "history_mb": bench.history_mb(),
                "floor_rows": floor.rows,
                "floor_scheduled_rows": floor_scheduled.rows,
                "article_rows": article.rows,
                "load_s": round(load_s, 1),
            },
            "article": {"wall_s": round(article.wall_s, 2), "capped": article.capped,
                        "timeout_s": options.naive_timeout_s, "temp_bytes": article.temp_bytes,
                        "temp_files": article.temp_files},
            "naive": {"wall_s": round(naive.wall_s, 2), "capped": naive.capped,
                      "timeout_s": options.naive_timeout_s, "temp_bytes": naive.temp_bytes,
                      "temp_files": naive.temp_files},
            "full_build": _dbt_entry(full),
            "incremental_build": _dbt_entry(incremental),
            "full_build_previous_period": _dbt_entry(full_previous),
            "unit_tests": _dbt_entry(unit_tests),
            "floor": {"wall_s": round(floor.wall_s, 2), "temp_bytes": floor.temp_bytes,
                      "temp_files": floor.temp_files},
            "floor_scheduled": {"wall_s": round(floor_scheduled.wall_s, 2),
                                "temp_bytes": floor_scheduled.temp_bytes,
                                "temp_files": floor_scheduled.temp_files},
            "pandas": {"compute_s": round(clean_s + groupby_s, 2), "clean_s": round(clean_s, 2),
                       "per_period_groupby_s": round(groupby_s, 2),
                       "read_s_not_counted": round(read_s, 2)},
            "dbt_fixed_cost": {
                "parse_full_s": round(parse_full.wall_s, 2),
                "parse_partial_s": round(parse_partial.wall_s, 2),
                "build_selecting_nothing_s": round(build_nothing.wall_s, 2),
                "build_selecting_nothing_peak_rss_mb": round(build_nothing.peak_rss_mb, 1),
            },
            "bench_process": {"peak_rss_mb_after_load": peak_after_load,
                              "peak_rss_mb": bench_peak_rss_mb()},
            "checks": checks,
            "all_ok": all_ok,
            "explain": explains,
        }
        result["ratios"] = _ratios(result)
        return result
    finally:
        bench.close()


def _git_state(root: Path) -> dict[str, Any]:
    """The commit measured, and whether the dbt project differed from it."""
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  check=False)
        except OSError:
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "models", "macros", "tests", "seeds",
                  "dbt_project.yml")
    return {"commit": git("rev-parse", "--short", "HEAD") or None,
            "dbt_project_uncommitted_changes": bool(changed)}


def _write_profile(bench_dir: Path, plan: BenchPlan, kind: str, text: str,
                   summary: Mapping[str, Any]) -> None:
    folder = bench_dir / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    header = (f"EXPLAIN (ANALYZE, BUFFERS) of the compiled {kind} rfm_segments_history, run "
              f"{plan.key}, work_mem {summary.get('work_mem')} (the session's: the model's own "
              "pre-hook settings are not applied here). The compiled select is the first step "
              "of the fold (one period); its post-hook runs the others, alike.\n\n")
    (folder / f"{plan.key}-{kind}.txt").write_text(header + text + "\n")


def _ratios(result: Mapping[str, Any]) -> dict[str, float | None]:
    article, naive = result["article"]["wall_s"], result["naive"]["wall_s"]
    full, incremental = result["full_build"], result["incremental_build"]
    return {
        "article_over_full_wall": _ratio(article, full["wall_s"]),
        "article_over_incremental_wall": _ratio(article, incremental["wall_s"]),
        "article_over_full_history": _ratio(article, full["history_s"]),
        "naive_over_full_wall": _ratio(naive, full["wall_s"]),
        "naive_over_incremental_wall": _ratio(naive, incremental["wall_s"]),
        "naive_over_full_history": _ratio(naive, full["history_s"]),
        "history_over_floor": _ratio(full["history_s"], result["floor"]["wall_s"]),
        "incremental_history_over_scheduled_floor": _ratio(
            incremental["history_s"], result["floor_scheduled"]["wall_s"]),
        "incremental_over_full_history": _ratio(incremental["history_s"], full["history_s"]),
        "incremental_over_full_wall": _ratio(incremental["wall_s"], full["wall_s"]),
        "pandas_over_full_wall": _ratio(result["pandas"]["compute_s"], full["wall_s"]),
        "pandas_over_full_history": _ratio(result["pandas"]["compute_s"], full["history_s"]),
    }
