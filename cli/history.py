"""`talentwatch show` (one article, its versions and copies) and `talentwatch dupes`
(stories that appeared more than once: where and when each copy appeared)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from talentwatch.cli.app import State, main, pass_state
from talentwatch.core.safety import clean_data, one_line


def _when(row: dict[str, Any]) -> str:
    return f"published {row['published'] or '?'}, archived {(row['first_seen'] or '?')[:19]}"


@main.command("show")
@click.argument("ref", metavar="URL|ID")
@click.option("--history", "show_history", is_flag=True, help="list every version and event")
@click.option("--diff", "show_diff", is_flag=True, help="print what changed between versions")
@pass_state
def show(state: State, ref: str, show_history: bool, show_diff: bool) -> None:
    """Show one archived article: its text, status, versions and copies elsewhere."""
    # the archive's modules (sqlite-utils, numpy) load inside the commands, not for `validate`
    from talentwatch.storage.articles import article_by_ref, article_events
    from talentwatch.storage.clusters import cluster_members
    from talentwatch.storage.schema import open_archive
    from talentwatch.storage.versions import history

    db = open_archive(state.config.database)
    row = article_by_ref(db, ref)
    if row is None:
        click.echo(f"error: no archived article {ref!r}", err=True)
        sys.exit(1)
    row = clean_data(row, urls=False)  # a page's control characters (terminal escapes) stay out
    status = row["status"]
    if status == "withdrawn":
        status += f" since {row['withdrawn_at']} (HTTP {row['http_status']})"
    click.echo(f"#{row['id']} {one_line(row['title'])}\n{row['url']}")
    click.echo(f"site {row['site']} · {_when(row)} · source {row['source'] or '-'}")
    click.echo(f"version {row['version']} · {status} · last checked {row['checked_at'] or '-'}")
    members = clean_data(cluster_members(db, row["cluster_id"] or row["id"]), urls=False)
    if len(members) > 1:
        original = next((m for m in members if m["duplicate_of"] is None), members[0])
        if original["id"] == row["id"]:
            click.echo(f"original of {len(members) - 1} cop{'y' if len(members) == 2 else 'ies'}:")
        else:
            click.echo(f"copy of #{original['id']} {original['url']}; all copies:")
        for m in members:
            if m["id"] != row["id"]:
                click.echo(f"  #{m['id']} {m['site']} {m['url']} ({_when(m)})")
    versions = clean_data(history(db, row["id"]), urls=False)
    if show_history:
        click.echo("\nversions:")
        for v in versions:
            click.echo(f"  v{v['version']} fetched {v['fetched_at']} · {len(v['text'] or '')} chars"
                       f" · {one_line(v['title'])}")
        click.echo("events:")
        for e in article_events(db, row["id"]):
            details = e["details"]
            note = ""
            if e["kind"] == "removed":
                note = f" (HTTP {details.get('http_status')})"
            elif e["kind"] == "duplicate":
                note = f" (story #{e['cluster_id']}, original #{details.get('original_id')})"
            click.echo(f"  {e['created_at']} {e['kind']} v{e['version']}{note}")
    if show_diff:
        diffs = [v for v in versions if v["diff"]]
        if not diffs:
            click.echo("\nno changes: one version only")
        for v in diffs:
            click.echo(f"\n{v['diff']}")
    if not show_history and not show_diff:
        click.echo("\n" + (row["text"] or "(no text)"))


@main.command("dupes")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000),
              help="most stories to list")
@click.option("--site", default=None, help="only stories with a copy on this site")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per story")
@pass_state
def dupes(state: State, limit: int, site: str | None, as_json: bool) -> None:
    """List stories archived more than once: the original and where and when each copy appeared."""
    from talentwatch.storage.clusters import cluster_members, stories_with_copies
    from talentwatch.storage.schema import open_archive

    db = open_archive(state.config.database)
    clusters = stories_with_copies(db, limit, site)
    for cluster in clusters:
        members = clean_data(cluster_members(db, cluster["cluster_id"]), urls=False)
        original = next((m for m in members if m["duplicate_of"] is None), members[0])
        if as_json:
            click.echo(json.dumps({"story": cluster["cluster_id"], "original": original,
                                   "copies": [m for m in members if m is not original]},
                                  ensure_ascii=False))
            continue
        click.echo(f"story #{cluster['cluster_id']}: {one_line(original['title'])}")
        click.echo(f"  original  #{original['id']} {original['site']} {original['url']} ({_when(original)})")
        for m in members:
            if m is not original:
                flag = " [withdrawn]" if m["status"] == "withdrawn" else ""
                click.echo(f"  copy      #{m['id']} {m['site']} {m['url']} ({_when(m)}){flag}")
    if not as_json:
        click.echo(f"{len(clusters)} stor{'y' if len(clusters) == 1 else 'ies'} with copies", err=True)
