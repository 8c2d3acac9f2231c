"""Adding and looking after portals: `try`, `add`, `sites`.

`try` and `sites` never write the archive (nor create it); `add` writes only the
config file, appending one site and keeping everything else in it as it was.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import click
from talentwatch.cli.app import State, main, pass_state
from talentwatch.core.config import Config, ConfigError, SiteConfig

if TYPE_CHECKING:  # the crawler's modules load only when a command runs
    from talentwatch.crawler.suggest import Suggestion
    from talentwatch.crawler.trial import Trial

EXAMPLES = 3  # left-out links shown per URL shape


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _config_or_defaults(state: State) -> Config:
    """The config when there is one; `try URL` also works before any config exists."""
    if state.config_path.is_file():
        return state.config
    return Config()


def _run_trial(url: str, config: Config, samples: int, site: SiteConfig | None = None) -> Trial:
    from talentwatch.crawler.fetch import FetchError, http_url
    from talentwatch.crawler.suggest import NotAListPage
    from talentwatch.crawler.trial import fetcher_for, try_page

    if not http_url(url):
        _fail(f"{url}: expected an http(s) URL")
    fetcher = fetcher_for(config.crawl, delay=site.delay if site else None)
    try:
        return try_page(url, fetcher, config.relevance, samples=samples,
                        site=site.name if site else None, site_config=site)
    except FetchError as exc:
        _fail(f"cannot fetch: {exc}", code=1)
    except NotAListPage as exc:
        _fail(f"{url}: not a list page: {exc}")


def _shape(url: str) -> str:
    return re.sub(r"\d+", "N", url.split("?", 1)[0])


def _elsewhere(s: Suggestion) -> list[str]:
    """Entries of the list on hosts other than the page's."""
    host = urlsplit(s.url).hostname
    return [e.url for e in s.entries if urlsplit(e.url).hostname != host]


def _trial_json(trial: Trial, site: SiteConfig | None) -> dict[str, Any]:
    s = trial.suggestion
    out: dict[str, Any] = {
        "url": s.url,
        "article_pattern": s.article_pattern,
        "next_page": s.next_page,
        "articles": [{"url": m.url, "title": m.title, "published": m.date} for m in s.matched],
        "unmatched": len(s.unmatched),
        "samples": trial.samples,
        "family": s.family,
        "profile": s.profile,
        "list": {"kind": s.list_kind, "where": s.list_where, "entries": len(s.entries)},
        "allowed_domains": s.allowed_domains,
        "extra_domains": s.extra_domains,
        "entries_on_other_hosts": len(_elsewhere(s)),
        "unmatched_links": s.unmatched,
        "sample_errors": trial.sample_errors,
    }
    if site is not None:
        configured = site.article_re
        out["configured_pattern_matches"] = sum(1 for e in s.entries if configured.search(e.url))
    return out


def _offers(record: dict[str, Any]) -> str:
    offers = record.get("incentives") or []
    parts = []
    for offer in offers[:3]:
        amount = offer.get("amount_max") or offer.get("amount_min")
        text = offer.get("type") or "offer"
        if amount:
            text += f" {amount:g}{offer.get('unit') or ''}"
        if offer.get("period"):
            text += f"/{offer['period']}"
        parts.append(text)
    return "; ".join(parts) + (f" (+{len(offers) - 3})" if len(offers) > 3 else "") if parts else "none"


def _print_trial(trial: Trial, site: SiteConfig | None) -> None:
    s = trial.suggestion
    say = click.echo  # plain lines: URLs are never wrapped or styled

    say(f"{s.url}: a list of {len(s.entries)} entries ({s.list_kind} list, {s.list_where})")
    if s.family:
        how = f"profile: {s.profile}" if s.profile else "its profile's list rules do not read this page;" \
                                                          " no profile suggested"
        say(f"recognised: {s.family} — {how}")
    else:
        say("recognised: no CMS family of the built-in profiles (the generic profile will do)")
    say(f"article_pattern: '{s.article_pattern}'")
    say(f"next page: {s.next_page}" if s.next_page else
        "next page: none found (only this page will be read)")
    if s.extra_domains:
        say(f"entries on other hosts: {len(_elsewhere(s))}; allowed_domains: {s.allowed_domains}")
    if site is not None:
        hits = sum(1 for e in s.entries if site.article_re.search(e.url))
        say(f"the configured article_pattern of {site.name} matches {hits} of the {len(s.entries)} entries")
    say()
    say(f"matched {len(s.matched)} links:")
    for m in s.matched:
        say(f"  {m.date or '          '}  {m.title or '(no title)'}  {m.url}")
    shapes = Counter(_shape(u) for u in s.unmatched)
    say(f"left out {len(s.unmatched)} links" + (":" if s.unmatched else ""))
    for shape, n in shapes.most_common(8):
        examples = [u for u in s.unmatched if _shape(u) == shape][:EXAMPLES]
        say(f"  {n}× {examples[0]}" + (f" (and {', '.join(examples[1:])})" if len(examples) > 1 else ""))
    if len(shapes) > 8:
        say(f"  … {len(shapes) - 8} more shapes")
    if trial.samples or trial.sample_errors:
        say()
        say("first articles, extracted and classified (not stored):")
    for record in trial.samples:
        talent = "talent policy" if record.get("talent") else "not talent policy"
        say(f"  {record.get('title') or '(no title)'}")
        say(f"    published {record.get('published') or '?'} · source {record.get('source') or '?'} · "
            f"{talent} (score {record.get('score') or 0:g}) · offers: {_offers(record)}")
    for error in trial.sample_errors:
        say(f"  ! {error}")


@main.command("try")
@click.argument("url", required=False)
@click.option("--site", "site_name", metavar="NAME", help="try a configured site's first start URL")
@click.option("--json", "as_json", is_flag=True, help="one JSON object instead of the report")
@click.option("--samples", type=click.IntRange(0, 10), default=3, show_default=True,
              help="articles to fetch, extract and classify (0: none)")
@pass_state
def try_cmd(state: State, url: str | None, site_name: str | None, as_json: bool, samples: int) -> None:
    """Suggest the settings for a list page at URL, without archiving anything.

    Prints the article_pattern that matches the page's article links, how the
    list continues, the links matched and left out, and the first articles as
    extracted and classified."""
    if (url is None) == (site_name is None):
        raise click.UsageError("give a URL or --site NAME (one of them)")
    site = None
    if site_name is not None:
        try:
            site = state.config.site(site_name)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None
        url = site.start_urls[0]
    assert url is not None
    config = state.config if site is not None else _config_or_defaults(state)
    trial = _run_trial(url, config, samples, site)
    if as_json:
        click.echo(json.dumps(_trial_json(trial, site), ensure_ascii=False, indent=2))
    else:
        _print_trial(trial, site)


def site_entry(suggestion: Suggestion, url: str, name: str) -> dict[str, Any]:
    """The keys `add` writes for a site, in the order a person would."""
    entry: dict[str, Any] = {"name": name}
    if suggestion.profile:
        entry["profile"] = suggestion.profile
    entry["start_urls"] = [url]
    entry["article_pattern"] = suggestion.article_pattern
    if suggestion.extra_domains:
        entry["allowed_domains"] = suggestion.allowed_domains
    return entry


@main.command("add")
@click.argument("url")
@click.option("--name", metavar="NAME", help="the site's name (default: from the URL's host and column)")
@pass_state
def add_cmd(state: State, url: str, name: str | None) -> None:
    """Try the list page at URL and append it as a site to the config file."""
    from talentwatch.core.config_edit import append_site, site_snippet
    from talentwatch.crawler.trial import site_name_for

    config = state.config  # the file must be valid before we add to it
    url = url.strip()
    name = (name or site_name_for(url)).strip()
    if not name:
        raise click.UsageError("--name must not be empty")
    if any(s.name == name for s in config.sites):
        _fail(f"{state.config_path}: a site named {name!r} is already configured (choose another --name)")
    owner = next((s.name for s in config.sites if url in s.start_urls), None)
    if owner is not None:
        _fail(f"{state.config_path}: {url} is already a start URL of site {owner!r}")
    trial = _run_trial(url, config, samples=0)
    entry = site_entry(trial.suggestion, url, name)
    try:
        append_site(state.config_path, entry)
    except ConfigError as exc:
        _fail(str(exc))
    click.echo(f"added to {state.config_path}:")
    click.echo(site_snippet(entry).rstrip())
    s = trial.suggestion
    click.echo(f"({len(s.matched)} article links on the page; next page: {s.next_page or 'none found'})")
    click.echo(f"check it with `talentwatch try --site {name}`, "
               f"crawl it with `talentwatch crawl --site {name}`")


@main.command("sites")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_state
def sites_cmd(state: State, as_json: bool) -> None:
    """The configured sites: profile, schedule, last run, articles, pending and failing."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from talentwatch.storage.overview import site_figures

    config = state.config
    figures = site_figures(config.database, [s.name for s in config.sites])
    rows: list[dict[str, Any]] = []
    for site in config.sites:
        fig = figures[site.name]
        every = int(site.every or config.daemon.every)
        rows.append({
            "site": site.name, "enabled": site.enabled, "profile": site.profile or "generic",
            "schedule": f"cron {site.cron}" if site.cron else f"every {every}s",
            "start_urls": site.start_urls, "last_run": fig.last_run, "status": fig.last_status,
            "articles": fig.articles, "pending": fig.pending, "failing_runs": fig.failing_runs,
            "last_error": fig.last_error,
        })
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"sites in {state.config_path}")
    for column in ("site", "profile", "schedule", "last run", "status", "articles", "pending", "failing"):
        table.add_column(column, justify="right" if column in ("articles", "pending", "failing") else "left")
    for r in rows:
        name = escape(r["site"]) + ("" if r["enabled"] else " (disabled)")
        table.add_row(name, r["profile"], r["schedule"], r["last_run"] or "never", r["status"] or "-",
                      str(r["articles"]),
                      "-" if r["pending"] is None else str(r["pending"]),
                      f"{r['failing_runs']} run(s)" if r["failing_runs"] else "-")
    console = Console()
    console.print(table)
    for r in rows:
        if r["last_error"]:
            console.print(f"  {r['site']}: {r['last_error']}", highlight=False, markup=False)
