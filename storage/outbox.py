"""The outbox: alerts waiting to go out, and how far each subscription has read.

One row per (alert, subscription, channel). An alert is keyed by what the
reader cares about: a `new` item by its repost cluster (so a cluster alerts
once), a change by (article, version), a withdrawal by article. Rows sent as
one message share a `message_id` derived from their keys, the subscription and
the channel, so a message re-sent after a crash carries the same id.

Rows move held -> queued -> sent; a failed send stays queued with a later
`next_attempt`, and so does the rest of its channel's queue. A message that
fails for a reason retrying cannot fix (it cannot be built, the receiver
refuses it) is retried alone, its channel's other messages going on, and after
PARK_AFTER attempts is parked as `dead` until `requeue` puts it back. Rows of a
subscription or channel since removed from the config are kept (orphaned), not
sent and not deleted. Nothing here sends anything: scheduler.alerts does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

HELD = "held"  # waiting for its subscription's digest
QUEUED = "queued"  # to be sent at next_attempt
SENT = "sent"
DEAD = "dead"  # failed PARK_AFTER times for a reason retrying cannot fix; see requeue

# `failure` of a row that failed: what kind of failure its last attempt was
TRANSIENT = "transient"  # the channel is down: its whole queue waits
PERMANENT = "permanent"  # this message is refused or cannot be built: it alone waits
PARK_AFTER = 3  # attempts before a permanently failing message is parked as dead


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def utcnow() -> datetime:
    return datetime.now(UTC)


def alert_key(kind: str, article_id: int, cluster_id: int, version: int | None) -> str:
    if kind == "new":
        return f"new:{cluster_id}"
    if kind == "changed":
        return f"changed:{article_id}:{version}"
    return f"{kind}:{article_id}"


def message_id_for(subscription: str, channel: str, keys: Iterable[str]) -> str:
    """A stable id for the message carrying `keys` to one channel of one subscription."""
    material = "\x00".join([subscription, channel, *sorted(keys)])
    return "tw-" + hashlib.sha256(material.encode()).hexdigest()[:32]


@dataclass
class Alert:
    key: str
    event_id: int
    article_id: int
    cluster_id: int
    kind: str


def already_alerted(db: sqlite_utils.Database, subscription: str, channel: str,
                    keys: list[str]) -> set[str]:
    if not keys:
        return set()
    marks = ", ".join("?" for _ in keys)
    rows = db.execute(
        f"SELECT alert_key FROM outbox WHERE subscription = ? AND channel = ? AND alert_key IN ({marks})",
        [subscription, channel, *keys]).fetchall()
    return {r[0] for r in rows}


def add_alerts(db: sqlite_utils.Database, subscription: str, channel: str, alerts: list[Alert],
               held: bool, now: datetime) -> int:
    """Queue `alerts` for one channel (inside the caller's transaction); returns rows added.

    Alerts the channel already had (an earlier repost of the same cluster) are
    skipped; the rest form one message, or wait for the digest when `held`.
    """
    seen = already_alerted(db, subscription, channel, [a.key for a in alerts])
    fresh: dict[str, Alert] = {}
    for alert in alerts:
        if alert.key not in seen and alert.key not in fresh:
            fresh[alert.key] = alert
    if not fresh:
        return 0
    message_id = None if held else message_id_for(subscription, channel, fresh)
    stamp = iso(now)
    send_at = None if held else not_before(db, subscription, channel, now)
    db.conn.executemany(
        "INSERT INTO outbox (alert_key, event_id, article_id, cluster_id, kind, subscription, channel,"
        " message_id, status, attempts, next_attempt, created_at) VALUES (?,?,?,?,?,?,?,?,?,0,?,?)",
        [(a.key, a.event_id, a.article_id, a.cluster_id, a.kind, subscription, channel, message_id,
          HELD if held else QUEUED, send_at, stamp) for a in fresh.values()])
    return len(fresh)


def not_before(db: sqlite_utils.Database, subscription: str, channel: str, now: datetime) -> str:
    """When a new message of a channel may go: now, or when its failing queue is retried,
    so a channel that is down gets no extra attempts and keeps its messages in order."""
    # only a channel that is down defers its queue; a refused message waits alone
    row = db.execute("SELECT max(next_attempt) FROM outbox WHERE subscription = ? AND channel = ?"
                     " AND status = ? AND attempts > 0 AND coalesce(failure, ?) = ?",
                     [subscription, channel, QUEUED, TRANSIENT, TRANSIENT]).fetchone()
    return max(iso(now), row[0] or "")


# -- reading position ---------------------------------------------------------

def cursors(db: sqlite_utils.Database) -> dict[str, int]:
    return {r[0]: r[1] for r in db.execute("SELECT subscription, last_event_id FROM alert_cursors")}


def set_cursor(db: sqlite_utils.Database, subscription: str, event_id: int, now: datetime) -> None:
    db.execute(
        "INSERT INTO alert_cursors (subscription, last_event_id, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(subscription) DO UPDATE SET last_event_id = excluded.last_event_id,"
        " updated_at = excluded.updated_at", [subscription, event_id, iso(now)])


# -- digests ----------------------------------------------------------------------

def release_digest(db: sqlite_utils.Database, subscription: str, now: datetime) -> list[str]:
    """Turn a subscription's held rows into one queued message per channel."""
    rows = db.execute("SELECT id, channel, alert_key FROM outbox WHERE subscription = ? AND status = ?",
                      [subscription, HELD]).fetchall()
    by_channel: dict[str, list[tuple[int, str]]] = {}
    for row_id, channel, key in rows:
        by_channel.setdefault(channel, []).append((row_id, key))
    ids = []
    for channel, entries in by_channel.items():
        message_id = message_id_for(subscription, channel, [f"digest:{k}" for _, k in entries])
        db.conn.executemany(
            "UPDATE outbox SET status = ?, message_id = ?, next_attempt = ? WHERE id = ?",
            [(QUEUED, message_id, not_before(db, subscription, channel, now), row_id)
             for row_id, _ in entries])
        ids.append(message_id)
    return ids


def held_rows(db: sqlite_utils.Database, subscription: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM outbox WHERE subscription = ? AND status = ? ORDER BY id",
                         [subscription, HELD]))


# -- sending ----------------------------------------------------------------------

@dataclass
class Pending:
    message_id: str
    subscription: str
    channel: str
    attempts: int
    rows: list[dict[str, Any]]


Pair = tuple[str, str]  # (subscription, channel label)


def _pairs_clause(pairs: Iterable[Pair]) -> tuple[str, list[str]]:
    """SQL `(subscription, channel) IN (VALUES …)` for `pairs`, and its parameters."""
    pairs = sorted(set(pairs))
    if not pairs:
        return "0", []
    values = ", ".join("(?, ?)" for _ in pairs)
    return f"(subscription, channel) IN (VALUES {values})", [v for pair in pairs for v in pair]


def due(db: sqlite_utils.Database, now: datetime, pairs: Iterable[Pair], limit: int = 100) -> list[Pending]:
    """Queued messages whose next attempt has come, for the (subscription, channel) `pairs`
    still configured.

    Taken round-robin: every pair's oldest message before any pair's second, so one
    channel's long queue never crowds the others out of a round. Rows of pairs no
    longer in the config stay where they are (see `orphaned`).
    """
    where, params = _pairs_clause(pairs)
    heads = db.execute(
        "SELECT message_id, subscription, channel, attempts FROM ("
        " SELECT message_id, subscription, channel, max(attempts) AS attempts, min(id) AS first,"
        "  row_number() OVER (PARTITION BY subscription, channel ORDER BY min(id)) AS turn"
        f" FROM outbox WHERE status = ? AND next_attempt <= ? AND {where} GROUP BY message_id)"
        " ORDER BY turn, first LIMIT ?",
        [QUEUED, iso(now), *params, limit]).fetchall()
    out = []
    for message_id, subscription, channel, attempts in heads:
        rows = list(db.query("SELECT * FROM outbox WHERE message_id = ? AND status = ? ORDER BY id",
                             [message_id, QUEUED]))
        out.append(Pending(message_id, subscription, channel, attempts or 0, rows))
    return out


def mark_sent(db: sqlite_utils.Database, message_id: str, now: datetime) -> None:
    with db.conn:
        db.execute("UPDATE outbox SET status = ?, sent_at = ?, attempts = attempts + 1, last_error = NULL,"
                   " failure = NULL WHERE message_id = ? AND status = ?",
                   [SENT, iso(now), message_id, QUEUED])


def mark_failed(db: sqlite_utils.Database, pending: Pending, error: str, retry_at: datetime) -> None:
    """Record a failed send; every queued row of its (subscription, channel) waits until `retry_at`.

    Deferring the whole channel, not just this message, keeps its other rows from
    coming due (and filling `due`) while the channel is known to be down.
    """
    with db.conn:
        db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, failure = ?"
                   " WHERE message_id = ? AND status = ?",
                   [error[:500], TRANSIENT, pending.message_id, QUEUED])
        db.execute("UPDATE outbox SET next_attempt = ? WHERE subscription = ? AND channel = ?"
                   " AND status = ? AND next_attempt < ?",
                   [iso(retry_at), pending.subscription, pending.channel, QUEUED, iso(retry_at)])


def mark_refused(db: sqlite_utils.Database, pending: Pending, error: str, retry_at: datetime,
                 park_after: int = PARK_AFTER) -> bool:
    """Record a send that retrying cannot fix: only this message waits until `retry_at`
    (the channel's other messages go on), or, at its `park_after`-th attempt, it is
    parked as dead. Returns whether it was parked."""
    parked = pending.attempts + 1 >= park_after
    with db.conn:
        db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, failure = ?, status = ?,"
                   " next_attempt = ? WHERE message_id = ? AND status = ?",
                   [error[:500], PERMANENT, DEAD if parked else QUEUED, iso(retry_at),
                    pending.message_id, QUEUED])
    return parked


def dead_messages(db: sqlite_utils.Database, limit: int | None = None) -> list[dict[str, Any]]:
    """Parked messages, oldest first: `id` (the number `requeue` takes: its first row's id),
    message_id, subscription, channel, rows, attempts, error, created_at."""
    return list(db.query(
        "SELECT min(id) AS id, message_id, subscription, channel, count(*) AS rows,"
        " max(attempts) AS attempts, max(last_error) AS error, min(created_at) AS created_at"
        " FROM outbox WHERE status = ? GROUP BY message_id ORDER BY min(id)"
        + (" LIMIT ?" if limit else ""), [DEAD, *([limit] if limit else [])]))


def requeue(db: sqlite_utils.Database, ids: Iterable[int | str] = (), *, every: bool = False,
            now: datetime | None = None) -> list[dict[str, Any]]:
    """Put dead messages back in the queue with a fresh count of attempts: those whose
    number (see dead_messages) or message id is in `ids`, or `every` one. Returns them
    (as dead_messages lists them); an id that names no dead message is left out."""
    wanted = {str(i) for i in ids}
    chosen = [m for m in dead_messages(db) if every or str(m["id"]) in wanted or m["message_id"] in wanted]
    now = now or utcnow()
    with db.conn:  # due now, or when its channel, if down, is retried (keeping its order)
        db.conn.executemany(
            "UPDATE outbox SET status = ?, attempts = 0, failure = NULL, last_error = NULL, next_attempt = ?"
            " WHERE message_id = ? AND status = ?",
            [(QUEUED, not_before(db, m["subscription"], m["channel"], now), m["message_id"], DEAD)
             for m in chosen])
    return chosen


def backoff(attempts: int, initial: float, maximum: float) -> timedelta:
    """Delay before attempt number `attempts + 1`: initial, 2×, 4× … capped."""
    return timedelta(seconds=min(maximum, initial * 2 ** max(attempts - 1, 0)))


def counts(db: sqlite_utils.Database, pairs: Iterable[Pair] | None = None) -> dict[str, int]:
    """held / queued / failing (queued after a failed attempt) / sent / dead row counts; with
    the configured `pairs`, also orphaned: held or queued rows of a channel no longer configured."""
    row = db.execute(
        "SELECT sum(status = 'held'), sum(status = 'queued'),"
        " sum(status = 'queued' AND attempts > 0), sum(status = 'sent'), sum(status = 'dead') FROM outbox"
    ).fetchone()
    out = dict(zip(("held", "queued", "failing", "sent", "dead"), (v or 0 for v in row), strict=True))
    if pairs is not None:
        where, params = _pairs_clause(pairs)
        out["orphaned"] = db.execute(
            f"SELECT count(*) FROM outbox WHERE status IN (?, ?) AND NOT {where}",
            [HELD, QUEUED, *params]).fetchone()[0]
    return out


def failing_channels(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Per (subscription, channel) with queued rows that failed before: how many rows, most
    attempts, the last error and the next attempt."""
    return list(db.query(
        "SELECT subscription, channel, count(*) AS n, max(attempts) AS attempts, max(last_error) AS error,"
        " min(next_attempt) AS next_attempt FROM outbox WHERE status = 'queued' AND attempts > 0"
        " GROUP BY subscription, channel"))
