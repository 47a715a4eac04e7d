"""One run of a sync: check the configuration, the destination and the source; compute the
plan in the warehouse; stop on the guardrail; send the batches; after each answer, commit the
state of the rows the destination accepted or rejected.

Killed at any instant, a run leaves the state at its last committed batch: the rows sent after
it are sent again by the next run. The destination's writes are idempotent (an upsert keyed by
the record's id property, a removal of what is already removed is a success), so a resend never
creates a record twice."""

from __future__ import annotations

import fcntl
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby, islice
from pathlib import Path
from typing import Any

from rfm_segmentation import warehouses
from rfm_segmentation.sync import destinations, plan
from rfm_segmentation.sync.config import SyncConfig
from rfm_segmentation.sync.db import Db
from rfm_segmentation.sync.destinations import AuthError, Destination, DestinationError, Record
from rfm_segmentation.sync.state import RunCounts, StateStore, WorkItem, ensure_tables, now


class GuardrailError(RuntimeError):
    """The run would change or remove more of the synced records than the configuration
    allows."""


@dataclass
class RunResult:
    plan: plan.Plan
    status: str
    """planned (--plan), nothing_to_do, done, failed"""
    run_id: str | None = None
    counts: RunCounts = field(default_factory=RunCounts)
    message: str | None = None
    destination: str | None = None


@contextmanager
def _run_lock(warehouse: warehouses.Warehouse, schema: str, name: str) -> Iterator[None]:
    """One run of a sync at a time: two side by side would send the same rows twice."""
    if isinstance(warehouse, warehouses.PostgresWarehouse):
        from rfm_segmentation.warehouses import postgres

        with postgres.advisory_lock(warehouse.connection, f"rfm_sync:{schema}:{name}"):
            yield
        return
    assert isinstance(warehouse, warehouses.DuckDBWarehouse)
    lock = Path(f"{warehouse.path}.sync-{name}.lock")
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _batches(items: Iterator[WorkItem], size: int) -> Iterator[list[WorkItem]]:
    for _, group in groupby(items, key=lambda item: item.action):
        while batch := list(islice(group, size)):
            yield batch


def guardrail(config: SyncConfig, the_plan: plan.Plan) -> str | None:
    """Why the plan is too large a change, or None."""
    share = the_plan.change_share()
    if share <= config.max_change_share:
        return None
    return (f"the run would change or remove {the_plan.large_changes:,} of the "
            f"{the_plan.synced:,} synced records ({share:.1%}), more than max_change_share "
            f"{config.max_change_share:.0%}: a broken build must not rewrite the CRM. Check "
            f"the source, then run again with --allow-large-change")


class SyncRun:
    """A sync's configuration on a warehouse, ready to plan or run."""

    def __init__(self, config: SyncConfig, warehouse: warehouses.Warehouse,
                 default_schema: str) -> None:
        self.config = config
        self.warehouse = warehouse
        self.db = Db(warehouse)
        self.relation = plan.source_relation(self.db, config, default_schema)
        self.state = StateStore(self.db, config.state_schema, config.name)

    def plan(self) -> plan.Plan:
        """Check the source and compute the plan (no call to the destination)."""
        plan.check_source(self.db, self.config, self.relation)
        ensure_tables(self.db, self.config.state_schema)
        return plan.compute(self.db, self.config, self.relation, now())

    def run(self, environ: Mapping[str, str], *, plan_only: bool = False,
            allow_large_change: bool = False,
            on_plan: Callable[[plan.Plan], None] | None = None,
            on_progress: Callable[[int, int], None] | None = None,
            on_retry: Callable[[str], None] | None = None) -> RunResult:
        destination = None if plan_only else destinations.build(self.config, environ, on_retry)
        try:
            if destination is not None:
                destination.check()
            with _run_lock(self.warehouse, self.config.state_schema, self.config.name):
                the_plan = self.plan()
                if on_plan is not None:
                    on_plan(the_plan)
                if plan_only:
                    return RunResult(the_plan, "planned")
                assert destination is not None
                if not allow_large_change and (why := guardrail(self.config, the_plan)):
                    raise GuardrailError(why)
                if the_plan.to_do == 0:
                    return RunResult(the_plan, "nothing_to_do",
                                     destination=destination.describe())
                return self._send(the_plan, destination, on_progress)
        finally:
            if destination is not None:
                destination.close()

    def _send(self, the_plan: plan.Plan, destination: Destination,
              on_progress: Callable[[int, int], None] | None) -> RunResult:
        config = self.config
        run_id = uuid.uuid4().hex
        counts = RunCounts(planned=the_plan.to_do)
        self.state.start_run(run_id, config.mode, config.config_hash(), counts.planned)
        result = RunResult(the_plan, "done", run_id, counts,
                           destination=destination.describe())
        names = list(config.mapping.values())
        send_action = "update" if config.mode == "update" else "upsert"
        items = plan.work(self.db, config, self.relation, now())
        batch: list[WorkItem] = []
        try:
            for batch in _batches(items, config.batch_size):
                action = "remove" if batch[0].action == "remove" else send_action
                records = [Record(item.key, dict(zip(names, item.values, strict=True)))
                           for item in batch]
                self.state.mark_sending(batch)
                outcome = destination.send(action, records)
                accepted = [item for item in batch if item.key in outcome.accepted]
                rejected = [(item, *outcome.rejected[item.key]) for item in batch
                            if item.key in outcome.rejected]
                counts.sent += len(batch)
                counts.accepted += len(accepted)
                counts.rejected += len(rejected)
                counts.retried += sum(item.is_retry for item in batch)
                self.state.commit_batch(run_id, counts, accepted, rejected,
                                        config.retry_backoff_seconds)
                if on_progress is not None:
                    on_progress(counts.sent, counts.planned)
        except AuthError as err:  # no use going on: every call would be refused
            self.state.not_sent(batch)
            self.state.finish_run(run_id, counts, "failed", str(err))
            raise
        except DestinationError as err:
            result.status, result.message = "failed", str(err)
            self.state.finish_run(run_id, counts, "failed", str(err))
            return result
        except BaseException as err:
            self.state.finish_run(run_id, counts, "failed", f"{type(err).__name__}: {err}")
            raise
        self.state.finish_run(run_id, counts, "done")
        return result


def describe_counts(counts: RunCounts) -> dict[str, Any]:
    return {"planned": counts.planned, "sent": counts.sent, "accepted": counts.accepted,
            "rejected": counts.rejected, "retried": counts.retried}
