"""Reading new events into the outbox.

A site's first crawl is a baseline (see baseline.py): its old items give one
summary alert, not one each.

The rows a subscription's events produce and the subscription's new reading
position are written in one transaction: an event is either still unread or
already in the outbox, never lost in between (urlwatch's failure mode).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlite_utils
from talentwatch.core.config import Config, Subscription
from talentwatch.scheduler.alerts.baseline import first_runs, is_baseline
from talentwatch.scheduler.alerts.channels import Channel
from talentwatch.scheduler.alerts.filters import matches
from talentwatch.storage.db import transaction
from talentwatch.storage.outbox import Alert, add_alerts, alert_key, cursors, iso, set_cursor, utcnow

log = logging.getLogger(__name__)

EVENT_ROWS = """
SELECT e.id AS event_id, e.kind, e.version, e.created_at, a.id AS article_id,
       coalesce(a.duplicate_of, a.id) AS cluster_id, a.site, a.published, a.title, a.text, a.talent, a.score,
       a.topics, a.region, a.first_seen
FROM events e JOIN articles a ON a.id = e.article_id
WHERE e.id > ? AND e.id <= ? ORDER BY e.id
"""


def _start_position(db: sqlite_utils.Database, backlog: float, now: datetime) -> int:
    """Where a subscription seen for the first time starts: only recent events, not all history."""
    row = db.execute("SELECT max(id) FROM events WHERE created_at < ?",
                     [iso(now - timedelta(seconds=backlog))]).fetchone()
    return row[0] or 0


def _alerts(sub: Subscription, events: list[dict], after: int) -> list[Alert]:
    """The alerts a subscription takes from `events` newer than its position `after`.

    A new item its site's first crawl archived as baseline gives no alert of its own;
    the site gets one `baseline` alert (its count is read when the message is rendered)."""
    articles = sub.filter.articles()
    out: list[Alert] = []
    for e in events:
        if e["event_id"] <= after:
            continue
        if e.get("baseline"):
            if not sub.filter.sites or e["site"] in sub.filter.sites:
                out.append(Alert(f"baseline:{e['site']}", e["event_id"], e["article_id"], e["cluster_id"],
                                 "baseline"))
            continue
        if matches(sub.filter, e, articles):
            out.append(Alert(alert_key(e["kind"], e["article_id"], e["cluster_id"], e["version"]),
                             e["event_id"], e["article_id"], e["cluster_id"], e["kind"]))
    return out


def _events(db: sqlite_utils.Database, after: int, top: int, window: float | None = None) -> list[dict]:
    """Events after `after` up to `top`; new items of a first crawl marked `baseline`."""
    events = [dict(r) for r in db.query(EVENT_ROWS, [after, top])] if top > after else []
    runs = first_runs(db) if events and window is not None else {}
    for e in events:
        e["baseline"] = e["kind"] == "new" and is_baseline(runs.get(e["site"]), e["first_seen"],
                                                           e["published"], window)
    return events


def unread(db: sqlite_utils.Database, config: Config, sub: Subscription,
           now: datetime | None = None) -> list[Alert]:
    """What `collect` would take for `sub` now, without taking it (nothing is written)."""
    now = now or utcnow()
    known = cursors(db)
    after = known[sub.name] if sub.name in known else _start_position(db, config.daemon.backlog, now)
    top = db.execute("SELECT max(id) FROM events").fetchone()[0] or 0
    return _alerts(sub, _events(db, after, top, config.daemon.baseline_window), after)


def collect(db: sqlite_utils.Database, config: Config, now: datetime | None = None) -> int:
    """Match unread events against every subscription; returns outbox rows added."""
    now = now or utcnow()
    subs = config.subscriptions
    if not subs:
        return 0
    top = db.execute("SELECT max(id) FROM events").fetchone()[0] or 0
    known = cursors(db)
    if all(known.get(s.name) == top for s in subs):
        return 0  # the idle case: nothing new, no write
    added = 0
    with transaction(db):
        known = cursors(db)
        start = {s.name: known[s.name] if s.name in known else _start_position(db, config.daemon.backlog, now)
                 for s in subs}
        events = _events(db, min(start.values()), top, config.daemon.baseline_window)
        for sub in subs:
            alerts = _alerts(sub, events, start[sub.name])
            for template in sub.channels:
                added += add_alerts(db, sub.name, Channel(template).label, alerts,
                                    held=sub.mode == "digest", now=now)
            set_cursor(db, sub.name, top, now)
    if added:
        log.info("%d alert(s) queued", added)
    return added
