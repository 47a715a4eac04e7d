"""`rfm sync` against a local CRM that misbehaves: each fault alone, then mixed; rejected
records retried at most max_rejections times with a backoff; a CRM down for good fails the run
and moves no state for the rows it did not confirm. On PostgreSQL (the diff's SQL is the same on
DuckDB, test_sync.py runs it there)."""

from __future__ import annotations

from typing import Any

import pytest

from rfm_segmentation import crm, warehouses
from rfm_segmentation.sync.runner import SyncRun

from conftest import _postgres_database, _server
from sync_support import TOKEN, config, environ, execute, expected, make_source

pytestmark = pytest.mark.postgres

N = 1000


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> warehouses.Warehouse:
    warehouse = _postgres_database(_server(), request)
    make_source(warehouse, N)
    return warehouse


def _crm(**faults: Any) -> Any:
    return crm.running(None, TOKEN, crm.Faults(seed=7, **faults))


def _run(backend: warehouses.Warehouse, base_url: str, **overrides: Any) -> Any:
    destination = {"type": "http", "timeout_seconds": 0.3, "max_wait_seconds": 0.02,
                   "max_attempts": 10}
    return SyncRun(config(destination, **overrides), backend, "analytics").run(
        environ(base_url))


def _state(backend: warehouses.Warehouse, table: str) -> list[dict[str, Any]]:
    return backend.query(f"select * from {backend.quote('rfm_sync', table)} order by 1, 2")


@pytest.mark.parametrize("faults", [
    {"rate_limit": 0.3, "retry_after": 0},
    {"server_error": 0.3},
    {"timeout": 0.2, "hang_seconds": 0.5},
    {"slow_ms": 30},
    {"drop_after_apply": 0.3},
], ids=["rate_limit", "server_error", "timeout", "slow", "drop_after_apply"])
def test_one_fault_at_a_time(backend: warehouses.Warehouse, faults: dict[str, Any]) -> None:
    with _crm(**faults) as running:
        result = _run(backend, running.base_url)
        assert result.status == "done" and result.counts.accepted == N
        assert running.crm.store.records("contacts") == expected(backend)
        stats = running.crm.store.counters()
        assert stats["created"] == N  # a batch applied twice updates, never creates twice
        fault = next(k for k in faults if k not in ("retry_after", "hang_seconds"))
        if fault != "slow_ms":
            assert running.crm.faults_served.get(fault, 0) > 0
        assert _run(backend, running.base_url).counts.sent == 0


def test_mixed_faults_converge(backend: warehouses.Warehouse) -> None:
    faults = {"rate_limit": 0.1, "retry_after": 0, "server_error": 0.1, "timeout": 0.05,
              "hang_seconds": 0.5, "drop_after_apply": 0.1, "reject": 0.02, "slow_ms": 2}
    with _crm(**faults) as running:
        first = _run(backend, running.base_url)
        assert first.counts.rejected > 0
        execute(backend, "update {source} set rfm_segment = 'Lost' where i % 100 = 3")
        for _ in range(4):  # the rejected records are sent again (backoff 0 here)
            if _run(backend, running.base_url).status == "nothing_to_do":
                break
        assert running.crm.store.records("contacts") == expected(backend)
        assert running.crm.store.counters()["created"] == N
    errors = _state(backend, "sync_errors")
    assert errors and all("failed validation" in e["message"] for e in errors)


def test_a_rejected_record_is_retried_at_most_n_times(backend: warehouses.Warehouse) -> None:
    with _crm(reject_ids=["u000005"]) as running:
        results = [_run(backend, running.base_url, max_rejections=2) for _ in range(3)]
        assert [r.counts.rejected for r in results] == [1, 1, 0]
        assert [r.counts.retried for r in results] == [0, 1, 0]
        assert results[2].status == "nothing_to_do"
        assert results[2].plan.actions["skip_given_up"] == 1
        held = running.crm.store.records("contacts")
        assert "u000005" not in held and len(held) == N - 1
    errors = _state(backend, "sync_errors")
    assert sorted((e["record_key"], e["attempt"]) for e in errors) == [("u000005", 1),
                                                                        ("u000005", 2)]
    assert "u000005" in errors[0]["message"]
    # a new value is a new chance
    execute(backend, "update {source} set rfm_segment = 'Lost' where i = 5")
    with _crm() as running:
        assert _run(backend, running.base_url, max_rejections=2).counts.retried == 0


def test_a_rejected_record_waits_for_its_backoff(backend: warehouses.Warehouse) -> None:
    with _crm(reject_ids=["u000009"]) as running:
        _run(backend, running.base_url, retry_backoff_seconds=3600)
        second = _run(backend, running.base_url, retry_backoff_seconds=3600)
        assert second.status == "nothing_to_do"
        assert second.plan.actions["skip_deferred"] == 1


def test_a_crm_down_fails_the_run_and_the_next_run_catches_up(
        backend: warehouses.Warehouse) -> None:
    with _crm(server_error=1.0) as running:
        result = _run(backend, running.base_url)
        assert result.status == "failed" and "gave up after 10 calls" in (result.message or "")
        assert _state(backend, "sync_state") == []
        [run] = _state(backend, "sync_runs")
        assert run["status"] == "failed" and run["accepted"] == 0
    with _crm() as running:
        assert _run(backend, running.base_url).counts.accepted == N
        assert running.crm.store.records("contacts") == expected(backend)
