"""Writing articles and crawl runs into the archive.

Every write of one article (its row, its version, its event, its index entry)
is one transaction: a crash never leaves half an article.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from crawler.items import Article
from storage.search import index_article


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def article_row(article: Article) -> dict[str, Any]:
    attachments = [a.__dict__ if not isinstance(a, dict) else a for a in article.attachments]
    return {
        "url": article.url,
        "site": article.site,
        "title": article.title,
        "published": article.published,
        "source": article.source,
        "author": article.author,
        "editor": article.editor,
        "original_url": article.original_url,
        "text": article.text,
        "attachments": _json(attachments),
        "parent_url": article.parent_url,
        "flags": _json(article.flags),
        "fetched_at": article.fetched_at,
        "etag": article.etag,
        "last_modified": article.last_modified,
        "talent": None if article.talent is None else int(article.talent),
        "score": article.score,
        "topics": _json(article.topics),
        "matched_terms": _json(article.matched_terms),
        "region": _json(article.region),
        "incentives": _json(article.incentives),
        "deadline": article.deadline,
    }


def searchable_text(article: Article) -> str:
    parts = [article.text] + [a.text for a in article.attachments if a.text]
    return "\n".join(p for p in parts if p)


def save_article(db: sqlite_utils.Database, article: Article) -> tuple[int, str | None]:
    """Store one article; returns (article id, event kind or None).

    A new URL becomes a row, version 1 and a `new` event; a known URL whose
    title or text changed gets a new version and a `changed` event; a known
    URL unchanged only has its last_seen refreshed.
    """
    row = article_row(article)
    digest = content_hash(article.title, article.text)
    seen = now_iso()
    with transaction(db):
        existing = db.execute(
            "SELECT id, version, content_hash FROM articles WHERE url = ?", [article.url]
        ).fetchone()
        if existing is None:
            row.update(first_seen=seen, last_seen=seen, content_hash=digest, version=1,
                       status="active", canonical_url=article.url)
            cols = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            cur = db.execute(f"INSERT INTO articles ({cols}) VALUES ({marks})", list(row.values()))
            article_id = cur.lastrowid
            version, kind = 1, "new"
        else:
            article_id, version, old_hash = existing
            if old_hash == digest:
                db.execute("UPDATE articles SET last_seen = ?, status = 'active' WHERE id = ?",
                           [seen, article_id])
                return article_id, None
            version += 1
            kind = "changed"
            row.update(last_seen=seen, content_hash=digest, version=version, status="active")
            sets = ", ".join(f"{c} = ?" for c in row)
            db.execute(f"UPDATE articles SET {sets} WHERE id = ?", [*row.values(), article_id])
        db.execute(
            "INSERT INTO versions (article_id, version, title, text, content_hash, fetched_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [article_id, version, article.title, article.text, digest, article.fetched_at or seen],
        )
        db.execute(
            "INSERT INTO events (article_id, kind, version, created_at) VALUES (?, ?, ?, ?)",
            [article_id, kind, version, seen],
        )
        index_article(db, article_id, article.title, searchable_text(article))
    return article_id, kind


def start_run(db: sqlite_utils.Database, site: str) -> int:
    with transaction(db):
        cur = db.execute(
            "INSERT INTO crawl_runs (site, started, status, pages, new_articles, changed_articles,"
            " errors, error_messages) VALUES (?, ?, 'running', 0, 0, 0, 0, '[]')",
            [site, now_iso()],
        )
    return cur.lastrowid


def finish_run(db: sqlite_utils.Database, run_id: int, *, pages: int, new: int, changed: int,
               errors: list[str], failed: bool) -> None:
    with transaction(db):
        db.execute(
            "UPDATE crawl_runs SET finished = ?, status = ?, pages = ?, new_articles = ?,"
            " changed_articles = ?, errors = ?, error_messages = ? WHERE id = ?",
            [now_iso(), "failed" if failed else "ok", pages, new, changed, len(errors),
             _json(errors[:100]), run_id],
        )
