"""One article in the archive: its row, versions and events.

Every write of one article (its row, its version, its cluster, its near-
duplicate index entry, its event, its search entry) is one transaction: a
crash never leaves half an article, and a failed new version leaves the
previous one as it was.

One article, one record: a page is found again under another spelling of its
URL (canonical URL) or another column (the site's stable id). Copies on other
sites are separate records joined into a cluster (storage.clusters).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
from talentwatch.core.records import Article, Attachment
from talentwatch.storage import dedupe
from talentwatch.storage.cells import json_cell
from talentwatch.storage.clusters import find_matches, join_cluster, remember_shingles
from talentwatch.storage.db import now_iso, transaction
from talentwatch.storage.identity import canonical_url, original_link, stable_key
from talentwatch.storage.normalize import fingerprint, fingerprint_of, normalize, text_hash
from talentwatch.storage.search import index_article, index_tokens
from talentwatch.storage.versions import diff_summary, unified_diff

if TYPE_CHECKING:  # a crawl's workers import this module but store nothing: no sqlite-utils
    import sqlite_utils


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


def article_from_row(row: dict[str, Any]) -> Article:
    """The Article a row of `articles` holds (the inverse of article_row); columns the row
    lacks keep the record's defaults."""
    attachments = [Attachment(**{k: v for k, v in item.items() if k in Attachment.__dataclass_fields__})
                   for item in json_cell(row.get("attachments"), []) if isinstance(item, dict)]
    talent = row.get("talent")
    return Article(
        url=row["url"], site=row["site"], title=row.get("title") or "",
        published=row.get("published"), source=row.get("source"), author=row.get("author"),
        editor=row.get("editor"), original_url=row.get("original_url"), text=row.get("text") or "",
        attachments=attachments, parent_url=row.get("parent_url"),
        flags=json_cell(row.get("flags"), []), fetched_at=row.get("fetched_at"),
        etag=row.get("etag"), last_modified=row.get("last_modified"),
        talent=None if talent is None else bool(talent), score=row.get("score"),
        topics=json_cell(row.get("topics"), []), matched_terms=json_cell(row.get("matched_terms"), {}),
        region=json_cell(row.get("region"), {}), incentives=json_cell(row.get("incentives"), []),
        deadline=row.get("deadline"),
    )


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
    # the search index's tokens of the title and body, when computed beforehand (a
    # crawl's workers do; storing computes them otherwise)
    search_tokens: tuple[str, str] | None = None

    @cached_property
    def shingles(self) -> np.ndarray | None:
        """The text's shingle codes (dedupe.shingle_codes), when it takes part in matching."""
        return dedupe.shingle_codes(self.normalized) if self.text_hash else None

    @cached_property
    def signature(self) -> np.ndarray | None:
        # only new and changed texts need one: an unchanged re-fetch skips the MinHash
        return dedupe.signature(self.normalized, self.shingles) if self.text_hash else None

    @cached_property
    def bands(self) -> list[int] | None:
        """The signature's LSH band keys (a crawl's workers compute them with it)."""
        return None if self.signature is None else dedupe.band_keys(self.signature)

    def signed(self) -> bool:
        """Whether the MinHash (and with it the shingle codes) is computed already (a crawl's
        workers compute it; a crawl worker's records, sent as JSON, bring the MinHash only)."""
        return "signature" in self.__dict__


def _part_canonical(url: str) -> str:
    # a bulletin item is told apart from its issue (and its siblings) by its fragment
    fragment = urlsplit(url).fragment
    return canonical_url(url) + (f"#{fragment}" if fragment else "")


def with_search_tokens(article: Article, prep: Prepared) -> Prepared:
    """`prep` with the search index's tokens of the article computed (in a worker process)."""
    prep.search_tokens = (index_tokens(article.title), index_tokens(searchable_text(article)))
    return prep


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
        norm_hash=fingerprint_of(normalize(article.title), normalized),  # the text normalised once
        text_hash=text_hash(normalized) if comparable else None,
    )


_COLUMNS = "id, url, version, norm_hash, status, title, text, cluster_id, duplicate_of"
_ROW = f"SELECT {_COLUMNS} FROM articles WHERE {{}} = ? LIMIT 1"
# find_article's lookup in one statement: the row of the URL as given, else of its
# canonical spelling, else of its stable key (a NULL key matches nothing)
_FIND = (f"SELECT {_COLUMNS} FROM articles WHERE id = coalesce("
         "(SELECT id FROM articles WHERE url = ? LIMIT 1),"
         " (SELECT id FROM articles WHERE canonical_url = ? LIMIT 1),"
         " (SELECT id FROM articles WHERE stable_key = ? LIMIT 1))")


def find_article(db: sqlite_utils.Database, url: str, exact: bool = False,
                 keys: tuple[str, str | None] | None = None) -> dict[str, Any] | None:
    """The archived record of `url` under any spelling or column move, or None.

    `exact`: the URL as given only (bulletin items, which share their issue's page).
    `keys`: the URL's canonical_url and stable_key, when computed already."""
    if exact:
        cur = db.execute(_ROW.format("url"), [url])
    else:
        canonical, stable = keys or (canonical_url(url), stable_key(url))
        cur = db.execute(_FIND, [url, canonical, stable])
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


_KEYS_AT_ONCE = 300  # URLs per lookup: three keys each stay under SQLite's bound on parameters


def archived_urls(db: sqlite_utils.Database, urls: list[str]) -> set[str]:
    """Those of `urls` that find_article finds (under any spelling or column move), in three
    statements per 300 URLs instead of up to three per URL: a list page's links."""
    found: set[str] = set()
    for start in range(0, len(urls), _KEYS_AT_ONCE):
        keys: dict[str, dict[str, list[str]]] = {"url": {}, "canonical_url": {}, "stable_key": {}}
        for url in urls[start:start + _KEYS_AT_ONCE]:
            for column, key in (("url", url), ("canonical_url", canonical_url(url)),
                                ("stable_key", stable_key(url))):
                if key is not None:
                    keys[column].setdefault(key, []).append(url)
        for column, by_key in keys.items():
            if not by_key:
                continue
            marks = ",".join("?" * len(by_key))
            for (key,) in db.execute(f"SELECT DISTINCT {column} FROM articles WHERE {column} IN ({marks})",
                                     list(by_key)).fetchall():
                found.update(by_key[key])
    return found


def find_by_id(db: sqlite_utils.Database, article_id: int) -> dict[str, Any] | None:
    cur = db.execute(_ROW.format("id"), [article_id])
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None


def article_by_ref(db: sqlite_utils.Database, ref: str) -> dict[str, Any] | None:
    """The whole row of an article given by id (`42`) or by any spelling of its URL."""
    found = {"id": int(ref)} if ref.isdigit() else find_article(db, ref)
    if found is None:
        return None
    return next(db.query("SELECT * FROM articles WHERE id = ?", [found["id"]]), None)


# -- events ------------------------------------------------------------------------

def record_event(db: sqlite_utils.Database, article_id: int, kind: str, version: int, created: str,
                 details: dict[str, Any] | None = None,
                 cluster: tuple[int, int | None] | None = None) -> None:
    """Add an event (new, duplicate, changed, removed) of one article, stamped with its cluster.

    `cluster`: the article's (cluster id, duplicate_of) as just written, when the caller knows."""
    cluster_id, duplicate_of = cluster or db.execute(
        "SELECT COALESCE(cluster_id, id), duplicate_of FROM articles WHERE id = ?", [article_id]).fetchone()
    db.execute(
        "INSERT INTO events (article_id, kind, version, created_at, cluster_id, duplicate_of, details)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [article_id, kind, version, created, cluster_id, duplicate_of,
         _json(details) if details else None])


def article_events(db: sqlite_utils.Database, article_id: int) -> list[dict[str, Any]]:
    """An article's events, oldest first, their details decoded (a dict, empty when none)."""
    return [dict(e, details=json_cell(e["details"], {}))
            for e in db.query("SELECT * FROM events WHERE article_id = ? ORDER BY id", [article_id])]


# -- saving -----------------------------------------------------------------------

def save_article(db: sqlite_utils.Database, article: Article,
                 prepared: Prepared | None = None,
                 also: Callable[[sqlite_utils.Database], None] | None = None,
                 index_later: list[Callable[[], None]] | None = None) -> tuple[int, str | None]:
    """Store one article; returns (article id, event kind or None).

    New page: a row, version 1, and a `new` event — or a `duplicate` event
    when it joins a story already archived (a repost, a mirror, or the
    original of copies seen first). Known page whose normalised title or text
    changed: a new version with its diff and a `changed` event. Known page
    unchanged, or changed only cosmetically (view counter, render time): no
    version, no event; a withdrawn page seen again is restored (`changed`).
    `also` runs inside the same transaction (the crawl settles its frontier row).

    `index_later`: the search index's write is appended there instead of run, for a
    caller that stores a batch in one transaction and runs the batch's index writes
    together before it commits (FTS5 writes out its pending terms at every savepoint,
    i.e. at every article: more than the rows themselves cost). The caller keeps them
    only once the article's own savepoint has ended well; nothing reads the index
    inside the transaction.
    """
    # normalising and hashing happen before taking the write lock (or in a crawl's
    # worker processes, which hand over `prepared`)
    prep = prepared or prepare(article)
    row = article_row(article)
    seen = now_iso()
    identity = {"canonical_url": prep.canonical, "stable_key": prep.stable,
                "original_canonical": prep.original_canonical, "norm_hash": prep.norm_hash,
                "text_hash": prep.text_hash, "content_hash": content_hash(article.title, article.text),
                "checked_at": seen, "http_status": 200}
    exact = bool(article.parent_url)
    keys = (prep.canonical, prep.stable)  # the URL's, as find_article would compute them
    if not prep.signed():  # (a crawl's workers have signed it: no lookup for that)
        known = find_article(db, article.url, exact=exact, keys=keys)
        if known is None or known["norm_hash"] != prep.norm_hash:
            _ = prep.signature  # new or changed: compute the MinHash before taking the lock
    with transaction(db):
        if also is not None:
            also(db)
        existing = find_article(db, article.url, exact=exact, keys=keys)
        if existing is None:
            article_id, kind = _insert(db, article, prep, row | identity, seen)
            # a new row has no index row to replace, and its dates are the ones just written
            index = partial(index_article, new=True, dates=(row["published"], seen))
        else:
            article_id = existing["id"]
            old_hash = existing["norm_hash"] or fingerprint(existing["title"], existing["text"])
            if old_hash == prep.norm_hash:
                return article_id, _seen_again(db, existing, article, seen)
            kind = "changed"
            _new_version(db, existing, article, prep, row | identity, seen)
            index = partial(index_article)
        # the tokens now (the body as text is then not needed): only SQL is left for later
        tokens = prep.search_tokens or (index_tokens(article.title), index_tokens(searchable_text(article)))
        write = partial(index, db, article_id, article.title, "", tokens)
        if index_later is None:
            write()
        else:
            index_later.append(write)
    # the next articles' candidates verified from memory: the codes, if a worker or find_matches
    # computed them (not computed here only for that)
    if (codes := prep.__dict__.get("shingles")) is not None:
        remember_shingles(prep.text_hash, len(prep.normalized), codes)
    return article_id, kind


# the id SQLite gives a row of a table without AUTOINCREMENT (one past the largest), read
# inside the article's transaction: `transaction` holds the write lock from its BEGIN
# IMMEDIATE, so no other connection can insert in between
_NEXT_ID = "SELECT coalesce(max(id), 0) + 1 FROM articles"


@lru_cache(maxsize=8)
def _insert_sql(columns: tuple[str, ...]) -> str:
    return f"INSERT INTO articles ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _insert(db: sqlite_utils.Database, article: Article, prep: Prepared, row: dict[str, Any],
            seen: str) -> tuple[int, str]:
    # the id chosen first, so that the row is written once with its own cluster, not
    # inserted and then rewritten (long text and all) to set it
    (article_id,) = db.execute(_NEXT_ID).fetchone()
    row.update(id=article_id, cluster_id=article_id, first_seen=seen, last_seen=seen, version=1,
               status="active")
    db.execute(_insert_sql(tuple(row)), list(row.values()))
    db.execute(
        "INSERT INTO versions (article_id, version, title, text, content_hash, norm_hash, fetched_at)"
        " VALUES (?, 1, ?, ?, ?, ?, ?)",
        [article_id, article.title, article.text, row["content_hash"], prep.norm_hash,
         article.fetched_at or seen])
    matches = find_matches(
        db, article_id, canonical=prep.canonical, original_url=prep.original_url,
        original_canonical=prep.original_canonical, normalized=prep.normalized,
        text_hash=prep.text_hash, signature=prep.signature, shingles=prep.shingles, bands=prep.bands)
    dedupe.add(db, article_id, prep.signature, new=True, bands=prep.bands)
    if not matches:
        record_event(db, article_id, "new", 1, seen, cluster=(article_id, None))
        return article_id, "new"
    cluster_id, original = join_cluster(db, article_id, matches)
    details: dict[str, Any] = {"original_id": original, "matched": {str(k): v for k, v in matches.items()}}
    if original == article_id:
        details["became_original"] = True
    # join_cluster set the article's cluster, and its duplicate_of unless it is the original
    record_event(db, article_id, "duplicate", 1, seen, details,
                 cluster=(cluster_id, None if original == article_id else original))
    return article_id, "duplicate"


def _seen_again(db: sqlite_utils.Database, existing: dict[str, Any], article: Article,
                seen: str) -> str | None:
    db.execute(
        "UPDATE articles SET last_seen = ?, checked_at = ?, http_status = 200, status = 'active',"
        " withdrawn_at = NULL, etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified)"
        " WHERE id = ?", [seen, seen, article.etag, article.last_modified, existing["id"]])
    if existing["status"] != "withdrawn":
        return None
    record_event(db, existing["id"], "changed", existing["version"], seen, {"restored": True})
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
    dedupe.add(db, article_id, prep.signature, bands=prep.bands)
    summary = diff_summary(existing["title"], existing["text"], article.title, article.text)
    record_event(db, article_id, "changed", version, seen, summary)
