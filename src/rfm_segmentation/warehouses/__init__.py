"""The warehouses the project builds on: PostgreSQL (embedded, or yours with PG*), DuckDB (a file
in ``.local``) and Spark (a local session from the pyspark wheel, tables in ``.local``).

The engine is the dbt target: ``DBT_TARGET`` (default ``postgres``), as in ``profiles.yml``.
``WAREHOUSES`` is the registry (engine name -> :class:`Warehouse` class); a module that needs an
engine asks it here instead of importing another engine's module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from rfm_segmentation.warehouses.base import Warehouse
from rfm_segmentation.warehouses.duckdb import RAW_MONEY_TYPE, DuckDBWarehouse, duckdb_path
from rfm_segmentation.warehouses.postgres import Connection, PostgresWarehouse
from rfm_segmentation.warehouses.spark import SparkWarehouse, spark_dir

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "RAW_MONEY_TYPE",
    "WAREHOUSES",
    "DuckDBWarehouse",
    "PostgresWarehouse",
    "SparkWarehouse",
    "Warehouse",
    "as_warehouse",
    "duckdb_path",
    "engine_from_env",
    "postgres_only_refusal",
    "resolve",
    "settings_variables",
    "spark_dir",
]

WAREHOUSES: Final[Mapping[str, type[Warehouse]]] = {
    "postgres": PostgresWarehouse,
    "duckdb": DuckDBWarehouse,
    "spark": SparkWarehouse,
}
ENGINES: Final = tuple(WAREHOUSES)
DEFAULT_ENGINE: Final = "postgres"


def engine_from_env(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    engine = environ.get("DBT_TARGET") or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise SystemExit(f"DBT_TARGET={engine!r}: expected one of {', '.join(ENGINES)}")
    return engine


def resolve(root: Path, environ: Mapping[str, str] | None = None) -> Warehouse:
    """The warehouse of the engine named by DBT_TARGET (PostgreSQL by default)."""
    environ = os.environ if environ is None else environ
    return WAREHOUSES[engine_from_env(environ)].from_environment(root, environ)


def as_warehouse(where: Warehouse | Connection) -> Warehouse:
    """A warehouse from either a warehouse or a PostgreSQL connection (the older signature)."""
    return where if isinstance(where, Warehouse) else PostgresWarehouse(where)


def settings_variables() -> frozenset[str]:
    """Every environment variable that says which warehouse dbt reaches, on any engine."""
    return frozenset({"DBT_TARGET", *(v for cls in WAREHOUSES.values() for v in cls.settings)})


def postgres_only_refusal(command: str, step: str, builds_elsewhere: str) -> str | None:
    """Why a PostgreSQL-only step (`rfm ltv` trains, `rfm clusters` clusters) stops when
    DBT_TARGET names another engine; None on PostgreSQL."""
    engine = engine_from_env()
    if engine == "postgres":
        return None
    return (f"rfm {command}: the {step} step runs on PostgreSQL only (DBT_TARGET={engine});"
            f" {builds_elsewhere}")
