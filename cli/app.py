"""The `talentwatch` command line.

The group and its shared state; commands live in modules of their own
(talentwatch/cli/*.py), each adding itself to `main` (see talentwatch.cli).
"""

from __future__ import annotations

import logging
import sqlite3
import sys

import click
from talentwatch.core.config import Config, ConfigError, load_config, resolve_path

QUIET_ALWAYS = ("apprise", "urllib3", "requests")  # even at -vv
MAX_LOG_CHARS = 500  # a log line is cut here: it never carries a page's text


def _quiet_frameworks(record: logging.LogRecord) -> bool:
    """Scrapy and Twisted: warnings and errors only, as one line (tracebacks with -vv)."""
    if not record.name.startswith(("scrapy", "twisted")):
        return True
    if record.levelno < logging.WARNING:
        return False
    if record.exc_info:
        # a refused connection or a timeout is news; its 40-line traceback is not
        record.exc_info = record.exc_text = None
    return True


def _cut_long_lines(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    if len(message) > MAX_LOG_CHARS:
        record.msg = message[:MAX_LOG_CHARS - 1] + "…"
        record.args = ()
    return True


def _not_retry_noise(record: logging.LogRecord) -> bool:
    # "Gave up retrying …" for each failed request: the spider reports failures itself,
    # a few per kind and then a count (crawler.runs)
    return not record.name.startswith("scrapy.downloadermiddlewares.retry")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged, not when the handler was made
    (a command run in-process, as the tests do with click's CliRunner, swaps sys.stderr)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _log_to_stderr(level: int) -> logging.Handler:
    """Log lines to stderr at `level`: one handler, replaced on every invocation (as
    logging.basicConfig would set it up once per process)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    return handler


class State:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = resolve_path(config_path)
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(2)
        return self._config


pass_state = click.make_pass_decorator(State)


class TalentwatchGroup(click.Group):
    """Turns an archive that cannot be opened into one clear line, for every command."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # imported here: sqlite-utils (and numpy with it) loads only for commands that open
            # the archive, and by the time one raises this, it has
            from talentwatch.storage.db import ArchiveError

            state = ctx.find_object(State)
            if isinstance(exc, sqlite3.DatabaseError):
                # a damaged file, or a lock held too long: one line naming the file, no traceback
                from talentwatch.storage.health import damage_message, is_damage

                path = state.config.database if state else "the archive"
                message = damage_message(path, exc) if is_damage(exc) else f"{path}: {exc}"
                click.echo(f"error: {message}", err=True)
                sys.exit(1)
            if not isinstance(exc, ArchiveError):
                raise
            where = f" (the `database` key of {state.config_path})" if state else ""
            click.echo(f"error: {exc}{where}", err=True)
            sys.exit(2)


@click.group(cls=TalentwatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", envvar="TALENTWATCH_CONFIG",
              help="config file (default ./config.yaml, or $TALENTWATCH_CONFIG)")
@click.option("-v", "--verbose", count=True, help="more log output (-vv for debug)")
@click.version_option(package_name="talentwatch")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Watch Chinese government portals for talent-policy news."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    handler = _log_to_stderr(level)
    handler.addFilter(_cut_long_lines)
    if verbose < 2:
        # Scrapy and Twisted log every request at INFO/DEBUG; keep that for -vv
        handler.addFilter(_quiet_frameworks)
        handler.addFilter(_not_retry_noise)
    for noisy in QUIET_ALWAYS:
        # their debug lines carry webhook URLs with tokens (?access_token=…); ours are redacted
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = State(config_path)


@main.command()
@pass_state
def validate(state: State) -> None:
    """Check the config file and exit."""
    config = state.config
    click.echo(f"{state.config_path}: ok ({len(config.sites)} sites, archive {config.database})")

