"""Digest previews: what the next digest of a subscription would say."""

from __future__ import annotations

import sqlite_utils

from scheduler.alerts.render import Message, load_items, render
from scheduler.config import Subscription
from storage.outbox import held_rows, message_id_for, utcnow


def preview(db: sqlite_utils.Database, sub: Subscription) -> Message | None:
    """The next digest as it stands now (from the first channel's held items), or None."""
    from scheduler.alerts.channels import Channel

    label = Channel(sub.channels[0]).label
    rows = [r for r in held_rows(db, sub.name) if r["channel"] == label]
    if not rows:
        return None
    message_id = message_id_for(sub.name, label, [f"digest:{r['alert_key']}" for r in rows])
    return render(message_id, sub.name, "digest", load_items(db, rows), utcnow())
