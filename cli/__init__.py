"""The `talentwatch` command line: the group in `app`, one module per family of commands."""

from talentwatch.cli import (  # noqa: F401  (each module registers its commands on `main`)
    archive,
    classify,
    crawl,
    daemon,
    demo,
    extract,
    history,
    maintenance,
    outbox,
    serve,
    sites,
)
from talentwatch.cli.app import main

__all__ = ["main"]
