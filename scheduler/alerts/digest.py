"""Digest previews: what the next digest of a subscription would say."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlite_utils
from talentwatch.core.config import Config, Subscription
from talentwatch.scheduler.alerts.channels import Channel
from talentwatch.scheduler.alerts.collect import unread
from talentwatch.scheduler.alerts.render import Message, compose
from talentwatch.storage.outbox import already_alerted, held_rows, message_id_for, utcnow


def preview(db: sqlite_utils.Database, config: Config, sub: Subscription,
            now: datetime | None = None) -> Message | None:
    """The next digest as it stands now (for the first channel), or None.

    It holds the items already held for the digest and those whose events the
    outbox has not read yet (right after a crawl); reading nothing, it marks
    nothing read.
    """
    now = now or utcnow()
    label = Channel(sub.channels[0]).label
    rows: list[dict[str, Any]] = [r for r in held_rows(db, sub.name) if r["channel"] == label]
    waiting = unread(db, config, sub, now) if sub.mode == "digest" else []
    seen = {r["alert_key"] for r in rows} | already_alerted(db, sub.name, label, [a.key for a in waiting])
    for alert in waiting:
        if alert.key not in seen:
            seen.add(alert.key)
            rows.append({"alert_key": alert.key, "article_id": alert.article_id,
                         "cluster_id": alert.cluster_id, "kind": alert.kind})
    if not rows:
        return None
    message_id = message_id_for(sub.name, label, [f"digest:{r['alert_key']}" for r in rows])
    return compose(db, message_id, sub, rows, now, baseline_window=config.daemon.baseline_window,
                   web_url=config.daemon.web_url)
