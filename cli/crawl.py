"""`talentwatch crawl`: one pass over the configured sites, then exit."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from talentwatch.cli.app import State, main, pass_state
from talentwatch.core.config import ConfigError

if TYPE_CHECKING:
    from rich.table import Table
    from talentwatch.crawler.runs import RunTracker, SiteRun


def summary_table(runs: list[SiteRun]) -> Table:
    from rich.table import Table

    table = Table(title="crawl summary")
    for column in ("site", "status", "pages", "304", "new", "reposts", "changed", "removed", "errors"):
        table.add_column(column, justify="right" if column not in ("site", "status") else "left")
    for run in runs:
        table.add_row(run.site.name, "FAILED" if run.failed else "ok", str(run.pages),
                      str(run.not_modified), str(run.new), str(run.duplicates), str(run.changed),
                      str(run.removed), str(len(run.errors)))
    return table


def crawl_sites(state: State, site_names: tuple[str, ...], recheck: bool = False) -> list[SiteRun]:
    """Crawl with a live status line on a terminal; print the summary; return the runs."""
    # Scrapy, Twisted and the whole pipeline load here, for the commands that crawl
    from rich.console import Console
    from rich.markup import escape
    from talentwatch.crawler.run import run_crawl, select_sites

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
        runs = run_crawl(config, sites, on_tick=tick, recheck=recheck)
    finally:
        if status is not None:
            status.stop()
    Console().print(summary_table(runs))
    for run in runs:
        for message in run.errors[:5]:
            # site names and messages are scraped or user text: never markup
            console.print(f"[yellow]{escape(run.site.name)}[/]: {escape(message)}", highlight=False)
        if len(run.errors) > 5:
            console.print(f"{escape(run.site.name)}: … and {len(run.errors) - 5} more errors")
    return runs


@main.command()
@click.option("--site", "site_names", multiple=True, metavar="NAME",
              help="crawl only this site (repeatable)")
@click.option("--recheck", is_flag=True,
              help="also re-fetch every known article (conditionally) to find edits and withdrawals")
@pass_state
def crawl(state: State, site_names: tuple[str, ...], recheck: bool) -> None:
    """Crawl the sites once and store what is new.

    Known articles are not downloaded again, except those the site's revisit
    policy says are due (or all of them with --recheck)."""
    runs = crawl_sites(state, site_names, recheck=recheck)
    if runs and all(run.failed for run in runs):
        click.echo("error: every site failed", err=True)
        sys.exit(1)
