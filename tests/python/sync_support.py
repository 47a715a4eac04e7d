"""What the tests of `rfm sync` share: a source table shaped like rfm_segments_current made
directly in a test schema (no dbt build), a configuration, and the comparison of a destination
with the source."""

from __future__ import annotations

from typing import Any

from rfm_segmentation import warehouses
from rfm_segmentation.sync import config as sync_config
from rfm_segmentation.sync.destinations.http import property_value

SOURCE_SCHEMA = "sync_src"
SOURCE_TABLE = "segments"
TOKEN = "test-token"
SEGMENTS = ("Champions", "Loyal", "At Risk", "Hibernating", "New")
MAPPING = {"rfm_segment": "rfm_segment", "segment_since": "rfm_segment_since",
           "predicted_ltv": "rfm_predicted_ltv", "cluster_name": "rfm_cluster"}


def make_source(backend: warehouses.Warehouse, n: int) -> None:
    """``sync_src.segments``: n users u000001..., segments and values derived from the id."""
    q = backend.quote
    segment = "case i % 5 " + " ".join(f"when {k} then '{s}'" for k, s in enumerate(SEGMENTS)) \
        + " end"
    statements = [
        f"create schema if not exists {q(SOURCE_SCHEMA)}",
        f"drop table if exists {q(SOURCE_SCHEMA, SOURCE_TABLE)}",
        f"create table {q(SOURCE_SCHEMA, SOURCE_TABLE)} (user_id varchar, rfm_segment varchar,"
        " segment_since date, predicted_ltv decimal(12, 2), cluster_name varchar, i integer)",
        f"insert into {q(SOURCE_SCHEMA, SOURCE_TABLE)}"
        f" select 'u' || lpad(cast(i as varchar), 6, '0'), {segment},"
        " cast('2024-01-01' as date) + cast(i % 300 as integer),"
        " cast((i % 1000) * 1.25 as decimal(12, 2)),"
        " case when i % 7 = 0 then null else 'cluster ' || cast(i % 3 as varchar) end, i"
        f" from generate_series(1, {n}) as g(i)",
    ]
    with backend.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def execute(backend: warehouses.Warehouse, statement: str) -> None:
    with backend.cursor() as cur:
        cur.execute(statement.format(source=backend.quote(SOURCE_SCHEMA, SOURCE_TABLE)))


def config(destination: dict[str, Any] | None = None, **overrides: Any
           ) -> sync_config.SyncConfig:
    raw: dict[str, Any] = {
        "source": {"model": SOURCE_TABLE, "schema": SOURCE_SCHEMA, "primary_key": "user_id"},
        "mapping": MAPPING,
        "mode": "mirror",
        "retry_backoff_seconds": 0,
        "destination": destination or {"type": "http", "timeout_seconds": 2,
                                       "max_wait_seconds": 0.05, "max_attempts": 8},
        **overrides,
    }
    return sync_config.parse(raw, "crm_contacts")


def expected(backend: warehouses.Warehouse, as_text: bool = True) -> dict[str, dict[str, Any]]:
    """The source as the destination should hold it: key -> {property: value}."""
    rows = backend.query(f"select user_id, {', '.join(MAPPING)} from "
                         f"{backend.quote(SOURCE_SCHEMA, SOURCE_TABLE)}")
    convert = property_value if as_text else (lambda value: value)
    return {row["user_id"]: {prop: convert(row[column]) for column, prop in MAPPING.items()}
            for row in rows}


def environ(base_url: str, token: str = TOKEN) -> dict[str, str]:
    return {"CRM_BASE_URL": base_url, "CRM_TOKEN": token}
