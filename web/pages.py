"""The web view's own pages: the article page, the Atom feed, the stylesheet.

The article page replaces Datasette's row page for `articles` (/DB/articles/ID; the
.json form stays Datasette's), so every link to an article opens something that reads
like one. /feed.atom is `talentwatch export --format atom` over HTTP: the same
selection (storage.export), the same writer (storage.feeds).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import sqlite_utils
from datasette.utils import sqlite_timelimit
from datasette.utils.asgi import Response
from talentwatch.core.safety import clean_text as clean
from talentwatch.core.safety import safe_url
from talentwatch.storage.cells import CHINA, json_cell
from talentwatch.storage.export import export_records
from talentwatch.storage.feeds import atom_feed
from talentwatch.storage.filters import FilterError, Filters
from talentwatch.storage.query import QueryError
from talentwatch.storage.search import search
from talentwatch.web.changes import changed_sentences, sentences_html
from talentwatch.web.offers import offers_words
from talentwatch.web.views import VIEW_NAME

CSS_PATH = "/-/talentwatch.css"
FEED_PATH = "/feed.atom"
FEED_DEFAULT, FEED_MAX = 50, 200  # entries in a feed
BODY_MAX_CHARS = 300_000  # of an article's text shown on its page
TIME_LIMIT_MS = 3000  # the page's own queries, like Datasette's sql_time_limit_ms

_SEPARATORS = re.compile(r"[\s,，、;；]+")


def china_time(value: Any) -> str:
    """An archive timestamp (UTC or with an offset) as China time: 2024-03-05 10:00."""
    text = clean(value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text  # dates, and times the page gave without a zone, are China time already
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def archive_name(datasette) -> str:
    return next(name for name in datasette.databases if name != "_internal")


def article_path(datasette, database: str, article_id: int) -> str:
    return datasette.urls.table(database, "articles") + f"/{int(article_id)}"


def _values(value: Any) -> tuple[str, ...]:
    """A form field holding several values: 广东 浙江, 广东,浙江 or 广东、浙江."""
    return tuple(v for v in _SEPARATORS.split(value or "") if v) if isinstance(value, str) else ()


def _flag(value: Any) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on", "是")


def filters_from(*, since: Any = None, until: Any = None, regions: Any = None, topics: Any = None,
                 sites: Any = None, talent_only: Any = None) -> Filters:
    """The CLI's filters (--since --until --region --topic --site --talent-only) from form fields."""
    return Filters(sites=_values(sites), since=(since or "").strip() or None,
                   until=(until or "").strip() or None, topics=_values(topics), regions=_values(regions),
                   talent_only=_flag(talent_only))


def _db(conn: sqlite3.Connection) -> sqlite_utils.Database:
    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


def run_search(conn: sqlite3.Connection, query: str, filters: Filters, limit: int) -> list[dict[str, Any]]:
    """`talentwatch search` on a Datasette connection: the same ranking, clusters and snippets."""
    return search(_db(conn), query, limit=limit, filters=filters, mark=("【", "】"))


# ---- the article page -----------------------------------------------------------------

def _article(conn: sqlite3.Connection, article_id: int) -> dict[str, Any] | None:
    previous, conn.row_factory = conn.row_factory, sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM articles WHERE id = ?", [article_id]).fetchone()
        if row is None:
            return None
        article = dict(row)
        cluster = article["duplicate_of"] or article["id"]
        article["members"] = [dict(r) for r in conn.execute(
            "SELECT id, url, site, title, published, status, duplicate_of FROM articles"
            " WHERE coalesce(duplicate_of, id) = ? AND id != ?"
            " ORDER BY duplicate_of IS NOT NULL, published, id", [cluster, article_id])]
        article["versions"] = [dict(r) for r in conn.execute(
            "SELECT version, fetched_at, substr(diff, 1, 100000) AS diff FROM versions"
            " WHERE article_id = ? ORDER BY version DESC", [article_id])]
        return article
    finally:
        conn.row_factory = previous


def _paragraphs(text: str | None) -> list[str]:
    body = clean(text)[:BODY_MAX_CHARS]
    return [p.strip() for p in body.splitlines() if p.strip()]


def article_context(datasette, database: str, article: dict[str, Any]) -> dict[str, Any]:
    region = json_cell(article.get("region"), {})
    region = region if isinstance(region, dict) else {}
    attachments = json_cell(article.get("attachments"), [])
    incentives = json_cell(article.get("incentives"), [])
    topics = json_cell(article.get("topics"), [])
    meta = [("发布时间", china_time(article.get("published"))), ("来源", article.get("source")),
            ("作者", article.get("author")), ("编辑", article.get("editor")), ("站点", article.get("site")),
            ("地区", " ".join(clean(region.get(k)) for k in ("province", "city", "county") if region.get(k))),
            ("主题", " · ".join(clean(t) for t in topics) if isinstance(topics, list) else ""),
            ("截止日期", article.get("deadline")),
            ("状态", "已撤回" if article.get("status") == "withdrawn" else ""),
            ("首次发现", china_time(article.get("first_seen")))]
    return {
        "database": database,
        "list_url": datasette.urls.table(database, VIEW_NAME) + "?talent=yes",
        "title": clean(article.get("title")) or "(无标题)",
        "link": safe_url(article.get("url")),
        "url": clean(article.get("url")),
        "original": safe_url(article.get("original_url")),
        "meta": [(label, clean(value)) for label, value in meta if value],
        "offers": offers_words(incentives, limit=100),
        "paragraphs": _paragraphs(article.get("text")),
        "attachments": [{"name": clean(a.get("name")) or clean(a.get("url")), "link": safe_url(a.get("url")),
                         "paragraphs": _paragraphs(a.get("text"))[:200]}
                        for a in (attachments if isinstance(attachments, list) else [])
                        if isinstance(a, dict)],
        "versions": [{"version": v["version"], "fetched_at": china_time(v["fetched_at"]),
                      "changes": sentences_html(changed_sentences(v["diff"])) if v["version"] > 1 else ""}
                     for v in article["versions"]],
        "members": [{"title": clean(m["title"]), "site": clean(m["site"]), "published": clean(m["published"]),
                     "page": article_path(datasette, database, m["id"]), "link": safe_url(m["url"]),
                     "role": "原文" if m["duplicate_of"] is None else "转载",
                     "withdrawn": m["status"] == "withdrawn"} for m in article["members"]],
    }


async def article_page(datasette, request) -> Response:
    database = request.url_vars["database"]
    if database not in datasette.databases or database == "_internal":
        return Response.html("<p>No such database.</p>", status=404)
    article_id = int(request.url_vars["id"])
    db = datasette.get_database(database)

    def read(conn: sqlite3.Connection) -> dict[str, Any] | None:
        with sqlite_timelimit(conn, TIME_LIMIT_MS):
            return _article(conn, article_id)

    article = await db.execute_fn(read)
    if article is None:
        return Response.html(f"<p>No article {article_id}.</p>", status=404)
    context = article_context(datasette, database, article)
    return Response.html(await datasette.render_template("talentwatch_article.html", context,
                                                         request=request))


# ---- the feed ------------------------------------------------------------------------

def feed_selection(args) -> tuple[str | None, Filters, int]:
    """(query, filters, limit) from /feed.atom's parameters; without q, talent items only."""
    def every(name: str) -> str:  # region=广东&region=浙江 or region=广东 浙江
        return " ".join(args.getlist(name))

    query = (args.get("q") or "").strip() or None
    talent = args.get("talent_only")
    filters = filters_from(since=args.get("since"), until=args.get("until"), regions=every("region"),
                           topics=every("topic"), sites=every("site"),
                           talent_only=talent if talent is not None else ("" if query else "1"))
    try:
        limit = min(FEED_MAX, max(1, int(args.get("limit") or FEED_DEFAULT)))
    except ValueError:
        raise FilterError(f"limit expects a number up to {FEED_MAX}") from None
    return query, filters, limit


def feed_id(query: str | None, filters: Filters) -> str:
    """The same selection always has the same id, whatever order its parameters came in."""
    params = {"q": query or "", "since": filters.since or "", "until": filters.until or "",
              "region": " ".join(filters.regions), "topic": " ".join(filters.topics),
              "site": " ".join(filters.sites), "talent_only": "1" if filters.talent_only else ""}
    return "urn:talentwatch:feed?" + urlencode({k: v for k, v in params.items() if v})


async def feed(datasette, request) -> Response:
    try:
        query, filters, limit = feed_selection(request.args)
    except FilterError as exc:
        return Response.text(f"{exc}\n", status=400)
    if query and len(query) > 500:
        return Response.text("the query is too long (at most 500 characters)\n", status=400)
    database = archive_name(datasette)
    # the HTML page showing the same selection: the search query, or the article list
    if query:
        page = datasette.urls.path(f"/{database}/full_text_search?" + urlencode(
            {"q": query, "since": filters.since or "", "until": filters.until or "",
             "region": " ".join(filters.regions), "topic": " ".join(filters.topics),
             "site": " ".join(filters.sites), "talent_only": "1" if filters.talent_only else ""}))
    else:
        page = datasette.urls.table(database, VIEW_NAME) + ("?talent=yes" if filters.talent_only else "")
    title = "talentwatch" + (f": {query}" if query else ": 人才政策")

    def build(conn: sqlite3.Connection) -> bytes:
        with sqlite_timelimit(conn, TIME_LIMIT_MS):
            db = _db(conn)
            # atom_feed cleans each record (core.safety): no control characters, http(s) links only
            records = export_records(db, filters=filters, query=query, one_per_cluster=True, limit=limit)
            return atom_feed(db, records, title=title,
                             feed_id=feed_id(query, filters),
                             link=datasette.absolute_url(request, page))

    try:
        body = await datasette.get_database(database).execute_fn(build)
    except QueryError as exc:
        return Response.text(f"cannot search for {query!r}: {exc}\n", status=400)
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc):
            return Response.text("the feed took too long to build; narrow it with filters\n", status=503)
        raise
    return Response(body, content_type="application/atom+xml; charset=utf-8")


# ---- the stylesheet ------------------------------------------------------------------

_CSS: str | None = None


async def stylesheet(datasette, request) -> Response:
    global _CSS
    if _CSS is None:
        _CSS = resources.files("talentwatch.web").joinpath("talentwatch.css").read_text(encoding="utf-8")
    return Response(_CSS, content_type="text/css; charset=utf-8",
                    headers={"Cache-Control": "max-age=3600"})


def routes() -> list[tuple[str, Any]]:
    return [
        (r"^/(?P<database>[^/.]+)/articles/(?P<id>\d+)$", article_page),
        (r"^" + re.escape(FEED_PATH) + "$", feed),
        (r"^" + re.escape(CSS_PATH) + "$", stylesheet),
    ]
