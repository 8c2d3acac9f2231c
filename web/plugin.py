"""The Datasette plugin behind `talentwatch serve`.

Registered in-process by talentwatch.cli.serve. What it adds:
- every connection to the archive (its write connection included) gets `PRAGMA
  query_only`, so no SQL typed into the web view can change the archive;
- SQL functions for the canned queries (web/metadata.yaml): tw_match, tw_snippet,
  tw_search (storage.search's ranking, the CLI's filters), tw_changes (changed
  sentences of an edit). Each bounds its input: Datasette's time limit interrupts
  SQLite between steps, never inside a Python function, so each call must be short;
- cells rendered for readers (titles linking to the article page and the original,
  topics and offers in words, changes with <del>/<ins>);
- pages of its own: the article page, /feed.atom, the stylesheet (see web/pages.py);
- CSV downloads safe to open in a spreadsheet: a cell that starts like a formula gets a
  leading apostrophe, as in `talentwatch export --format csv` (see web/csv_cells.py).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from datasette import hookimpl
from markupsafe import Markup, escape
from talentwatch.storage.filters import FilterError
from talentwatch.storage.query import (
    QueryError,
    highlight,
    parse_query,
    positive_terms,
    term_pattern,
    to_match,
)
from talentwatch.web import pages
from talentwatch.web.changes import changed_sentences, sentences_html
from talentwatch.web.csv_cells import safe_csv
from talentwatch.web.offers import offers_words
from talentwatch.web.views import VIEW_NAME

# an FTS5 expression that matches nothing: the empty phrase
NOTHING = '""'
MAX_QUERY_CHARS = 500  # a search query longer than this matches nothing
MAX_SNIPPET_SOURCE = 200_000  # characters of a text searched for the snippet's first match
SEARCH_LIMIT = 100  # hits of tw_search: storage.search reads each hit's text for its snippet


def tw_match(query: str | None) -> str:
    if not query or len(query) > MAX_QUERY_CHARS:
        return NOTHING
    try:
        return to_match(query)
    except QueryError:
        return NOTHING


def tw_snippet(query: str | None, text: str | None) -> str:
    try:
        if query and len(query) > MAX_QUERY_CHARS:
            raise QueryError("too long")
        pattern = term_pattern(positive_terms(parse_query(query or "")))
    except QueryError:
        pattern = None
    return highlight((text or "")[:MAX_SNIPPET_SOURCE], pattern, mark=("【", "】"))


def tw_changes(diff: str | None) -> str:
    """The changed sentences of a stored diff, as JSON (rendered by render_cell)."""
    return json.dumps({"changed_sentences": changed_sentences(diff)}, ensure_ascii=False)


def _search_function(conn: sqlite3.Connection):
    def tw_search(query, since, until, regions, topics, sites, talent_only) -> str:
        """storage.search's hits as JSON [{id, score, reposts, snippet}], best first.

        Runs on the calling connection, so Datasette's time limit (a progress
        handler on it) also stops the search's own statements.
        """
        if not query or len(query) > MAX_QUERY_CHARS:
            return "[]"
        try:
            filters = pages.filters_from(since=since, until=until, regions=regions, topics=topics,
                                         sites=sites, talent_only=talent_only)
            hits = pages.run_search(conn, query, filters, SEARCH_LIMIT)
        except (QueryError, FilterError):
            return "[]"
        return json.dumps([{k: h[k] for k in ("id", "score", "reposts", "snippet")} for h in hits],
                          ensure_ascii=False)
    return tw_search


@hookimpl
def prepare_connection(conn, database, datasette) -> None:
    if database != "_internal":  # Datasette's own in-memory catalogue must stay writable
        conn.execute("PRAGMA query_only = 1")
    conn.create_function("tw_match", 1, tw_match, deterministic=True)
    conn.create_function("tw_snippet", 2, tw_snippet, deterministic=True)
    conn.create_function("tw_changes", 1, tw_changes, deterministic=True)
    conn.create_function("tw_search", 7, _search_function(conn))


# ---- cells ---------------------------------------------------------------------------

def _json(value: Any) -> Any:
    if not isinstance(value, str) or len(value) > 1_000_000:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _words(values: Any) -> Markup | None:
    if not isinstance(values, list):
        return None
    return Markup(" · ".join(str(escape(str(v))) for v in values if v is not None) or "&nbsp;")


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if column == "changed_sentences" and isinstance(value, str) and value.startswith('{"changed_sentences"'):
        data = _json(value)
        return Markup(sentences_html(data["changed_sentences"])) if data else None
    # the article list, and canned queries (table None) selecting its columns
    if table == VIEW_NAME or (table is None and column in ("title", "url", "topics", "offers")):
        return _list_cell(row, value, column, database, datasette)
    return None


def _list_cell(row, value, column, database, datasette) -> Markup | None:
    keys = row.keys() if hasattr(row, "keys") else []
    if column == "title" and "id" in keys and row["id"] is not None:
        href = pages.article_path(datasette, database, row["id"])
        title = pages.clean(value) or "(无标题)"
        return Markup(f'<a class="article-title" href="{escape(href)}">{escape(title)}</a>')
    if column == "url":
        link = pages.safe_url(value)
        return Markup(f'<a class="original" href="{escape(link)}" rel="noreferrer">原文</a>') if link \
            else Markup("&nbsp;")
    if column in ("topics", "offer_types"):
        return _words(_json(value))
    if column == "offers":
        return _words(offers_words(_json(value)))
    return None


# ---- pages, stylesheet, index --------------------------------------------------------

@hookimpl
def asgi_wrapper(datasette):
    return safe_csv


@hookimpl
def register_routes(datasette):
    return pages.routes()


@hookimpl
def extra_css_urls(datasette):
    return [pages.CSS_PATH]


@hookimpl
def extra_template_vars(template, datasette, request):
    if template != "index.html":
        return None

    async def index_vars() -> dict[str, Any]:
        database = pages.archive_name(datasette)
        queries = await datasette.get_canned_queries(database, request.actor if request else None)
        return {"tw_database": database, "tw_view": VIEW_NAME,
                "tw_queries": [{"name": name, "title": q.get("title") or name,
                                "summary": q.get("summary") or q.get("description") or ""}
                               for name, q in queries.items()]}
    return index_vars
