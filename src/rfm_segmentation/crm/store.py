"""The local CRM's records, in SQLite: one row per object type and id-property value (which
makes an upsert by id property idempotent), with counters of what it did (creations, updates,
archives) so that a test can tell a record created twice from a record updated twice."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
create table if not exists records (
    object_type text not null,
    id_value text not null,
    crm_id integer not null,
    properties text not null,
    is_archived integer not null default 0,
    created_at text not null,
    updated_at text not null,
    primary key (object_type, id_value)
);
create table if not exists counters (name text primary key, value integer not null);
"""


class Store:
    """Records by (object type, id value). Thread-safe: one lock around every operation."""

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:" if path is None else str(path),
                                   check_same_thread=False)
        # WAL without a sync per commit: a local CRM for demos and tests, not a system of record
        self._db.executescript("pragma journal_mode = wal; pragma synchronous = normal;"
                               + _SCHEMA)
        self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _bump(self, counts: Mapping[str, int]) -> None:
        for name, value in counts.items():
            if value:
                self._db.execute(
                    "insert into counters values (?, ?) on conflict (name) do update"
                    " set value = value + excluded.value", (name, value))

    def upsert(self, object_type: str, inputs: Iterable[tuple[str, dict[str, Any]]],
               create: bool = True) -> list[tuple[str, int, dict[str, Any], bool]]:
        """Apply (id value, properties); return (id value, crm id, properties, created) for
        each one applied. With ``create`` False (batch update), a missing record is skipped."""
        now = datetime.now(UTC).isoformat()
        applied = []
        counts = {"created": 0, "updated": 0, "restored": 0}
        with self._lock:
            for id_value, properties in inputs:
                row = self._db.execute(
                    "select crm_id, properties, is_archived from records"
                    " where object_type = ? and id_value = ?", (object_type, id_value)
                ).fetchone()
                if row is None or (row[2] and not create):
                    if not create:
                        continue
                    crm_id = self._next_id()
                    self._db.execute(
                        "insert into records values (?, ?, ?, ?, 0, ?, ?)",
                        (object_type, id_value, crm_id, json.dumps(properties), now, now))
                    counts["created"] += 1
                    applied.append((id_value, crm_id, properties, True))
                    continue
                merged = {**json.loads(row[1]), **properties}
                self._db.execute(
                    "update records set properties = ?, is_archived = 0, updated_at = ?"
                    " where object_type = ? and id_value = ?",
                    (json.dumps(merged), now, object_type, id_value))
                counts["restored" if row[2] else "updated"] += 1
                applied.append((id_value, row[0], merged, False))
            self._bump(counts)
            self._db.commit()
        return applied

    def _next_id(self) -> int:
        self._bump({"next_id": 1})
        return int(self._db.execute("select value from counters where name = 'next_id'"
                                    ).fetchone()[0])

    def archive(self, object_type: str, ids: Iterable[str]) -> int:
        with self._lock:
            archived = 0
            for id_value in ids:
                archived += self._db.execute(
                    "update records set is_archived = 1 where object_type = ? and id_value = ?"
                    " and is_archived = 0", (object_type, id_value)).rowcount
            self._bump({"archived": archived})
            self._db.commit()
        return archived

    def records(self, object_type: str) -> dict[str, dict[str, Any]]:
        """The live (not archived) records: id value -> properties."""
        with self._lock:
            rows = self._db.execute(
                "select id_value, properties from records where object_type = ?"
                " and is_archived = 0", (object_type,)).fetchall()
        return {id_value: json.loads(properties) for id_value, properties in rows}

    def counters(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("select name, value from counters").fetchall()
        counts = {"created": 0, "updated": 0, "restored": 0, "archived": 0}
        counts.update({name: int(value) for name, value in rows if name != "next_id"})
        return counts

    def reset(self) -> None:
        with self._lock:
            self._db.execute("delete from records")
            self._db.execute("delete from counters")
            self._db.commit()
