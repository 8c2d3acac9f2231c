"""`talentwatch serve`: browse the archive in Datasette, read-only.

The archive is opened like Datasette's mutable databases (mode=ro, so a running
daemon's new articles show up on reload) rather than with `-i` (immutable=1,
which would let SQLite skip the WAL and show stale or broken pages while the
daemon writes); writes are refused by `PRAGMA query_only` on every connection
(talentwatch.web.plugin) and by there being no writable canned queries.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import click
import yaml
from talentwatch.cli.app import State, main, pass_state


def datasette_metadata(archive: Path) -> dict[str, Any]:
    """The packaged metadata, its database entry named after the archive file."""
    text = resources.files("talentwatch.web").joinpath("metadata.yaml").read_text(encoding="utf-8")
    metadata = yaml.safe_load(text)
    metadata["databases"] = {archive.stem: metadata["databases"]["archive"]}
    return metadata


def make_datasette(archive: Path):
    from datasette.app import Datasette
    from datasette.plugins import pm
    from talentwatch.web import plugin as datasette_plugin

    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name="talentwatch")
    templates = resources.files("talentwatch.web").joinpath("templates")
    return Datasette(files=[str(archive)], metadata=datasette_metadata(archive),
                     template_dir=str(templates),
                     # facets over JSON columns (topics, offers) need more than the default 200 ms
                     settings={"sql_time_limit_ms": 3000, "facet_time_limit_ms": 1000,
                               # the configured facets are the useful ones; suggestions are noise
                               "suggest_facets": False})


@main.command("serve")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="port to listen on")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on (0.0.0.0: every interface — the archive has no login)")
@pass_state
def serve_cmd(state: State, port: int, host: str) -> None:
    """Browse and query the archive in a web browser (Datasette, read-only)."""
    import asyncio

    import uvicorn
    from talentwatch.storage.schema import open_archive
    from talentwatch.web.views import ensure_views

    archive = Path(state.config.database)
    if not archive.exists():
        raise click.UsageError(f"no archive at {archive}: crawl first (talentwatch crawl)")
    # bring an older archive's tables and index up to date before opening it read-only
    # and the view the web view opens on (talentwatch.web.views)
    db = open_archive(archive)
    ensure_views(db)
    db.close()
    ds = make_datasette(archive)
    asyncio.run(ds.invoke_startup())
    click.echo(f"serving {archive} read-only at http://{host}:{port}/{archive.stem}", err=True)
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
