"""Writing articles and crawl runs into the archive.

Every write of one article (its row, its version, its cluster, its near-
duplicate index entry, its event, its search entry) is one transaction: a
crash never leaves half an article, and a failed new version leaves the
previous one as it was.

One article, one record: a page is found again under another spelling of its
URL (canonical URL) or another column (the site's stable id). Copies on other
sites are separate records joined into a cluster whose `duplicate_of` names
the original (see `choose_original`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import sqlite_utils
from talentwatch.core.records import Article
from talentwatch.storage import dedupe
from talentwatch.storage.db import now_iso, transaction
from talentwatch.storage.identity import canonical_url, is_official, original_link, stable_key
from talentwatch.storage.normalize import fingerprint, normalize, text_hash
from talentwatch.storage.search import index_article
from talentwatch.storage.versions import diff_summary, unified_diff


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


# -- identity -------------------------------------------------------------------

@dataclass
class Prepared:
    """What storing needs to know about an article, computed before taking the lock."""

    canonical: str
    stable: str | None
    original_url: str | None
    original_canonical: str | None
    normalized: str
    norm_hash: str
    text_hash: str | None  # None: too short to take part in duplicate matching

    @cached_property
    def signature(self) -> np.ndarray | None:
        # only new and changed texts need one: an unchanged re-fetch skips the MinHash
        return dedupe.signature(self.normalized) if self.text_hash else None


def _part_canonical(url: str) -> str:
    # a bulletin item is told apart from its issue (and its siblings) by its fragment
    fragment = urlsplit(url).fragment
    return canonical_url(url) + (f"#{fragment}" if fragment else "")


def prepare(article: Article) -> Prepared:
    part = bool(article.parent_url)
    canonical = _part_canonical(article.url) if part else canonical_url(article.url)
    original = article.original_url or original_link(article.text)
    original_canonical = canonical_url(original) if original else None
    if original_canonical == canonical:
        original_canonical = None  # a page naming itself is no repost
    normalized = normalize(article.text)
    # a bulletin issue holds its items' texts: its items are the stories, not the issue
    comparable = len(normalized) >= dedupe.MIN_CHARS and not article.parts
    return Prepared(
        canonical=canonical, stable=None if part else stable_key(article.url), original_url=original,
        original_canonical=original_canonical, normalized=normalized,
        norm_hash=fingerprint(article.title, article.text),
        text_hash=text_hash(normalized) if comparable else None,
    )


_ROW = ("SELECT id, url, version, norm_hash, status, title, text, cluster_id, duplicate_of"
        " FROM articles WHERE {} = ? LIMIT 1")


def find_article(db: sqlite_utils.Database, url: str, exact: bool = False) -> dict[str, Any] | None:
    """The archived record of `url` under any spelling or column move, or None.

    `exact`: the URL as given only (bulletin items, which share their issue's page)."""
    keys = [("url", url)]
    if not exact:
        keys += [("canonical_url", canonical_url(url)), ("stable_key", stable_key(url))]
    for column, key in keys:
        if key is None:
            continue
        cur = db.execute(_ROW.format(column), [key])
        row = cur.fetchone()
        if row is not None:
            return dict(zip([d[0] for d in cur.description], row, strict=True))
    return None


def find_by_id(db: sqlite_utils.Database, article_id: int) -> dict[str, Any] | None:
    cur = db.execute(_ROW.format("id"), [article_id])
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None


# -- clusters -------------------------------------------------------------------

def choose_original(members: list[dict[str, Any]]) -> dict[str, Any]:
    """The original of a cluster.

    The page a member's 原文链接 names; else an official publisher's page
    (.gov.cn, 12371.cn) before others; then the earliest published; then the
    first archived. A page too short to compare (empty or tiny text) is never
    chosen while the cluster has a real text.
    """
    named = {m["original_canonical"] for m in members if m["original_canonical"]}
    eligible = [m for m in members if m["text_hash"]] or members
    return min(eligible, key=lambda m: (
        m["canonical_url"] not in named,
        not is_official(m["url"]),
        (m["published"] or "9999")[:10],
        m["first_seen"] or "",
        m["id"],
    ))


@lru_cache(maxsize=2048)
def _normalized(text: str) -> str:
    # texts that share stock phrases keep meeting the same candidates: normalise each once
    return normalize(text)


def _matches(db: sqlite_utils.Database, article_id: int, prep: Prepared) -> dict[int, dict[str, Any]]:
    """Archived articles this one is a copy of (or that are copies of it), with how."""
    found: dict[int, dict[str, Any]] = {}
    if prep.original_canonical:
        row = db.execute(
            "SELECT id FROM articles WHERE (canonical_url = ? OR (stable_key IS NOT NULL AND"
            " stable_key = ?)) AND id != ? AND text_hash IS NOT NULL LIMIT 1",
            [prep.original_canonical, stable_key(prep.original_url or ""), article_id]).fetchone()
        if row:
            found[row[0]] = {"how": "original_link"}
    for (other,) in db.execute(
            "SELECT id FROM articles WHERE original_canonical = ? AND id != ?",
            [prep.canonical, article_id]).fetchall():
        found.setdefault(other, {"how": "named_by_repost"})
    if prep.text_hash is None:
        return found
    for (other,) in db.execute("SELECT id FROM articles WHERE text_hash = ? AND id != ? LIMIT 20",
                               [prep.text_hash, article_id]).fetchall():
        found.setdefault(other, {"how": "exact", "similarity": 1.0})
    own: set[str] | None = None
    for other, estimate in dedupe.candidates(db, prep.signature, exclude=article_id):
        if other in found:
            continue
        (text,) = db.execute("SELECT text FROM articles WHERE id = ?", [other]).fetchone()
        own = own if own is not None else dedupe.shingles(prep.normalized)
        score = dedupe.verify(prep.normalized, _normalized(text), own)
        if score is not None:
            found[other] = {"how": "near", "similarity": round(score, 3),
                            "estimated_jaccard": round(estimate, 3)}
    return found


_MEMBER_COLS = "id, url, canonical_url, original_canonical, published, first_seen, text_hash, cluster_id"


def _join_cluster(db: sqlite_utils.Database, article_id: int,
                  matches: dict[int, dict[str, Any]]) -> tuple[int, int]:
    """Merge the article with its matches' clusters; returns (cluster id, original id)."""
    marks = ",".join("?" * len(matches))
    clusters = {r[0] for r in db.execute(
        f"SELECT DISTINCT COALESCE(cluster_id, id) FROM articles WHERE id IN ({marks})",
        list(matches)).fetchall()}
    cluster_id = min(clusters)  # the oldest story keeps its id
    cmarks = ",".join("?" * len(clusters))
    cur = db.execute(
        f"SELECT {_MEMBER_COLS} FROM articles WHERE cluster_id IN ({cmarks}) OR id IN ({marks})"
        " OR id = ?", [*clusters, *matches, article_id])
    names = [d[0] for d in cur.description]
    members = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    original = choose_original(members)["id"]
    ids = [m["id"] for m in members]
    db.execute(
        f"UPDATE articles SET cluster_id = ?, duplicate_of = CASE WHEN id = ? THEN NULL ELSE ? END"
        f" WHERE id IN ({','.join('?' * len(ids))})", [cluster_id, original, original, *ids])
    return cluster_id, original


def _event(db: sqlite_utils.Database, article_id: int, kind: str, version: int, created: str,
           details: dict[str, Any] | None = None) -> None:
    cluster_id, duplicate_of = db.execute(
        "SELECT COALESCE(cluster_id, id), duplicate_of FROM articles WHERE id = ?", [article_id]).fetchone()
    db.execute(
        "INSERT INTO events (article_id, kind, version, created_at, cluster_id, duplicate_of, details)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [article_id, kind, version, created, cluster_id, duplicate_of,
         _json(details) if details else None])


# -- saving -----------------------------------------------------------------------

def save_article(db: sqlite_utils.Database, article: Article,
                 also: Callable[[sqlite_utils.Database], None] | None = None) -> tuple[int, str | None]:
    """Store one article; returns (article id, event kind or None).

    New page: a row, version 1, and a `new` event — or a `duplicate` event
    when it joins a story already archived (a repost, a mirror, or the
    original of copies seen first). Known page whose normalised title or text
    changed: a new version with its diff and a `changed` event. Known page
    unchanged, or changed only cosmetically (view counter, render time): no
    version, no event; a withdrawn page seen again is restored (`changed`).
    `also` runs inside the same transaction (the crawl settles its frontier row).
    """
    prep = prepare(article)  # normalising and hashing happen before taking the write lock
    row = article_row(article)
    seen = now_iso()
    identity = {"canonical_url": prep.canonical, "stable_key": prep.stable,
                "original_canonical": prep.original_canonical, "norm_hash": prep.norm_hash,
                "text_hash": prep.text_hash, "content_hash": content_hash(article.title, article.text),
                "checked_at": seen, "http_status": 200}
    known = find_article(db, article.url, exact=bool(article.parent_url))
    if known is None or known["norm_hash"] != prep.norm_hash:
        _ = prep.signature  # new or changed: compute the MinHash before taking the lock
    with transaction(db):
        if also is not None:
            also(db)
        existing = find_article(db, article.url, exact=bool(article.parent_url))
        if existing is None:
            article_id, kind = _insert(db, article, prep, row | identity, seen)
        else:
            article_id = existing["id"]
            old_hash = existing["norm_hash"] or fingerprint(existing["title"], existing["text"])
            if old_hash == prep.norm_hash:
                return article_id, _seen_again(db, existing, article, seen)
            kind = "changed"
            _new_version(db, existing, article, prep, row | identity, seen)
        index_article(db, article_id, article.title, searchable_text(article))
    return article_id, kind


def _insert(db: sqlite_utils.Database, article: Article, prep: Prepared, row: dict[str, Any],
            seen: str) -> tuple[int, str]:
    row.update(first_seen=seen, last_seen=seen, version=1, status="active")
    cols = ", ".join(row)
    cur = db.execute(f"INSERT INTO articles ({cols}) VALUES ({', '.join('?' * len(row))})",
                     list(row.values()))
    article_id = cur.lastrowid
    db.execute("UPDATE articles SET cluster_id = id WHERE id = ?", [article_id])
    db.execute(
        "INSERT INTO versions (article_id, version, title, text, content_hash, norm_hash, fetched_at)"
        " VALUES (?, 1, ?, ?, ?, ?, ?)",
        [article_id, article.title, article.text, row["content_hash"], prep.norm_hash,
         article.fetched_at or seen])
    matches = _matches(db, article_id, prep)
    dedupe.add(db, article_id, prep.signature)
    if not matches:
        _event(db, article_id, "new", 1, seen)
        return article_id, "new"
    cluster_id, original = _join_cluster(db, article_id, matches)
    details: dict[str, Any] = {"original_id": original, "matched": {str(k): v for k, v in matches.items()}}
    if original == article_id:
        details["became_original"] = True
    _event(db, article_id, "duplicate", 1, seen, details)
    return article_id, "duplicate"


def _seen_again(db: sqlite_utils.Database, existing: dict[str, Any], article: Article,
                seen: str) -> str | None:
    db.execute(
        "UPDATE articles SET last_seen = ?, checked_at = ?, http_status = 200, status = 'active',"
        " withdrawn_at = NULL, etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified)"
        " WHERE id = ?", [seen, seen, article.etag, article.last_modified, existing["id"]])
    if existing["status"] != "withdrawn":
        return None
    _event(db, existing["id"], "changed", existing["version"], seen, {"restored": True})
    return "changed"


def _new_version(db: sqlite_utils.Database, existing: dict[str, Any], article: Article, prep: Prepared,
                 row: dict[str, Any], seen: str) -> None:
    article_id = existing["id"]
    version = existing["version"] + 1
    # keep the cluster fields: an edit does not move a story to another cluster
    row.update(last_seen=seen, version=version, status="active", withdrawn_at=None)
    row.pop("url")
    sets = ", ".join(f"{c} = ?" for c in row)
    db.execute(f"UPDATE articles SET {sets} WHERE id = ?", [*row.values(), article_id])
    diff = unified_diff(existing["title"], existing["text"], article.title, article.text,
                        f"v{version - 1}", f"v{version}")
    db.execute(
        "INSERT INTO versions (article_id, version, title, text, content_hash, norm_hash, fetched_at,"
        " diff) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [article_id, version, article.title, article.text, row["content_hash"], prep.norm_hash,
         article.fetched_at or seen, diff])
    dedupe.add(db, article_id, prep.signature)
    summary = diff_summary(existing["title"], existing["text"], article.title, article.text)
    _event(db, article_id, "changed", version, seen, summary)


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
        _event(db, found["id"], "removed", found["version"], seen, {"http_status": http_status})
    return "removed"


def due_for_recheck(db: sqlite_utils.Database, site: str, *, everything: bool = False,
                    max_age_days: float | None = None, every_hours: float | None = None,
                    now: datetime | None = None) -> list[dict[str, Any]]:
    """Known articles of `site` to fetch again (conditionally): all with `everything`,
    else those younger than max_age_days not checked in the last every_hours."""
    if not everything and (max_age_days is None or every_hours is None):
        return []
    sql = ("SELECT url, etag, last_modified FROM articles WHERE site = ? AND status = 'active'"
           " AND parent_url IS NULL")
    params: list[Any] = [site]
    if not everything:
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
