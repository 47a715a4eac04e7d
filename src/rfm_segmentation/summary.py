"""A readable summary of the latest period: segments with user counts and shares."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console, Group
from rich.table import Table

from rfm_segmentation import dbt_runner, warehouses
from rfm_segmentation.warehouses import postgres


@dataclass(frozen=True)
class SegmentCount:
    rfm_segment: str
    users: int
    share: float
    avg_recency_days: float
    avg_frequency: float
    avg_monetary: Decimal


@dataclass(frozen=True)
class Summary:
    snapshot_period: date | None
    snapshot_at: datetime | None
    is_period_closed: bool | None
    periods: int
    history_rows: int
    segments: list[SegmentCount]
    rejected: list[tuple[str, int]]
    identity: Identity | None = None


@dataclass(frozen=True)
class Identity:
    """The identity graph of the optional event sources (customer_profiles, identity_map)."""

    profiles: int
    with_user_ids: int  # profiles with at least one user_id
    merged_accounts: int  # profiles with two user_ids or more
    merged_identifiers: int  # profiles with two identifiers or more
    unassigned: list[tuple[str, int]]  # (identity_status, identifiers) without a profile
    rejected_events: list[tuple[str, int]]
    example: list[tuple[str, str]]  # (type, value) of the profile with the most user_ids
    example_profile: str | None
    # the example's users in rfm_segments_current: (column names, rows) of user_id, segment and
    # the computed traits (the columns after profile_id)
    example_traits: tuple[list[str], list[tuple]] = ([], [])


def fetch(where: warehouses.Warehouse | postgres.Connection, schema: str) -> Summary:
    """Read the summary from the tables dbt built in ``schema``."""
    warehouse = warehouses.as_warehouse(where)
    current = warehouse.quote(schema, "rfm_segments_current")
    history = warehouse.quote(schema, "rfm_segments_history")
    rejected = warehouse.quote(schema, "payments_rejected")
    with warehouse.cursor() as cur:
        cur.execute(
            "select rfm_segment, count(*), count(*) * 1.0 / sum(count(*)) over (),"
            " avg(recency_days), avg(frequency), avg(monetary)"
            f" from {current} group by rfm_segment order by count(*) desc, rfm_segment"
        )
        segments = [
            SegmentCount(name, users, float(share), float(rec), float(freq), mon)
            for name, users, share, rec, freq, mon in cur.fetchall()
        ]
        cur.execute(
            "select max(snapshot_period), max(snapshot_at), bool_and(is_period_closed)"
            f" from {current}"
        )
        period, snapshot_at, closed = cur.fetchone()
        cur.execute(f"select count(distinct snapshot_period), count(*) from {history}")
        periods, rows = cur.fetchone()
        cur.execute(
            f"select rejection_reason, count(*) from {rejected} group by 1 order by 2 desc, 1"
        )
        reasons = list(cur.fetchall())
    return Summary(period, snapshot_at, closed, periods, rows, segments, reasons,
                   _fetch_identity(warehouse, schema))


def _fetch_identity(warehouse: warehouses.Warehouse, schema: str) -> Identity | None:
    """None when the graph is not built or empty (no event sources)."""
    profiles = warehouse.quote(schema, "customer_profiles")
    identity_map = warehouse.quote(schema, "identity_map")
    rejected = warehouse.quote(schema, "events_rejected")
    with warehouse.cursor() as cur:
        try:
            cur.execute(
                "select count(*), count(case when user_ids >= 1 then 1 end),"
                " count(case when user_ids >= 2 then 1 end),"
                f" count(case when identifiers >= 2 then 1 end) from {profiles}"
            )
        except Exception:  # built before the identity graph existed
            return None
        total, with_user_ids, accounts, identifiers = cur.fetchone()
        if not total:
            return None
        cur.execute(f"select identity_status, count(*) from {identity_map}"
                    " where profile_id is null group by 1 order by 1")
        unassigned = list(cur.fetchall())
        cur.execute(f"select rejection_reason, count(*) from {rejected}"
                    " group by 1 order by 2 desc, 1")
        rejected_events = list(cur.fetchall())
        cur.execute(f"select profile_id from {profiles}"
                    " order by user_ids desc, identifiers desc, profile_id limit 1")
        (example_profile,) = cur.fetchone()
        cur.execute(f"select identifier_type, identifier_value from {identity_map}"
                    f" where profile_id = '{example_profile.replace(chr(39), chr(39) * 2)}'"
                    " order by identifier_type desc, identifier_value")
        example = list(cur.fetchall())
        cur.execute(f"select * from {warehouse.quote(schema, 'rfm_segments_current')}"
                    f" where profile_id = '{example_profile.replace(chr(39), chr(39) * 2)}'"
                    " order by user_id")
        names = [column[0] for column in cur.description]
        traits = names[names.index("profile_id") + 1:]
        shown = ["user_id", "rfm_segment", *traits]
        rows = [tuple(row[names.index(n)] for n in shown) for row in cur.fetchall()]
    return Identity(total, with_user_ids, accounts, identifiers, unassigned, rejected_events,
                    example, example_profile, (shown, rows))


def _render_identity(identity: Identity) -> Table:
    table = Table(
        title="Identity graph (customer_profiles, identity_map)",
        caption=f"example: {identity.example_profile} = "
        + ", ".join(f"{kind} {value}" for kind, value in identity.example),
    )
    table.add_column("profiles")
    table.add_column("count", justify="right")
    rows = [
        ("all profiles", identity.profiles),
        ("with a user_id", identity.with_user_ids),
        ("merged from 2+ identifiers", identity.merged_identifiers),
        ("merged from 2+ user_ids (accounts)", identity.merged_accounts),
        *((f"identifiers in no profile: {status}", n) for status, n in identity.unassigned),
        *((f"rejected events: {reason}", n) for reason, n in identity.rejected_events),
    ]
    for name, count in rows:
        table.add_row(name, f"{count:,}")
    return table


def render(result: Summary) -> Group:
    state = "closed" if result.is_period_closed else "open"
    segments = Table(
        title=(
            f"Segments of the latest period {result.snapshot_period} "
            f"({state}, snapshot at {result.snapshot_at})"
        ),
        caption=(
            f"history: {result.history_rows:,} rows over {result.periods} periods"
            " (rfm_segments_history)"
        ),
    )
    for name, justify in [
        ("segment", "left"), ("users", "right"), ("share", "right"),
        ("avg recency (days)", "right"), ("avg frequency", "right"), ("avg monetary", "right"),
    ]:
        segments.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for s in result.segments:
        segments.add_row(
            s.rfm_segment, f"{s.users:,}", f"{s.share:.1%}", f"{s.avg_recency_days:.0f}",
            f"{s.avg_frequency:.1f}", f"{s.avg_monetary:,.2f}",
        )
    total = sum(s.users for s in result.segments)
    segments.add_section()
    segments.add_row("all users", f"{total:,}", "100.0%" if total else "-", "", "", "")

    rejected = Table(title="Rejected raw payments (payments_rejected)")
    rejected.add_column("rejection_reason")
    rejected.add_column("rows", justify="right")
    for reason, count in result.rejected:
        rejected.add_row(reason, f"{count:,}")
    if not result.rejected:
        rejected.add_row("(none)", "0")
    if result.identity is None:
        return Group(segments, rejected)
    return Group(segments, rejected, _render_identity(result.identity),
                 _render_traits(result.identity))


def _cell(value: object) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}" if isinstance(value, Decimal) else str(value)


def _render_traits(identity: Identity) -> Table:
    names, rows = identity.example_traits
    table = Table(title=f"Computed traits of {identity.example_profile} in rfm_segments_current"
                  " (seed computed_traits)")
    for name in names:
        table.add_column(name)
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def cmd_summary(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm summary`: the segments of the latest period."""
    warehouse = warehouses.resolve(root)
    console.print(render(fetch(warehouse, dbt_runner.target_schema())))
    return dbt_runner.OK
