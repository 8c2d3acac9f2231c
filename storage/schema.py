"""The archive's tables, created and migrated with sqlite-utils.

Migrations are additive: a column a later version needs is added to an
existing archive on open, so an old archive keeps working.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from storage.search import ensure_index

ARTICLES = {
    "id": int,
    "url": str,
    "canonical_url": str,
    "site": str,
    "title": str,
    "published": str,
    "source": str,
    "author": str,
    "editor": str,
    "original_url": str,
    "text": str,
    "attachments": str,  # JSON list of {url, name, text, skipped}
    "parent_url": str,
    "flags": str,  # JSON list
    "first_seen": str,
    "last_seen": str,
    "fetched_at": str,
    "etag": str,
    "last_modified": str,
    "content_hash": str,
    "version": int,
    "status": str,  # active | withdrawn
    "duplicate_of": int,  # id of the original article of its cluster
    "talent": int,
    "score": float,
    "topics": str,  # JSON list
    "matched_terms": str,  # JSON object
    "region": str,  # JSON object
    "incentives": str,  # JSON list
    "deadline": str,
}

VERSIONS = {
    "id": int,
    "article_id": int,
    "version": int,
    "title": str,
    "text": str,
    "content_hash": str,
    "fetched_at": str,
    "diff": str,
}

# The input of alerts: one row per new / changed / removed article.
EVENTS = {
    "id": int,
    "article_id": int,
    "kind": str,  # new | changed | removed
    "version": int,
    "created_at": str,
}

CRAWL_RUNS = {
    "id": int,
    "site": str,
    "started": str,
    "finished": str,
    "status": str,  # running | ok | failed
    "pages": int,
    "new_articles": int,
    "changed_articles": int,
    "errors": int,
    "error_messages": str,  # JSON list
}

# Alerts waiting to go out: one row per (alert, subscription, channel); see storage.outbox.
OUTBOX = {
    "id": int,
    "alert_key": str,  # new:<cluster id> | changed:<article id>:<version> | removed:<article id>
    "event_id": int,
    "article_id": int,
    "cluster_id": int,
    "kind": str,
    "subscription": str,
    "channel": str,  # label of the channel (scheme, host, hash): never its secrets
    "message_id": str,  # stable id shared by the rows sent as one message
    "status": str,  # held (waiting for a digest) | queued | sent
    "attempts": int,
    "next_attempt": str,
    "last_error": str,
    "created_at": str,
    "sent_at": str,
}

# How far each subscription has read the events table.
ALERT_CURSORS = {
    "subscription": str,
    "last_event_id": int,
    "updated_at": str,
}

# The daemon's schedule, so a restart keeps each job's next run.
JOBS = {
    "id": str,  # site:<name> | digest:<subscription>
    "next_run": str,
    "last_run": str,
}

LIST_PAGES = {
    "url": str,
    "site": str,
    "etag": str,
    "last_modified": str,
    "fetched_at": str,
}


def _ensure(db: sqlite_utils.Database, name: str, columns: dict, pk: str, **kw) -> None:
    table = db[name]
    if not table.exists():
        table.create(columns, pk=pk, **kw)
        return
    missing = {c: t for c, t in columns.items() if c not in table.columns_dict}
    for column, kind in missing.items():
        table.add_column(column, kind)


def open_archive(path: str | Path) -> sqlite_utils.Database:
    """Open (creating or migrating) the archive at `path`, in WAL mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA busy_timeout = 10000")
    db.enable_wal()
    # WAL + NORMAL: each commit stays atomic; only an OS crash can lose the last ones
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    _ensure(db, "articles", ARTICLES, "id", not_null={"url", "site"},
            defaults={"version": 1, "status": "active"})
    db["articles"].create_index(["url"], unique=True, if_not_exists=True)
    db["articles"].create_index(["canonical_url"], if_not_exists=True)
    db["articles"].create_index(["site", "published"], if_not_exists=True)
    _ensure(db, "versions", VERSIONS, "id", foreign_keys=[("article_id", "articles", "id")])
    db["versions"].create_index(["article_id", "version"], unique=True, if_not_exists=True)
    _ensure(db, "events", EVENTS, "id", foreign_keys=[("article_id", "articles", "id")])
    db["events"].create_index(["created_at"], if_not_exists=True)
    _ensure(db, "crawl_runs", CRAWL_RUNS, "id")
    _ensure(db, "list_pages", LIST_PAGES, "url")
    _ensure(db, "outbox", OUTBOX, "id", defaults={"attempts": 0})
    db["outbox"].create_index(["alert_key", "subscription", "channel"], unique=True, if_not_exists=True)
    db["outbox"].create_index(["status", "next_attempt"], if_not_exists=True)
    db["outbox"].create_index(["message_id"], if_not_exists=True)
    _ensure(db, "alert_cursors", ALERT_CURSORS, "subscription")
    _ensure(db, "jobs", JOBS, "id")
    # the full-text index (format and upkeep: storage.search)
    ensure_index(db)
    return db
