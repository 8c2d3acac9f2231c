"""Crawl state: runs, list pages' validators, and re-check marks on known articles.

What the crawler remembers between runs so that the next one asks less: a
list page's ETag/Last-Modified (a 304 means nothing new on it), when each
article was last checked, and what a re-check found (304: as archived;
404/410: withdrawn, kept with a `removed` event).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils
from talentwatch.storage.articles import find_article, record_event
from talentwatch.storage.cells import json_cell
from talentwatch.storage.db import now_iso, transaction


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- re-checks ---------------------------------------------------------------------

def mark_not_modified(db: sqlite_utils.Database, url: str) -> None:
    """A conditional re-check answered 304: the article is as archived."""
    seen = now_iso()
    with transaction(db):
        if found := find_article(db, url):
            db.execute("UPDATE articles SET checked_at = ?, last_seen = ?, http_status = 304 WHERE id = ?",
                       [seen, seen, found["id"]])


def mark_withdrawn(db: sqlite_utils.Database, url: str, http_status: int) -> str | None:
    """A re-check answered 404/410: keep the article, mark it withdrawn, record `removed` once."""
    seen = now_iso()
    with transaction(db):
        found = find_article(db, url)
        if found is None:
            return None
        db.execute("UPDATE articles SET checked_at = ?, http_status = ? WHERE id = ?",
                   [seen, http_status, found["id"]])
        if found["status"] == "withdrawn":
            return None
        db.execute("UPDATE articles SET status = 'withdrawn', withdrawn_at = ? WHERE id = ?",
                   [seen, found["id"]])
        record_event(db, found["id"], "removed", found["version"], seen, {"http_status": http_status})
    return "removed"


def due_for_recheck(db: sqlite_utils.Database, site: str, *, everything: bool = False,
                    max_age_days: float | None = None, every_hours: float | None = None,
                    now: datetime | None = None) -> list[dict[str, Any]]:
    """Known articles of `site` to fetch again (conditionally): all with `everything`,
    else those younger than max_age_days not checked in the last every_hours."""
    sql = ("SELECT url, etag, last_modified FROM articles WHERE site = ? AND status = 'active'"
           " AND parent_url IS NULL")
    params: list[Any] = [site]
    if not everything:
        if max_age_days is None or every_hours is None:
            return []  # no revisit policy: nothing is due
        now = now or datetime.now(UTC)
        cutoff_day = (now + timedelta(hours=8) - timedelta(days=max_age_days)).date().isoformat()
        checked_before = (now - timedelta(hours=every_hours)).isoformat(timespec="seconds")
        sql += (" AND COALESCE(published, first_seen) >= ?"
                " AND (checked_at IS NULL OR checked_at <= ?)")
        params += [cutoff_day, checked_before]
    return [dict(r) for r in db.query(sql + " ORDER BY id", params)]


# -- list pages --------------------------------------------------------------------

def list_validators(db: sqlite_utils.Database, url: str) -> tuple[str | None, str | None]:
    row = db.execute("SELECT etag, last_modified FROM list_pages WHERE url = ?", [url]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def save_list_validators(db: sqlite_utils.Database, site: str,
                         pages: dict[str, tuple[str | None, str | None, int]]) -> None:
    seen = now_iso()
    with transaction(db):
        for url, (etag, last_modified, status) in pages.items():
            db.execute(
                "INSERT INTO list_pages (url, site, etag, last_modified, fetched_at, status)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET"
                " etag = COALESCE(excluded.etag, etag),"
                " last_modified = COALESCE(excluded.last_modified, last_modified),"
                " fetched_at = excluded.fetched_at, status = excluded.status",
                [url, site, etag, last_modified, seen, status])


# -- crawl runs --------------------------------------------------------------------

def start_run(db: sqlite_utils.Database, site: str) -> int:
    with transaction(db):
        cur = db.execute(
            "INSERT INTO crawl_runs (site, started, status, pages, new_articles, changed_articles,"
            " errors, error_messages, pid) VALUES (?, ?, 'running', 0, 0, 0, 0, '[]', ?)",
            [site, now_iso(), os.getpid()],
        )
    assert cur.lastrowid is not None  # an INSERT always gives a row id
    return cur.lastrowid


def finish_run(db: sqlite_utils.Database, run_id: int, *, pages: int, new: int, changed: int,
               errors: list[str], failed: bool, duplicates: int = 0, removed: int = 0,
               not_modified: int = 0, requests: dict[str, int] | None = None) -> None:
    with transaction(db):
        db.execute(
            "UPDATE crawl_runs SET finished = ?, status = ?, pages = ?, new_articles = ?,"
            " changed_articles = ?, errors = ?, error_messages = ?, duplicates = ?, removed = ?,"
            " not_modified = ?, requests = ? WHERE id = ?",
            [now_iso(), "failed" if failed else "ok", pages, new, changed, len(errors),
             _json(errors[:100]), duplicates, removed, not_modified, _json(requests or {}), run_id],
        )


def last_run(db: sqlite_utils.Database, site: str) -> dict[str, Any] | None:
    """The latest run of `site` (its crawl_runs row, error_messages decoded), or None."""
    row = next(db.query("SELECT * FROM crawl_runs WHERE site = ? ORDER BY id DESC LIMIT 1", [site]), None)
    return None if row is None else dict(row, error_messages=json_cell(row["error_messages"], []))
