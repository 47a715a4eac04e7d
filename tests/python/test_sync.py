"""`rfm sync`: a real warehouse (PostgreSQL, DuckDB), a real local CRM over HTTP (uvicorn on a
thread) or a real PostgreSQL table; the source is a table made directly in a test schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rfm_segmentation import crm, warehouses
from rfm_segmentation.sync import config as sync_config
from rfm_segmentation.sync.destinations import AuthError
from rfm_segmentation.sync.plan import SourceError
from rfm_segmentation.sync.runner import GuardrailError, SyncRun
from rfm_segmentation.warehouses import postgres as database

from conftest import ROOT, TEST_ENGINES, _postgres_database, _server
from sync_support import (
    MAPPING,
    SOURCE_SCHEMA,
    TOKEN,
    config,
    environ,
    execute,
    expected,
    make_source,
)

SYNC_ENGINES = [pytest.param(e, marks=getattr(pytest.mark, e))
                for e in TEST_ENGINES if e in ("postgres", "duckdb")]


@pytest.fixture(params=SYNC_ENGINES)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> warehouses.Warehouse:
    if request.param == "postgres":
        return _postgres_database(_server(), request)
    return warehouses.DuckDBWarehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def local_crm() -> Iterator[crm.RunningCrm]:
    with crm.running(None, TOKEN) as running:
        yield running


def _run(backend: warehouses.Warehouse, cfg: sync_config.SyncConfig, env: dict[str, str],
         **kwargs: Any) -> Any:
    return SyncRun(cfg, backend, "analytics").run(env, **kwargs)


def _state(backend: warehouses.Warehouse, table: str) -> list[dict[str, Any]]:
    return backend.query(f"select * from {backend.quote('rfm_sync', table)}")


# --- configuration --------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "named"), [
    ({"mode": "replace"}, "mode: expected one of upsert, update, mirror"),
    ({"mapping": {}}, "mapping: expected at least one"),
    ({"batch_size": 500}, "batch_size: expected a value between 1 and 100"),
    ({"colour": "blue"}, "unknown key 'colour'"),
    ({"destination": {"type": "ftp"}}, "destination.type: expected one of http, postgres"),
    ({"destination": {"type": "http", "token": "x"}}, "destination: unknown key 'token'"),
    ({"mapping": {"rfm_segment": "user_id"}}, "'user_id' is the destination's key"),
    ({"max_change_share": 2}, "max_change_share: expected a value between 0.0 and 1.0"),
    ({"destination": {"type": "postgres", "table": "a.b.c"}}, "destination.table"),
])
def test_a_wrong_config_names_the_key(change: dict[str, Any], named: str) -> None:
    with pytest.raises(sync_config.ConfigError, match=named.replace("(", r"\(")):
        config(**change)


def test_the_repository_config_loads() -> None:
    cfg = sync_config.load(ROOT / "syncs" / "crm_contacts.yml")
    assert cfg.source_model == "rfm_segments_current" and cfg.batch_size == 100
    assert yaml.safe_load((ROOT / "syncs" / "crm_contacts.yml").read_text())["destination"][
        "base_url_env"] == "CRM_BASE_URL"


def test_missing_environment_fails_before_any_call() -> None:
    with pytest.raises(sync_config.ConfigError, match="CRM_BASE_URL"):
        SyncRun(config(), warehouses.DuckDBWarehouse(Path("/nonexistent/x.duckdb")),
                "analytics").run({})


# --- the HTTP destination, both engines -----------------------------------------------------
def test_sync_converges_through_adds_changes_and_removals(
        backend: warehouses.Warehouse, local_crm: crm.RunningCrm) -> None:
    make_source(backend, 1000)
    env = environ(local_crm.base_url)
    plan = _run(backend, config(), env, plan_only=True).plan
    assert plan.counts["add"] == 1000 and local_crm.crm.calls == 0

    first = _run(backend, config(), env)
    assert first.counts.sent == first.counts.accepted == 1000
    assert local_crm.crm.store.records("contacts") == expected(backend)
    assert local_crm.crm.calls == 10  # 100 inputs per call

    execute(backend, "update {source} set rfm_segment = 'At Risk' where i % 10 = 1")
    execute(backend, "delete from {source} where i % 20 = 2")
    again = _run(backend, config(), env)
    assert again.plan.counts["change"] == 100 and again.plan.counts["removal"] == 50
    assert local_crm.crm.store.records("contacts") == expected(backend)

    quiet = _run(backend, config(), env)
    assert quiet.status == "nothing_to_do" and quiet.counts.sent == 0
    stats = local_crm.crm.store.counters()
    assert stats["created"] == 1000 and stats["archived"] == 50
    runs = _state(backend, "sync_runs")
    assert sorted((r["sent"], r["status"]) for r in runs) == [(150, "done"), (1000, "done")]


def test_upsert_mode_keeps_removed_records_and_update_mode_creates_none(
        backend: warehouses.Warehouse, local_crm: crm.RunningCrm) -> None:
    make_source(backend, 200)
    env = environ(local_crm.base_url)
    _run(backend, config(mode="upsert"), env)
    execute(backend, "delete from {source} where i <= 10")
    result = _run(backend, config(mode="upsert"), env)
    assert result.status == "nothing_to_do" and result.plan.actions["skip_kept"] == 10
    assert len(local_crm.crm.store.records("contacts")) == 200

    execute(backend, "insert into {source} select 'new' || cast(i as varchar), 'New',"
                     " cast('2024-05-01' as date), 1, 'c', i from generate_series(1, 5) as g(i)")
    execute(backend, "update {source} set rfm_segment = 'Loyal' where i = 20")
    result = _run(backend, config(mode="update"), env)
    assert result.counts.accepted == 1 and result.counts.rejected == 5
    assert "new1" not in local_crm.crm.store.records("contacts")
    errors = _state(backend, "sync_errors")
    assert {e["category"] for e in errors} == {"OBJECT_NOT_FOUND"}


# --- bad sources, a refused token, the guardrail ---------------------------------------------
@pytest.mark.parametrize(("damage", "named"), [
    ("update {source} set user_id = null where i in (3, 4)", r"2 row\(s\) .* have a null user_id"),
    ("update {source} set user_id = 'u000001' where i in (2, 3)",
     "not unique .* 'u000001' \\(3 rows\\)"),
    ("alter table {source} drop column cluster_name", "mapping.cluster_name: .* no column"),
])
def test_a_bad_source_is_refused_before_anything_is_sent(
        backend: warehouses.Warehouse, local_crm: crm.RunningCrm, damage: str,
        named: str) -> None:
    make_source(backend, 50)
    execute(backend, damage)
    with pytest.raises(SourceError, match=named):
        _run(backend, config(), environ(local_crm.base_url))
    assert local_crm.crm.calls == 0


@pytest.mark.postgres
def test_a_refused_token_stops_at_once_and_moves_no_state(
        local_crm: crm.RunningCrm, request: pytest.FixtureRequest) -> None:
    backend = _postgres_database(_server(), request)
    make_source(backend, 300)
    with pytest.raises(AuthError, match="refused the token .*401.*CRM_TOKEN"):
        _run(backend, config(), environ(local_crm.base_url, "wrong"))
    assert local_crm.crm.calls == 1
    assert _state(backend, "sync_state") == []
    [run] = _state(backend, "sync_runs")
    assert run["status"] == "failed" and run["accepted"] == 0


def test_the_guardrail_stops_a_large_change_unless_allowed(
        backend: warehouses.Warehouse, local_crm: crm.RunningCrm) -> None:
    make_source(backend, 500)
    env = environ(local_crm.base_url)
    _run(backend, config(), env)
    execute(backend, "update {source} set rfm_segment = 'Lost' where i % 2 = 0")
    calls = local_crm.crm.calls
    with pytest.raises(GuardrailError, match="250 of the 500 synced records .*50.0%"):
        _run(backend, config(), env)
    assert local_crm.crm.calls == calls
    result = _run(backend, config(), env, allow_large_change=True)
    assert result.counts.accepted == 250
    assert local_crm.crm.store.records("contacts") == expected(backend)


# --- the PostgreSQL destination --------------------------------------------------------------
@pytest.mark.postgres
def test_postgres_table_destination(request: pytest.FixtureRequest) -> None:
    server = _server()
    backend = _postgres_database(server, request)
    target = database.ensure_database(server, "rfm_test_sync_target", recreate=True)
    with database.cursor(target) as cur:
        cur.execute("create schema app; create table app.crm_contacts (user_id text primary"
                    " key, rfm_segment text, rfm_segment_since date, rfm_predicted_ltv numeric,"
                    " rfm_cluster varchar(9))")
    dsn = " ".join(f"{k}={v}" for k, v in {
        "host": target.env["PGHOST"], "port": target.env["PGPORT"],
        "user": target.env["PGUSER"], "dbname": "rfm_test_sync_target"}.items())
    env = {"CRM_DATABASE_URL": dsn}
    cfg = config({"type": "postgres", "table": "app.crm_contacts"}, batch_size=250)

    def held() -> dict[str, dict[str, Any]]:
        with database.cursor(target) as cur:
            cur.execute("select * from app.crm_contacts")
            names = [c.name for c in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return {r.pop("user_id"): r for r in rows}

    make_source(backend, 2000)
    assert _run(backend, cfg, env).counts.accepted == 2000
    assert held() == expected(backend, as_text=False)
    execute(backend, "update {source} set rfm_segment = 'Lost' where i % 20 = 0")
    execute(backend, "delete from {source} where i % 50 = 1")
    # a value the table refuses (varchar(9)) rejects that row only
    execute(backend, "update {source} set cluster_name = 'much too long' where i = 7")
    result = _run(backend, cfg, env)
    assert result.counts.rejected == 1 and result.plan.counts["removal"] == 40
    errors = _state(backend, "sync_errors")
    assert [e["record_key"] for e in errors] == ["u000007"]
    assert "too long" in errors[0]["message"]
    execute(backend, "update {source} set cluster_name = 'ok' where i = 7")
    _run(backend, cfg, env)
    assert held() == expected(backend, as_text=False)
    assert _run(backend, cfg, env).counts.sent == 0
    with pytest.raises(sync_config.ConfigError, match="has no column 'nope'"):
        _run(backend, config({"type": "postgres", "table": "app.crm_contacts"},
                             mapping={**MAPPING, "cluster_name": "nope"}), env)
    assert SOURCE_SCHEMA  # the source stays in the warehouse, the target in its own database
