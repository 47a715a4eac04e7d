"""Imported by dbt_fork's fork server when it starts (dbt_fork.preload): one quiet `dbt parse` of
the project per engine, in a folder of its own, so that every child forked afterwards starts with
what a process compiles on its first parse (Jinja templates, serialisers, lazily imported
modules). A child still parses the project fully (each test database is a profile of its own,
and dbt's partial parsing is keyed by the connection); only that first-parse cost is paid once
per fork server instead of once per command. A failed warm-up changes nothing but the time.

Two constraints: the module is not named dbt_* (dbt imports every such module as a plugin), and
the warm-up runs without dbt's static parser, whose native extension starts threads: a child
forked from a process with those threads hangs in its first static parse."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dbt_fork

ROOT = Path(__file__).resolve().parents[2]


def warm_up(engines: list[str]) -> None:
    saved_environ, saved_cwd = dict(os.environ), os.getcwd()
    try:
        with tempfile.TemporaryDirectory(prefix="rfm-dbt-warm-up-") as folder:
            os.chdir(ROOT)
            for engine in engines:
                os.environ.update({
                    "DBT_TARGET": engine,
                    "DBT_TARGET_PATH": f"{folder}/{engine}/target",
                    "DBT_LOG_PATH": f"{folder}/{engine}/logs",
                    "RFM_DUCKDB_PATH": f"{folder}/warm-up.duckdb",
                })
                dbt_fork.invoke(["parse", "--quiet", "--no-write-json", "--no-static-parser"])
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)


warm_up([e for e in os.environ.get(dbt_fork.WARM_UP_ENGINES, "").split(",") if e])
