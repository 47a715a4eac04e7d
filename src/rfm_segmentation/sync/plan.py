"""The diff, computed in the warehouse in portable SQL (PostgreSQL and DuckDB): the source's
rows hashed over the mapped fields, full-outer-joined with the sync's state, give each record's
kind (add, change, removal, unchanged) and what the run does with it (send, remove, or skip:
rejected too often, waiting for its backoff, or not removed in this mode)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from rfm_segmentation.sync.config import SyncConfig
from rfm_segmentation.sync.db import Db
from rfm_segmentation.sync.state import WorkItem

KINDS: Final = ("add", "change", "removal", "unchanged")
_NULL_MARK: Final = "\\N"
REMOVED_HASH: Final = "removed"
"""The target hash of a removal (what a rejected removal is compared with)."""


class SourceError(ValueError):
    """A source the sync refuses before it sends anything."""


def source_relation(db: Db, config: SyncConfig, default_schema: str) -> str:
    return db.quote(config.source_schema or default_schema, config.source_model)


def check_source(db: Db, config: SyncConfig, relation: str) -> None:
    """The mapped columns and the key exist; the key is never null and never repeated."""
    try:
        columns = set(db.columns(f"select * from {relation}"))
    except Exception as err:  # the engines raise their own kinds for a missing table
        raise SourceError(f"source.model: cannot read {relation}: "
                          f"{str(err).splitlines()[0]}") from err
    needed = [("source.primary_key", config.primary_key)] + [
        (f"mapping.{column}", column) for column in config.mapping]
    for key, column in needed:
        if column not in columns:
            raise SourceError(f"{key}: {relation} has no column {column!r}; its columns: "
                              f"{', '.join(sorted(columns))}")
    pk = db.quote(config.primary_key)
    [(nulls,)] = db.query(f"select count(*) from {relation} where {pk} is null")
    if nulls:
        raise SourceError(f"source.primary_key: {nulls} row(s) of {relation} have a null "
                          f"{config.primary_key}; nothing was sent")
    duplicates = db.query(
        f"select cast({pk} as varchar) as record_key, count(*) as n from {relation}"
        f" group by cast({pk} as varchar) having count(*) > 1 order by n desc, record_key"
        f" limit 10")
    if duplicates:
        named = ", ".join(f"{key!r} ({n} rows)" for key, n in duplicates)
        raise SourceError(f"source.primary_key: {config.primary_key} is not unique in "
                          f"{relation}: {named}{' ...' if len(duplicates) == 10 else ''};"
                          f" nothing was sent")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def hash_expression(config: SyncConfig, db: Db) -> str:
    """md5 over the mapped fields, each as ``property=value`` (a renamed property changes the
    hash too: the destination has never seen that property)."""
    parts = [
        f"{_literal(prop + '=')} || coalesce(cast({db.quote(column)} as varchar), "
        f"{_literal(_NULL_MARK)})"
        for column, prop in config.mapping.items()
    ]
    return "md5(" + " || '|' || ".join(parts) + ")"


def diff_sql(db: Db, config: SyncConfig, relation: str, at: datetime,
             select: str = "select * from classified") -> str:
    """One row per record of the source or the state (the CTE ``classified``): kind, action
    and the mapped values, read by ``select``."""
    state = db.quote(config.state_schema, "sync_state")
    inflight = db.quote(config.state_schema, "sync_inflight")
    values = ", ".join(f"source_rows.v{i}" for i in range(len(config.mapping)))
    source_values = ", ".join(f"{db.quote(column)} as v{i}"
                              for i, column in enumerate(config.mapping))
    send_removal = "'remove'" if config.mode == "mirror" else "'skip_kept'"
    at_literal = f"cast({_literal(at.isoformat(sep=' '))} as timestamp)"
    return f"""
with

source_rows as (
    select
        cast({db.quote(config.primary_key)} as varchar) as record_key,
        {hash_expression(config, db)} as row_hash,
        {source_values}
    from {relation}
),

state as (
    select * from {state} where sync_name = {_literal(config.name)}
),

inflight as (
    select record_key from {inflight} where sync_name = {_literal(config.name)}
),

-- what the destination may hold: the accepted rows, and the ones sent but not confirmed
tracked as (
    select
        coalesce(state.record_key, inflight.record_key) as record_key,
        state.synced_hash,
        state.status,
        state.attempts,
        state.rejected_hash,
        state.next_attempt_at,
        case when inflight.record_key is null then 0 else 1 end as is_inflight
    from state
    full outer join inflight
        on state.record_key = inflight.record_key
),

joined as (
    select
        coalesce(source_rows.record_key, state.record_key) as record_key,
        coalesce(source_rows.row_hash, {_literal(REMOVED_HASH)}) as target_hash,
        state.synced_hash,
        coalesce(state.attempts, 0) as attempts,
        state.rejected_hash,
        state.next_attempt_at,
        case
            -- a record sent but never confirmed (a run killed before the answer's commit,
            -- or rejected since) may be in the destination all the same: remove it too
            when source_rows.record_key is null and state.synced_hash is null
                and coalesce(state.status, '') <> 'rejected'
                and state.is_inflight = 0 then 'gone'
            when source_rows.record_key is null then 'removal'
            when state.synced_hash is null then 'add'
            -- sent and unconfirmed: the destination may hold the values of that send
            when state.synced_hash = source_rows.row_hash
                and state.is_inflight = 0 then 'unchanged'
            else 'change'
        end as kind,
        {values}
    from source_rows
    full outer join tracked as state
        on source_rows.record_key = state.record_key
),

classified as (
    select
        joined.*,
        case
            when kind in ('gone', 'unchanged') then 'none'
            when kind = 'removal' and {send_removal} = 'skip_kept' then 'skip_kept'
            when rejected_hash = target_hash and attempts >= {config.max_rejections}
                then 'skip_given_up'
            when rejected_hash = target_hash and next_attempt_at > {at_literal}
                then 'skip_deferred'
            when kind = 'removal' then 'remove'
            else 'send'
        end as action,
        case when rejected_hash = target_hash then 1 else 0 end as is_retry
    from joined
)

"""  + select


@dataclass
class Plan:
    """What a run would do: counts of each kind and action, a sample of each kind."""

    counts: dict[str, int] = field(default_factory=dict)
    """kind -> records (add, change, removal, unchanged)"""
    actions: dict[str, int] = field(default_factory=dict)
    """action -> records (send, remove, skip_kept, skip_given_up, skip_deferred)"""
    retries: int = 0
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    synced: int = 0
    """records the destination holds from this sync (the guardrail's denominator)"""

    @property
    def to_do(self) -> int:
        return self.actions.get("send", 0) + self.actions.get("remove", 0)

    @property
    def large_changes(self) -> int:
        """Records whose synced values the run would overwrite or remove."""
        removals = self.counts.get("removal", 0) if self.actions.get("remove") else 0
        return self.counts.get("change", 0) + removals

    def change_share(self) -> float:
        return self.large_changes / self.synced if self.synced else 0.0


def compute(db: Db, config: SyncConfig, relation: str, at: datetime) -> Plan:
    plan = Plan(counts=dict.fromkeys(KINDS, 0))
    rows = db.query(diff_sql(db, config, relation, at,
                             "select kind, action, sum(is_retry), count(*) from classified"
                             " group by kind, action"))
    for kind, action, retries, n in rows:
        if kind in plan.counts:
            plan.counts[kind] += int(n)
        if action != "none":
            plan.actions[action] = plan.actions.get(action, 0) + int(n)
        if action in ("send", "remove"):
            plan.retries += int(retries or 0)
        if kind in ("unchanged", "change", "removal"):
            plan.synced += int(n)
    if config.sample_size:
        names = list(config.mapping.values())
        sample_sql = diff_sql(db, config, relation, at,
                      f"select * from (select classified.*, row_number() over (partition by kind"
                      f" order by record_key) as sample_rank from classified"
                      f" where kind in ('add', 'change', 'removal')) as ranked"
                      f" where sample_rank <= {config.sample_size} order by kind, record_key")
        with db.transaction() as cur:
            cur.execute(sample_sql)
            columns = [c[0] for c in cur.description]
            for row in cur.fetchall():
                record = dict(zip(columns, row, strict=True))
                values = {name: record[f"v{i}"] for i, name in enumerate(names)}
                plan.samples.setdefault(record["kind"], []).append(
                    {"key": record["record_key"], "action": record["action"],
                     **({} if record["kind"] == "removal" else values)})
    return plan


def work(db: Db, config: SyncConfig, relation: str, at: datetime,
         chunk: int = 5000) -> Iterator[WorkItem]:
    """The records to send, then the ones to remove, in key order."""
    n = len(config.mapping)
    statement = diff_sql(db, config, relation, at,
                 f"select record_key, action, kind, target_hash, synced_hash, attempts,"
                 f" rejected_hash, {', '.join(f'v{i}' for i in range(n))} from classified"
                 f" where action in ('send', 'remove') order by action desc, record_key")
    for rows in db.stream(statement, chunk):
        for row in rows:
            yield WorkItem(key=row[0], action=row[1], kind=row[2], target_hash=row[3],
                           synced_hash=row[4], attempts=int(row[5]), rejected_hash=row[6],
                           values=tuple(row[7:7 + n]))
