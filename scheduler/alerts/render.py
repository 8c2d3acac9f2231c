"""Messages from outbox rows: subject, plain text, HTML, chat markdown, JSON payload.

Templates are Jinja2; the HTML one is autoescaped and the markdown one escapes
every scraped field, so scraped text never becomes markup. Items are cleaned
before rendering (sanitize.safe_item: no control characters, only http(s) URLs),
and every link target goes through the `safe_url` / `mdurl` filters too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from talentwatch.core.config import TIMEZONE
from talentwatch.core.safety import safe_url
from talentwatch.scheduler.alerts.sanitize import safe_item
from talentwatch.storage.cells import json_cell

PAYLOAD_SCHEMA = "talentwatch.alert/1"  # bump when a field changes meaning or goes away
KIND_LABEL = {"new": "新发布", "changed": "有更新", "removed": "已撤下"}
LOCAL = ZoneInfo(TIMEZONE)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def md_escape(value: Any) -> str:
    """Escape markdown syntax in scraped text (titles, sites) for chat bots."""
    return _MD_SPECIAL.sub(r"\\\1", "" if value is None else str(value)).replace("\n", " ")


def md_url(value: Any) -> str:
    """A URL safe inside a markdown link target: http(s) only (else empty), no bare parentheses."""
    return (safe_url(value) or "").replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def href(value: Any) -> str:
    """A link target for the HTML template: the URL if http(s), else empty (links nowhere)."""
    return safe_url(value) or ""


def _env() -> Environment:
    env = Environment(loader=PackageLoader("talentwatch.scheduler.alerts", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html.j2",),
                                                   default_for_string=False),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["md"] = md_escape
    env.filters["mdurl"] = md_url
    env.filters["safe_url"] = href
    return env


ENV = _env()


@dataclass
class Item:
    kind: str
    article_id: int
    cluster_id: int
    title: str
    url: str
    site: str
    published: str | None
    source: str | None
    original_url: str | None
    topics: list[str]
    score: float | None
    region: dict[str, Any] | list | None
    deadline: str | None
    version: int | None
    # every copy of the item in the archive (the original and its reposts)
    appeared_in: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return KIND_LABEL.get(self.kind, self.kind)

    def payload(self) -> dict[str, Any]:
        return {"event": self.kind, "article_id": self.article_id, "cluster_id": self.cluster_id,
                "title": self.title, "url": self.url, "original_url": self.original_url,
                "site": self.site, "published": self.published, "source": self.source,
                "topics": self.topics, "score": self.score, "region": self.region,
                "deadline": self.deadline, "version": self.version, "appeared_in": self.appeared_in}


@dataclass
class Message:
    id: str
    subscription: str
    mode: str  # instant | digest | test
    subject: str
    text: str
    html: str
    markdown: str
    payload: dict[str, Any]
    items: list[Item]




def load_items(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> list[Item]:
    """The items of some outbox rows, each with the places its cluster appeared."""
    items = []
    for row in rows:
        art = next(db.query("SELECT * FROM articles WHERE id = ?", [row["article_id"]]), None)
        if art is None:
            continue
        members = list(db.query(
            "SELECT site, title, url, published FROM articles WHERE id = ? OR duplicate_of = ?"
            " ORDER BY coalesce(published, first_seen), id", [row["cluster_id"], row["cluster_id"]]))
        items.append(Item(
            kind=row["kind"], article_id=art["id"], cluster_id=row["cluster_id"], title=art["title"] or "",
            url=art["url"], site=art["site"], published=art["published"], source=art["source"],
            original_url=art["original_url"], topics=json_cell(art["topics"], []), score=art["score"],
            region=json_cell(art["region"], None), deadline=art["deadline"], version=art["version"],
            appeared_in=members if len(members) > 1 else []))
    return items


def _day(item: Item) -> str:
    return (item.published or "")[:10] or "日期不详"


def group_items(items: list[Item]) -> list[tuple[str, list[Item]]]:
    """Digest sections: by first topic, biggest first; items by date, newest first."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.topics[0] if item.topics else "其他", []).append(item)
    for members in groups.values():
        members.sort(key=lambda i: (i.published or ""), reverse=True)
    return sorted(groups.items(), key=lambda g: (g[0] == "其他", -len(g[1]), g[0]))


def counts(items: list[Item]) -> dict[str, int]:
    return {k: sum(1 for i in items if i.kind == k) for k in ("new", "changed", "removed")}


def subject_for(mode: str, subscription: str, items: list[Item], now: datetime) -> str:
    c = counts(items)
    parts = "，".join(f"{KIND_LABEL[k]} {n}" for k, n in c.items() if n)
    if mode == "digest":
        day = now.astimezone(LOCAL).strftime("%Y-%m-%d")
        return f"【talentwatch】{subscription} 摘要 {day}：{len(items)} 条（{parts}）"
    lead = items[0].title if items else ""
    more = f" 等 {len(items)} 条" if len(items) > 1 else ""
    return f"【talentwatch】{subscription}：{lead}{more}（{parts}）"


def render(message_id: str, subscription: str, mode: str, items: list[Item],
           now: datetime) -> Message:
    items = [safe_item(i) for i in items]
    subject = subject_for(mode, subscription, items, now)
    sections = group_items(items) if mode == "digest" else [("", items)]
    context = {"subject": subject, "subscription": subscription, "mode": mode, "sections": sections,
               "counts": counts(items), "total": len(items), "message_id": message_id,
               "generated": now.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")}
    text = ENV.get_template("alert.txt.j2").render(context)
    payload = {
        "id": message_id,
        "schema": PAYLOAD_SCHEMA,
        "subscription": subscription,
        "mode": mode,
        "generated_at": now.astimezone(LOCAL).isoformat(timespec="seconds"),
        "counts": counts(items),
        "items": [i.payload() for i in items],
    }
    return Message(id=message_id, subscription=subscription, mode=mode, subject=subject, text=text,
                   html=ENV.get_template("alert.html.j2").render(context),
                   markdown=ENV.get_template("alert.md.j2").render(context), payload=payload, items=items)
