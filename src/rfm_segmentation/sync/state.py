"""The sync's own tables in the warehouse (schema ``rfm_sync`` by default), created by the sync
rather than by dbt: they hold what the destination accepted, which no build may rebuild.

- ``sync_state``: one row per sync and record: the hash of the mapped fields the destination
  last accepted (``synced_hash``), when it was last sent, its status (synced, rejected,
  removed), and the rejections of its current values (attempts, next attempt).
- ``sync_inflight``: the records sent whose answer was not committed (a run killed or failed
  mid-batch): the destination may hold them.
- ``sync_runs``: one row per run: started, finished, status, planned / sent / accepted /
  rejected / retried counts, mode, config hash.
- ``sync_errors``: one row per rejected record and attempt, with the destination's message.

A batch's answer moves the state in one transaction, together with its run's counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rfm_segmentation.sync.db import Db

_STATE_COLUMNS = ("sync_name", "record_key", "synced_hash", "last_sent_at", "status",
                  "attempts", "rejected_hash", "next_attempt_at")


def now() -> datetime:
    """UTC, naive: the warehouses' ``timestamp`` type."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def ensure_tables(db: Db, schema: str) -> None:
    q = db.quote
    statements = [
        f"create schema if not exists {q(schema)}",
        f"create table if not exists {q(schema, 'sync_state')} ("
        " sync_name varchar not null, record_key varchar not null, synced_hash varchar,"
        " last_sent_at timestamp, status varchar not null, attempts integer not null,"
        " rejected_hash varchar, next_attempt_at timestamp,"
        " primary key (sync_name, record_key))",
        f"create table if not exists {q(schema, 'sync_runs')} ("
        " run_id varchar primary key, sync_name varchar not null, mode varchar not null,"
        " config_hash varchar not null, started_at timestamp not null, finished_at timestamp,"
        " status varchar not null, planned integer, sent integer, accepted integer,"
        " rejected integer, retried integer, message varchar)",
        f"create table if not exists {q(schema, 'sync_errors')} ("
        " run_id varchar not null, sync_name varchar not null, record_key varchar not null,"
        " row_hash varchar, error_at timestamp not null, attempt integer not null,"
        " category varchar, message varchar)",
        f"create table if not exists {q(schema, 'sync_inflight')} ("
        " sync_name varchar not null, record_key varchar not null, sent_at timestamp not null,"
        " primary key (sync_name, record_key))",
    ]
    for statement in statements:
        with db.transaction() as cur:
            cur.execute(statement)


@dataclass
class RunCounts:
    planned: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    retried: int = 0


@dataclass(frozen=True)
class WorkItem:
    """One record to send (or remove), as the plan found it."""

    key: str
    action: str  # "send" or "remove"
    kind: str  # add, change, removal
    target_hash: str
    synced_hash: str | None
    attempts: int
    rejected_hash: str | None
    values: tuple[Any, ...] = field(default=())

    @property
    def is_retry(self) -> bool:
        return self.rejected_hash is not None and self.rejected_hash == self.target_hash


class StateStore:
    """The state tables of one sync."""

    def __init__(self, db: Db, schema: str, sync_name: str) -> None:
        self.db = db
        self.schema = schema
        self.sync_name = sync_name

    def table(self, name: str) -> str:
        return self.db.quote(self.schema, name)

    def start_run(self, run_id: str, mode: str, config_hash: str, planned: int) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                f"insert into {self.table('sync_runs')} (run_id, sync_name, mode, config_hash,"
                f" started_at, status, planned, sent, accepted, rejected, retried)"
                f" values ({self.db.placeholders(11)})",
                [run_id, self.sync_name, mode, config_hash, now(), "running", planned,
                 0, 0, 0, 0],
            )

    def _update_run(self, cur: Any, run_id: str, counts: RunCounts,
                    status: str | None = None, message: str | None = None) -> None:
        p = self.db.placeholder
        assignments = [f"planned = {p}", f"sent = {p}", f"accepted = {p}", f"rejected = {p}",
                       f"retried = {p}"]
        params: list[Any] = [counts.planned, counts.sent, counts.accepted, counts.rejected,
                             counts.retried]
        if status is not None:
            assignments += [f"status = {p}", f"finished_at = {p}", f"message = {p}"]
            params += [status, now(), message]
        cur.execute(f"update {self.table('sync_runs')} set {', '.join(assignments)}"
                    f" where run_id = {p}", [*params, run_id])

    def finish_run(self, run_id: str, counts: RunCounts, status: str,
                   message: str | None = None) -> None:
        with self.db.transaction() as cur:
            self._update_run(cur, run_id, counts, status, message)

    def _upsert(self, cur: Any, rows: list[tuple[Any, ...]]) -> None:
        values = ", ".join(f"({self.db.placeholders(len(_STATE_COLUMNS))})" for _ in rows)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _STATE_COLUMNS[2:])
        cur.execute(
            f"insert into {self.table('sync_state')} ({', '.join(_STATE_COLUMNS)})"
            f" values {values} on conflict (sync_name, record_key) do update set {updates}",
            [value for row in rows for value in row],
        )

    def mark_sending(self, items: list[WorkItem]) -> None:
        """Before a batch is sent: its records may be in the destination from now on, even if
        the run dies before the answer (``sync_inflight``); one that then leaves the source
        is removed, one whose values come back to the synced ones is sent again."""
        rows = [(self.sync_name, item.key, now()) for item in items]
        with self.db.transaction() as cur:
            cur.execute(
                f"insert into {self.table('sync_inflight')} (sync_name, record_key, sent_at)"
                f" values {', '.join(f'({self.db.placeholders(3)})' for _ in rows)}"
                f" on conflict (sync_name, record_key) do nothing",
                [value for row in rows for value in row])

    def _clear_inflight(self, cur: Any, keys: list[str]) -> None:
        if keys:
            cur.execute(f"delete from {self.table('sync_inflight')} where sync_name ="
                        f" {self.db.placeholder} and record_key in"
                        f" ({self.db.placeholders(len(keys))})", [self.sync_name, *keys])

    def not_sent(self, items: list[WorkItem]) -> None:
        """The batch certainly did not reach the destination (it refused the credentials)."""
        with self.db.transaction() as cur:
            self._clear_inflight(cur, [item.key for item in items])

    def commit_batch(self, run_id: str, counts: RunCounts, accepted: list[WorkItem],
                     rejected: list[tuple[WorkItem, str, str]],
                     backoff_seconds: float) -> None:
        """Move the state of the accepted rows forward and record the rejected ones, with the
        run's counts, in one transaction."""
        at = now()
        rows: list[tuple[Any, ...]] = []
        for item in accepted:
            removed = item.action == "remove"
            rows.append((self.sync_name, item.key, None if removed else item.target_hash, at,
                         "removed" if removed else "synced", 0, None, None))
        errors: list[tuple[Any, ...]] = []
        for item, category, message in rejected:
            attempts = item.attempts + 1 if item.is_retry else 1
            wait = timedelta(seconds=backoff_seconds * 2 ** (attempts - 1))
            rows.append((self.sync_name, item.key, item.synced_hash, at, "rejected", attempts,
                         item.target_hash, at + wait))
            errors.append((run_id, self.sync_name, item.key, item.target_hash, at, attempts,
                           category, message[:2000]))
        with self.db.transaction() as cur:
            if rows:
                self._upsert(cur, rows)
            self._clear_inflight(cur, [row[1] for row in rows])
            if errors:
                values = ", ".join(f"({self.db.placeholders(8)})" for _ in errors)
                cur.execute(
                    f"insert into {self.table('sync_errors')} (run_id, sync_name, record_key,"
                    f" row_hash, error_at, attempt, category, message) values {values}",
                    [value for row in errors for value in row],
                )
            self._update_run(cur, run_id, counts)
