"""The archive's tables, created and migrated with sqlite-utils.

Migrations are additive: a column a later version needs is added to an
existing archive on open, so an old archive keeps working.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
from talentwatch.storage import dedupe, frontier, walks
from talentwatch.storage.db import ArchiveError, connect, transaction
from talentwatch.storage.health import damage_message, is_damage
from talentwatch.storage.search import ensure_index

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
    "duplicate_of": int,  # id of the original article of its cluster (NULL: it is an original)
    "cluster_id": int,  # stable id of its story: the first article of the cluster
    "stable_key": str,  # host + the site's own id (post_18406, ARTI…): survives column moves
    "original_canonical": str,  # canonical form of original_url (原文链接)
    "norm_hash": str,  # hash of the normalised title + text: decides versions
    "text_hash": str,  # hash of the normalised text alone: exact duplicates
    "checked_at": str,  # last time the page was fetched or confirmed unchanged (304)
    "withdrawn_at": str,
    "http_status": int,  # last answer on re-check (404/410 when withdrawn)
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
    "diff": str,  # unified diff against the previous version
    "norm_hash": str,
}

# The input of alerts: one row per new / changed / removed article.
EVENTS = {
    "id": int,
    "article_id": int,
    "kind": str,  # new | changed | removed | duplicate (a new copy of a known story)
    "version": int,
    "created_at": str,
    # the story the article belongs to: alerts group by it (new fires once per cluster)
    "cluster_id": int,
    "duplicate_of": int,  # the cluster's original when the event was recorded (NULL: this one)
    "details": str,  # JSON: changed -> diff summary, removed -> http status, duplicate -> match
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
    "duplicates": int,  # new pages that joined a known story
    "removed": int,  # articles found withdrawn (404/410) on re-check
    "not_modified": int,  # conditional requests answered 304
    "requests": str,  # JSON {list, article, recheck, attachment}: requests sent
    "pid": int,  # the process running it: a `running` row whose process is gone was interrupted
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
    "status": str,  # held (waiting for a digest) | queued | sent | dead (parked: see outbox.requeue)
    "attempts": int,
    "failure": str,  # transient | permanent: what the last failed attempt was (NULL: none)
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
    "status": int,  # last answer: 200 or 304
}


def _ensure(db: sqlite_utils.Database, name: str, columns: dict, pk: str, **kw) -> None:
    table = db.table(name)
    if not table.exists():
        table.create(columns, pk=pk, **kw)
        return
    missing = {c: t for c, t in columns.items() if c not in table.columns_dict}
    for column, kind in missing.items():
        table.add_column(column, kind)


def open_archive(path: str | Path, cache_mb: int = 64) -> sqlite_utils.Database:
    """Open (creating or migrating) the archive at `path`, in WAL mode (see storage.db.connect)."""
    db = connect(path, cache_mb)
    try:
        _create_once(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        if is_damage(exc):
            raise ArchiveError(damage_message(path, exc)) from None
        raise ArchiveError(f"{path}: cannot open the archive: {exc}") from None
    return db


def _create_once(db: sqlite_utils.Database) -> None:
    """Create or migrate the schema as ONE immediate transaction: processes opening a new
    archive at the same moment wait for each other (busy_timeout) instead of racing, and
    each re-checks what exists inside its own transaction."""
    try:
        with transaction(db):
            _create(db)
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc):
            raise
        _create(db)  # a read-only archive: fine as long as its schema is complete


def _create(db: sqlite_utils.Database) -> None:
    _ensure(db, "articles", ARTICLES, "id", not_null={"url", "site"},
            defaults={"version": 1, "status": "active"})
    db.table("articles").create_index(["url"], unique=True, if_not_exists=True)
    db.table("articles").create_index(["canonical_url"], if_not_exists=True)
    db.table("articles").create_index(["site", "published"], if_not_exists=True)
    for column in ("stable_key", "original_canonical", "text_hash", "cluster_id"):
        db.table("articles").create_index([column], if_not_exists=True)
    _ensure(db, "versions", VERSIONS, "id", foreign_keys=[("article_id", "articles", "id")])
    db.table("versions").create_index(["article_id", "version"], unique=True, if_not_exists=True)
    _ensure(db, "events", EVENTS, "id", foreign_keys=[("article_id", "articles", "id")])
    db.table("events").create_index(["created_at"], if_not_exists=True)
    db.table("events").create_index(["article_id"], if_not_exists=True)
    dedupe.ensure_tables(db)
    _ensure(db, "crawl_runs", CRAWL_RUNS, "id")
    _ensure(db, "list_pages", LIST_PAGES, "url")
    # a crawl worker's task carries its site's list validators (scheduler.dispatch)
    db.table("list_pages").create_index(["site"], if_not_exists=True)
    _ensure(db, "outbox", OUTBOX, "id", defaults={"attempts": 0})
    db.table("outbox").create_index(["alert_key", "subscription", "channel"], unique=True, if_not_exists=True)
    db.table("outbox").create_index(["status", "next_attempt"], if_not_exists=True)
    db.table("outbox").create_index(["message_id"], if_not_exists=True)
    _ensure(db, "alert_cursors", ALERT_CURSORS, "subscription")
    _ensure(db, "jobs", JOBS, "id")
    frontier.ensure_table(db)
    walks.ensure_tables(db)
    # the full-text index (format and upkeep: storage.search)
    ensure_index(db)
