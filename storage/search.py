"""Full-text search over the archive, exact for Chinese words of any length.

The FTS5 index holds each Han character as its own token, and a query of Han
characters becomes a phrase of those tokens: 人才 matches exactly where the
two characters stand side by side, as a substring scan would.
"""

from __future__ import annotations

import re
from typing import Any

import sqlite_utils

_HAN = re.compile(r"([\u3400-\u9fff\uf900-\ufaff])")


_CJK_EDGE = r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef\[\]…]"
_SPACED = re.compile(rf"\s+(?={_CJK_EDGE})|(?<={_CJK_EDGE})\s+")


def _unspace(text: str) -> str:
    """Undo the spacing the index needs, for display."""
    return _SPACED.sub("", text)


def han_tokens(text: str | None) -> str:
    """Spread Han characters apart so unicode61 makes each one a token."""
    return _HAN.sub(r" \1 ", text or "")


def index_article(db: sqlite_utils.Database, article_id: int, title: str, body: str) -> None:
    """Write one article's index row; call inside the article's transaction."""
    db.execute("DELETE FROM articles_fts WHERE rowid = ?", [article_id])
    db.execute(
        "INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)",
        [article_id, han_tokens(title), han_tokens(body)],
    )


def to_match(query: str) -> str:
    """Turn a user's query into an FTS5 MATCH expression: every word must occur."""
    terms = [t for t in re.split(r"\s+", query.strip()) if t]
    if not terms:
        raise ValueError("empty search query")
    phrases = []
    for term in terms:
        tokens = han_tokens(term).split()
        words = [re.sub(r"[^\w]", "", t) for t in tokens]
        words = [w for w in words if w]
        if words:
            phrases.append('"' + " ".join(words) + '"')
    if not phrases:
        raise ValueError(f"nothing to search for in {query!r}")
    return " AND ".join(phrases)


def search(db: sqlite_utils.Database, query: str, limit: int = 20) -> list[dict[str, Any]]:
    sql = """
        SELECT a.id, a.url, a.site, a.title, a.published,
               snippet(articles_fts, 1, '[', ']', '…', 24) AS snippet
        FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
        WHERE articles_fts MATCH ?
        ORDER BY bm25(articles_fts, 5.0, 1.0), a.published DESC
        LIMIT ?
    """
    rows = [dict(r) for r in db.query(sql, [to_match(query), limit])]
    for row in rows:
        row["snippet"] = _unspace(row["snippet"] or "")
    return rows
