"""``benchmarks/results.json`` (every stored run) and ``results.md`` rendered from it, and the
summary table ``rfm bench`` prints."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

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
        return "in (c) and (d)"
    unit = run["unit_tests"]
    summed = unit["seconds_by_resource_type"].get("unit_test")
    return f"{fmt_s(unit['wall_s'])} / {fmt_s(summed)}"


NOT_MEASURED: Final = "not measured yet"
"""The cell of a figure the run predates (the article's query and the scheduled floor were added
later): `rfm bench` at that size measures it."""


def _peer_s(run: Mapping[str, Any], name: str) -> str:
    """A peer statement's wall time (capped shown as a lower bound), or not measured yet."""
    entry = run.get(name)
    if entry is None:
        return NOT_MEASURED
    return fmt_s(entry["wall_s"], bool(entry.get("capped")))


def _capped(run: Mapping[str, Any], name: str) -> bool:
    return bool((run.get(name) or {}).get("capped"))


def _x(run: Mapping[str, Any], name: str) -> str:
    """A ratio of the run; those of the article's query or naive are lower bounds when it was
    capped."""
    if name not in run["ratios"]:
        return NOT_MEASURED
    peer = "article" if name.startswith("article_") else "naive" if name.startswith(
        "naive_") else ""
    return fmt_x(run["ratios"][name], bool(peer) and _capped(run, peer))


def _temp(entry: Mapping[str, Any] | None) -> str:
    """What PostgreSQL spilled in a step: bytes in files (n/a on other engines)."""
    if entry is None:
        return NOT_MEASURED
    size = _fmt_mb(entry.get("temp_bytes"))
    files = entry.get("temp_files")
    return size if files is None else f"{size} in {files:,} file{'' if files == 1 else 's'}"


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


def _same(run: Mapping[str, Any]) -> str:
    names = ("naive_vs_ours", "pandas_vs_ours", "incremental_vs_full")
    entries = [run["checks"].get(n) for n in names]
    if any(e is not None and not e["ok"] for e in entries):
        return "**DIFFERENT**"
    return "same" if all(e is not None for e in entries) else "same (naive not compared)"


def _engines_table(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """One row per run: the engines side by side."""
    ordered = sorted(runs, key=lambda r: (SIZE_ORDER.get(r["size"], 9),
                                          SHAPES.index(r["shape"]), r["periods"],
                                          _run_order(r)[2]))
    return _table(
        ["engine", "data", "load avg", "(a) article query", "(b) naive", "(c) full build wall",
         "(c) history model", "(d) scheduled wall", "(d) history model", "(e) floor",
         "(f) scheduled floor", "(g) pandas", "article / ours full", "article / ours sched.",
         "naive / ours full", "naive / ours sched.", "history / floor",
         "sched. history / sched. floor", "sched. / full wall", "segments"],
        [[ENGINE_LABELS.get(run_engine(r), run_engine(r)),
          f"{r['size']} {r['shape']}, {r['periods']} mo",
          (f"{r['load_average_1min']['start']:.1f}" if "load_average_1min" in r else "–"),
          _peer_s(r, "article"), _peer_s(r, "naive"),
          fmt_s(r["full_build"]["wall_s"]), fmt_s(r["full_build"]["history_s"]),
          fmt_s(r["incremental_build"]["wall_s"]), fmt_s(r["incremental_build"]["history_s"]),
          _peer_s(r, "floor"), _peer_s(r, "floor_scheduled"), fmt_s(r["pandas"]["compute_s"]),
          _x(r, "article_over_full_wall"), _x(r, "article_over_incremental_wall"),
          _x(r, "naive_over_full_wall"), _x(r, "naive_over_incremental_wall"),
          _x(r, "history_over_floor"), _x(r, "incremental_history_over_scheduled_floor"),
          _x(r, "incremental_over_full_wall"),
          _same(r)] for r in ordered],
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
        "other engines; a figure the run predates reads \"not measured yet\" (`rfm bench` at "
        "that size and engine measures it).",
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
                ["(a) article query", *(_peer_s(r, "article") for r in group)],
                ["(b) naive statement", *(_peer_s(r, "naive") for r in group)],
                ["(c) our full build, wall", *(fmt_s(r["full_build"]["wall_s"])
                                               for r in group)],
                ["(c) our full build, history model",
                 *(fmt_s(r["full_build"]["history_s"]) for r in group)],
                ["(d) our scheduled run, wall",
                 *(fmt_s(r["incremental_build"]["wall_s"]) for r in group)],
                ["(d) our scheduled run, history model",
                 *(fmt_s(r["incremental_build"]["history_s"]) for r in group)],
                ["(e) floor statement", *(_peer_s(r, "floor") for r in group)],
                ["(f) scheduled floor statement", *(_peer_s(r, "floor_scheduled")
                                                    for r in group)],
                ["(g) pandas (compute only)", *(fmt_s(r["pandas"]["compute_s"])
                                                for r in group)],
                ["article query / ours (full wall)",
                 *(_x(r, "article_over_full_wall") for r in group)],
                ["naive / ours (full wall)", *(_x(r, "naive_over_full_wall") for r in group)],
                ["history model / floor", *(_x(r, "history_over_floor") for r in group)],
            ],
        )
    other = [r for r in runs if r not in headline]
    if other:
        lines += ["", "## Other runs", ""]
        lines += _run_tables(other, headings=False)
    return "\n".join(lines) + "\n"


def _run_tables(runs: Sequence[Mapping[str, Any]], headings: bool = True) -> list[str]:
    header = ["", *(run_label(r) for r in runs)]
    lines: list[str] = []
    if headings:
        lines += ["## Times", ""]
    lines += _table(header, [
        ["machine load (1-min load average at start / end)",
         *(f"{r['load_average_1min']['start']:.1f} / {r['load_average_1min']['end']:.1f}"
           if "load_average_1min" in r else "–" for r in runs)],
        ["users", *(f"{r['users']:,}" for r in runs)],
        ["raw payments (appended last period)",
         *(f"{r['data']['raw_payments']:,} ({r['data']['raw_payments_appended']:,})"
           for r in runs)],
        ["payments per user", *(f"{r['data']['clean_payments'] / r['users']:.0f}" for r in runs)],
        ["history rows", *(f"{r['data']['history_rows']:,}" for r in runs)],
        ["the builds timed in (c) and (d)", *(_build_command(r) for r in runs)],
        ["(a) the article's query, as written", *(_peer_s(r, "article") for r in runs)],
        ["(b) naive statement (the article's query with the cleaning)",
         *(_peer_s(r, "naive") for r in runs)],
        ["(c) our full build: `--full-refresh` wall",
         *(fmt_s(r["full_build"]["wall_s"]) for r in runs)],
        ["(c) … its history model (run_results.json)",
         *(fmt_s(r["full_build"]["history_s"]) for r in runs)],
        ["(d) our scheduled run: wall, one new period",
         *(fmt_s(r["incremental_build"]["wall_s"]) for r in runs)],
        ["(d) … its history model", *(fmt_s(r["incremental_build"]["history_s"]) for r in runs)],
        ["(e) floor statement", *(_peer_s(r, "floor") for r in runs)],
        ["(f) scheduled floor statement (the recomputed periods)",
         *(_peer_s(r, "floor_scheduled") for r in runs)],
        ["(g) pandas, compute only (clean + per-period groupby)",
         *(fmt_s(r["pandas"]["compute_s"]) for r in runs)],
        ["(g) … reading raw into pandas (not counted)",
         *(fmt_s(r["pandas"]["read_s_not_counted"]) for r in runs)],
        ["(h) the unit tests apart (`dbt test --select test_type:unit`): wall / summed",
         *(_unit_tests(r) for r in runs)],
    ])
    lines += ["", "## Ratios", ""] if headings else [""]
    lines += _table(header, [
        ["article query / ours, full build (wall)",
         *(_x(r, "article_over_full_wall") for r in runs)],
        ["article query / ours, scheduled run (wall)",
         *(_x(r, "article_over_incremental_wall") for r in runs)],
        ["article query / our history model (full)",
         *(_x(r, "article_over_full_history") for r in runs)],
        ["naive / ours, full build (wall)", *(_x(r, "naive_over_full_wall") for r in runs)],
        ["naive / ours, scheduled run (wall)",
         *(_x(r, "naive_over_incremental_wall") for r in runs)],
        ["naive / our history model (full)", *(_x(r, "naive_over_full_history") for r in runs)],
        ["our history model (full) / floor", *(_x(r, "history_over_floor") for r in runs)],
        ["our history model (scheduled) / scheduled floor",
         *(_x(r, "incremental_history_over_scheduled_floor") for r in runs)],
        ["scheduled / full, history model",
         *(_x(r, "incremental_over_full_history") for r in runs)],
        ["scheduled / full, wall", *(_x(r, "incremental_over_full_wall") for r in runs)],
        ["pandas / ours, full build (wall)", *(_x(r, "pandas_over_full_wall") for r in runs)],
        ["pandas / our history model", *(_x(r, "pandas_over_full_history") for r in runs)],
    ])
    lines += ["", "## dbt overhead, memory and disk", ""] if headings else [""]
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
        ["scheduled run: data tests, summed node time",
         *(fmt_s(r["incremental_build"]["seconds_by_resource_type"].get("test"))
           for r in runs)],
        ["average busy threads (node times summed ÷ runner elapsed): full / scheduled",
         *(f"{_busy(r['full_build'])} / {_busy(r['incremental_build'])}" for r in runs)],
        ["peak RSS of dbt: full / scheduled",
         *(f"{r['full_build']['peak_rss_mb']:.0f} / {r['incremental_build']['peak_rss_mb']:.0f}"
           " MB" + (" (dbt only, not Spark's JVM)" if run_engine(r) == "spark" else "")
           for r in runs)],
        ["peak RSS of `rfm bench` itself: after generating + loading / whole run (pandas)",
         *(f"{r['bench_process']['peak_rss_mb_after_load']:,.0f} / "
           f"{r['bench_process']['peak_rss_mb']:,.0f} MB" if "bench_process" in r
           else NOT_MEASURED for r in runs)],
        ["temp spilled by PostgreSQL: (a) article query", *(_temp(r.get("article"))
                                                             for r in runs)],
        ["… (b) naive", *(_temp(r["naive"]) for r in runs)],
        ["… (c) full build", *(_temp(r["full_build"]) for r in runs)],
        ["… (d) scheduled run", *(_temp(r["incremental_build"]) for r in runs)],
        ["… (e) floor", *(_temp(r["floor"]) for r in runs)],
        ["… (f) scheduled floor", *(_temp(r.get("floor_scheduled")) for r in runs)],
    ])
    lines += ["", "## Checks and goals", ""] if headings else [""]

    def check(run: Mapping[str, Any], name: str) -> str:
        entry = run["checks"].get(name)
        if entry is None:
            return "not compared (naive capped)"
        return "same" if entry["ok"] else f"**DIFFERENT** ({entry['different']:,} rows)"

    lines += _table(header, [
        ["segments: naive = ours", *(check(r, "naive_vs_ours") for r in runs)],
        ["segments: pandas = ours", *(check(r, "pandas_vs_ours") for r in runs)],
        ["every column: scheduled run = full refresh",
         *(check(r, "incremental_vs_full") for r in runs)],
        *([label, *(goal_cell(r) for r in runs)] for label, goal_cell in GOALS),
    ])
    return lines


def _goal(run: Mapping[str, Any], ratio: str, bound: float | None, at_least: bool = True) -> str:
    """One goal in one run: met / missed with the figure; "–" where the goal does not apply
    (``bound`` None); lower bounds (the article's query capped) decide only when above."""
    if bound is None:
        return "–"
    if ratio not in run["ratios"]:
        return NOT_MEASURED
    value = run["ratios"][ratio]
    if value is None:
        return "–"
    capped = ratio.startswith("article_") and _capped(run, "article")
    figure = fmt_x(value, capped)
    if f"{value:.1f}" == f"{bound:.1f}" and value != bound:  # 1.0× would hide which side
        figure = ("> " if capped else "") + f"{value:.2f}×"
    if at_least:
        if value >= bound:
            return f"met ({figure})"
        return f"not decided ({figure}: article capped)" if capped else f"**missed** ({figure})"
    return f"met ({figure})" if value <= bound else f"**missed** ({figure})"


def _postgres_full_goal(run: Mapping[str, Any]) -> float | None:
    if run_engine(run) != "postgres":
        return None
    return {("M", "normal"): 1.5, ("M", "dense"): 2.0, ("L", "normal"): 2.0,
            ("L", "dense"): 2.0}.get((run["size"], run["shape"]))


def _postgres_scheduled_goal(run: Mapping[str, Any]) -> float | None:
    if run_engine(run) != "postgres":
        return None
    return {"M": 2.5, "L": 8.0}.get(run["size"])


def _duckdb_at_m(run: Mapping[str, Any], bound: float) -> float | None:
    return bound if run_engine(run) == "duckdb" and run["size"] == "M" else None


GOALS: Final[tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...]] = (
    ("goal: full build ≥ 1.5× (M normal) / 2× (M dense, L) faster than the article's query",
     lambda r: _goal(r, "article_over_full_wall", _postgres_full_goal(r))),
    ("goal: scheduled run ≥ 2.5× (M, M dense) / 8× (L) faster than the article's query",
     lambda r: _goal(r, "article_over_incremental_wall", _postgres_scheduled_goal(r))),
    ("goal: DuckDB at M, full build no slower than the article's query",
     lambda r: _goal(r, "article_over_full_wall", _duckdb_at_m(r, 1.0))),
    ("goal: DuckDB at M, scheduled run ≥ 2× faster than the article's query",
     lambda r: _goal(r, "article_over_incremental_wall", _duckdb_at_m(r, 2.0))),
    ("goal: history model within 3× of the floor (full build)",
     lambda r: _goal(r, "history_over_floor", 3.0, at_least=False)),
    ("goal: history model within 3× of the scheduled floor (scheduled run)",
     lambda r: _goal(r, "incremental_history_over_scheduled_floor", 3.0, at_least=False)),
    ("goal: a scheduled run never slower than a full build (wall)",
     lambda r: _goal(r, "incremental_over_full_wall", 1.0, at_least=False)),
)
"""The speed goals (README, benchmarks/README.md): (row label, the cell of one run). Each is a
ratio within one run; "–" where it does not apply to the run's size or engine."""


def summary_table(run: Mapping[str, Any]) -> Table:
    table = Table(title=f"{run_label(run)}: {run['data']['raw_payments']:,} payments, "
                  f"{run['data']['history_rows']:,} history rows")
    table.add_column("measurement")
    table.add_column("value", justify="right")
    for name, value in (
        ("(a) article query", _peer_s(run, "article")),
        ("(b) naive statement", _peer_s(run, "naive")),
        ("(c) full dbt build (wall)", fmt_s(run["full_build"]["wall_s"])),
        ("… history model", fmt_s(run["full_build"]["history_s"])),
        ("(d) scheduled dbt build (wall)", fmt_s(run["incremental_build"]["wall_s"])),
        ("… history model", fmt_s(run["incremental_build"]["history_s"])),
        ("(e) floor statement", _peer_s(run, "floor")),
        ("(f) scheduled floor statement", _peer_s(run, "floor_scheduled")),
        ("(g) pandas (compute only)", fmt_s(run["pandas"]["compute_s"])),
        ("article / ours full (wall)", _x(run, "article_over_full_wall")),
        ("article / ours scheduled (wall)", _x(run, "article_over_incremental_wall")),
        ("naive / ours full (wall)", _x(run, "naive_over_full_wall")),
        ("naive / ours scheduled (wall)", _x(run, "naive_over_incremental_wall")),
        ("history model / floor", _x(run, "history_over_floor")),
        ("scheduled history model / scheduled floor",
         _x(run, "incremental_history_over_scheduled_floor")),
        ("scheduled / full (history model)", _x(run, "incremental_over_full_history")),
        ("pandas / ours full (wall)", _x(run, "pandas_over_full_wall")),
        ("dbt build selecting nothing", fmt_s(run["dbt_fixed_cost"]["build_selecting_nothing_s"])),
        ("peak RSS dbt (full)", f"{run['full_build']['peak_rss_mb']:.0f} MB"),
        ("peak RSS rfm bench", f"{run['bench_process']['peak_rss_mb']:,.0f} MB"
         if "bench_process" in run else NOT_MEASURED),
    ):
        table.add_row(name, value)
    return table
