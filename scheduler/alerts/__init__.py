"""Alerts: subscriptions read the archive's events into the outbox, the outbox
sends through channels (email, JSON webhook, DingTalk / WeCom / Feishu bots),
instantly or as a digest.

    collect(db, config)            events -> outbox rows (one transaction)
    release_due_digests / release  held rows -> a queued digest message
    deliver_due(db, config)        queued messages -> channels, with backoff
"""

from talentwatch.scheduler.alerts.collect import collect
from talentwatch.scheduler.alerts.delivery import deliver_due, send_test

__all__ = ["collect", "deliver_due", "send_test"]
