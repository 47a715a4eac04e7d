"""dbt as the benchmark runs it: through ``dbt_runner``'s environment, in its own target and log
folders, each invocation timed with the peak RSS of the dbt process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from rfm_segmentation import dbt_runner, warehouses
from rfm_segmentation.bench.plan import DBT_SCHEMA, HISTORY_MODEL, BenchError
from rfm_segmentation.warehouses import postgres


@dataclass
class DbtRun:
    """One dbt invocation: its wall time, the peak RSS of the dbt process, run_results.json."""

    args: list[str]
    returncode: int
    wall_s: float
    peak_rss_mb: float
    log_path: str
    run_results: dict[str, Any] | None = None
    temp_bytes: int = 0
    temp_files: int = 0

    def node_time(self, name: str, resource: str = "model") -> float | None:
        for result in (self.run_results or {}).get("results", []):
            if result.get("unique_id", "").startswith(f"{resource}.") and \
                    result["unique_id"].split(".")[-1] == name:
                return float(result["execution_time"])
        return None

    @property
    def elapsed_s(self) -> float | None:
        """run_results.json's elapsed_time: the runner's span, without start-up and parsing."""
        if not self.run_results:
            return None
        return float(self.run_results.get("elapsed_time", 0.0))

    def node_summary(self) -> dict[str, Any]:
        results = (self.run_results or {}).get("results", [])
        by_kind: dict[str, float] = {}
        for result in results:
            kind = result["unique_id"].split(".")[0]
            by_kind[kind] = by_kind.get(kind, 0.0) + float(result["execution_time"])
        top = sorted(results, key=lambda r: -float(r["execution_time"]))[:6]
        return {
            "nodes": len(results),
            "seconds_by_resource_type": {k: round(v, 3) for k, v in sorted(by_kind.items())},
            "slowest_nodes": {r["unique_id"]: round(float(r["execution_time"]), 3) for r in top},
        }


_MEASURE_CHILD: Final = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    json.dump({"wall_s": wall, "maxrss_kb": usage.ru_maxrss}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command and writes its wall time and peak RSS. The command is forked from this small
process, not from the harness: Linux carries a process's peak RSS over fork/exec, so a child of
the harness (which holds the data) would report the harness's peak instead of its own."""


class DbtRunner:
    """Runs dbt from the project root against one database, as a scheduler would: the
    warehouse's environment (DBT_TARGET and the PG* variables, the DuckDB file or the Spark
    folder), its own target and log folders."""

    def __init__(self, root: Path, connection: postgres.Connection | warehouses.Warehouse,
                 workdir: Path) -> None:
        self.root = root
        self.warehouse = warehouses.as_warehouse(connection)
        self.workdir = workdir
        self.target = workdir / "target"
        self.logs = workdir / "logs"
        self.executable = dbt_runner.executable()
        self.logs.mkdir(parents=True, exist_ok=True)
        self._count = 0

    def env(self) -> dict[str, str]:
        return dbt_runner.environment(self.warehouse, {
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(self.logs),
            "DBT_SCHEMA": DBT_SCHEMA,
        })

    def compiled_path(self, model: str = HISTORY_MODEL) -> Path:
        return self.target / "compiled" / "rfm_segmentation" / "models" / "marts" / f"{model}.sql"

    def run(self, args: Sequence[str], dbt_vars: Mapping[str, Any] | None = None,
            *, label: str = "dbt", check: bool = True) -> DbtRun:
        self._count += 1
        command = [self.executable, *args, *dbt_runner.vars_option(dbt_vars)]
        log_path = self.workdir / f"{self._count:02d}-{label}.log"
        results_path = self.target / "run_results.json"
        results_path.unlink(missing_ok=True)
        measure_path = self.workdir / "last-dbt-measure.json"
        measure_path.unlink(missing_ok=True)
        with log_path.open("w") as log:
            code = subprocess.run(
                [sys.executable, "-c", _MEASURE_CHILD, str(measure_path), *command],
                cwd=self.root, env=self.env(), stdout=log, stderr=subprocess.STDOUT, check=False,
            ).returncode
        measure = json.loads(measure_path.read_text()) if measure_path.is_file() else {}
        run_results = None
        if results_path.is_file():
            run_results = json.loads(results_path.read_text())
            # kept beside the step's log: each node's start and end, for profiling a run
            shutil.copyfile(results_path, log_path.with_suffix(".run_results.json"))
        run = DbtRun(
            args=list(args), returncode=code, wall_s=float(measure.get("wall_s", float("nan"))),
            peak_rss_mb=float(measure.get("maxrss_kb", 0)) / 1024.0, log_path=str(log_path),
            run_results=run_results,
        )
        if check and run.returncode != 0:
            tail = log_path.read_text()[-4000:]
            raise BenchError(f"dbt {' '.join(args)} failed (exit {run.returncode}):\n{tail}")
        return run


def dbt_vars(as_of: datetime, events: bool = True) -> dict[str, Any]:
    """The vars of a measured build: its ``rfm_as_of``, and ``rfm_events`` (whether the
    identity graph's models are part of the project)."""
    return {"rfm_as_of": as_of.isoformat(sep=" "), "rfm_events": events}
