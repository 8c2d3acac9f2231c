"""Commands that read the archive: search, export."""

from __future__ import annotations

import json
import sys

import click

from scheduler.cli import State, main, pass_state
from storage.export import export_records, write_csv, write_jsonl
from storage.schema import open_archive
from storage.search import search


@main.command("search")
@click.argument("query")
@click.option("--limit", default=20, show_default=True, help="most hits to show")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per hit")
@pass_state
def search_cmd(state: State, query: str, limit: int, as_json: bool) -> None:
    """Full-text search of the archive (Chinese words of any length)."""
    db = open_archive(state.config.database)
    try:
        hits = search(db, query, limit=limit)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    for hit in hits:
        if as_json:
            click.echo(json.dumps(hit, ensure_ascii=False))
        else:
            click.echo(f"{hit['published'] or '----------'}  {hit['title']}\n    {hit['url']}\n"
                       f"    {hit['snippet']}")
    if not as_json:
        click.echo(f"{len(hits)} hit(s) for {query!r}", err=True)


@main.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="file to write (default stdout)")
@pass_state
def export_cmd(state: State, fmt: str, output) -> None:
    """Export every archived article, one record each."""
    db = open_archive(state.config.database)
    writer = write_jsonl if fmt == "jsonl" else write_csv
    count = writer(export_records(db), output)
    if output is not sys.stdout:
        click.echo(f"{count} records written", err=True)
