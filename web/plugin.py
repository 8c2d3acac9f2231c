"""The Datasette plugin behind `talentwatch serve`: read-only connections, search functions.

Registered in-process by talentwatch.cli.serve; every connection Datasette
opens to the archive (its write connection included) gets `PRAGMA query_only`, so no SQL typed
into the web view can change the archive, and two SQL functions for canned queries:
tw_match(q) (the archive's query language as an FTS5 expression; a malformed query
matches nothing) and tw_snippet(q, text) (a window of text with the matches in 【】).
"""

from __future__ import annotations

from datasette import hookimpl
from talentwatch.storage.query import (
    QueryError,
    highlight,
    parse_query,
    positive_terms,
    term_pattern,
    to_match,
)

# an FTS5 expression that matches nothing: the empty phrase
NOTHING = '""'


def tw_match(query: str | None) -> str:
    try:
        return to_match(query or "")
    except QueryError:
        return NOTHING


def tw_snippet(query: str | None, text: str | None) -> str:
    try:
        pattern = term_pattern(positive_terms(parse_query(query or "")))
    except QueryError:
        pattern = None
    return highlight(text or "", pattern, mark=("【", "】"))


@hookimpl
def prepare_connection(conn, database, datasette) -> None:
    if database != "_internal":  # Datasette's own in-memory catalogue must stay writable
        conn.execute("PRAGMA query_only = 1")
    conn.create_function("tw_match", 1, tw_match, deterministic=True)
    conn.create_function("tw_snippet", 2, tw_snippet, deterministic=True)
