"""`talentwatch crawl`: one pass over the configured sites, then exit."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource
from talentwatch.cli.app import State, main, pass_state
from talentwatch.core.config import ConfigError

if TYPE_CHECKING:
    from rich.table import Table
    from talentwatch.crawler.runs import RunTracker, SiteRun


def summary_table(runs: list[SiteRun]) -> Table:
    from rich.table import Table

    table = Table(title="crawl summary")
    for column in ("site", "status", "pages", "304", "new", "reposts", "changed", "removed", "gone",
                   "errors"):
        table.add_column(column, justify="right" if column not in ("site", "status") else "left")
    for run in runs:
        table.add_row(run.site.name, "FAILED" if run.failed else "ok", str(run.pages),
                      str(run.not_modified), str(run.new), str(run.duplicates), str(run.changed),
                      str(run.removed), str(run.gone), str(run.error_count))
    return table


def walk_notes(run: SiteRun) -> list[str]:
    """What the summary says about a site's walk: stopped early, more to backfill."""
    name = run.site.name
    notes = []
    if run.stopped_at_limit:
        notes.append(f"{name}: the walk stopped at max_list_pages ({run.site.max_list_pages}) while older"
                     f" list pages exist; `talentwatch crawl --backfill --site {name}` reads them")
    if run.backfill is not None:
        notes.append(f"{name}: backfill read {run.pages} page(s); "
                     + ("older list pages remain: run it again to go on" if run.backfill_left
                        else "the list has no older pages"))
    return notes


def crawl_sites(state: State, site_names: tuple[str, ...], recheck: bool = False,
                backfill: int | None = None) -> list[SiteRun]:
    """Crawl with a live status line on a terminal; print the summary; return the runs."""
    # Scrapy, Twisted and the whole pipeline load here, for the commands that crawl
    from rich.console import Console
    from rich.markup import escape
    from talentwatch.crawler.run import CrawlStopped, run_crawl, select_sites

    config = state.config
    try:
        sites = select_sites(config, list(site_names))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if not sites:
        raise click.UsageError(f"{state.config_path}: no enabled sites to crawl")
    console = Console(stderr=True)
    status = console.status("starting crawl…") if console.is_terminal else None

    def tick(tracker: RunTracker) -> None:
        if status is not None:
            active = tracker.active.values()
            pages = sum(r.pages for r in active) + sum(r.pages for r in tracker.finished)
            new = sum(r.new for r in active) + sum(r.new for r in tracker.finished)
            status.update(f"crawling {len(tracker.active)} site(s): {pages} pages fetched, "
                          f"{new} new articles, {len(tracker.finished)}/{len(sites)} sites done")

    if status is not None:
        status.start()
    try:
        runs = run_crawl(config, sites, on_tick=tick, recheck=recheck, backfill=backfill)
    except CrawlStopped as exc:
        # one line: which file, why, what to do (the frontier keeps what was not stored)
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        if status is not None:
            status.stop()
    Console().print(summary_table(runs))
    for run in runs:
        for note in walk_notes(run):
            console.print(escape(note), highlight=False)
        for message in run.errors[:5]:
            # site names and messages are scraped or user text: never markup
            console.print(f"[yellow]{escape(run.site.name)}[/]: {escape(message)}", highlight=False)
        if run.error_count > 5:
            console.print(f"{escape(run.site.name)}: … and {run.error_count - 5} more errors")
    return runs


@main.command()
@click.option("--site", "site_names", multiple=True, metavar="NAME",
              help="crawl only this site (repeatable)")
@click.option("--recheck", is_flag=True,
              help="also re-fetch every known article (conditionally) to find edits and withdrawals")
@click.option("--backfill", is_flag=True,
              help="read older list pages, beyond max_list_pages, from where the last walk or"
                   " backfill stopped")
@click.option("--pages", type=click.IntRange(min=1), default=10, show_default=True, metavar="N",
              help="with --backfill: how many older list pages to read per start URL")
@pass_state
def crawl(state: State, site_names: tuple[str, ...], recheck: bool, backfill: bool, pages: int) -> None:
    """Crawl the sites once and store what is new.

    Known articles are not downloaded again, except those the site's revisit
    policy says are due (or all of them with --recheck). Article links seen on
    a list page but not stored yet (a kill, a failure, a full disk) are kept in
    the archive's frontier and fetched first by the next crawl."""
    if backfill and recheck:
        raise click.UsageError("--backfill and --recheck cannot be combined")
    pages_given = click.get_current_context().get_parameter_source("pages") != ParameterSource.DEFAULT
    if pages_given and not backfill:
        raise click.UsageError("--pages goes with --backfill")
    runs = crawl_sites(state, site_names, recheck=recheck, backfill=pages if backfill else None)
    if runs and all(run.failed for run in runs):
        click.echo("error: every site failed", err=True)
        sys.exit(1)
