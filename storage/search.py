"""Full-text search over the archive, exact for Chinese words of any length.

How the index works (and why): every run of letters, digits or Han characters
is indexed as its overlapping character pairs, the run's last character on its
own closing it ("人才引进" -> 人才 才引 引进 进). A query word of two or more
characters becomes the phrase of its pairs (人才引进 -> "人才 才引 引进"), a
one-character word the prefix query `"人" *` (every occurrence of a character
starts a pair or is a run's last character). So a word matches exactly where a
substring scan of the (NFKC, case-folded) text finds it — 人才 and 补贴 are one
index lookup each, where a trigram index finds nothing for them and one token per
character has to intersect the huge posting lists of 人 and 才.
bench/search_latency.py measures the three.

The query language (words, phrases, AND, OR, NOT, parentheses) is
storage.query's; this module keeps the index and runs the searches. Ranking is
bm25 (title counts 3×) damped by age, and each repost cluster shows once, as its original when the original
matches. The index's rowids run in publication order, so a word found in half
the archive ranks only its newest CANDIDATES matches (all of them when fewer):
that is what keeps 人才 at 100k articles under 10 ms.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date
from typing import TYPE_CHECKING, Any

from talentwatch.storage.cells import json_cell
from talentwatch.storage.db import transaction
from talentwatch.storage.filters import Filters, first_day, last_day
from talentwatch.storage.query import (
    WORD,
    QueryError,
    highlight,
    match_expression,
    normalize,
    parse_query,
    positive_terms,
    term_pattern,
    to_match,
)

if TYPE_CHECKING:  # the archive's modules load sqlite-utils only when a command opens it
    import sqlite_utils

TITLE_WEIGHT = 3.0
# a hit's bm25 is divided by (1 + age / RECENCY_DAYS): a two-year-old item needs
# twice the relevance of today's to rank level with it
RECENCY_DAYS = 730.0


# at each letter of a run of them (storage.query's WORD), it and the next, or it alone at the end
_TOKEN = re.compile(rf"(?=({WORD}{{1,2}})){WORD}")


def index_tokens(text: str | None) -> str:
    """The text as the index stores it: each run's character pairs, then its last character."""
    return " ".join(_TOKEN.findall(normalize(text)))


# The FTS rowid is not the article id: it is (day of publication << 32 | article id), so
# the index lists matches newest first and a query that matches half the archive can
# rank its newest CANDIDATES matches without touching the rest. search_keys maps back.
_ID_BITS = 32
_ID_MASK = (1 << _ID_BITS) - 1
CANDIDATES = 500
INDEX_FORMAT = "pairs-v1"


def _day(value: str | None) -> int | None:
    try:
        return date.fromisoformat((value or "")[:10]).toordinal()
    except ValueError:
        return None


def index_key(article_id: int, published: str | None, first_seen: str | None = None) -> int:
    return ((_day(published) or _day(first_seen) or 0) << _ID_BITS) | article_id


def ensure_index(db: sqlite_utils.Database) -> None:
    """Create the search index, or rebuild it when it was made in an older format."""
    # what search reads of each candidate, without walking the overflow pages of its
    # text (the columns sit after it): 2-3x faster joins and filters
    db.execute("CREATE INDEX IF NOT EXISTS articles_search ON articles"
                " (id, published, duplicate_of, talent, site, status, topics, region)")
    tables = set(db.table_names())
    if "search_meta" in tables:
        row = db.execute("SELECT value FROM search_meta WHERE key = 'format'").fetchone()
        if row and row[0] == INDEX_FORMAT and "articles_fts" in tables:
            return
    with transaction(db):
        db.execute("DROP TABLE IF EXISTS articles_fts")
        # prefix='1': the index of first characters answers one-character queries
        db.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, body,"
                   " tokenize = 'unicode61 remove_diacritics 0', prefix = '1')")
        db.execute("CREATE TABLE IF NOT EXISTS search_keys"
                   " (article_id INTEGER PRIMARY KEY, fts_rowid INTEGER NOT NULL)")
        db.execute("DELETE FROM search_keys")
        db.execute("CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT OR REPLACE INTO search_meta VALUES ('format', ?)", [INDEX_FORMAT])
        for row in db.query("SELECT id, title, text, attachments FROM articles ORDER BY id"):
            index_article(db, row["id"], row["title"] or "", article_body(row["text"], row["attachments"]))


def index_article(db: sqlite_utils.Database, article_id: int, title: str, body: str,
                  tokens: tuple[str, str] | None = None, *, new: bool = False,
                  dates: tuple[str | None, str | None] | None = None) -> None:
    """Write one article's index row; call inside the article's transaction, after its row.

    `tokens`: index_tokens of the title and body, when computed beforehand. `new`: the
    article's row was just inserted (articles are never deleted: it has no index row yet).
    `dates`: its published and first_seen as written, when the caller has them."""
    if not new:
        old = db.execute("SELECT fts_rowid FROM search_keys WHERE article_id = ?", [article_id]).fetchone()
        if old:
            db.execute("DELETE FROM articles_fts WHERE rowid = ?", [old[0]])
    if dates is None:
        dates = db.execute("SELECT published, first_seen FROM articles WHERE id = ?",
                           [article_id]).fetchone() or (None, None)
    key = index_key(article_id, *dates)
    db.execute("INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)",
               [key, *(tokens or (index_tokens(title), index_tokens(body)))])
    db.execute("INSERT OR REPLACE INTO search_keys (article_id, fts_rowid) VALUES (?, ?)", [article_id, key])


def article_body(text: str | None, attachments_json: str | None) -> str:
    """What is indexed as the body: the text, then each attachment's text."""
    parts = [text or ""]
    try:
        attachments = json.loads(attachments_json) if attachments_json else []
    except ValueError:
        attachments = []
    parts += [a.get("text") or "" for a in attachments if isinstance(a, dict)]
    return "\n".join(p for p in parts if p)


# ---- searching ------------------------------------------------------------------------

def _key_range(filters: Filters) -> tuple[int, int]:
    """The index keys a --since/--until can match (a superset: the SQL filter decides)."""
    lo = first_day(filters.since).toordinal() << _ID_BITS if filters.since else 0
    hi = ((last_day(filters.until).toordinal() + 1) << _ID_BITS) - 1 if filters.until else 2**63 - 1
    return lo, hi


# days from a key's publication day to now (1721424.5: julian day of ordinal 0)
_AGE_DAYS = f"max(0.0, julianday('now') - ((key >> {_ID_BITS}) + 1721424.5))"


def search(db: sqlite_utils.Database, query: str, limit: int = 20, *,
           filters: Filters | None = None, all_reposts: bool = False, sort: str = "relevance",
           mark: tuple[str, str] = ("[", "]")) -> list[dict[str, Any]]:
    """Hits for `query`, best first: one per repost cluster unless all_reposts.

    Each hit has id, url, site, title, published, status, duplicate_of, talent,
    topics, region, score, reposts (other matching members of its cluster) and a
    snippet with the matches between `mark`s. sort: relevance (bm25 damped by age,
    over the newest CANDIDATES matches when there are more) or date (newest
    first). Raises QueryError for a malformed query.
    """
    if sort not in ("relevance", "date"):
        raise QueryError(f"unknown sort {sort!r}: use relevance or date")
    if limit < 1:
        raise QueryError("limit must be at least 1")
    filters = filters or Filters()
    tree = parse_query(query)
    match = match_expression(tree)
    clauses, params = filters.sql("a")
    where = " AND ".join(["articles_fts MATCH ?", "articles_fts.rowid BETWEEN ? AND ?", *clauses])
    order = "score" if sort == "relevance" else "key DESC"
    cluster = "a.id" if all_reposts else "coalesce(a.duplicate_of, a.id)"
    # newest matches first, straight from the index; rank those; one row per cluster:
    # its original if that matched, else its best-ranked member
    sql = f"""
        WITH candidates AS (
            SELECT articles_fts.rowid AS key, bm25(articles_fts, {TITLE_WEIGHT}, 1.0) AS rel,
                   {cluster} AS cluster, a.duplicate_of IS NOT NULL AS repost
            FROM articles_fts JOIN articles a INDEXED BY articles_search
                 ON a.id = (articles_fts.rowid & {_ID_MASK})
            WHERE {where}
            ORDER BY articles_fts.rowid DESC LIMIT {max(CANDIDATES, limit)}
        ), ranked AS (
            SELECT key, rel / (1.0 + {_AGE_DAYS} / {RECENCY_DAYS}) AS score, cluster, repost
            FROM candidates
        ), collapsed AS (
            SELECT key, score, row_number() OVER (PARTITION BY cluster ORDER BY repost, score) AS nth,
                   count(*) OVER (PARTITION BY cluster) AS members
            FROM ranked
        )
        SELECT key & {_ID_MASK}, score, members FROM collapsed WHERE nth = 1 ORDER BY {order} LIMIT ?"""
    try:
        top = db.execute(sql, [match, *_key_range(filters), *params, limit]).fetchall()
    except sqlite3.OperationalError as exc:  # a safety net: the compiler should prevent these
        raise QueryError(f"the query could not be searched ({exc}); try removing punctuation") from None
    if not top:
        return []
    ids = [r[0] for r in top]
    details = {r["id"]: r for r in db.query(
        "SELECT id, url, site, title, published, status, duplicate_of, talent, topics, region,"
        f" text, attachments FROM articles WHERE id IN ({', '.join('?' for _ in ids)})", ids)}
    pattern = term_pattern(positive_terms(tree))
    hits = []
    for article_id, rank, members in top:
        row = details[article_id]
        hits.append({
            "id": article_id, "url": row["url"], "site": row["site"],
            "title": row["title"], "published": row["published"], "status": row["status"],
            "duplicate_of": row["duplicate_of"],
            "talent": None if row["talent"] is None else bool(row["talent"]),
            "topics": json_cell(row["topics"], []), "region": json_cell(row["region"], {}),
            "score": -rank, "reposts": members - 1,
            "snippet": highlight(article_body(row["text"], row["attachments"]), pattern, mark),
        })
    return hits


def search_subquery() -> str:
    """SQL selecting the ids of articles matching one `?` bound to to_match(query)."""
    return f"SELECT rowid & {_ID_MASK} FROM articles_fts WHERE articles_fts MATCH ?"


def matching_ids(db: sqlite_utils.Database, query: str, filters: Filters | None = None) -> list[int]:
    """Every matching article id (no ranking, no clusters): for export and tests."""
    filters = filters or Filters()
    clauses, params = filters.sql("a")
    where = " AND ".join(["articles_fts MATCH ?", "articles_fts.rowid BETWEEN ? AND ?", *clauses])
    sql = (f"SELECT a.id FROM articles_fts JOIN articles a INDEXED BY articles_search"
           f" ON a.id = (articles_fts.rowid & {_ID_MASK})"
           f" WHERE {where} ORDER BY articles_fts.rowid DESC")
    return [r[0] for r in db.execute(sql, [to_match(query), *_key_range(filters), *params])]


