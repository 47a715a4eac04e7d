"""`rfm sync` killed with SIGKILL at random points (mid-batch, between the CRM's answer and the
state's commit, mid-commit), repeated, with the source changing in between; then a clean run:
the CRM equals the source, no record was created twice, and one more run sends nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from rfm_segmentation import crm

from conftest import RFM, ROOT, _postgres_database, _server
from sync_support import MAPPING, SOURCE_SCHEMA, SOURCE_TABLE, TOKEN, execute, expected, make_source

pytestmark = pytest.mark.postgres

N = 10_000
KILLS = 4


def _write_config(folder: Path) -> Path:
    path = folder / "crm_contacts.yml"
    path.write_text(yaml.safe_dump({
        "source": {"model": SOURCE_TABLE, "schema": SOURCE_SCHEMA},
        "mapping": MAPPING, "mode": "mirror", "retry_backoff_seconds": 0,
        "destination": {"type": "http", "timeout_seconds": 5},
    }))
    return path


def test_sigkill_at_random_points_then_a_clean_run_converges(
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    backend = _postgres_database(_server(), request)
    make_source(backend, N)
    path = _write_config(tmp_path)
    chance = random.Random(int(os.environ.get("RFM_TEST_SEED", "20")))
    # slow answers so that a run lasts long enough to be killed anywhere in it
    with crm.running(None, TOKEN, crm.Faults(slow_ms=5, drop_after_apply=0.05)) as running:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
               **backend.dbt_env(), "CRM_BASE_URL": running.base_url, "CRM_TOKEN": TOKEN}
        command = [RFM, "sync", str(path), "--allow-large-change"]
        kills = 0
        for attempt in range(KILLS):
            if attempt == 2:  # the source moves between two killed runs
                execute(backend, "update {source} set rfm_segment = 'Lost' where i % 100 = 7")
                execute(backend, "delete from {source} where i % 250 = 11")
            calls_before = running.crm.calls
            # at most 12 calls a run: every run is killed before the work runs out
            target = calls_before + chance.randint(1, 12)
            log = (tmp_path / f"run{attempt}.log").open("w")
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while running.crm.calls < target and process.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(chance.uniform(0, 0.02))  # anywhere within a call or its commit
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=30)
        assert kills >= KILLS - 1, "the runs ended before they could be killed: " + "".join(
            (tmp_path / f"run{i}.log").read_text()[-2000:] for i in range(KILLS))

        clean = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=300)
        assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-3000:]
        held = running.crm.store.records("contacts")
        assert held == expected(backend)
        stats = running.crm.store.counters()
        # each user created once, whatever was resent (the removed ones archived, not lost)
        assert stats["created"] == len(held) + stats["archived"] and stats["restored"] == 0
        assert stats["archived"] <= N - len(held)
        again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=300)
        assert again.returncode == 0 and "nothing to send" in again.stdout, again.stdout
    runs = backend.query("select status from rfm_sync.sync_runs")
    assert sum(r["status"] == "running" for r in runs) == kills  # the killed runs say so
