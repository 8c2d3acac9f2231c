"""Commands that read the archive: search, export."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from talentwatch.cli.app import State, main, pass_state
from talentwatch.cli.progress import progress
from talentwatch.core.safety import one_line
from talentwatch.storage.filters import FilterError, Filters
from talentwatch.storage.formats import FORMATS  # the --format choices: each format registers itself

# counts a user can ask for: beyond them SQLite's integers overflow (a traceback, not an answer)
MAX_LIMIT = 10_000
MAX_EXPORT = 100_000_000

# The archive's modules (sqlite-utils, numpy, feedgen) load inside the commands:
# `talentwatch validate` and `--help` should not pay for them.


def filter_options(command: Callable) -> Callable:
    """--site --since --until --topic --region --talent-only, passed on as `filters`."""
    @click.option("--site", "sites", multiple=True, metavar="SITE", help="only this site (repeatable)")
    @click.option("--since", metavar="DATE", help="published on or after (2024-03-05, 2024-03, 2024)")
    @click.option("--until", metavar="DATE", help="published on or before (a month or year: all of it)")
    @click.option("--topic", "topics", multiple=True, metavar="TOPIC", help="has this topic (repeatable)")
    @click.option("--region", "regions", multiple=True, metavar="PLACE",
                  help="province, city or county, by name with or without its suffix:"
                       " 广东 matches 广东省 (repeatable)")
    @click.option("--talent-only", is_flag=True, help="only items classified as talent policy")
    @functools.wraps(command)
    def wrapper(*args: Any, sites, since, until, topics, regions, talent_only, **kwargs: Any) -> Any:
        try:
            filters = Filters(sites=sites, since=since, until=until, topics=topics, regions=regions,
                              talent_only=talent_only)
        except FilterError as exc:
            raise click.UsageError(str(exc)) from None
        return command(*args, filters=filters, **kwargs)
    return wrapper


# unknown "options" are query words: `search 人才 -补贴` excludes 补贴 without quotes
@main.command("search", context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True, metavar="QUERY...")
@filter_options
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, MAX_LIMIT),
              help="most hits to show")
@click.option("--all-reposts", is_flag=True, help="show every repost, not one hit per cluster")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True,
              help="relevance (damped by age) or newest first")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per hit")
@pass_state
def search_cmd(state: State, words: tuple[str, ...], filters: Filters, limit: int, all_reposts: bool,
               sort: str, as_json: bool) -> None:
    """Full-text search of the archive.

    QUERY: words that must all occur (Chinese words of any length match exactly,
    as a substring would), "quoted phrases", OR, NOT or -word, and parentheses,
    e.g. '(购房补贴 OR 安家补贴) 博士 -院士'. Quote the query when it has quotes or
    parentheses (the shell would take them). A -word needs no quotes
    (talentwatch search 人才 -院士), but put the query after -- when a word
    could pass for an option: talentwatch search --since 2024 -- 人才 -hr
    """
    # a --word is a mistyped option, not something to search for (it would find the bare word)
    mistyped = next((w for w in words if w.startswith("--") and w[2:3].isascii() and w[2:3].isalpha()), None)
    if mistyped:
        raise click.UsageError(f"no such option: {mistyped} (a query word cannot start with --)")
    from talentwatch.storage.query import QueryError
    from talentwatch.storage.schema import open_archive
    from talentwatch.storage.search import search

    query = " ".join(words)
    db = open_archive(state.config.database)
    color = sys.stdout.isatty() and not as_json
    mark = ("\x1b[1;33m", "\x1b[0m") if color else ("[", "]")
    try:
        hits = search(db, query, limit=limit, filters=filters, all_reposts=all_reposts, sort=sort, mark=mark)
    except QueryError as exc:
        raise click.UsageError(f"cannot search for {query!r}: {exc}") from None
    for hit in hits:
        if as_json:
            click.echo(json.dumps(hit, ensure_ascii=False))
            continue
        notes = [n for n in (hit["site"], "withdrawn" if hit["status"] == "withdrawn" else "",
                             f"+{hit['reposts']} repost(s)" if hit["reposts"] else "") if n]
        click.echo(f"{hit['published'] or '----------'}  {one_line(hit['title'])}  ({', '.join(notes)})\n"
                   f"    {hit['url']}\n    {hit['snippet']}")
    if not as_json:
        click.echo(f"{len(hits)} hit(s) for {query!r}", err=True)


@main.command("export")
@filter_options
@click.option("-q", "--query", help="only articles matching this search query")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="jsonl", show_default=True,
              help="; ".join(f"{name}: {kind.description}" for name, kind in FORMATS.items()))
@click.option("--one-per-cluster", is_flag=True,
              help="only each repost cluster's original (always so for atom)")
@click.option("--limit", type=click.IntRange(1, MAX_EXPORT), help="newest N records only (atom default: 200)")
@click.option("--title", default=None, help="atom feed title")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="file to write (default stdout)")
@pass_state
def export_cmd(state: State, filters: Filters, query: str | None, fmt: str, one_per_cluster: bool,
               limit: int | None, title: str | None, output) -> None:
    """Export archived articles (all, or those the filters and query select), newest first."""
    from talentwatch.storage.export import count_records, export_records
    from talentwatch.storage.query import QueryError
    from talentwatch.storage.schema import open_archive

    kind = FORMATS[fmt]
    db = open_archive(state.config.database)
    limit = limit or kind.default_limit
    options: dict[str, Any] = dict(filters=filters, query=query,
                                   one_per_cluster=one_per_cluster or kind.one_per_cluster)
    try:
        total = count_records(db, **options)
    except QueryError as exc:
        raise click.UsageError(f"cannot search for {query!r}: {exc}") from None
    total = min(total, limit) if limit else total
    records = progress(export_records(db, limit=limit, **options), total=total,
                       description=f"exporting {fmt}")
    count = kind().write(db, records, output, title=title or "talentwatch" + (f": {query}" if query else ""))
    if getattr(output, "name", "<stdout>") != "<stdout>":
        click.echo(f"{count} records written to {output.name}", err=True)
