"""`rfm sync-bench`: the figures of docs/reverse_etl.md. A source of N users shaped like
rfm_segments_current in a schema of its own, a state as if all of them had been synced, a share
of them changing segment; then the plan's time in the warehouse, and the sync of the changed
users against the local CRM (on a thread of this process) at 100 records per call."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Final

from rfm_segmentation import crm, warehouses
from rfm_segmentation.sync import config as sync_config
from rfm_segmentation.sync.db import Db
from rfm_segmentation.sync.plan import hash_expression
from rfm_segmentation.sync.runner import SyncRun
from rfm_segmentation.sync.state import ensure_tables, now

SCHEMA: Final = "rfm_sync_bench"
_SEGMENTS: Final = ("Champions", "Loyal", "At Risk", "Hibernating", "New")


@dataclass(frozen=True)
class BenchResult:
    engine: str
    users: int
    changed: int
    plan_seconds: float
    sync_seconds: float
    records_per_second: float
    calls: int
    full_sync_calls: int


def _config() -> sync_config.SyncConfig:
    return sync_config.parse({
        "source": {"model": "segments", "schema": SCHEMA},
        "mapping": {"rfm_segment": "rfm_segment", "segment_since": "rfm_segment_since",
                    "predicted_ltv": "rfm_predicted_ltv"},
        "state_schema": SCHEMA, "max_change_share": 1.0, "sample_size": 0,
        "destination": {"type": "http"},
    }, "bench_contacts")


def _prepare(db: Db, config: sync_config.SyncConfig, users: int, every: int) -> None:
    q = db.quote
    segment = "case i % 5 " + " ".join(f"when {k} then '{s}'" for k, s in enumerate(_SEGMENTS)) \
        + " end"
    with db.transaction() as cur:
        cur.execute(f"drop schema if exists {q(SCHEMA)} cascade")
    ensure_tables(db, SCHEMA)
    with db.transaction() as cur:
        cur.execute(
            f"create table {q(SCHEMA, 'segments')} as select"
            f" 'u' || lpad(cast(i as varchar), 8, '0') as user_id, {segment} as rfm_segment,"
            " cast('2024-01-01' as date) + cast(i % 300 as integer) as segment_since,"
            " cast((i % 1000) * 1.25 as decimal(12, 2)) as predicted_ltv, i"
            f" from generate_series(1, {users}) as g(i)")
        # every user synced already, at the values of today's source
        cur.execute(
            f"insert into {q(SCHEMA, 'sync_state')} select {db.placeholder}, user_id,"
            f" {hash_expression(config, db)}, {db.placeholder}, 'synced', 0, null, null"
            f" from {q(SCHEMA, 'segments')}", [config.name, now()])
        cur.execute(f"update {q(SCHEMA, 'segments')} set rfm_segment = 'Lost'"
                    f" where i % {every} = 0")
    if db.warehouse.engine == "postgres":
        with db.transaction() as cur:
            cur.execute(f"analyze {q(SCHEMA, 'segments')}")
            cur.execute(f"analyze {q(SCHEMA, 'sync_state')}")


def run(warehouse: warehouses.Warehouse, users: int, changed_share: float) -> BenchResult:
    config = _config()
    db = Db(warehouse)
    every = max(1, round(1 / changed_share))
    _prepare(db, config, users, every)
    runner = SyncRun(config, warehouse, SCHEMA)
    started = time.perf_counter()
    plan = runner.plan()
    plan_seconds = time.perf_counter() - started
    with crm.running(None, "bench") as running:
        environ = {"CRM_BASE_URL": running.base_url, "CRM_TOKEN": "bench"}
        started = time.perf_counter()
        result = runner.run(environ)
        sync_seconds = time.perf_counter() - started
        calls = running.crm.calls
    with db.transaction() as cur:
        cur.execute(f"drop schema if exists {db.quote(SCHEMA)} cascade")
    sent = result.counts.sent
    return BenchResult(
        engine=warehouse.engine, users=users, changed=plan.counts["change"],
        plan_seconds=plan_seconds, sync_seconds=sync_seconds,
        records_per_second=sent / sync_seconds if sync_seconds else math.inf,
        calls=calls, full_sync_calls=math.ceil(users / config.batch_size))
