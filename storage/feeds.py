"""Atom feeds of the archive (through feedgen): one entry per repost cluster.

An entry is the cluster's original article: its id is the original's URL (stable
across regenerations, so a reader shows each story once), its content the text
with the incentives found and the other places that published it.

Pages are not vetted: every record is cleaned first (core.safety) — no control
characters in titles or text (an XML document cannot hold them), and only http(s)
URLs become links; an entry whose own URL is not http(s) is left out.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from talentwatch.core.safety import clean_data, one_line, safe_url
from talentwatch.storage.cells import time_cell
from talentwatch.storage.export import ExportFormat

if TYPE_CHECKING:  # the archive's modules load sqlite-utils only when a command opens it
    import sqlite_utils

SUMMARY_CHARS = 200


def _reposts(db: sqlite_utils.Database, url: str) -> list[dict[str, Any]]:
    rows = clean_data(list(db.query(
        "SELECT m.url, m.site, m.published FROM articles a JOIN articles m"
        " ON coalesce(m.duplicate_of, m.id) = coalesce(a.duplicate_of, a.id)"
        " WHERE a.url = ? AND m.url != ? ORDER BY m.published, m.id", [url, url])))
    return [r for r in rows if r["url"]]  # only http(s) copies are linked


def _last_change(db: sqlite_utils.Database, url: str) -> datetime | None:
    row = db.execute("SELECT max(v.fetched_at) FROM versions v JOIN articles a ON a.id = v.article_id"
                     " WHERE a.url = ? AND v.version > 1", [url]).fetchone()
    return time_cell(row[0]) if row else None


def _incentive_line(item: dict[str, Any]) -> str:
    amounts = [str(x) for x in (item.get("amount_min"), item.get("amount_max")) if x is not None]
    amount = "–".join(dict.fromkeys(amounts))
    parts = [item.get("type") or "", amount + (item.get("unit") or "") if amount else "",
             item.get("period") or "", item.get("target") or ""]
    return " ".join(p for p in parts if p) or (item.get("text") or "")


def _content(record: dict[str, Any], reposts: list[dict[str, Any]]) -> str:
    paragraphs = [f"<p>{html.escape(p)}</p>" for p in (record.get("text") or "").splitlines() if p.strip()]
    meta = [f"{label}: {html.escape(str(record[key]))}" for key, label in
            (("source", "来源"), ("published", "发布时间"), ("deadline", "截止日期")) if record.get(key)]
    out = [f"<p>{' · '.join(meta)}</p>"] if meta else []
    out += paragraphs
    incentives = [i for i in record.get("incentives") or [] if isinstance(i, dict)]
    if incentives:
        out.append("<p>政策待遇:</p><ul>" + "".join(
            f"<li>{html.escape(_incentive_line(i))}</li>" for i in incentives) + "</ul>")
    if reposts:
        out.append("<p>转载:</p><ul>" + "".join(
            f'<li><a href="{html.escape(r["url"])}">{html.escape(r["site"] or r["url"])}</a>'
            f' {html.escape(r["published"] or "")}</li>' for r in reposts) + "</ul>")
    return "\n".join(out)


def atom_feed(db: sqlite_utils.Database, records: Iterable[dict[str, Any]], *, title: str,
              feed_id: str = "urn:talentwatch:archive", link: str | None = None) -> bytes:
    """An Atom document for `records` (export records, one per cluster, newest first)."""
    from feedgen.feed import FeedGenerator  # lxml-based: loaded only when a feed is written

    fg = FeedGenerator()
    fg.id(feed_id)
    fg.title(one_line(title))
    fg.author({"name": "talentwatch"})
    fg.language("zh-CN")
    fg.generator("talentwatch")
    if safe_url(link):
        fg.link(href=safe_url(link), rel="alternate")
    newest: datetime | None = None
    entries = []
    for raw in records:
        record = clean_data(raw)  # text without control characters, URL fields http(s) or None
        url = record["url"]
        if not url:
            continue
        published = time_cell(record.get("published")) or time_cell(record.get("first_seen"))
        updated = max(filter(None, [published, _last_change(db, raw["url"])]), default=None) \
            or datetime.now(UTC)
        newest = max(newest or updated, updated)
        entries.append((record, published, updated, _reposts(db, raw["url"])))
    # feedgen prepends each new entry: add oldest first to keep the records' order
    for record, published, updated, reposts in reversed(entries):
        entry = fg.add_entry()
        entry.id(record["url"])
        label = one_line(record.get("title")) or record["url"]
        entry.title(f"[已撤回] {label}" if record.get("status") == "withdrawn" else label)
        entry.link(href=record["url"], rel="alternate")
        if record.get("original_url") and record["original_url"] != record["url"]:
            entry.link(href=record["original_url"], rel="related", title="原文链接")
        if published:
            entry.published(published)
        entry.updated(updated)
        if record.get("author") or record.get("source"):
            entry.author({"name": one_line(record.get("author") or record.get("source"))})
        for topic in record.get("topics") or []:
            entry.category(term=str(topic))
        text = " ".join((record.get("text") or "").split())
        entry.summary(text[:SUMMARY_CHARS] + ("…" if len(text) > SUMMARY_CHARS else ""))
        entry.content(_content(record, reposts), type="html")
    fg.updated(newest or datetime.now(UTC))
    return fg.atom_str(pretty=True)


class Atom(ExportFormat):
    """`talentwatch export --format atom`: a feed of stories, so one entry per cluster."""

    name = "atom"
    media_type = "application/atom+xml"
    extension = ".atom"
    description = "an Atom feed, one entry per repost cluster (newest 200 unless --limit)"
    one_per_cluster = True
    default_limit = 200

    def write(self, db: sqlite_utils.Database, records: Iterable[dict[str, Any]], out: TextIO, *,
              title: str) -> int:
        written = 0

        def counted() -> Iterator[dict[str, Any]]:
            nonlocal written
            for record in records:
                written += 1
                yield record

        out.write(atom_feed(db, counted(), title=title).decode("utf-8"))
        return written
