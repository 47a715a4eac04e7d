"""``rfm identity-bench``: how the identity graph and the computed traits grow with the number of
identifiers and events (docs/identity.md, "Speed").

Generated people, each with one account (user_id), one to three devices (anonymous_id) and one
or two e-mails, linked by identify calls and by events that carry two identifiers; one person
in a hundred instead has a chain of accounts linked by e-mails (account k seen with e-mails k
and k - 1), so that the label propagation needs several passes. Every person browses, adds to
the cart, orders and clicks e-mails over three years; the first account of each person pays
once (the traits read the clean payments too). Deterministic by size.

One run: a fresh warehouse (the bench database on PostgreSQL, a fresh file on DuckDB), the raw
tables loaded, then ``dbt build`` of the graph and the traits (profile_traits, and
rfm_user_traits with the history it reads), timed; then a day of new
rows (``new_day``: new devices, new people, merges of two people) and the same build again, as
a scheduled run. The passes are read from the first build's log.
Results: ``benchmarks/identity.json`` (one entry per engine and size) and
``benchmarks/identity.md``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
from rich.console import Console
from rich.table import Table

from rfm_segmentation import demo, warehouses
from rfm_segmentation.bench.backends import engine_bench
from rfm_segmentation.bench.dbt_runs import DbtRun, DbtRunner, dbt_vars
from rfm_segmentation.bench.plan import DBT_SCHEMA, BenchOptions
from rfm_segmentation.bench.runner import bench_peak_rss_mb
from rfm_segmentation.raw import EventRow, IdentifyRow, PaymentRow
from rfm_segmentation.warehouses import postgres


@dataclass(frozen=True)
class GraphSize:
    people: int
    events_per_person: int


# L: about 1M identifiers and 10M events
SIZES: Final = {
    "S": GraphSize(people=10_000, events_per_person=30),
    "M": GraphSize(people=100_000, events_per_person=30),
    "L": GraphSize(people=200_000, events_per_person=50),
}
START: Final = datetime(2022, 1, 1)
AS_OF: Final = datetime(2025, 1, 1)
CHAIN_EVERY: Final = 100  # one person in CHAIN_EVERY has a chain of CHAIN_LENGTH accounts
CHAIN_LENGTH: Final = 40
EVENT_NAMES: Final = ("page_viewed", "product_viewed", "product_added", "order_completed",
                      "email_clicked")
SELECTION: Final = ("build", "--select", "+customer_profiles", "+profile_traits",
                    "+rfm_user_traits", "--indirect-selection", "cautious",
                    "--exclude-resource-type", "unit_test")
MODELS: Final = ("stg_events__events", "int_identity_observations", "int_identity_node_ids",
                 "int_identity_nodes",
                 "int_identity_links", "int_identity_components", "identity_map",
                 "customer_profiles", "int_profile_events", "profile_traits", "rfm_user_traits")


@dataclass
class Person:
    accounts: list[str]  # user_ids: one, or a chain of CHAIN_LENGTH linked by e-mails
    devices: list[str]
    emails: list[str]


def people(size: GraphSize, seed: int = 42) -> Iterator[Person]:
    """Deterministic people. A chain's accounts get random names, so that the order of the
    node ids (the profile-naming order) does not follow the chain: the propagation then needs
    about log2 of its length in passes, as on real data in random order."""
    rng = np.random.default_rng(seed)
    for n in range(size.people):
        if n % CHAIN_EVERY == 0:
            accounts = [f"u{int(rng.integers(0, 10**12)):012d}" for _ in range(CHAIN_LENGTH)]
            emails = [f"c{n:07d}.{k}@example.org" for k in range(CHAIN_LENGTH)]
            yield Person(accounts, [f"d{n:07d}-0"], emails)
            continue
        devices = int(rng.integers(1, 4))
        emails = int(rng.integers(1, 3))
        yield Person([f"u{n:07d}"], [f"d{n:07d}-{k}" for k in range(devices)],
                     [f"p{n:07d}.{k}@example.org" for k in range(emails)])


def _instant(rng: np.random.Generator) -> datetime:
    return START + timedelta(seconds=int(rng.integers(0, int((AS_OF - START).total_seconds()))))


def identifies(size: GraphSize) -> Iterator[IdentifyRow]:
    """Each device logs in to the account with the person's first e-mail, and the account is
    seen with its other e-mails; in a chain, account k is seen with e-mails k and k - 1."""
    rng = np.random.default_rng(7)
    for person in people(size):
        main = person.accounts[0]
        for device in person.devices:
            yield (_instant(rng), main, device, person.emails[0])
        if len(person.accounts) > 1:
            for k in range(1, len(person.accounts)):
                yield (_instant(rng), person.accounts[k], None, person.emails[k])
                yield (_instant(rng), person.accounts[k], None, person.emails[k - 1])
        else:
            for email in person.emails[1:]:
                yield (_instant(rng), main, None, email)


def events(size: GraphSize) -> Iterator[EventRow]:
    rng = np.random.default_rng(11)
    span = int((AS_OF - START).total_seconds())
    number = 0
    for person in people(size):
        k = size.events_per_person
        names = rng.integers(0, len(EVENT_NAMES), k)
        devices = rng.integers(0, len(person.devices), k)
        accounts = rng.integers(0, len(person.accounts), k)
        logged_in = rng.random(k) < 0.5
        seconds = rng.integers(0, span, k)
        cents = rng.integers(100, 20_000, k)
        products = rng.integers(0, 50, k)
        for i in range(k):
            number += 1
            name = EVENT_NAMES[names[i]]
            yield (
                f"e{number:09d}", START + timedelta(seconds=int(seconds[i])), name,
                person.accounts[accounts[i]] if logged_in[i] else None,
                person.devices[devices[i]], None,
                Decimal(int(cents[i])) / 100 if name == "order_completed" else None,
                f"sku-{products[i]}" if name != "page_viewed" else None,
            )


NEW_DAY: Final = AS_OF - timedelta(hours=12)
NEW_DEVICE_EVERY: Final = 1_000  # one person in NEW_DEVICE_EVERY logs in on a new device
MERGE_EVERY: Final = 2_000  # one person in MERGE_EVERY is seen with the next person's e-mail


def new_day(size: GraphSize) -> tuple[list[EventRow], list[IdentifyRow]]:
    """The rows of the last day before AS_OF that a scheduled run finds: existing people log
    in on a new device and browse on it, new people sign up, and some people are seen with the
    next person's e-mail, which merges their profiles."""
    crowd = list(people(size))
    events: list[EventRow] = []
    calls: list[IdentifyRow] = []
    for n in range(1, size.people, NEW_DEVICE_EVERY):
        person = crowd[n]
        device = f"d{n:07d}-new"
        calls.append((NEW_DAY, person.accounts[0], device, person.emails[0]))
        events.extend(
            (f"new-{n:07d}-{k}", NEW_DAY + timedelta(minutes=k), "product_viewed", None,
             device, None, None, f"sku-{k}")
            for k in range(5))
        new_user = f"new-u{n:07d}"
        calls.append((NEW_DAY, new_user, f"new-d{n:07d}", f"new{n:07d}@example.org"))
    for n in range(2, size.people - 1, MERGE_EVERY):
        calls.append((NEW_DAY, crowd[n].accounts[0], None, crowd[n + 1].emails[0]))
    return events, calls


def payments(size: GraphSize) -> Iterator[PaymentRow]:
    rng = np.random.default_rng(13)
    for n, person in enumerate(people(size)):
        yield (f"pay{n:08d}", person.accounts[0], _instant(rng),
               Decimal(int(rng.integers(100, 20_000))) / 100)


def run(root: Path, size_name: str, engine: str, console: Console) -> dict[str, Any]:
    size = SIZES[size_name]
    options = BenchOptions(database="rfm_identity_bench", engine=engine)
    server = postgres.resolve(root) if engine == "postgres" else None
    bench = engine_bench(root, options, server)
    bench.prepare()
    warehouse: warehouses.Warehouse = bench.warehouse
    console.print(f"generating and loading {size.people:,} people ...")
    warehouse.load_raw(payments(size), demo.generate_calendar(START.date(), AS_OF.date()))
    loaded = warehouse.load_events(events(size), identifies(size))
    runner = DbtRunner(root, warehouse, bench.workdir)
    console.print(f"dbt build of the graph and the traits on {engine} ...")
    build = runner.run(list(SELECTION), dbt_vars(AS_OF), label="identity")
    passes = re.findall(r"labels converged after (\d+) passes", Path(build.log_path).read_text())
    # a scheduled run after a day of new rows (docs/identity.md, "Runs")
    day_events, day_calls = new_day(size)
    warehouse.load_events(day_events, day_calls, append=True)
    console.print(f"{len(day_events):,} events and {len(day_calls):,} identify calls more;"
                  " the same dbt build again, as a scheduled run ...")
    scheduled = runner.run(list(SELECTION), dbt_vars(AS_OF), label="identity-scheduled")
    relabelled = re.findall(r"(\d+) nodes labelled again, (\d+) kept",
                            Path(scheduled.log_path).read_text())

    def count(relation: str, where: str = "") -> int:
        return int(bench.scalar(f"select count(*) from {relation} {where}"))

    result = {
        "engine": engine, "size": size_name, "people": size.people,
        "events": loaded["fact_events"], "identifies": loaded["identifies"],
        "identifiers": count(f"{DBT_SCHEMA}.identity_map"),
        "links": count(f"{DBT_SCHEMA}.int_identity_links"),
        "merging_links": count(f"{DBT_SCHEMA}.int_identity_links", "where is_merging"),
        "profiles": count(f"{DBT_SCHEMA}.customer_profiles"),
        "passes": int(passes[-1]) if passes else None,
        "build_wall_s": round(build.wall_s, 2),
        "models_s": _model_times(build),
        "scheduled_wall_s": round(scheduled.wall_s, 2),
        "new_day": {"events": len(day_events), "identifies": len(day_calls)},
        "scheduled_relabelled": [int(n) for n in relabelled[-1]] if relabelled else None,
        "scheduled_models_s": _model_times(scheduled),
        "dbt_peak_rss_mb": round(build.peak_rss_mb, 1),
        "bench_peak_rss_mb": round(bench_peak_rss_mb(), 1),
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }
    bench.close()
    return result


def _model_times(build: DbtRun) -> dict[str, float | None]:
    return {name: (round(t, 2) if (t := build.node_time(name)) is not None else None)
            for name in MODELS}


def write(out_dir: Path, result: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "identity.json"
    runs = json.loads(json_path.read_text()) if json_path.is_file() else {}
    runs[f"{result['size']}-{result['engine']}"] = result
    json_path.write_text(json.dumps(runs, indent=2, sort_keys=True) + "\n")
    lines = [
        "# Identity graph and computed traits: figures",
        "",
        "Written by `rfm identity-bench` (docs/identity.md, \"Speed\"); one run per row.",
        "",
        "| engine | size | people | identifiers | links (merging) | events | profiles | passes |"
        " build (wall) | screening | components | identity_map | int_profile_events |"
        " profile_traits | scheduled run (wall) | its screening | its components"
        " (nodes labelled again / kept) | its identity_map | its int_profile_events |"
        " its profile_traits | rfm_user_traits: build -> scheduled run |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        "---:|---:|---:|",
    ]
    for key in sorted(runs, key=lambda k: (runs[k]["engine"], runs[k]["people"])):
        r = runs[key]
        m, scheduled = r["models_s"], r.get("scheduled_models_s", {})
        lines.append(
            f"| {r['engine']} | {r['size']} | {r['people']:,} | {r['identifiers']:,} |"
            f" {r['links']:,} ({r['merging_links']:,}) | {r['events']:,} | {r['profiles']:,} |"
            f" {r['passes']} |"
            f" {r['build_wall_s']:.1f} s | {_seconds(m.get('stg_events__events'))} |"
            f" {m['int_identity_components']} s |"
            f" {m['identity_map']} s | {_seconds(m.get('int_profile_events'))} |"
            f" {m['profile_traits']} s |"
            f" {_seconds(r.get('scheduled_wall_s'))} |"
            f" {_seconds(scheduled.get('stg_events__events'))} |"
            f" {_seconds(scheduled.get('int_identity_components'))}"
            f"{_relabelled(r.get('scheduled_relabelled'))} |"
            f" {_seconds(scheduled.get('identity_map'))} |"
            f" {_seconds(scheduled.get('int_profile_events'))} |"
            f" {_seconds(scheduled.get('profile_traits'))} |"
            f" {_seconds(m.get('rfm_user_traits'))} ->"
            f" {_seconds(scheduled.get('rfm_user_traits'))} |"
        )
    md_path = out_dir / "identity.md"
    md_path.write_text("\n".join(lines) + "\n")
    return md_path


def _relabelled(counts: list[int] | None) -> str:
    return "" if not counts else f" ({counts[0]:,} / {counts[1]:,})"


def _seconds(value: float | None) -> str:
    """A time of the table; a dash where the run did not measure it."""
    return "–" if value is None else f"{value} s"


def cmd_identity_bench(args: argparse.Namespace, console: Console, root: Path) -> int:
    engine = args.engine or warehouses.engine_from_env()
    if engine == "spark":
        console.print("[red]identity-bench runs on postgres or duckdb[/]")
        return 2
    result = run(root, args.size, engine, console)
    md_path = write(args.output or root / "benchmarks", result)
    table = Table(title=f"identity graph, size {args.size} on {engine}")
    shown = ("identifiers", "links", "merging_links", "events", "profiles", "passes",
             "build_wall_s", "scheduled_wall_s")
    for name in shown:
        table.add_column(name, justify="right")
    table.add_row(*(f"{result[n]:,}" if isinstance(result[n], int) else str(result[n])
                    for n in shown))
    console.print(table)
    console.print(f"models (s): {result['models_s']}")
    console.print(f"wrote {md_path}")
    return 0

