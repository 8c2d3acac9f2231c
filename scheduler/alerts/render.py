"""Messages from outbox rows: subject, plain text, HTML, chat markdown, JSON payload.

One entry per story per message: the rows of one repost cluster (new, then
edited, then withdrawn…) become one Item headed by the cluster's original as it
stands when the message is sent, its other copies listed as "also at". An item
carries what an analyst reads first (region, offers, deadline, topics, a
snippet; for an edit, the changed sentences with the differing words marked).
Items go newest published first; a message lists at most `max_items` and says
how many more there are and where to see them.

Templates are Jinja2; the HTML one is autoescaped and the markdown one escapes
every scraped field, so scraped text never becomes markup. Items are cleaned
before rendering (sanitize.safe_item: no control characters, only http(s) URLs),
and every link target goes through the `safe_url` / `mdurl` filters too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from talentwatch.core.config import TIMEZONE
from talentwatch.core.safety import safe_url
from talentwatch.scheduler.alerts.baseline import baseline_count
from talentwatch.scheduler.alerts.content import (
    Deadline,
    Segment,
    changed_sentences,
    clean_title,
    deadline_note,
    local_day,
    offer_phrases,
    region_text,
    snippet,
    word_diff,
)
from talentwatch.scheduler.alerts.sanitize import safe_item
from talentwatch.storage.cells import json_cell

PAYLOAD_SCHEMA = "talentwatch.alert/2"  # bump when a field changes meaning or goes away
KIND_LABEL = {"new": "新发布", "changed": "有更新", "removed": "已撤回"}
WITHDRAWN = "已撤回"
ZONE_LABEL = "北京时间"
LOCAL = ZoneInfo(TIMEZONE)
DEFAULT_MAX_ITEMS = 50
MORE_WHERE = "网页视图（talentwatch serve）或 Atom 订阅（talentwatch export --format atom）"
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


def local_time(value: str | None, with_time: bool = True) -> str:
    """An archive time (ISO, any zone, or a bare date) as China time, 2026-11-18 09:30."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value[:16]
    if len(value) <= 10:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL)
    return moment.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def _env() -> Environment:
    env = Environment(loader=PackageLoader("talentwatch.scheduler.alerts", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html.j2",),
                                                   default_for_string=False),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["md"] = md_escape
    env.filters["mdurl"] = md_url
    env.filters["safe_url"] = env.filters["href"] = href  # http(s) only, else links nowhere
    env.filters["local"] = local_time
    return env


ENV = _env()


@dataclass
class Item:
    kind: str  # new | changed | removed (a withdrawn story is `removed`, whatever its rows say)
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
    # every copy of the story in the archive (the original and its reposts)
    appeared_in: list[dict[str, Any]] = field(default_factory=list)
    also_at: list[dict[str, Any]] = field(default_factory=list)  # the copies but the headline
    incentives: list[dict[str, Any]] = field(default_factory=list)
    offers: list[str] = field(default_factory=list)
    snippet: str = ""
    due: Deadline | None = None
    changes: list[list[Segment]] = field(default_factory=list)
    withdrawn: bool = False

    @property
    def label(self) -> str:
        return WITHDRAWN if self.withdrawn else KIND_LABEL.get(self.kind, self.kind)

    @property
    def where(self) -> str:
        return region_text(self.region)

    def group(self, key: str) -> str:
        if key == "topic":
            return self.topics[0] if self.topics else "其他"
        if key == "site":
            return self.site
        region = self.region if isinstance(self.region, dict) else {}
        return "".join(dict.fromkeys(str(region[k]) for k in ("province", "city") if region.get(k))) \
            or "地区不详"

    def payload(self) -> dict[str, Any]:
        return {"event": self.kind, "withdrawn": self.withdrawn, "label": self.label,
                "article_id": self.article_id, "cluster_id": self.cluster_id, "version": self.version,
                "title": self.title, "url": self.url, "original_url": self.original_url,
                "site": self.site, "published": self.published, "source": self.source,
                "topics": self.topics, "score": self.score,
                "region": self.region, "region_text": self.where,
                "offers": self.offers, "incentives": self.incentives,
                "deadline": self.deadline, "deadline_state": self.due.state if self.due else None,
                "snippet": self.snippet,
                "changes": [[_segment_json(s) for s in sentence] for sentence in self.changes],
                "also_at": self.also_at, "appeared_in": self.appeared_in}


def _segment_json(seg: Segment) -> dict[str, str]:
    return {"old": seg.old, "new": seg.new} if seg.changed else {"same": seg.same}


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


# -- outbox rows -> stories -----------------------------------------------------------

def _article(db: sqlite_utils.Database, article_id: int) -> dict[str, Any] | None:
    return next(db.query("SELECT * FROM articles WHERE id = ?", [article_id]), None)


def _original(db: sqlite_utils.Database, story: int, fallback: dict[str, Any]) -> dict[str, Any]:
    """The cluster's original now (reposts archived after the alert may have changed it)."""
    return next(db.query("SELECT * FROM articles WHERE cluster_id = ? AND duplicate_of IS NULL"
                         " ORDER BY id LIMIT 1", [story]), None) or fallback


def _changes(db: sqlite_utils.Database, article_id: int, since: int) -> list[list[Segment]]:
    """What changed in `article_id` from version `since` to its latest version."""
    versions = list(db.query("SELECT version, title, text FROM versions WHERE article_id = ?"
                             " AND version >= ? ORDER BY version", [article_id, since]))
    if len(versions) < 2:
        return []
    old, new = versions[0], versions[-1]
    out = []
    if (old["title"] or "") != (new["title"] or ""):
        out.append([Segment(same="标题：")] + word_diff(old["title"] or "", new["title"] or ""))
    return out + changed_sentences(old["text"], new["text"])


def _story(db: sqlite_utils.Database, story: int, rows: list[dict[str, Any]],
           today: date) -> Item | None:
    articles = {r["article_id"]: _article(db, r["article_id"]) for r in rows}
    known = {k: v for k, v in articles.items() if v is not None}
    if not known:
        return None
    head = _original(db, story, next(iter(known.values())))
    kinds = {r["kind"] for r in rows}
    withdrawn = head["status"] == "withdrawn"
    kind = "removed" if withdrawn or kinds == {"removed"} else "new" if "new" in kinds else "changed"
    changes: list[list[Segment]] = []
    if kind == "changed":
        edited = [r for r in rows if r["kind"] == "changed"]
        target = edited[0]["article_id"]
        versions = [r["version"] for r in edited if r["version"] is not None]
        first = min(versions, default=known[target]["version"] or 1)
        changes = _changes(db, target, max(first - 1, 1))  # from before the first edit read
    members = list(db.query(
        "SELECT site, title, url, published, status FROM articles WHERE cluster_id = ?"
        " ORDER BY duplicate_of IS NOT NULL, coalesce(published, first_seen), id", [story]))
    copies = [{"site": m["site"], "title": clean_title(m["title"]), "url": m["url"],
               "published": m["published"], "withdrawn": m["status"] == "withdrawn"}
              for m in members if m["url"] != head["url"]]
    incentives = [o for o in json_cell(head["incentives"], []) if isinstance(o, dict)]
    return Item(
        kind=kind, article_id=head["id"], cluster_id=story, title=clean_title(head["title"]),
        url=head["url"], site=head["site"], published=head["published"], source=head["source"],
        original_url=head["original_url"], topics=json_cell(head["topics"], []), score=head["score"],
        region=json_cell(head["region"], None), deadline=head["deadline"], version=head["version"],
        appeared_in=[{k: m[k] for k in ("site", "title", "url", "published")} for m in members]
        if len(members) > 1 else [],
        also_at=copies, incentives=incentives, offers=offer_phrases(incentives),
        snippet=snippet(head["text"], incentives), due=deadline_note(head["deadline"], today),
        changes=changes, withdrawn=withdrawn)


def _row_version(db: sqlite_utils.Database, row: dict[str, Any]) -> int | None:
    if row.get("version") is not None:
        return row["version"]
    key = str(row.get("alert_key") or "")
    return int(key.rsplit(":", 1)[1]) if key.startswith("changed:") else None


def load_items(db: sqlite_utils.Database, rows: list[dict[str, Any]],
               now: datetime | None = None) -> list[Item]:
    """The stories of some outbox rows, one Item each, newest published first."""
    today = local_day(now or datetime.now(LOCAL))
    stories: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row["kind"] == "baseline":
            continue
        found = db.execute("SELECT cluster_id FROM articles WHERE id = ?", [row["article_id"]]).fetchone()
        story = (found[0] if found and found[0] else None) or row["cluster_id"]
        stories.setdefault(story, []).append(dict(row, version=_row_version(db, row)))
    items = [item for story, group in stories.items() if (item := _story(db, story, group, today))]
    items.sort(key=lambda i: (i.published or "", i.article_id), reverse=True)
    return items


def baseline_notes(db: sqlite_utils.Database, rows: list[dict[str, Any]], window: float | None) -> list[str]:
    """One line per site whose first crawl these rows announce."""
    sites = sorted({site for r in rows if r["kind"] == "baseline"
                    for site in [str(r["alert_key"]).split(":", 1)[1]]})
    notes = []
    for site in sites:
        n = baseline_count(db, site, window)
        notes.append(f"{site}：首次抓取，{n} 条此前发布的文章已存档为基线，未逐条提醒。")
    return notes


# -- the message ------------------------------------------------------------------------

def group_items(items: list[Item], key: str = "region") -> list[tuple[str, list[Item]]]:
    """Digest sections by `key` (region, topic or site): the section with the newest item
    first, "unknown" last; items newest first (as given)."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.group(key), []).append(item)
    return sorted(groups.items(), key=lambda g: g[0] in ("其他", "地区不详"))


def counts(items: list[Item]) -> dict[str, int]:
    out = {k: sum(1 for i in items if i.kind == k and not i.withdrawn) for k in ("new", "changed")}
    out["removed"] = sum(1 for i in items if i.kind == "removed" or i.withdrawn)
    return out


def subject_for(mode: str, subscription: str, items: list[Item], now: datetime,
                total: int | None = None, notes: list[str] | None = None) -> str:
    c = counts(items)
    total = len(items) if total is None else total
    parts = "，".join(f"{KIND_LABEL[k]} {n}" for k, n in c.items() if n)
    if mode == "digest":
        day = now.astimezone(LOCAL).strftime("%Y-%m-%d")
        return f"【talentwatch】{subscription} 摘要 {day}：{total} 条（{parts}）"
    if not items:
        return f"【talentwatch】{subscription}：{(notes or [''])[0]}"
    more = f" 等 {total} 条" if total > 1 else ""
    return f"【talentwatch】{subscription}：{items[0].title}{more}（{parts}）"


def render(message_id: str, subscription: str, mode: str, items: list[Item], now: datetime, *,
           max_items: int = DEFAULT_MAX_ITEMS, group_by: str = "region", notes: list[str] | None = None,
           more_where: str | None = None) -> Message:
    """The message carrying `items` (newest first): at most `max_items` listed, the rest counted."""
    items = [safe_item(i) for i in items]  # no control character or non-http(s) URL reaches a template
    notes = notes or []
    shown, more = items[:max_items], max(0, len(items) - max_items)
    where = more_where or MORE_WHERE
    subject = subject_for(mode, subscription, items, now, notes=notes)  # counts every story
    sections = group_items(shown, group_by) if mode == "digest" else [("", shown)]
    generated = now.astimezone(LOCAL)
    context = {"subject": subject, "subscription": subscription, "mode": mode, "sections": sections,
               "counts": counts(items), "total": len(items), "message_id": message_id,
               "notes": notes, "more": more, "where": where, "zone": ZONE_LABEL,
               "generated": generated.strftime("%Y-%m-%d %H:%M")}
    payload = {
        "id": message_id,
        "schema": PAYLOAD_SCHEMA,
        "subscription": subscription,
        "mode": mode,
        "generated_at": generated.isoformat(timespec="seconds"),
        "timezone": TIMEZONE,
        "counts": counts(items),
        "total": len(items),
        "more": {"count": more, "where": where} if more else None,
        "notes": notes,
        "group_by": group_by if mode == "digest" else None,
        "items": [dict(i.payload(), group=i.group(group_by) if mode == "digest" else None)
                  for i in shown],
    }
    return Message(id=message_id, subscription=subscription, mode=mode, subject=subject,
                   text=ENV.get_template("alert.txt.j2").render(context),
                   html=ENV.get_template("alert.html.j2").render(context),
                   markdown=ENV.get_template("alert.md.j2").render(context), payload=payload, items=shown)


def compose(db: sqlite_utils.Database, message_id: str, subscription: Any, rows: list[dict[str, Any]],
            now: datetime, *, baseline_window: float | None = None, web_url: str | None = None) -> Message:
    """The message for some outbox rows of `subscription` (a config Subscription)."""
    items = load_items(db, rows, now)
    where = f"{web_url}（网页视图）或 Atom 订阅（talentwatch export --format atom）" if web_url else None
    return render(message_id, subscription.name, subscription.mode, items, now,
                  max_items=subscription.max_items, group_by=subscription.group_by,
                  notes=baseline_notes(db, rows, baseline_window), more_where=where)
