"""The computed traits (seed computed_traits, docs/identity.md "Computed traits") built by dbt,
against a reference written here from the rules: profile_traits per profile at rfm_as_of,
rfm_user_traits per (snapshot_period, user_id) before each snapshot_at, the traits in
rfm_segments_current; the point-in-time traits equal the traits of a build whose data is cut at
that snapshot (no look-ahead); a bad definition of the seed is refused naming the trait."""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from rfm_segmentation import demo as demo_data
from rfm_segmentation.raw import EventRow, IdentifyRow, PaymentRow
from test_dbt_project import assert_same_rows
from test_identity import expected_identity_map, identifiers, screen_events

from conftest import (
    ENGINE_PARAMS,
    ENGINE_PARAMS_BUT_SPARK,
    ROOT,
    SCHEMA,
    SharedBuilds,
    Warehouse,
    upstream_of,
)

AS_OF = datetime(2024, 7, 10, 12, 0, 0)
START = AS_OF - timedelta(days=420)
# a snapshot of the history, for the build whose data is cut there
CUT_PERIOD = date(2024, 1, 1)
CUT_AT = datetime(2024, 2, 1)
SELECT = ("--select", "+rfm_segments_current", "+rfm_user_features", "+rfm_user_traits",
          "+rfm_segment_summary",
          "+rfm_segment_transitions", "+events_rejected", "+payments_rejected")
PRODUCTS = ("sku-a", "sku-b", "sku-c", "sku-d")  # few: most-frequent ties happen
AMOUNTS = (Decimal("5.00"), Decimal("9.90"), Decimal("19.90"))  # few: equal orders happen
NAMES = ("page_viewed", "product_viewed", "product_added", "order_completed", "email_clicked")


# --- the definitions and the reference ---------------------------------------------------------
@dataclass(frozen=True)
class Trait:
    name: str
    kind: str
    event_name: str | None
    prop: str | None
    window_days: int | None
    includes_payments: bool


def seed_traits() -> list[Trait]:
    with (ROOT / "seeds" / "computed_traits.csv").open() as handle:
        return [Trait(r["trait_name"], r["trait_kind"], r["event_name"] or None,
                      r["property"] or None, int(r["window_days"]) if r["window_days"] else None,
                      r["includes_payments"] == "true")
                for r in csv.DictReader(handle)]


TRAITS = seed_traits()
FIELDS = {"occurred_at": 1, "revenue": 6, "product_id": 7}  # positions in an EventRow


def trait_value(trait: Trait, events: list[EventRow], payments: list[tuple[datetime, Decimal]],
                cut: datetime) -> Any:
    """The trait of one profile from its clean events and payments, before ``cut``."""
    since = cut - timedelta(days=trait.window_days) if trait.window_days else None
    chosen = [e for e in events if e[1] < cut and (since is None or e[1] >= since)  # type: ignore
              and (trait.event_name is None or e[2] == trait.event_name)]
    if trait.kind == "counter":
        return len(chosen)
    assert trait.prop is not None
    valued = [e for e in chosen if e[FIELDS[trait.prop]] is not None]
    values = [e[FIELDS[trait.prop]] for e in valued]
    if trait.kind == "sum":
        total = sum(values, Decimal(0))
        if trait.includes_payments:
            paid = [p for p in payments if p[0] < cut and (since is None or p[0] >= since)]
            total += sum((amount for _, amount in paid), Decimal(0))
            orders = Counter((e[1], e[6]) for e in valued)
            for (at, amount), n in Counter(paid).items():  # one order: one event, one payment
                total -= amount * min(n, orders[(at, amount)])
        return total
    if not values:
        return None
    if trait.kind == "distinct_count":
        return len(set(values))
    if trait.kind == "average":
        return sum(values, Decimal(0)) / len(values)
    if trait.kind in ("min", "max"):
        return min(values) if trait.kind == "min" else max(values)  # type: ignore[type-var]
    if trait.kind in ("first", "last"):  # the earliest / latest event, then event_id
        ordered = sorted(valued, key=lambda e: (e[1], e[0]))
        return ordered[0 if trait.kind == "first" else -1][FIELDS[trait.prop]]
    assert trait.kind == "most_frequent", trait.kind
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], v))  # most events, then the smallest value


@dataclass
class Data:
    events: list[EventRow]
    identifies: list[IdentifyRow]
    payments: list[PaymentRow]


def profiles_of(data: Data, as_of: datetime = AS_OF
                ) -> tuple[dict[str, str], dict[str, list[EventRow]]]:
    """{user_id: profile_id} and {profile_id: its clean events} by the identity rules: an
    event counts for the profile of its user_id, else of its e-mail, else of its anonymous_id."""
    graph = expected_identity_map(data.events, data.identifies, as_of=as_of)
    user_profiles = {value: profile for (kind, value), (profile, _) in graph.items()
                     if kind == "user_id" and profile}
    events: dict[str, list[EventRow]] = {p: [] for p, _ in graph.values() if p}
    for row, reason in zip(data.events, screen_events(data.events, as_of), strict=True):
        if reason is not None:
            continue
        user_id, anonymous_id, email = identifiers(*row[3:6])
        found = [graph[(kind, value)][0] for kind, value in
                 (("user_id", user_id), ("email", email), ("anonymous_id", anonymous_id))
                 if value is not None]
        profile = next((p for p in found if p), None)
        if profile:
            events[profile].append(row)
    return user_profiles, events


def payments_of(data: Data, user_profiles: dict[str, str]) -> dict[str, list]:
    paid: dict[str, list[tuple[datetime, Decimal]]] = {}
    for _, user_id, at, amount in data.payments:
        if user_id in user_profiles:
            paid.setdefault(user_profiles[user_id], []).append((at, amount))  # type: ignore
    return paid


def expected_profile_traits(data: Data, cut: datetime) -> list[dict[str, Any]]:
    """profile_traits of a build at rfm_as_of = cut."""
    user_profiles, events = profiles_of(data, cut)
    paid = payments_of(data, user_profiles)
    return [{"profile_id": profile, **{t.name: trait_value(t, rows, paid.get(profile, []), cut)
                                      for t in TRAITS}}
            for profile, rows in events.items()]


def expected_user_traits(data: Data, as_of: datetime = AS_OF) -> list[dict[str, Any]]:
    """Per (snapshot_period, user_id) of the month grid from the user's first payment before
    as_of, for the users with a profile."""
    user_profiles, events = profiles_of(data, as_of)
    paid = payments_of(data, user_profiles)
    first: dict[str, datetime] = {}
    for _, user_id, at, _ in data.payments:
        if at < as_of:  # type: ignore[operator]
            first[user_id] = min(first.get(user_id, at), at)  # type: ignore
    rows = []
    for user_id, since in first.items():
        period = since.date().replace(day=1)
        while datetime.combine(period, datetime.min.time()) < as_of:
            following = (period + timedelta(days=32)).replace(day=1)
            cut = min(datetime.combine(following, datetime.min.time()), as_of)
            profile = user_profiles.get(user_id)
            if profile is None:
                break
            rows.append({"snapshot_period": period, "user_id": user_id, "snapshot_at": cut,
                         "profile_id": profile, **{
                             t.name: trait_value(t, events[profile], paid.get(profile, []), cut)
                             for t in TRAITS}})
            period = following
    return rows


# --- the generated data ------------------------------------------------------------------------
def generated(seed: int = 3) -> Data:
    """Thirty users: pairs of accounts merged by an e-mail, one device and one e-mail each, a
    family e-mail of six (shared: its clicks count for nobody), a visitor who never logs in.
    Each identifier is linked by an identify call at START, so the graph is the same at any cut.
    Events carry one identifier each; most orders have their payment (same instant and
    amount), some do not, some payments have no event, and one order is tracked twice."""
    rng = random.Random(seed)
    users = [f"u{k:02d}" for k in range(30)]
    events: list[EventRow] = []
    identifies: list[IdentifyRow] = []
    payments: list[PaymentRow] = []

    def event(at: datetime, name: str, user_id: str | None, anonymous_id: str | None,
              email: str | None, revenue: Decimal | None = None, product: str | None = None,
              ) -> None:
        events.append((f"ev{len(events):05d}", at, name, user_id, anonymous_id, email,
                       revenue, product))

    def pay(user_id: str, at: datetime, amount: Decimal) -> None:
        payments.append((f"p{len(payments):05d}", user_id, at, amount))

    def moment() -> datetime:
        return START + timedelta(minutes=rng.randrange(int((AS_OF - START).total_seconds() / 60)))

    for k, user in enumerate(users):
        email = f"{users[k - k % 2]}@example.org" if k < 8 else f"{user}@example.org"
        identifies.append((START, user, f"device-{user}", email.upper() if k % 3 else email))
        pay(user, START + timedelta(days=rng.randrange(300)), rng.choice(AMOUNTS))
        for _ in range(rng.randrange(25)):
            at, name = moment(), rng.choice(NAMES)
            who = rng.choice(((user, None, None), (None, f"device-{user}", None),
                              (None, None, f" {email.title()}")))
            if name == "order_completed":
                amount = rng.choice(AMOUNTS)
                event(at, name, *who, amount, rng.choice(PRODUCTS))
                if rng.random() < 0.8:
                    pay(user, at, amount)
            elif name in ("product_viewed", "product_added"):
                event(at, name, *who, product=rng.choice(PRODUCTS))
            else:
                event(at, name, *who)
    for user in users[10:16]:  # the family e-mail: shared, its events count for nobody
        identifies.append((START, user, None, "family@example.org"))
    for _ in range(5):
        event(moment(), "email_clicked", None, None, "family@example.org")
    for _ in range(4):  # a visitor
        event(moment(), "product_added", None, "visitor-1", None, product=rng.choice(PRODUCTS))
    # windows' edges: exactly 30 and 90 days before AS_OF are in, a second earlier is out
    for days, name in ((30, "product_added"), (90, "email_clicked")):
        event(AS_OF - timedelta(days=days), name, "u20", None, None, product="sku-a")
        event(AS_OF - timedelta(days=days, seconds=1), name, "u20", None, None, product="sku-a")
    # an order tracked twice with one payment; same-instant events (last_seen_at's ties)
    twice = AS_OF - timedelta(days=3)
    event(twice, "order_completed", "u21", None, None, AMOUNTS[1], "sku-b")
    event(twice, "order_completed", None, "device-u21", None, AMOUNTS[1], "sku-b")
    pay("u21", twice, AMOUNTS[1])
    # after the cut and after rfm_as_of: not counted (the latter rejected)
    event(AS_OF + timedelta(days=1), "order_completed", "u22", None, None, AMOUNTS[0], "sku-a")
    return Data(events, identifies, payments)


DATA = generated()


def cut_at(data: Data, cut: datetime) -> Data:
    return Data([e for e in data.events if e[1] is not None and e[1] < cut], data.identifies,
                [p for p in data.payments if p[2] is not None and p[2] < cut])


def build(shared_builds: SharedBuilds, engine: str, name: str, data: Data,
          as_of: datetime) -> Warehouse:
    def load(warehouse: Warehouse) -> None:
        warehouse.data_tests = engine != "spark"  # a job each there; compared below instead
        warehouse.load(data.payments, demo_data.generate_calendar(START.date(), AS_OF.date()))
        warehouse.backend.load_events(data.events, data.identifies)
        warehouse.dbt("build", *SELECT, vars={"rfm_as_of": as_of.isoformat(sep=" ")}
                      ).assert_ok()

    return shared_builds.get(engine, f"traits_{name}", load)


def rows_of(warehouse: Warehouse, table: str, order_by: str) -> list[dict[str, Any]]:
    return warehouse.table(table, order_by)


def assert_profile_events_as_expected(warehouse: Warehouse, data: Data, as_of: datetime,
                                      tampered_profile: str | None = None) -> None:
    """int_profile_events holds each clean event with the reference's profile, and
    profile_traits equals the reference's traits (but for a profile whose row was tampered
    with, which must still carry the mark: 999 orders)."""
    _, events = profiles_of(data, as_of)
    expected = {row[0]: profile for profile, rows in events.items() for row in rows}
    stored = {row["event_id"]: row["profile_id"] for row in warehouse.query(
        f"select event_id, profile_id from {SCHEMA}.int_profile_events")}
    assert stored == expected, as_of
    actual = rows_of(warehouse, "profile_traits", "profile_id")
    assert all(row["snapshot_at"] == as_of for row in actual)
    if tampered_profile:
        assert [row["orders_completed"] for row in actual
                if row["profile_id"] == tampered_profile] == [999]
    assert_same_rows([row for row in actual if row["profile_id"] != tampered_profile],
                     [row for row in expected_profile_traits(data, as_of)
                      if row["profile_id"] != tampered_profile], ("profile_id",))


# --- the tests ---------------------------------------------------------------------------------
# On Spark too: the one build runs every path of the trait macros (a counter with a window, a
# sum with payments, last of occurred_at, the ranked most-frequent value) on Spark SQL.
@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_traits_match_the_reference(engine: str, shared_builds: SharedBuilds) -> None:
    warehouse = build(shared_builds, engine, "full", DATA, AS_OF)
    expected = expected_profile_traits(DATA, AS_OF)
    assert_same_rows(rows_of(warehouse, "profile_traits", "profile_id"), expected,
                     ("profile_id",))
    assert_same_rows(rows_of(warehouse, "rfm_user_traits", "snapshot_period, user_id"),
                     expected_user_traits(DATA), ("snapshot_period", "user_id"))

    # every user of the current segments carries its profile's traits
    by_profile = {row["profile_id"]: row for row in expected}
    user_profiles, _ = profiles_of(DATA)
    current = rows_of(warehouse, "rfm_segments_current", "user_id")
    assert len(current) == len({p[1] for p in DATA.payments})
    for row in current:
        profile = user_profiles.get(row["user_id"])
        assert row["profile_id"] == profile
        assert assert_traits_equal(row, by_profile[profile]) if profile else all(
            row[t.name] is None for t in TRAITS)

    # the scenarios do what they are for
    assert Counter(len(u) for u in _users_per_profile(user_profiles).values())[2] == 4
    merged = by_profile["user_id:u00"]
    assert merged["orders_completed"] > 0 and merged["lifetime_revenue"] > 0
    assert by_profile["anonymous_id:visitor-1"]["product_added_counter"] is not None
    family_clicks = [e for e in DATA.events if e[5] == "family@example.org"]
    assert family_clicks and all(e not in rows for rows in profiles_of(DATA)[1].values()
                                 for e in family_clicks)


def _users_per_profile(user_profiles: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for user, profile in user_profiles.items():
        grouped.setdefault(profile, []).append(user)
    return grouped


def assert_traits_equal(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    for trait in TRAITS:
        want, got = expected[trait.name], actual[trait.name]
        assert (got is None and want is None) or (
            Decimal(got) == want if isinstance(want, Decimal) else got == want
        ), (trait.name, got, want)
    return True


# Not on Spark: a second build of the same models (test_traits_match_the_reference runs them there)
@pytest.mark.parametrize("engine", ENGINE_PARAMS_BUT_SPARK)
def test_point_in_time_traits_have_no_look_ahead(engine: str,
                                                 shared_builds: SharedBuilds) -> None:
    """The traits of a snapshot in rfm_user_traits equal profile_traits of a build whose data
    (events, payments) is cut at that snapshot_at and whose rfm_as_of is that instant."""
    full = build(shared_builds, engine, "full", DATA, AS_OF)
    cut = build(shared_builds, engine, "cut", cut_at(DATA, CUT_AT), CUT_AT)
    then = {row["profile_id"]: row for row in rows_of(cut, "profile_traits", "profile_id")}
    rows = [row for row in rows_of(full, "rfm_user_traits", "snapshot_period, user_id")
            if row["snapshot_period"] == CUT_PERIOD]
    assert rows and all(row["snapshot_at"] == CUT_AT for row in rows)
    for row in rows:
        assert row["profile_id"] in then, row
        assert_traits_equal(row, then[row["profile_id"]])
    assert any(row["orders_completed"] for row in rows)


# PostgreSQL only: a check of the seed in SQL and in Jinja, the same on every engine
@pytest.mark.parametrize("engine_warehouse", ENGINE_PARAMS_BUT_SPARK[:1], indirect=True)
def test_a_bad_trait_definition_is_refused_naming_it(engine_warehouse: Warehouse) -> None:
    warehouse = engine_warehouse
    warehouse.dbt("seed", "--select", "computed_traits", "identity_event_names").assert_ok()
    bad = {
        "bad_kind": "'median', 'order_completed', 'revenue', null, false",
        "bad_property": "'sum', 'order_completed', 'discount', null, false",
        "bad_counter": "'counter', 'order_completed', 'revenue', null, false",
        "bad_window": "'counter', 'order_completed', null, -7, false",
    }
    for name, values in bad.items():
        warehouse.execute(f"delete from {SCHEMA}.computed_traits where trait_name like 'bad_%'")
        warehouse.execute(
            f"insert into {SCHEMA}.computed_traits (trait_name, trait_kind, event_name,"
            f" property, window_days, includes_payments, description)"
            f" values ('{name}', {values}, 'bad')")
        compiled = warehouse.dbt("compile", "--select", "profile_traits")
        assert compiled.returncode != 0 and f"Invalid computed trait {name}" in compiled.output, (
            name, compiled.output[-2000:])
    # the data test of the seed fails naming it too (the last bad row is still there)
    tested = warehouse.dbt("test", "--select", "assert_computed_traits_are_valid")
    assert tested.returncode != 0 and f"Invalid computed trait {name}" in tested.output


def tampered(warehouse: Warehouse, event_id: str) -> bool:
    """Whether the stored row of the event still carries the mark of a tamper (an event name
    that no trait reads): a run that selects the event again writes it anew."""
    return warehouse.query(f"select count(*) as n from {SCHEMA}.int_profile_events"
                           f" where event_id = '{event_id}' and event_name = 'tampered'"
                           )[0]["n"] == 1


# Not on Spark: int_profile_events and profile_traits are tables there, recomputed whole
@pytest.mark.parametrize("engine_warehouse", ENGINE_PARAMS_BUT_SPARK, indirect=True)
def test_incremental_profile_events_and_traits_equal_the_reference(
        engine_warehouse: Warehouse) -> None:
    """int_profile_events, profile_traits and rfm_user_traits are incremental: a run selects
    again only the events the staging screened again and those of the identifiers whose
    profile changed, and recomputes only the profiles those touch or whose windows an event
    crossed (rfm_user_traits: the recent periods, and a touched profile's rows after its first
    changed event). Through a late
    identify that merges an account into another profile, an e-mail that goes over the shared
    limit (its events count for nobody any more), rfm_as_of moving on by eight days (new
    events and payments, a payment deleted, windows' edges crossed), a run with nothing new,
    a change of the trait definitions and a late event before the rescreened slice (every
    event again), each run's events and traits equal the reference; the tampered traits of
    a dormant profile survive until the trait definitions change, and so does a tampered
    point-in-time row of an early period of a profile that does not change; a tampered stored
    event survives until the run that recomputes every event."""
    warehouse = engine_warehouse
    late_merge = [row for row in DATA.identifies if row[1] == "u01"]
    over_the_limit = [(START, f"u{k}", None, "u02@example.org") for k in range(24, 28)]

    def event(event_id: str, at: datetime, name: str, user_id: str) -> EventRow:
        return (event_id, at, name, user_id, None, None, AMOUNTS[1], "sku-a")

    # profiles without events in the rescreened slice (from June): only what the case is for
    # makes a run recompute them - a tamper (dormant), a new event in the slice but before the
    # last cut (quiet), a first payment there (payer), a payment there deleted (refunded), a
    # second payment there (repeat), a 90-day window's edge crossed (window)
    events = [*DATA.events, event("dormant-0", datetime(2024, 2, 3), "order_completed",
                                  "dormant-u"),
              event("quiet-0", datetime(2024, 2, 10), "page_viewed", "quiet-u"),
              event("payer-0", datetime(2024, 2, 12), "page_viewed", "payer-u"),
              event("refunded-0", datetime(2024, 2, 14), "page_viewed", "refunded-u"),
              event("repeat-0", datetime(2024, 2, 16), "page_viewed", "repeat-u"),
              event("window-0", AS_OF - timedelta(days=95), "email_clicked", "window-u")]
    new_events = [event("quiet-1", AS_OF - timedelta(days=20), "order_completed", "quiet-u")]
    new_payments = [("late-payment", "payer-u", AS_OF - timedelta(days=20), AMOUNTS[2])]
    gone_payments = [("gone-payment", "refunded-u", AS_OF - timedelta(days=25), AMOUNTS[2])]
    # a second payment in the slice of a customer since February: only the payments tell
    # rfm_user_traits that its June row changed
    repeat_payments = [("repeat-payment-0", "repeat-u", datetime(2024, 2, 16), AMOUNTS[0])]
    second_payment = [("repeat-payment-1", "repeat-u", AS_OF - timedelta(days=22), AMOUNTS[1])]
    # an event of a profile that does not change, whose name no trait reads, before the slice
    kept = next(row[0] for row in events if row[2] in ("page_viewed", "product_viewed")
                and row[3] in ("u04", "u05", "u08", "u09") and row[1] < datetime(2024, 5, 1))

    tampered_row: dict[str, Any] = {}

    def run(data: Data, as_of: datetime, tampered_profile: str | None = None) -> None:
        warehouse.load(data.payments, demo_data.generate_calendar(START.date(), AS_OF.date()))
        warehouse.backend.load_events(data.events, data.identifies)
        warehouse.dbt("build", *upstream_of("profile_traits", "rfm_user_traits"),
                      vars={"rfm_as_of": as_of.isoformat(sep=" ")}).assert_ok()
        assert_profile_events_as_expected(warehouse, data, as_of, tampered_profile)
        key = ("snapshot_period", "user_id")
        actual = rows_of(warehouse, "rfm_user_traits", "snapshot_period, user_id")
        marked = [row for row in actual if tampered_profile and row_key(row) == tampered_row]
        assert [row["orders_completed"] for row in marked] == ([999] if tampered_profile else [])
        assert_same_rows([row for row in actual if row not in marked],
                         [row for row in expected_user_traits(data, as_of)
                          if not (tampered_profile and row_key(row) == tampered_row)], key)

    def row_key(row: dict[str, Any]) -> dict[str, Any]:
        return {"snapshot_period": row["snapshot_period"], "user_id": row["user_id"]}

    first = Data(events, [row for row in DATA.identifies if row not in late_merge],
                 DATA.payments + gone_payments + repeat_payments)
    run(first, AS_OF - timedelta(days=8))  # the events of the last eight days: after_as_of
    warehouse.execute(f"update {SCHEMA}.int_profile_events set event_name = 'tampered'"
                      f" where event_id = '{kept}'")
    warehouse.execute(f"update {SCHEMA}.profile_traits set orders_completed = 999"
                      " where profile_id = 'user_id:dormant-u'")
    merged = Data(events + new_events, DATA.identifies + over_the_limit,
                  DATA.payments + new_payments + repeat_payments + second_payment)
    # the first period's row of a user whose profile does not change: no later run but the
    # one after the definitions change recomputes it
    stable = next(user for user in ("u04", "u05", "u08", "u09")
                  if profiles_of(first)[0].get(user) == profiles_of(merged)[0].get(user))
    tampered_row.update(row_key(min(
        (row for row in rows_of(warehouse, "rfm_user_traits", "snapshot_period, user_id")
         if row["user_id"] == stable), key=lambda row: row["snapshot_period"])))
    warehouse.execute(f"update {SCHEMA}.rfm_user_traits set orders_completed = 999"
                      f" where user_id = '{stable}' and snapshot_period = "
                      f"date '{tampered_row['snapshot_period'].isoformat()}'")
    # the last eight days' events and payments, u01 merged into u00, u02@ shared, a payment
    # gone
    run(merged, AS_OF, "user_id:dormant-u")
    assert tampered(warehouse, kept)
    assert profiles_of(merged)[0]["u01"] == "user_id:u00" != profiles_of(first)[0].get("u01")
    run(merged, AS_OF, "user_id:dormant-u")  # nothing new
    assert tampered(warehouse, kept)
    # the trait definitions changed (here: the record of what the rows were computed with):
    # every profile again, from the stored events
    for model in ("profile_traits", "rfm_user_traits"):
        warehouse.execute(f"delete from {SCHEMA}.{model}__trait_definitions"
                          " where rule_kind = 'orders_completed'")
    run(merged, AS_OF)
    assert tampered(warehouse, kept)
    late = Data([*merged.events, event("late-0", datetime(2024, 3, 1), "page_viewed", "u06")],
                merged.identifies, merged.payments)
    run(late, AS_OF)  # a late event before the slice: the staging screens every row again
    assert not tampered(warehouse, kept)
