"""The daemon's commands: run, status, notify test, digest --preview."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from talentwatch.cli.app import State, main, pass_state
from talentwatch.core.config import TIMEZONE, ConfigError

LOCAL = ZoneInfo(TIMEZONE)
DEAD_SHOWN = 20  # dead messages listed by `status` (all of them with --json)


def _local(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S")


@main.command("run")
@click.option("--once", is_flag=True,
              help="run every job once (crawl all sites, send what is due), then exit")
@pass_state
def run_cmd(state: State, once: bool) -> None:
    """Run the daemon: crawl on schedule, send alerts and digests (stop with SIGTERM)."""
    from talentwatch.scheduler.daemon import AlreadyRunning, Daemon

    config = state.config
    daemon = Daemon(config, once=once)
    try:
        code = daemon.run()
    except AlreadyRunning as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    if once:
        parked = daemon.outbox.dead
        failed = daemon.outbox.failed - parked
        click.echo(f"{len(daemon.sites)} site(s) checked; {daemon.outbox.sent} message(s) sent, "
                   f"{failed} failed" + (" (queued for retry; exit 1)" if failed else "")
                   + (f", {parked} parked as dead (see status; requeue: outbox retry)" if parked else ""),
                   err=True)
        for error in daemon.outbox.errors:
            click.echo(f"  {error}", err=True)
    sys.exit(code)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_state
def status(state: State, as_json: bool) -> None:
    """Per site: last run, counts, errors, next run, the frontier; the outbox's queue."""
    from rich.console import Console
    from rich.table import Table
    from talentwatch.scheduler.alerts.delivery import configured_pairs
    from talentwatch.scheduler.daemon import DaemonLock
    from talentwatch.storage import frontier, walks
    from talentwatch.storage.crawlstate import last_run
    from talentwatch.storage.jobs import load_jobs
    from talentwatch.storage.outbox import counts, dead_messages, failing_channels
    from talentwatch.storage.schema import open_archive

    config = state.config
    db = open_archive(config.database)
    walks.recover_runs(db)  # a run whose process is gone shows as interrupted, not running
    jobs = load_jobs(db)
    sites: list[dict[str, Any]] = []
    for site in config.sites:
        last = last_run(db, site.name)
        errors = last["error_messages"] if last else []
        sites.append({
            "site": site.name, "enabled": site.enabled,
            "schedule": site.cron or f"every {int(site.every or config.daemon.every)}s",
            "last_run": last["started"] if last else None, "status": last["status"] if last else None,
            "pages": last["pages"] if last else None, "new": last["new_articles"] if last else None,
            "changed": last["changed_articles"] if last else None,
            "errors": last["errors"] if last else None, "last_error": errors[-1] if errors else None,
            "next_run": jobs.get(f"site:{site.name}", (None, None))[0],
        })
        waiting = frontier.counts(db, site.name)
        walk = walks.state(db, site.name)
        sites[-1].update(
            pending=waiting["pending"], failing=waiting["failing"], gone=waiting["gone"],
            failing_last_error=waiting["failing_last_error"],
            walk_completed=walk["completed"] if walk else None,
            walk_stopped_at_limit=walk["stopped_at_limit"] if walk else None,
            backfill_left=walk["backfill_left"] if walk else None)
    outbox = counts(db, configured_pairs(config))
    failing = failing_channels(db)
    dead = dead_messages(db)
    digests = {s.name: jobs.get(f"digest:{s.name}", (None, None))[0]
               for s in config.subscriptions if s.mode == "digest"}
    pid = DaemonLock(config.database).holder()
    if as_json:
        # times as stored: ISO 8601 in UTC (+00:00); the table below shows China time
        click.echo(json.dumps({"timezone": "UTC", "daemon_pid": pid, "sites": sites, "outbox": outbox,
                               "failing": failing, "dead": dead, "digests": digests},
                              ensure_ascii=False, indent=2))
        return
    console = Console()
    console.print(f"daemon: {'running (pid ' + pid + ')' if pid else 'not running'}  archive: "
                  f"{config.database}", highlight=False)
    table = Table(title="sites")
    counted = ("pages", "new", "changed", "errors", "pending", "failing", "gone")
    for col in ("site", "schedule", "last run", "status", "walk", *counted, "next run"):
        table.add_column(col, justify="right" if col in counted else "left")
    for s in sites:
        walk_shown = {None: "-", True: "complete", False: "incomplete"}[s["walk_completed"]]
        table.add_row(s["site"] + ("" if s["enabled"] else " (disabled)"), s["schedule"],
                      _local(s["last_run"]), s["status"] or "never", walk_shown,
                      *(str(s[k]) if s[k] is not None else "-" for k in counted),
                      _local(s["next_run"]))
    console.print(table)
    console.print("times: China time (Asia/Shanghai); `status --json` gives them in UTC", highlight=False)
    for s in sites:
        if s["last_error"]:
            console.print(f"  {s['site']}: {s['last_error']}", highlight=False, markup=False)
        if s["failing_last_error"]:
            console.print(f"  {s['site']}: failing: {s['failing_last_error']}", highlight=False,
                          markup=False)
        if s["walk_stopped_at_limit"]:
            console.print(f"  {s['site']}: the last walk stopped at max_list_pages; older list pages exist"
                          f" (talentwatch crawl --backfill --site {s['site']})", highlight=False,
                          markup=False)
    console.print(f"outbox: {outbox['queued']} queued ({outbox['failing']} failing), "
                  f"{outbox['held']} held for digests, {outbox['sent']} sent, {outbox['dead']} dead",
                  highlight=False)
    if outbox["orphaned"]:
        console.print(f"  orphaned: {outbox['orphaned']} row(s) of subscriptions or channels no longer "
                      "in the config (kept, not sent)", highlight=False)
    for f in failing:
        console.print(f"  failing: {f['subscription']} → {f['channel']}: {f['n']} row(s), "
                      f"{f['attempts']} attempt(s), next {_local(f['next_attempt'])}: {f['error']}",
                      highlight=False, markup=False)
    for d in dead[:DEAD_SHOWN]:
        console.print(f"  dead #{d['id']}: {d['subscription']} → {d['channel']}: {d['rows']} item(s), "
                      f"{d['attempts']} attempt(s): {d['error']}", highlight=False, markup=False,
                      soft_wrap=True)
    if dead:
        more = f" ({len(dead) - DEAD_SHOWN} more: status --json)" if len(dead) > DEAD_SHOWN else ""
        console.print(f"  requeue with: talentwatch outbox retry --id N | --all{more}", highlight=False)
    for name, nxt in digests.items():
        console.print(f"digest {name}: next {_local(nxt)}", highlight=False)


@main.group()
def notify() -> None:
    """Check notification channels."""


@notify.command("test")
@click.argument("subscription")
@pass_state
def notify_test(state: State, subscription: str) -> None:
    """Send a test message through every channel of SUBSCRIPTION."""
    from talentwatch.scheduler.alerts.delivery import send_test

    try:
        results = send_test(state.config, subscription)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    for label, error in results:
        click.echo(f"{label}: {'ok' if error is None else 'FAILED: ' + error}")
    if any(error for _, error in results):
        sys.exit(1)


@main.command()
@click.option("--preview", is_flag=True, required=True, help="render the next digest without sending it")
@click.argument("subscription", required=False)
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="write the HTML version to this file")
@pass_state
def digest(state: State, preview: bool, subscription: str | None, html_path: Path | None) -> None:
    """Show the next digest of SUBSCRIPTION (default: every digest subscription)."""
    from talentwatch.scheduler.alerts.digest import preview as render_preview
    from talentwatch.storage.schema import open_archive

    config = state.config
    try:
        subs = [config.subscription(subscription)] if subscription else \
            [s for s in config.subscriptions if s.mode == "digest"]
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if not subs:
        raise click.UsageError(f"{state.config_path}: no digest subscriptions")
    db = open_archive(config.database)
    htmls = []
    for sub in subs:
        message = render_preview(db, config, sub)
        if message is None:
            click.echo(f"{sub.name}: nothing waiting for the next digest")
            continue
        click.echo(message.text)
        htmls.append(message.html)
    if html_path is not None and htmls:
        html_path.write_text("\n".join(htmls), encoding="utf-8")
        click.echo(f"HTML written to {html_path}", err=True)
