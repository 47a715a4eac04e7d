"""The identity graph (docs/identity.md) built by dbt, against a reference written here from the
rules: normalisation, rejected events, a union-find over the merging links, the shared and
anonymous limits, the profile_id rule. Generated graphs: a chain of 1,000 identifiers, stars, a
cycle, duplicates, case and space variants, placeholders, shared identifiers over the limit,
anonymous-only paths between user_ids, and a merge that arrives late."""

from __future__ import annotations

import csv
import random
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from rfm_segmentation import demo as demo_data
from rfm_segmentation.bench import identity as identity_bench
from rfm_segmentation.raw import EventRow, IdentifyRow

from conftest import (
    ENGINE_PARAMS_BUT_SPARK,
    ROOT,
    SCHEMA,
    SharedBuilds,
    Warehouse,
    engine_cases,
    upstream_of,
)

AS_OF = datetime(2024, 7, 10, 12, 0, 0)
DBT_VARS = {"rfm_as_of": AS_OF.isoformat(sep=" ")}
# the identity models and what they read: no payments needed
SELECT = ("--select", "+customer_profiles", "+events_rejected")
TYPES = ("user_id", "email", "anonymous_id")  # the profile-naming order
CHAIN_LENGTH = 1000
PASSES = re.compile(r"int_identity_components: labels converged after (\d+) passes")
RELABELLED = re.compile(r"int_identity_components: (\d+) nodes labelled again, (\d+) kept")
REOBSERVED = re.compile(r"int_identity_observations: (\d+) sets observed again from "
                        r"\S+, (\d+) of them with earlier rows only")


# --- the reference -----------------------------------------------------------------------------
def placeholders() -> frozenset[str]:
    with (ROOT / "seeds" / "identity_placeholders.csv").open() as handle:
        # the word null is a placeholder of the rules, not of the seed (docs/identity.md)
        return frozenset(row["identifier_value"] for row in csv.DictReader(handle)) | {"null"}


def event_names() -> frozenset[str]:
    with (ROOT / "seeds" / "identity_event_names.csv").open() as handle:
        return frozenset(row["event_name"] for row in csv.DictReader(handle))


PLACEHOLDERS = placeholders()
EVENT_NAMES = event_names()


def normalised(value: str | None, kind: str) -> str | None:
    if value is None:
        return None
    value = value.strip(" ")
    if kind == "email":
        value = value.lower()
    return None if value == "" or value.lower() in PLACEHOLDERS else value


def identifiers(user_id: str | None, anonymous_id: str | None, email: str | None
                ) -> tuple[str | None, str | None, str | None]:
    return (normalised(user_id, "user_id"), normalised(anonymous_id, "anonymous_id"),
            normalised(email, "email"))


def screen_events(rows: list[EventRow], as_of: datetime = AS_OF) -> list[str | None]:
    """Per raw event: None when clean, else the first rejection reason that applies."""
    reasons: list[str | None] = []
    for event_id, at, name, user_id, anonymous_id, email, _, _ in rows:
        if event_id is None or event_id.strip(" ") == "":
            reasons.append("missing_event_id")
        elif at is None:
            reasons.append("missing_occurred_at")
        elif name is None or name.strip(" ") not in EVENT_NAMES:
            reasons.append("unknown_event_name")
        elif identifiers(user_id, anonymous_id, email) == (None, None, None):
            reasons.append("missing_identifier")
        elif at >= as_of:
            reasons.append("after_as_of")
        else:
            reasons.append(None)
    kept: dict[str, tuple[Any, ...]] = {}
    for i, row in enumerate(rows):
        if reasons[i] is None:
            key = (row[1], *(value or "" for value in identifiers(*row[3:6])), i)
            event_id = row[0].strip(" ")  # type: ignore[union-attr]
            if event_id not in kept or key < kept[event_id]:
                kept[event_id] = key
    for i, row in enumerate(rows):
        if reasons[i] is None and kept[row[0].strip(" ")][-1] != i:  # type: ignore[union-attr]
            reasons[i] = "duplicate_event_id"
    return reasons


def observed(events: list[EventRow], identifies: list[IdentifyRow], as_of: datetime
             ) -> list[tuple[tuple[str | None, str | None, str | None], datetime]]:
    """(identifiers, when) of the clean events and of the identify calls dated before as_of."""
    seen = [(identifiers(*row[3:6]), row[1]) for row, reason
            in zip(events, screen_events(events, as_of), strict=True) if reason is None]
    return seen + [(identifiers(*row[1:]), row[0]) for row in identifies
                   if row[0] is not None and row[0] < as_of]


def expected_observations(events: list[EventRow], identifies: list[IdentifyRow],
                          as_of: datetime = AS_OF,
                          ) -> dict[tuple[str | None, ...], tuple[datetime, datetime]]:
    """{(user_id, anonymous_id, email): (first seen, last seen)} of the clean events and the
    identify calls dated before as_of with an identifier left."""
    result: dict[tuple[str | None, ...], tuple[datetime, datetime]] = {}
    for key, at in observed(events, identifies, as_of):
        if key != (None, None, None):
            first, last = result.get(key, (at, at))
            result[key] = (min(first, at), max(last, at))
    return result


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: Any, b: Any) -> None:
        self.parent[self.find(a)] = self.find(b)


def rank(node: tuple[str, str]) -> tuple[int, str]:
    return TYPES.index(node[0]), node[1]  # Python compares str by code point: byte order


def expected_identity_map(events: list[EventRow], identifies: list[IdentifyRow], *,
                          max_user_ids: int = 5, merge_via_anonymous: bool = False,
                          as_of: datetime = AS_OF,
                          ) -> dict[tuple[str, str], tuple[str | None, str]]:
    """{(type, value): (profile_id, status)} by the rules of docs/identity.md."""
    observations = [key for key, _ in observed(events, identifies, as_of)]
    linked: dict[tuple[str, str], set[str]] = {}
    links: set[tuple[tuple[str, str], tuple[str, str]]] = set()
    for user_id, anonymous_id, email in observations:
        nodes = [(kind, value) for kind, value in zip(TYPES, (user_id, email, anonymous_id),
                                                      strict=True) if value is not None]
        for node in nodes:
            linked.setdefault(node, set()).update({user_id} if user_id else set())
        links.update((a, b) for a in nodes for b in nodes if a != b)
    shared = {n for n, users in linked.items() if n[0] != "user_id" and len(users) > max_user_ids}
    components = UnionFind()
    for node in linked:
        components.find(node)
    for a, b in links:
        anonymous = "anonymous_id" in (a[0], b[0])
        if a not in shared and b not in shared and (merge_via_anonymous or not anonymous):
            components.union(a, b)
    attached: dict[tuple[str, str], Any] = {}
    if not merge_via_anonymous:
        for a, b in links:
            if a[0] == "anonymous_id" and b[0] != "anonymous_id" and b not in shared:
                attached.setdefault(a, set()).add(components.find(b))
    members: dict[Any, list[tuple[str, str]]] = {}
    for node in linked:
        members.setdefault(components.find(node), []).append(node)
    name = {root: min(nodes, key=rank) for root, nodes in members.items()}
    result: dict[tuple[str, str], tuple[str | None, str]] = {}
    for node in linked:
        profile: tuple[str, str] | None = name[components.find(node)]
        status = "assigned"
        if node in shared:
            profile, status = None, "shared"
        elif node[0] == "anonymous_id" and not merge_via_anonymous and node in attached:
            roots = attached[node]
            profile = name[next(iter(roots))] if len(roots) == 1 else None
            status = "assigned" if len(roots) == 1 else "ambiguous"
        result[node] = (None if profile is None else f"{profile[0]}:{profile[1]}", status)
    return result


# --- the generated graphs ----------------------------------------------------------------------
@dataclass
class Graphs:
    events: list[EventRow]
    identifies: list[IdentifyRow]
    late_identifies: list[IdentifyRow]  # the rows that merge two profiles, arriving late


def graphs(seed: int = 5) -> Graphs:
    rng = random.Random(seed)
    at = AS_OF - timedelta(days=30)
    events: list[EventRow] = []
    identifies: list[IdentifyRow] = []
    late: list[IdentifyRow] = []

    def event(user_id: str | None, anonymous_id: str | None, email: str | None,
              name: str = "page_viewed", event_id: str | None = None,
              when: datetime | None = at) -> None:
        events.append((event_id or f"ev{len(events):06d}", when, name, user_id, anonymous_id,
                       email, Decimal("9.90") if name == "order_completed" else None, None))

    # a chain of 1,000 identifiers u0 - e0 - u1 - e1 - ..., values in random order so that
    # the smallest is anywhere along it; its middle link arrives late
    order = rng.sample(range(CHAIN_LENGTH // 2), CHAIN_LENGTH // 2)
    for i in range(CHAIN_LENGTH // 2):
        user, mail = f"chain-u{order[i]:04d}", f"chain-{order[i]:04d}@example.org"
        identifies.append((at, user, None, mail))
        if i + 1 < CHAIN_LENGTH // 2:
            row = (at, f"chain-u{order[i + 1]:04d}", None, mail)
            (late if i == CHAIN_LENGTH // 4 else identifies).append(row)
    # stars: an e-mail of four accounts (merges them; shared when the limit is below 4), a
    # user with 30 devices
    for k in range(4):
        identifies.append((at, f"star-u{k}", None, "star@example.org"))
    for k in range(30):
        event("star-hub", f"star-device-{k:02d}", None)
    # a cycle u1 - e1 - u2 - e2 - u3 - e3 - u1
    for k in range(1, 4):
        identifies.append((at, f"cycle-u{k}", None, f"cycle-{k}@example.org"))
        identifies.append((at, f"cycle-u{k % 3 + 1}", None, f"cycle-{k}@example.org"))
    # duplicates and case / space variants of one e-mail; placeholders dropped
    for _ in range(3):
        identifies.append((at, "case-u1", "case-device", "Ann.Case@Example.ORG"))
    identifies.append((at, "case-u2", None, "  ann.case@example.org "))
    identifies.append((at, "case-u2", None, "ANN.CASE@EXAMPLE.ORG"))
    identifies.append((at, "placeholder-u1", "undefined", "test@example.com"))
    identifies.append((at, "placeholder-u2", "NULL", " Test@Example.com"))
    identifies.append((at, "null", "placeholder-device", "placeholder@example.org"))
    # shared over the limit: a kiosk device of 7 users, a family e-mail of 6
    for k in range(7):
        event(f"kiosk-u{k}", "kiosk-device", None, "logged_in")
        identifies.append((at, f"kiosk-u{k}", None, f"kiosk-{k}@example.org"))
    for k in range(6):
        identifies.append((at, f"family-u{k}", None, "family@example.org"))
    # anonymous-only paths: a device of two users (ambiguous, merged with the var), a device
    # of one user and a guest e-mail; a visitor who never logged in; a guest
    event("anon-u1", "anon-shared-device", None, "logged_in")
    event("anon-u2", "anon-shared-device", None, "logged_in")
    event("anon-u1", "anon-own-device", None)
    event(None, "anon-guest-device", "guest@example.org", "order_completed")
    event(None, "anon-visitor", None)
    # late merge of two profiles by an e-mail
    identifies.append((at, "late-u1", "late-device-1", "late-1@example.org"))
    identifies.append((at, "late-u2", "late-device-2", "late-2@example.org"))
    late.append((at + timedelta(days=1), "late-u2", None, "late-1@example.org"))
    late.append((at + timedelta(days=1), "new-u1", "new-device", "new@example.org"))
    # bad rows, each of its kind (and an identify after rfm_as_of, not counted)
    event("bad-u1", None, None, event_id="bad-kept")
    event("bad-u1", None, None, event_id="bad-kept")  # exact copy
    event("bad-u9", None, None, event_id="bad-kept", when=at + timedelta(hours=1))  # later copy
    event("bad-u2", None, None, event_id="  ")
    event("bad-u2", None, None, event_id=None)
    event("bad-u3", None, None, when=None)
    event("bad-u4", None, None, "Page Viewed")
    event("bad-u4", None, None, "debug_ping")
    events.append(("bad-unnamed", at, None, "bad-u4", None, None, None, None))
    event(None, None, None)  # bot traffic
    event("  ", "undefined", "test@example.com")
    event("bad-u5", None, None, when=AS_OF)
    event("bad-u5", None, None, when=AS_OF + timedelta(days=3))
    identifies.append((AS_OF + timedelta(days=1), "bad-u6", None, "future@example.org"))
    return Graphs(events, identifies, late)


GRAPHS = graphs()


# --- building and reading ----------------------------------------------------------------------
BUILD_OUTPUT: dict[tuple[str, str], str] = {}


def build(warehouse: Warehouse, **dbt_vars: Any) -> str:
    result = warehouse.dbt("build", *SELECT, vars={**DBT_VARS, **dbt_vars}).assert_ok()
    return result.output


def load_and_build(warehouse: Warehouse, identifies: list[IdentifyRow],
                   **dbt_vars: Any) -> str:
    warehouse.backend.load_events(GRAPHS.events, identifies)
    return build(warehouse, **dbt_vars)


def identity_map(warehouse: Warehouse) -> dict[tuple[str, str], tuple[str | None, str]]:
    rows = warehouse.table("identity_map", "identifier_type, identifier_value")
    return {(r["identifier_type"], r["identifier_value"]): (r["profile_id"], r["identity_status"])
            for r in rows}


def node_ids(warehouse: Warehouse) -> dict[tuple[str, str], int]:
    return {(r["identifier_type"], r["identifier_value"]): r["node_id"]
            for r in warehouse.table("int_identity_node_ids", "node_id")}


def assert_same_map(actual: dict, expected: dict) -> None:
    assert expected.keys() == actual.keys(), (
        f"identifiers missing: {sorted(expected.keys() - actual.keys())[:5]}; "
        f"not expected: {sorted(actual.keys() - expected.keys())[:5]}")
    wrong = {k: (actual[k], v) for k, v in expected.items() if actual[k] != v}
    assert not wrong, f"{len(wrong)} identifiers differ (dbt, reference): {list(wrong.items())[:5]}"


CASES = {
    "default": {},
    "merge-via-anonymous-limit-3": {"rfm_identity_merge_via_anonymous": True,
                                    "rfm_identity_max_user_ids": 3},
}


def graphs_built(shared_builds: SharedBuilds, engine: str, case: str) -> Warehouse:
    def load(warehouse: Warehouse) -> None:
        warehouse.data_tests = engine != "spark"  # a job each there; compared below instead
        output = load_and_build(warehouse, GRAPHS.identifies + GRAPHS.late_identifies,
                                **CASES[case])
        BUILD_OUTPUT[(engine, case)] = output

    return shared_builds.get(engine, f"identity_{case}", load)


# Spark builds the default case only: it runs every model and macro of the graph (the 1,000-chain's
# passes, shared and ambiguous identifiers, every bad-row kind); the var paths are two `if`s of
# Jinja that PostgreSQL and DuckDB check
@pytest.mark.parametrize("engine, case", engine_cases(
    {name: name for name in CASES}, on_spark={"default"}))
def test_identity_map_matches_the_reference(engine: str, case: str,
                                            shared_builds: SharedBuilds) -> None:
    warehouse = graphs_built(shared_builds, engine, case)
    options = CASES[case]
    expected = expected_identity_map(
        GRAPHS.events, GRAPHS.identifies + GRAPHS.late_identifies,
        max_user_ids=options.get("rfm_identity_max_user_ids", 5),
        merge_via_anonymous=options.get("rfm_identity_merge_via_anonymous", False))
    assert_same_map(identity_map(warehouse), expected)

    # the scenarios do what they are for
    chain = {profile for (kind, value), (profile, _) in expected.items() if "chain" in value}
    assert chain == {f"user_id:chain-u{0:04d}"}
    assert len([k for k in expected if "chain" in k[1]]) == CHAIN_LENGTH
    assert expected[("anonymous_id", "kiosk-device")] == (None, "shared")
    assert expected[("email", "family@example.org")] == (None, "shared")
    assert ("email", "ann.case@example.org") in expected
    assert not {k for k in expected if k[1] in PLACEHOLDERS or k[1] == "test@example.com"}
    shared_device = expected[("anonymous_id", "anon-shared-device")]
    assert shared_device == (("user_id:anon-u1", "assigned") if case != "default"
                             else (None, "ambiguous"))
    assert (expected[("email", "star@example.org")][1] == "shared") == (case != "default")

    # customer_profiles: one row per profile, its identifiers counted
    profiles = {r["profile_id"]: r for r in warehouse.table("customer_profiles", "profile_id")}
    members = Counter((profile, kind) for (kind, _), (profile, _) in expected.items() if profile)
    assert profiles.keys() == {profile for profile, _ in members}
    for profile, row in profiles.items():
        assert [row["user_ids"], row["emails"], row["anonymous_ids"]] == [
            members[(profile, kind)] for kind in ("user_id", "email", "anonymous_id")]
        assert row["identifiers"] == sum(members[(profile, k)] for k in TYPES)

    # pointer jumping: the chain of 1,000 converges in about log2(1,000) passes
    passes = [int(n) for n in PASSES.findall(BUILD_OUTPUT[(engine, case)])]
    assert len(passes) == 1 and 1 <= passes[0] <= 12, passes


def test_every_bad_event_is_kept_with_its_reason(engine: str,
                                                 shared_builds: SharedBuilds) -> None:
    warehouse = graphs_built(shared_builds, engine, "default")
    reasons = screen_events(GRAPHS.events)
    rejected = Counter(
        (r["event_id"], r["rejection_reason"])
        for r in warehouse.query(
            f"select event_id, rejection_reason from {SCHEMA}.events_rejected"))
    # rejected rows keep the trimmed id: a blank one shows as '', a null one as null
    expected = Counter((None if row[0] is None else row[0].strip(" "), reason)
                       for row, reason in zip(GRAPHS.events, reasons, strict=True)
                       if reason is not None)
    assert rejected == expected
    assert {reason for _, reason in rejected} == {
        "missing_event_id", "missing_occurred_at", "unknown_event_name", "missing_identifier",
        "after_as_of", "duplicate_event_id"}
    clean = warehouse.query(f"select count(*) as n from {SCHEMA}.stg_events__events"
                            " where rejection_reason is null")[0]["n"]
    assert clean + sum(rejected.values()) == len(GRAPHS.events)


# Not on Spark: two builds of a minute each there; the same models and macros build the default
# case on Spark in test_identity_map_matches_the_reference[spark-default]
@pytest.mark.parametrize("engine_warehouse", ENGINE_PARAMS_BUT_SPARK, indirect=True)
def test_a_late_merge_equals_a_full_build(engine_warehouse: Warehouse,
                                          shared_builds: SharedBuilds) -> None:
    """Built without the late rows, then built again once they arrived: the same identity map
    and profiles as a full build of all the rows in a fresh warehouse. The late rows merge two
    halves of the chain and two customers, and add an unrelated one: no other profile_id
    changes, and each merged profile keeps the smaller of the two ids."""
    warehouse = engine_warehouse
    warehouse.data_tests = False  # the first build's tables are compared below
    load_and_build(warehouse, GRAPHS.identifies)
    warehouse.data_tests = True
    before = identity_map(warehouse)
    assert_same_map(before, expected_identity_map(GRAPHS.events, GRAPHS.identifies))
    chain_before = {before[k][0] for k in before if "chain" in k[1]}
    assert len(chain_before) == 2, "the chain is two profiles until its middle link arrives"

    ids_before = node_ids(warehouse)
    warehouse.backend.load_events([], GRAPHS.late_identifies, append=True)
    output = build(warehouse)
    after = identity_map(warehouse)
    # the second run labelled again only the components its late rows changed, and kept the
    # ids of every identifier seen before
    relabelled, kept_rows = (int(n) for n in RELABELLED.search(output).groups())
    assert relabelled > 0 and kept_rows > 0, output
    ids_after = node_ids(warehouse)
    assert {k: ids_after[k] for k in ids_before} == ids_before
    new_ids = [ids_after[k] for k in ids_after.keys() - ids_before.keys()]
    assert new_ids and min(new_ids) > max(ids_before.values())
    full = graphs_built(shared_builds, warehouse.engine, "default")
    assert after == identity_map(full)
    assert (warehouse.table("customer_profiles", "profile_id")
            == full.table("customer_profiles", "profile_id"))

    # each merge keeps the smaller of the merged ids (chain_before holds it); nothing else moves
    kept = {**{profile: min(chain_before) for profile in chain_before},
            "user_id:late-u1": "user_id:late-u1", "user_id:late-u2": "user_id:late-u1"}
    assert min(chain_before) == "user_id:chain-u0000"
    for key, (profile, _) in before.items():
        assert after[key][0] == kept.get(profile, profile), key
    assert after[("user_id", "new-u1")][0] == "user_id:new-u1"

    # the bound: the chain needs more than two passes (--full-refresh: labelling every node)
    result = warehouse.dbt("run", "--select", "int_identity_components", "--full-refresh",
                           vars={**DBT_VARS, "rfm_identity_max_passes": 2})
    assert result.returncode != 0
    assert "did not converge in rfm_identity_max_passes=2 passes" in result.output


def stored_screening(warehouse: Warehouse) -> Counter[tuple[str | None, str | None]]:
    return Counter((r["event_id"], r["rejection_reason"]) for r in warehouse.query(
        f"select event_id, rejection_reason from {SCHEMA}.stg_events__events"))


def expected_screening(events: list[EventRow], as_of: datetime
                       ) -> Counter[tuple[str | None, str | None]]:
    return Counter((None if row[0] is None else row[0].strip(" "), reason)
                   for row, reason in zip(events, screen_events(events, as_of), strict=True))


def stored_observations(warehouse: Warehouse
                        ) -> dict[tuple[str | None, ...], tuple[datetime, datetime]]:
    return {(r["user_id"], r["anonymous_id"], r["email"]): (r["first_seen_at"], r["last_seen_at"])
            for r in warehouse.query(f"select * from {SCHEMA}.int_identity_observations")}


def tampered(warehouse: Warehouse) -> bool:
    """Whether the stored row of old-0 still carries the mark tamper() left on it."""
    return warehouse.query(f"select count(*) as n from {SCHEMA}.stg_events__events"
                           " where event_id = 'old-0' and rejection_reason is null"
                           " and product_id = 'tampered'")[0]["n"] == 1


def tamper(warehouse: Warehouse) -> None:
    """Mark the stored clean row of old-0 (dated before every run's rescreened slice): a run
    that screens it again writes it anew, without the mark."""
    warehouse.execute(f"update {SCHEMA}.stg_events__events set product_id = 'tampered'"
                      " where event_id = 'old-0' and rejection_reason is null")
    assert tampered(warehouse)


@pytest.mark.parametrize("engine_warehouse", ENGINE_PARAMS_BUT_SPARK, indirect=True)
def test_incremental_event_screening_equals_the_reference(engine_warehouse: Warehouse) -> None:
    """stg_events__events is incremental (a table on Spark), as the payments' staging: a run
    screens again only the rows dated from the period of rfm_as_of minus the lookback; new
    copies of older event_ids are duplicates, rows once after rfm_as_of become clean; a late
    row dated before the slice, or a change of the seeds it screens with, makes the run screen
    every row again. Each run equals the reference on all raw rows, and so do the identifier
    sets the graph reads (int_identity_observations), which a run updates from the events and
    identify calls screened again: two sets lose their rows of the slice but keep an earlier
    one (an event, an identify call), another is gone; identify calls without a date or an
    identifier are left out."""
    warehouse = engine_warehouse

    def row(event_id: str, at: datetime, user_id: str) -> EventRow:
        return (event_id, at, "page_viewed", user_id, None, None, None, None)

    old = [row(f"old-{n}", datetime(2024, 3, 5 + n), f"old-u{n}") for n in range(5)]
    copies = [row(f"old-{n}", AS_OF - timedelta(days=5), "copy-u") for n in range(3)]
    late = [row("late-0", datetime(2024, 4, 2), "late-u")]
    # a set seen before the slice and in it, and a set seen in the slice only
    slice_rows = [row("orph-0", datetime(2024, 3, 20), "orph-u"),
                  row("orph-1", AS_OF - timedelta(days=3), "orph-u"),
                  row("gone-0", AS_OF - timedelta(days=3), "gone-u")]
    identify_before: IdentifyRow = (datetime(2024, 3, 21), "ident-u", None, None)
    identify_in_slice: IdentifyRow = (AS_OF - timedelta(days=3), "ident-u", None, None)
    identifies = [*GRAPHS.identifies, identify_before, identify_in_slice,
                  (None, "no-date-u", None, None), (datetime(2024, 3, 22), " ", "null", None)]
    # before the events of GRAPHS (dated AS_OF - 30 days): those are after_as_of at first
    first_as_of = AS_OF - timedelta(days=35)

    def run(as_of: datetime, events: list[EventRow],
            calls: list[IdentifyRow] = identifies) -> str:
        warehouse.backend.load_events(events, calls)
        result = warehouse.dbt("build", *upstream_of("int_identity_observations"),
                               vars={"rfm_as_of": as_of.isoformat(sep=" ")})
        result.assert_ok()
        assert stored_screening(warehouse) == expected_screening(events, as_of), as_of
        assert stored_observations(warehouse) == expected_observations(
            events, calls, as_of), as_of
        return result.output

    run(first_as_of, GRAPHS.events + old + slice_rows)
    everything = GRAPHS.events + old + copies + slice_rows
    run(AS_OF, everything)  # the after_as_of rows become clean; the copies are duplicates
    assert Counter(r for r in stored_screening(warehouse) if str(r[0]).startswith("old-")) == {
        **{(f"old-{n}", None): 1 for n in range(5)},
        **{(f"old-{n}", "duplicate_event_id"): 1 for n in range(3)}}
    tamper(warehouse)
    run(AS_OF, everything)  # nothing new: the rows before the slice stay as stored
    assert tampered(warehouse)
    # three rows of the slice leave the raw tables: orph-u and ident-u keep their earlier row
    # only (their last instant read back from the stagings), gone-u has no row left
    output = run(AS_OF, [r for r in everything if r[0] not in ("orph-1", "gone-0")],
                 [call for call in identifies if call != identify_in_slice])
    assert tampered(warehouse), "the rows before the slice are not screened again"
    match = REOBSERVED.search(output)
    assert match is not None, output[-3000:]
    assert int(match.group(2)) == 2, match.group(0)
    # a seed the screening reads changed (here: its record of what the rows were screened
    # with): every row is screened again
    warehouse.execute(f"delete from {SCHEMA}.stg_events__events__screening_rules"
                      " where rule_kind = 'event_name' and rule_value = 'page_viewed'")
    run(AS_OF, everything)
    assert not tampered(warehouse)
    tamper(warehouse)
    run(AS_OF, everything + late)  # a late row before the slice: every row again
    assert not tampered(warehouse)


def test_demo_events_hold_every_case_the_graph_must_handle() -> None:
    spec = demo_data.DemoSpec(n_users=300, as_of=AS_OF, seed=7)
    data = demo_data.generate_events(spec)
    assert data == demo_data.generate_events(spec), "deterministic"
    screened = screen_events(data.events)
    reasons = Counter(screened)
    for reason, count in demo_data.EVENT_DIRTY_KINDS:
        assert reasons[reason] >= count, reason
    assert reasons["missing_identifier"] == demo_data.BOT_EVENTS
    payers = {(u or "").strip() for _, u, _, _ in demo_data.generate_payments(spec)}
    clean = [row for row, reason in zip(data.events, screened, strict=True) if reason is None]
    assert {row[3] for row in clean if row[3]} <= payers
    expected = expected_identity_map(data.events, data.identifies)
    statuses = Counter(status for _, status in expected.values())
    assert statuses["shared"] == 2  # the kiosk and the family e-mail
    assert statuses["ambiguous"] > 0  # laptops of two users
    user_ids = Counter(profile for (kind, _), (profile, _) in expected.items()
                       if kind == "user_id")
    assert any(n >= 2 for n in user_ids.values()), "a profile merged from two accounts"
    variants = {row[5] for row in clean if row[5]}
    assert any(v != v.strip() for v in variants) and any(v != v.lower() for v in variants)


def test_the_identity_benchmark_makes_one_profile_per_person() -> None:
    """`rfm identity-bench`'s generated graph (src/rfm_segmentation/bench/identity.py): by the
    reference, every person is one profile, a chain of accounts linked by e-mails included, and
    nothing is shared or ambiguous, so that the benchmark measures what it says."""
    size = identity_bench.GraphSize(people=2 * identity_bench.CHAIN_EVERY, events_per_person=4)
    events = list(identity_bench.events(size))
    identifies = list(identity_bench.identifies(size))
    assert events == list(identity_bench.events(size)), "deterministic"
    expected = expected_identity_map(events, identifies, as_of=identity_bench.AS_OF)
    people = list(identity_bench.people(size))
    assert max(len(p.accounts) for p in people) == identity_bench.CHAIN_LENGTH
    assert {status for _, status in expected.values()} == {"assigned"}
    for person in people:
        ids = [("user_id", a) for a in person.accounts] + [("email", e) for e in person.emails]
        assert len({expected[node][0] for node in ids}) == 1, person
    assert len({profile for profile, _ in expected.values()}) == size.people
