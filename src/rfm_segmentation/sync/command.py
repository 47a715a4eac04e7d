"""`rfm sync` and `rfm crm serve`: the terminal side (plan table, progress bar, what the CRM
holds); the work is in runner.py and the crm package."""

from __future__ import annotations

import argparse
import os
import secrets
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rfm_segmentation import crm, dbt_runner, warehouses
from rfm_segmentation.sync import config as sync_config
from rfm_segmentation.sync.config import ConfigError, HttpDestination, SyncConfig
from rfm_segmentation.sync.destinations import AuthError, DestinationError
from rfm_segmentation.sync.plan import Plan, SourceError
from rfm_segmentation.sync.runner import GuardrailError, SyncRun

DEFAULT_CONFIG = Path("syncs/crm_contacts.yml")


def render_plan(config: SyncConfig, plan: Plan) -> Table:
    table = Table(title=f"plan of sync {config.name} (mode {config.mode})")
    table.add_column("kind")
    table.add_column("records", justify="right")
    table.add_column("sample")
    for kind in ("add", "change", "removal", "unchanged"):
        samples = plan.samples.get(kind, [])
        text = "; ".join(
            str(sample["key"]) + ("" if kind == "removal" else " " + ", ".join(
                f"{k}={v}" for k, v in sample.items() if k not in ("key", "action")))
            for sample in samples[:3])
        table.add_row(kind, f"{plan.counts.get(kind, 0):,}", text)
    skipped = {"skip_kept": "left the source, kept (mode is not mirror)",
               "skip_given_up": f"rejected {config.max_rejections} times, not sent again",
               "skip_deferred": "rejected, waiting for the retry backoff"}
    for action, label in skipped.items():
        if plan.actions.get(action):
            table.add_row(f"[dim]{label}[/]", f"{plan.actions[action]:,}", "")
    table.caption = (f"to send {plan.actions.get('send', 0):,}, to remove "
                     f"{plan.actions.get('remove', 0):,} (of which retries {plan.retries:,});"
                     f" changes+removals {plan.change_share():.1%} of {plan.synced:,} synced,"
                     f" guardrail {config.max_change_share:.0%}")
    return table


def _crm_holdings(base_url: str, token: str, config: SyncConfig) -> Table:
    assert isinstance(config.destination, HttpDestination)
    headers = {"Authorization": f"Bearer {token}"}
    records = httpx.get(f"{base_url}/_admin/records/{config.destination.object_type}",
                        headers=headers, timeout=30).json()
    stats = httpx.get(f"{base_url}/_admin/stats", headers=headers, timeout=30).json()
    prop = next(iter(config.mapping.values()))
    by_value = Counter(str(props.get(prop)) for props in records.values())
    table = Table(title=f"the local CRM holds {len(records):,} {config.destination.object_type}"
                        f" (created {stats['created']:,}, updated {stats['updated']:,}, "
                        f"archived {stats['archived']:,} over its life)")
    table.add_column(prop)
    table.add_column("records", justify="right")
    for value, n in by_value.most_common():
        table.add_row(value, f"{n:,}")
    return table


def cmd_sync(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm sync [CONFIG] [--plan] [--allow-large-change] [--local-crm]`"""
    path = args.config if args.config.is_absolute() else root / args.config
    try:
        config = sync_config.load(path)
    except ConfigError as err:
        console.print(f"[red]refused:[/] {err}")
        return dbt_runner.REFUSED
    environ: dict[str, str] = dict(os.environ)
    with ExitStack() as stack:
        local = None
        if args.local_crm and not args.plan:
            if not isinstance(config.destination, HttpDestination):
                console.print("[red]refused:[/] --local-crm: the destination is not http")
                return dbt_runner.REFUSED
            token = secrets.token_hex(16)
            store = root / ".local" / "crm" / f"{config.destination.object_type}.sqlite"
            local = stack.enter_context(crm.running(store, token,
                                                    id_property=config.destination.id_property))
            environ[config.destination.base_url_env] = local.base_url
            environ[config.destination.token_env] = token
            console.print(f"local CRM on {local.base_url} (store {store})")
        warehouse = warehouses.resolve(root)
        runner = SyncRun(config, warehouse, dbt_runner.target_schema())
        progress = Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=console, transient=False)
        task: dict[str, Any] = {}

        def on_plan(plan: Plan) -> None:
            console.print(render_plan(config, plan))

        def on_progress(done: int, total: int) -> None:
            if "id" not in task:
                progress.start()
                task["id"] = progress.add_task("send", total=total)
            progress.update(task["id"], completed=done)

        def on_retry(message: str) -> None:
            progress.console.print(f"[yellow]retrying:[/] {message}")

        try:
            result = runner.run(environ, plan_only=args.plan,
                                allow_large_change=args.allow_large_change, on_plan=on_plan,
                                on_progress=on_progress, on_retry=on_retry)
        except (ConfigError, SourceError, GuardrailError) as err:
            console.print(f"[red]refused:[/] {err}")
            return dbt_runner.REFUSED
        except AuthError as err:
            console.print(f"[red]stopped:[/] {err}")
            return dbt_runner.FAILED
        except DestinationError as err:
            console.print(f"[red]failed:[/] {err}")
            return dbt_runner.FAILED
        finally:
            progress.stop()
        counts = result.counts
        if result.status == "planned":
            console.print("plan only: nothing was sent")
        elif result.status == "nothing_to_do":
            console.print(f"nothing to send: {result.destination} is up to date")
        else:
            console.print(f"{result.destination}: sent {counts.sent:,}, accepted "
                          f"{counts.accepted:,}, rejected {counts.rejected:,}, retried "
                          f"{counts.retried:,} (run {result.run_id}; rejected records in "
                          f"{config.state_schema}.sync_errors)")
        if local is not None:
            console.print(_crm_holdings(local.base_url, environ[
                config.destination.token_env], config))  # type: ignore[union-attr]
        if result.status == "failed":
            console.print(f"[red]failed:[/] {result.message}; the rows not confirmed stay "
                          f"pending and the next run sends them")
            return dbt_runner.FAILED
    return dbt_runner.OK


def cmd_crm(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm crm serve`: the local CRM in the foreground."""
    faults = crm.Faults(rate_limit=args.rate_limit, server_error=args.server_error,
                        timeout=args.timeout, slow_ms=args.slow_ms, reject=args.reject,
                        drop_after_apply=args.drop_after_apply, retry_after=args.retry_after)
    token = os.environ.get("CRM_TOKEN")
    store = args.store if args.store.is_absolute() else root / args.store
    console.print(f"local CRM on http://{args.host}:{args.port}, store {store}, token "
                  f"{'from CRM_TOKEN' if token else 'none (any caller is let in)'}")
    crm.serve(store, token, faults, host=args.host, port=args.port)
    return dbt_runner.OK


def cmd_sync_bench(args: argparse.Namespace, console: Console, root: Path) -> int:
    """`rfm sync-bench`: the plan's time for N users, the sync of the changed ones."""
    from rfm_segmentation.sync import bench

    warehouse = warehouses.resolve(root)
    console.print(f"{warehouse.describe()}: {args.users:,} users, {args.changed:.1%} change "
                  f"segment (schema {bench.SCHEMA}, dropped after)")
    result = bench.run(warehouse, args.users, args.changed)
    table = Table(title=f"rfm sync-bench --users {args.users} --changed {args.changed} "
                        f"({result.engine})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("plan in the warehouse (diff of all users)", f"{result.plan_seconds:.2f} s")
    table.add_row("users changed", f"{result.changed:,}")
    table.add_row("sync of the changed users (its plan included)", f"{result.sync_seconds:.2f} s")
    table.add_row("throughput vs the local CRM, 100 records/call",
                  f"{result.records_per_second:,.0f} records/s")
    table.add_row("calls made", f"{result.calls:,}")
    table.add_row("calls of a full sync", f"{result.full_sync_calls:,}")
    table.add_row("share of a full sync", f"{result.calls / result.full_sync_calls:.2%}")
    console.print(table)
    return dbt_runner.OK
