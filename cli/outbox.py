"""`talentwatch outbox retry`: put messages parked as dead back in the queue."""

from __future__ import annotations

import click
from talentwatch.cli.app import State, main, pass_state


@main.group()
def outbox() -> None:
    """The alert outbox: messages parked as dead (listed by `status`)."""


@outbox.command("retry")
@click.option("--id", "ids", multiple=True, metavar="N",
              help="a dead message's number from `status` (#N), or its message id (tw-…); repeatable")
@click.option("--all", "every", is_flag=True, help="every dead message")
@pass_state
def retry(state: State, ids: tuple[str, ...], every: bool) -> None:
    """Re-queue dead messages: sent by the next outbox round, with a fresh count of attempts."""
    from talentwatch.storage.outbox import requeue
    from talentwatch.storage.schema import open_archive

    if not ids and not every:
        raise click.UsageError("say which messages: --id N (see `talentwatch status`) or --all")
    db = open_archive(state.config.database)
    queued = requeue(db, ids, every=every)
    click.echo(f"{len(queued)} message(s) re-queued")
    found = {str(m["id"]) for m in queued} | {m["message_id"] for m in queued}
    missing = [i for i in ids if i not in found]
    if missing:
        raise click.UsageError(f"no dead message {', '.join(missing)} (see `talentwatch status`)")
