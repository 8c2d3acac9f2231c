"""Sending what the outbox holds.

Each message is sent after the transaction that queued it has committed, and
its outcome is recorded right after the send: a crash in between can only
cause a re-send, which carries the same message id. A failed message is
retried with exponential backoff, and the rest of its channel's queue waits
with it; a round takes every channel's oldest message first, so a channel with
a long queue (a day-long SMTP outage) never holds back the others. A message
that retrying cannot fix (it cannot be rendered or built, or the receiver
refuses it: PermanentError) is retried alone with the same backoff and parked
as dead at its PARK_AFTER-th attempt; the channel's next message goes out in
the same round. Rows of a subscription or channel no longer in the config are
left alone.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlite_utils
from talentwatch.core.config import Config, Subscription
from talentwatch.scheduler.alerts.channels import Channel, ChannelError, DeliveryError, send
from talentwatch.scheduler.alerts.errors import PermanentError
from talentwatch.scheduler.alerts.render import LOCAL, Item, Message, compose, render
from talentwatch.storage.db import transaction
from talentwatch.storage.outbox import (
    Pair,
    Pending,
    backoff,
    due,
    mark_failed,
    mark_refused,
    mark_sent,
    release_digest,
    utcnow,
)

log = logging.getLogger(__name__)


@dataclass
class Report:
    sent: int = 0
    failed: int = 0  # failed sends, those parked included
    dead: int = 0  # messages parked as dead this round
    errors: list[str] = field(default_factory=list)


def _channel(sub: Subscription, label: str) -> Channel | None:
    for template in sub.channels:
        channel = Channel(template)
        if channel.label == label:
            return channel
    return None


def configured_pairs(config: Config) -> set[Pair]:
    """(subscription, channel label) of every channel in the config."""
    return {(sub.name, Channel(template).label) for sub in config.subscriptions for template in sub.channels}


def release(db: sqlite_utils.Database, subscription: str, now: datetime | None = None) -> list[str]:
    """Queue a digest subscription's held items as one message per channel."""
    with transaction(db):
        return release_digest(db, subscription, now or utcnow())


def deliver_due(db: sqlite_utils.Database, config: Config, now: datetime | None = None,
                stop: Callable[[], bool] | None = None,
                on_sent: Callable[[Message], None] | None = None) -> Report:
    """Send every queued message whose time has come; returns what happened."""
    now = now or utcnow()
    report = Report()
    subs = {s.name: s for s in config.subscriptions}
    broken: set[tuple[str, str]] = set()  # (subscription, channel) that failed this round
    for pending in due(db, now, configured_pairs(config)):
        if stop is not None and stop():
            break
        key = (pending.subscription, pending.channel)
        sub = subs.get(pending.subscription)
        channel = _channel(sub, pending.channel) if sub else None
        if sub is None or channel is None or key in broken:
            continue  # already failed this round (its rows were deferred with it)
        retry_at = now + backoff(pending.attempts + 1, config.daemon.retry_initial, config.daemon.retry_max)
        try:
            message = compose(db, pending.message_id, sub, pending.rows, now,
                              baseline_window=config.daemon.baseline_window, web_url=config.daemon.web_url)
        except Exception as exc:  # a template or data error: this message, every time
            _refused(db, pending, report, f"{sub.name} → {channel.label}",
                     f"message cannot be rendered: {type(exc).__name__}: {exc}", retry_at)
            continue
        try:
            send(channel, message)
        except PermanentError as exc:  # this message only: the channel's next one goes on
            _refused(db, pending, report, f"{sub.name} → {channel.label}", str(exc), retry_at)
            continue
        except (DeliveryError, ChannelError) as exc:
            mark_failed(db, pending, str(exc), retry_at)
            broken.add(key)
            report.failed += 1
            report.errors.append(f"{sub.name} → {channel.label}: {exc}")
            log.warning("%s → %s: %s (retry at %s China time)", sub.name, channel.label, exc,
                        retry_at.astimezone(LOCAL).isoformat(timespec="seconds"))
            continue
        mark_sent(db, pending.message_id, utcnow())
        report.sent += 1
        log.info("%s → %s: sent %s (%d item(s))", sub.name, channel.label, message.id,
                 len(message.items))
        if on_sent is not None:
            on_sent(message)
    return report


def _refused(db: sqlite_utils.Database, pending: Pending, report: Report, where: str, error: str,
             retry_at: datetime) -> None:
    """Record a failure retrying cannot fix: the message waits alone, or is parked as dead."""
    parked = mark_refused(db, pending, error, retry_at)
    report.failed += 1
    report.dead += parked
    report.errors.append(f"{where}: {error}" + (" (parked as dead)" if parked else ""))
    if parked:
        log.error("%s: message %s parked as dead after %d attempts: %s (requeue: talentwatch outbox retry)",
                  where, pending.message_id, pending.attempts + 1, error)
    else:
        log.warning("%s: message %s refused: %s (retry at %s; the channel's other messages go on)",
                    where, pending.message_id, error, retry_at.isoformat(timespec="seconds"))


def test_message(sub: Subscription, now: datetime) -> Message:
    sample = Item(kind="new", article_id=0, cluster_id=0, title="talentwatch 测试消息：渠道连接正常",
                  url="https://example.org/talentwatch/test", site="talentwatch", published=None,
                  source=None, original_url=None, topics=[], score=None, region=None, deadline=None,
                  version=None)
    digest = hashlib.sha256(f"{sub.name}\x00{now.isoformat()}".encode()).hexdigest()[:24]
    return render(f"tw-test-{digest}", sub.name, "test", [sample], now)


def send_test(config: Config, name: str) -> list[tuple[str, str | None]]:
    """Send a test message through every channel of a subscription: [(label, error or None)]."""
    sub = config.subscription(name)
    message = test_message(sub, utcnow())
    results: list[tuple[str, str | None]] = []
    for template in sub.channels:
        channel = Channel(template)
        try:
            send(channel, message)
            results.append((channel.label, None))
            log.info("%s → %s: test message sent", sub.name, channel.label)
        except (DeliveryError, ChannelError) as exc:
            results.append((channel.label, str(exc)))
            log.warning("%s → %s: test message failed: %s", sub.name, channel.label, exc)
    return results
