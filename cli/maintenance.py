"""`talentwatch reindex`: rebuild the full-text index from the articles."""

from __future__ import annotations

import sys

import click
from talentwatch.cli.app import State, main, pass_state


@main.command()
@pass_state
def reindex(state: State) -> None:
    """Rebuild the search index from the archived articles.

    Safe at any time (the index holds nothing the articles do not): the repair
    for a damaged index, which `search` reports as a damaged archive."""
    # sqlite-utils (and numpy, which it loads) only for the commands that open the archive
    from talentwatch.storage.health import integrity, rebuild_search_index
    from talentwatch.storage.schema import open_archive

    path = state.config.database
    count = rebuild_search_index(path)
    db = open_archive(path)
    problems = integrity(db)
    db.close()
    click.echo(f"search index rebuilt: {count} article(s) indexed in {path}")
    if problems:
        click.echo(f"error: {path} is still damaged outside the search index ({problems[0]}): restore it"
                   f" from a backup, or salvage it with `sqlite3 {path} .recover`", err=True)
        sys.exit(1)
