"""`talentwatch worker`: crawl for the archive host, on any machine (docs/scale.md)."""

from __future__ import annotations

import sys

import click
from talentwatch.cli.app import State, main, pass_state
from talentwatch.core.config import ConfigError


@main.command()
@click.option("--concurrency", "-c", type=click.IntRange(1, 64), default=2, show_default=True,
              help="tasks this worker runs at once (each a batch of up to `workers.batch` sites)")
@pass_state
def worker(state: State, concurrency: int) -> None:
    """Run a crawl worker: take due sites from the broker in `workers.broker`, crawl them,
    send the records to the archive host (stop with SIGTERM: the running sites finish)."""
    config = state.config
    if config.workers is None:
        click.echo(f"error: {state.config_path}: no `workers:` section (the broker to take sites from)",
                   err=True)
        sys.exit(2)
    try:
        config.workers.broker_url()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        from talentwatch.scheduler.workers import Worker
    except ImportError as exc:
        click.echo(f"error: the crawl workers need Celery: pip install 'talentwatch[workers]' ({exc})",
                   err=True)
        sys.exit(2)
    Worker(config).run(concurrency)
