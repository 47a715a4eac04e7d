"""``benchmarks/results.json`` (every stored run) and ``results.md`` rendered from it, and the
summary table ``rfm bench`` prints."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from rfm_segmentation import warehouses
from rfm_segmentation.bench.plan import ENGINE_LABELS, SHAPES, SIZE_ORDER, SIZES


def run_engine(run: Mapping[str, Any]) -> str:
    """The run's engine (the runs measured before there were engines are PostgreSQL's)."""
    return str(run.get("engine") or "postgres")


def _run_order(run: Mapping[str, Any]) -> tuple[int, int, int, int]:
    engine = run_engine(run)
    return (SIZE_ORDER.get(run["size"], 9), SHAPES.index(run["shape"]),
            warehouses.ENGINES.index(engine) if engine in warehouses.ENGINES else 9, run["periods"])


def write_results(out_dir: Path, run: Mapping[str, Any], machine: Mapping[str, Any]
                  ) -> tuple[Path, Path]:
    """Merge ``run`` into ``results.json`` (keyed by size-shape-periods, plus the engine unless
    PostgreSQL) and re-render ``results.md`` from every stored run. ``machine`` is merged into
    the stored one (a DuckDB run keeps the PostgreSQL settings of the earlier runs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "results.md"
    stored: dict[str, Any] = {}
    if json_path.is_file():
        try:
            stored = json.loads(json_path.read_text())
        except json.JSONDecodeError:
            stored = {}
    runs = dict(stored.get("runs", {}))
    runs[run["key"]] = {**run, "machine": dict(machine)}
    merged_machine = {**dict(stored.get("machine") or {}), **dict(machine)}
    document = {"machine": merged_machine, "runs": dict(sorted(
        runs.items(), key=lambda kv: _run_order(kv[1])))}
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    md_path.write_text(render_markdown(document))
    return json_path, md_path


def fmt_s(value: float | None, capped: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:,.2f} s" if value < 100 else f"{value:,.0f} s"
    return f"> {text} (capped)" if capped else text


def fmt_x(value: float | None, capped: bool = False) -> str:
    if value is None:
        return "–"
    return (f"> {value:,.1f}×" if capped else f"{value:,.1f}×") if value >= 1 else \
        (f"> {value:.2f}×" if capped else f"{value:.2f}×")


def _busy(build: Mapping[str, Any]) -> str:
    """The nodes' execution times summed over the runner's span: how many threads were busy
    on average (on 2 cores, near 2 or above means the build is bound by the CPU)."""
    summed = sum(build["seconds_by_resource_type"].values())
    elapsed = build.get("runner_elapsed_s")
    return f"{summed / elapsed:.1f}" if elapsed else "n/a"


def _fmt_mb(value: float | int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.0f} MB" if value > 2**20 else \
        f"{value / 1024:,.0f} kB"


def _build_command(run: Mapping[str, Any]) -> str:
    """How the run's builds were invoked: the production job (unit tests apart), or, in the
    runs measured before it had its own step, a plain `dbt build` with the unit tests."""
    if "unit_tests" not in run:
        return "`dbt build` (unit tests included)"
    return "`" + " ".join(run["incremental_build"]["command"]) + "`"


def _unit_tests(run: Mapping[str, Any]) -> str:
    if "unit_tests" not in run:
        return "in (b) and (c)"
    unit = run["unit_tests"]
    summed = unit["seconds_by_resource_type"].get("unit_test")
    return f"{fmt_s(unit['wall_s'])} / {fmt_s(summed)}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def run_label(run: Mapping[str, Any]) -> str:
    label = f"{run['size']} {run['shape']}, {run['periods']} mo"
    engine = run_engine(run)
    return label if engine == "postgres" else f"{label}, {ENGINE_LABELS.get(engine, engine)}"


def _machine_line(machine: Mapping[str, Any], runs: Sequence[Mapping[str, Any]]) -> str:
    used = {run_engine(r) for r in runs}
    parts = [f"**Machine:** {machine.get('cpu')}, {machine.get('cores')} cores, "
             f"{machine.get('ram_gb')} GB RAM"]
    pg = machine.get("postgresql") or {}
    if "postgres" in used and pg:
        parts.append(
            f"PostgreSQL {pg.get('server_version')} ({machine.get('server')}; work_mem "
            f"{pg.get('work_mem')}, shared_buffers {pg.get('shared_buffers')}, "
            f"max_parallel_workers_per_gather {pg.get('max_parallel_workers_per_gather')}, "
            f"jit {pg.get('jit')}, wal_level {pg.get('wal_level', '?')}), "
            f"dbt-postgres {machine.get('dbt_postgres')} "
            f"(threads {machine.get('dbt_threads', '4')})")
    if "duckdb" in used:
        parts.append(f"DuckDB {machine.get('duckdb', '?')}, dbt-duckdb "
                     f"{machine.get('dbt_duckdb', '?')} (threads {_threads_of(runs, 'duckdb')})")
    if "spark" in used:
        parts.append(f"Spark (pyspark {machine.get('pyspark', '?')}, local, session method), "
                     f"dbt-spark {machine.get('dbt_spark', '?')} (threads 1)")
    parts.append(f"Python {machine.get('python')}, dbt-core {machine.get('dbt_core')}, "
                 f"pandas {machine.get('pandas')}.")
    return "; ".join(parts)


def _threads_of(runs: Sequence[Mapping[str, Any]], engine: str) -> str:
    found = sorted({str(r.get("dbt_threads", "?")) for r in runs if run_engine(r) == engine})
    return "/".join(found) or "?"


def _engines_table(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """One row per run: the engines side by side."""
    def same(run: Mapping[str, Any]) -> str:
        names = ("naive_vs_ours", "pandas_vs_ours", "incremental_vs_full")
        entries = [run["checks"].get(n) for n in names]
        if any(e is not None and not e["ok"] for e in entries):
            return "**DIFFERENT**"
        return "same" if all(e is not None for e in entries) else "same (naive not compared)"

    ordered = sorted(runs, key=lambda r: (SIZE_ORDER.get(r["size"], 9),
                                          SHAPES.index(r["shape"]), r["periods"],
                                          _run_order(r)[2]))
    return _table(
        ["engine", "data", "load avg", "(a) naive", "(b) full build wall", "(b) history model",
         "(c) incremental wall", "(c) history model", "(d) floor", "(e) pandas",
         "naive / ours full", "naive / ours incr.", "history / floor", "incr. / full wall",
         "segments"],
        [[ENGINE_LABELS.get(run_engine(r), run_engine(r)),
          f"{r['size']} {r['shape']}, {r['periods']} mo",
          (f"{r['load_average_1min']['start']:.1f}" if "load_average_1min" in r else "–"),
          fmt_s(r["naive"]["wall_s"], r["naive"]["capped"]),
          fmt_s(r["full_build"]["wall_s"]), fmt_s(r["full_build"]["history_s"]),
          fmt_s(r["incremental_build"]["wall_s"]), fmt_s(r["incremental_build"]["history_s"]),
          fmt_s(r["floor"]["wall_s"]), fmt_s(r["pandas"]["compute_s"]),
          fmt_x(r["ratios"]["naive_over_full_wall"], r["naive"]["capped"]),
          fmt_x(r["ratios"]["naive_over_incremental_wall"], r["naive"]["capped"]),
          fmt_x(r["ratios"]["history_over_floor"]),
          fmt_x(r["ratios"]["incremental_over_full_wall"]),
          same(r)] for r in ordered],
    )


def render_markdown(document: Mapping[str, Any]) -> str:
    machine = document["machine"]
    runs = list(document["runs"].values())
    lines = [
        "# Benchmark results",
        "",
        "Written by `rfm bench` (`make bench SIZE=S|M|L ENGINE=postgres|duckdb|spark`); see "
        "[README.md](README.md) for what each measurement is. Every column is one run on one "
        "database and one data set. PostgreSQL-only figures (temp spilled) are n/a on the "
        "other engines.",
        "",
        _machine_line(machine, runs),
        "",
    ]
    noted = [r for r in runs if r.get("command") or r.get("note")]
    if noted:
        lines += ["Runs measured with a recorded command (or note):", ""]
        lines += [f"- {run_label(r)} ({r.get('measured_at', '?')}): "
                  + (f"`{r['command']}`" if r.get("command") else "")
                  + (f". {r['note']}" if r.get("note") else "") for r in noted]
        lines += [""]
    headline = [r for r in runs if r["periods"] == SIZES.get(r["size"], (0, 0))[1]] or runs
    if len({run_engine(r) for r in runs}) > 1:
        lines += ["## Engines", "",
                  "The same data set (size, shape, seed) on each engine, one run each.", ""]
        lines += _engines_table(headline)
        lines += [""]
    lines += _run_tables(headline)
    scaling: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for run in runs:
        scaling.setdefault((run["size"], run["shape"], run_engine(run)), []).append(run)
    for (size, shape, engine), group in scaling.items():
        if len(group) < 2:
            continue
        group = sorted(group, key=lambda r: r["periods"])
        on = "" if engine == "postgres" else f", {ENGINE_LABELS.get(engine, engine)}"
        lines += ["", f"## Scaling with the length of history: {size} {shape}{on}", ""]
        lines += _table(
            ["approach", *(f"{r['periods']} periods" for r in group)],
            [
                ["raw payments", *(f"{r['data']['raw_payments']:,}" for r in group)],
                ["history rows", *(f"{r['data']['history_rows']:,}" for r in group)],
                ["naive statement", *(fmt_s(r["naive"]["wall_s"], r["naive"]["capped"])
                                      for r in group)],
                ["our full build, wall", *(fmt_s(r["full_build"]["wall_s"]) for r in group)],
                ["our full build, history model",
                 *(fmt_s(r["full_build"]["history_s"]) for r in group)],
                ["our incremental build, wall",
                 *(fmt_s(r["incremental_build"]["wall_s"]) for r in group)],
                ["our incremental build, history model",
                 *(fmt_s(r["incremental_build"]["history_s"]) for r in group)],
                ["floor statement", *(fmt_s(r["floor"]["wall_s"]) for r in group)],
                ["pandas (compute only)", *(fmt_s(r["pandas"]["compute_s"]) for r in group)],
                ["naive / ours (full wall)",
                 *(fmt_x(r["ratios"]["naive_over_full_wall"], r["naive"]["capped"])
                   for r in group)],
                ["history model / floor",
                 *(fmt_x(r["ratios"]["history_over_floor"]) for r in group)],
            ],
        )
    other = [r for r in runs if r not in headline]
    if other:
        lines += ["", "## Other runs", ""]
        lines += _run_tables(other, headings=False)
    return "\n".join(lines) + "\n"


def _commit(run: Mapping[str, Any]) -> str:
    state = run.get("git") or {}
    commit = state.get("commit") or "?"
    return f"`{commit}`" + (" + local changes" if state.get("dbt_project_uncommitted_changes")
                            else "")


def _run_tables(runs: Sequence[Mapping[str, Any]], headings: bool = True) -> list[str]:
    header = ["", *(run_label(r) for r in runs)]
    lines: list[str] = []
    if headings:
        lines += ["## Times", ""]
    lines += _table(header, [
        ["commit measured", *(_commit(r) for r in runs)],
        ["machine load (1-min load average at start / end)",
         *(f"{r['load_average_1min']['start']:.1f} / {r['load_average_1min']['end']:.1f}"
           if "load_average_1min" in r else "–" for r in runs)],
        ["users", *(f"{r['users']:,}" for r in runs)],
        ["raw payments (appended last period)",
         *(f"{r['data']['raw_payments']:,} ({r['data']['raw_payments_appended']:,})"
           for r in runs)],
        ["payments per user", *(f"{r['data']['clean_payments'] / r['users']:.0f}" for r in runs)],
        ["history rows", *(f"{r['data']['history_rows']:,}" for r in runs)],
        ["the builds timed in (b) and (c)", *(_build_command(r) for r in runs)],
        ["(a) naive statement", *(fmt_s(r["naive"]["wall_s"], r["naive"]["capped"])
                                  for r in runs)],
        ["(b) our full build: `--full-refresh` wall",
         *(fmt_s(r["full_build"]["wall_s"]) for r in runs)],
        ["(b) … its history model (run_results.json)",
         *(fmt_s(r["full_build"]["history_s"]) for r in runs)],
        ["(c) our incremental build: wall, one new period",
         *(fmt_s(r["incremental_build"]["wall_s"]) for r in runs)],
        ["(c) … its history model", *(fmt_s(r["incremental_build"]["history_s"]) for r in runs)],
        ["(d) floor statement", *(fmt_s(r["floor"]["wall_s"]) for r in runs)],
        ["(e) pandas, compute only (clean + per-period groupby)",
         *(fmt_s(r["pandas"]["compute_s"]) for r in runs)],
        ["(e) … reading raw into pandas (not counted)",
         *(fmt_s(r["pandas"]["read_s_not_counted"]) for r in runs)],
        ["(f) the unit tests apart (`dbt test --select test_type:unit`): wall / summed",
         *(_unit_tests(r) for r in runs)],
    ])
    if headings:
        lines += ["", "## Ratios", ""]
    else:
        lines += [""]
    lines += _table(header, [
        ["naive / ours, full build (wall)",
         *(fmt_x(r["ratios"]["naive_over_full_wall"], r["naive"]["capped"]) for r in runs)],
        ["naive / ours, incremental build (wall)",
         *(fmt_x(r["ratios"]["naive_over_incremental_wall"], r["naive"]["capped"])
           for r in runs)],
        ["naive / our history model (full)",
         *(fmt_x(r["ratios"]["naive_over_full_history"], r["naive"]["capped"]) for r in runs)],
        ["our history model (full) / floor",
         *(fmt_x(r["ratios"]["history_over_floor"]) for r in runs)],
        ["incremental / full, history model",
         *(fmt_x(r["ratios"]["incremental_over_full_history"]) for r in runs)],
        ["incremental / full, wall",
         *(fmt_x(r["ratios"]["incremental_over_full_wall"]) for r in runs)],
        ["pandas / ours, full build (wall)",
         *(fmt_x(r["ratios"]["pandas_over_full_wall"]) for r in runs)],
        ["pandas / our history model",
         *(fmt_x(r["ratios"]["pandas_over_full_history"]) for r in runs)],
    ])
    if headings:
        lines += ["", "## dbt overhead, memory and disk", ""]
    else:
        lines += [""]
    lines += _table(header, [
        ["`dbt parse`, partial (nothing changed)",
         *(fmt_s(r["dbt_fixed_cost"]["parse_partial_s"]) for r in runs)],
        ["`dbt parse`, full (after `--vars` changed)",
         *(fmt_s(r["dbt_fixed_cost"]["parse_full_s"]) for r in runs)],
        ["`dbt build` selecting nothing (fixed cost per invocation)",
         *(fmt_s(r["dbt_fixed_cost"]["build_selecting_nothing_s"]) for r in runs)],
        ["full build: wall − runner elapsed (start-up, parse)",
         *(fmt_s(r["full_build"]["outside_runner_s"]) for r in runs)],
        ["full build: data tests, summed node time",
         *(fmt_s(r["full_build"]["seconds_by_resource_type"].get("test")) for r in runs)],
        ["incremental: data tests, summed node time",
         *(fmt_s(r["incremental_build"]["seconds_by_resource_type"].get("test"))
           for r in runs)],
        ["average busy threads (node times summed ÷ runner elapsed): full / incremental",
         *(f"{_busy(r['full_build'])} / {_busy(r['incremental_build'])}" for r in runs)],
        ["peak RSS of dbt: full / incremental",
         *(f"{r['full_build']['peak_rss_mb']:.0f} / {r['incremental_build']['peak_rss_mb']:.0f}"
           " MB" + (" (dbt only, not Spark's JVM)" if run_engine(r) == "spark" else "")
           for r in runs)],
        ["temp spilled by PostgreSQL: naive",
         *(_fmt_mb(r["naive"]["temp_bytes"]) for r in runs)],
        ["… full build / incremental build",
         *(f"{_fmt_mb(r['full_build']['temp_bytes'])} / "
           f"{_fmt_mb(r['incremental_build']['temp_bytes'])}" for r in runs)],
        ["… floor", *(_fmt_mb(r["floor"]["temp_bytes"]) for r in runs)],
    ])
    if headings:
        lines += ["", "## Checks and goals", ""]
    else:
        lines += [""]

    def check(run: Mapping[str, Any], name: str) -> str:
        entry = run["checks"].get(name)
        if entry is None:
            return "not compared (naive capped)"
        return "same" if entry["ok"] else f"**DIFFERENT** ({entry['different']:,} rows)"

    def goal(value: float | None, ok: bool) -> str:
        return "–" if value is None else ("met" if ok else "**missed**")

    lines += _table(header, [
        ["segments: naive = ours", *(check(r, "naive_vs_ours") for r in runs)],
        ["segments: pandas = ours", *(check(r, "pandas_vs_ours") for r in runs)],
        ["every column: incremental = full refresh",
         *(check(r, "incremental_vs_full") for r in runs)],
        ["scheduled run ≥ 5× faster than naive",
         *(goal(r["ratios"]["naive_over_incremental_wall"],
                (r["ratios"]["naive_over_incremental_wall"] or 0) >= 5) for r in runs)],
        ["full build ≥ 2× (normal) / 3× (dense) faster than naive",
         *(goal(r["ratios"]["naive_over_full_wall"],
                (r["ratios"]["naive_over_full_wall"] or 0) >= (3 if r["shape"] == "dense" else 2))
           for r in runs)],
        ["history model within 3× of the floor",
         *(goal(r["ratios"]["history_over_floor"], (r["ratios"]["history_over_floor"] or 99) <= 3)
           for r in runs)],
        ["incremental history ≤ 1/10 of full",
         *(goal(r["ratios"]["incremental_over_full_history"],
                (r["ratios"]["incremental_over_full_history"] or 99) <= 0.1) for r in runs)],
        ["peak RSS of dbt < 1 GiB",
         *("n/a (JVM not measured)" if run_engine(r) == "spark" else
           goal(r["full_build"]["peak_rss_mb"],
                max(r["full_build"]["peak_rss_mb"], r["incremental_build"]["peak_rss_mb"]) < 1024)
           for r in runs)],
    ])
    return lines


def summary_table(run: Mapping[str, Any]) -> Table:
    table = Table(title=f"{run_label(run)}: {run['data']['raw_payments']:,} payments, "
                  f"{run['data']['history_rows']:,} history rows")
    table.add_column("measurement")
    table.add_column("value", justify="right")
    capped = run["naive"]["capped"]
    ratios = run["ratios"]
    for name, value in (
        ("naive statement", fmt_s(run["naive"]["wall_s"], capped)),
        ("full dbt build (wall)", fmt_s(run["full_build"]["wall_s"])),
        ("… history model", fmt_s(run["full_build"]["history_s"])),
        ("incremental dbt build (wall)", fmt_s(run["incremental_build"]["wall_s"])),
        ("… history model", fmt_s(run["incremental_build"]["history_s"])),
        ("floor statement", fmt_s(run["floor"]["wall_s"])),
        ("pandas (compute only)", fmt_s(run["pandas"]["compute_s"])),
        ("naive / ours full (wall)", fmt_x(ratios["naive_over_full_wall"], capped)),
        ("naive / ours incremental (wall)", fmt_x(ratios["naive_over_incremental_wall"], capped)),
        ("history model / floor", fmt_x(ratios["history_over_floor"])),
        ("incremental / full (history model)", fmt_x(ratios["incremental_over_full_history"])),
        ("pandas / ours full (wall)", fmt_x(ratios["pandas_over_full_wall"])),
        ("dbt build selecting nothing", fmt_s(run["dbt_fixed_cost"]["build_selecting_nothing_s"])),
        ("peak RSS dbt (full)", f"{run['full_build']['peak_rss_mb']:.0f} MB"),
    ):
        table.add_row(name, value)
    return table
