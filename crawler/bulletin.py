"""Bulletins (组工信息, 工作简报): one issue holding several items, split apart.

Two layouts are common:
- run-in items: `△Title。body…（source）`, one after another;
- heading-separated items in an issue with a masthead (`第 N 期`): a short
  heading line, the reporting unit on the next line, then paragraphs.
Each item becomes an Article of its own with `parent_url` pointing at the
issue's page, and a stable url `<issue url>#item-N`.
"""

from __future__ import annotations

import re

from talentwatch.core.records import Article
from talentwatch.crawler import metadata as md
from talentwatch.crawler.body import han_at_least

_RUN_IN = re.compile(r"(?:^|\n)\s*[△▲]\s*")
_TITLE_END = re.compile(r"[。！？]")
_SOURCE_END = re.compile(r"[（(]([^（）()\n]{2,30})[)）]\s*$")
_MASTHEAD = re.compile(r"第\s*\d+\s*期")
_BULLETIN_NAME = re.compile(r"组工信息|组工简报|工作简报|组织工作简报|人才工作简报|简\s*报|工作动态|信息专报")
_UNIT_LINE = re.compile(
    r"^(?:中共)?[\u4e00-\u9fff（）()]{2,30}(?:组织部|委员会|党委|党组|党支部|党总支|人才办|工委|局|厅|办公室|公司|中心|学校|医院)$"
)
_SENTENCE = re.compile(r"[。！？；]")
_MIN_ITEM_HAN = 30


def _tidy(text: str) -> str:
    # PDF text comes with hard line breaks inside sentences; keep paragraph breaks only
    lines = [ln.strip() for ln in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line:
            if out and out[-1] != "":
                out.append("")
            continue
        if out and out[-1] and not re.search(r"[。！？：；”）)]$", out[-1]):
            out[-1] += line
        else:
            out.append(line)
    return "\n".join(s for s in out if s).strip()


def _run_in_items(text: str) -> list[tuple[str, str, str | None]]:
    chunks = _RUN_IN.split(text)
    if len(chunks) < 3:  # at least two items after the masthead
        return []
    items = []
    for chunk in chunks[1:]:
        chunk = _tidy(chunk)
        m = _TITLE_END.search(chunk)
        if not m or m.start() > 80:
            continue
        title, body = chunk[: m.start()].strip(), chunk[m.end():].strip()
        source = None
        # the item ends at its source in brackets; what follows is a section heading
        paragraphs = body.split("\n")
        for i in range(len(paragraphs) - 1, -1, -1):
            if sm := _SOURCE_END.search(paragraphs[i]):
                source = sm[1].strip()
                paragraphs = paragraphs[: i + 1]
                paragraphs[-1] = paragraphs[-1][: sm.start()].rstrip()
                break
        body = "\n".join(p for p in paragraphs if p)
        if han_at_least(body, _MIN_ITEM_HAN):
            items.append((title, body, source))
    return items


def _heading_items(text: str) -> list[tuple[str, str, str | None]]:
    head = text[:400]
    if not (_MASTHEAD.search(head) and _BULLETIN_NAME.search(head)):
        return []
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    starts = [
        i for i in range(len(lines) - 1)
        if len(lines[i]) <= 40 and not _SENTENCE.search(lines[i]) and _UNIT_LINE.match(lines[i + 1])
    ]
    if len(starts) < 2:
        return []
    items: list[tuple[str, str, str | None]] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        body = _tidy("\n\n".join(lines[start + 2: end]))
        if han_at_least(body, _MIN_ITEM_HAN):
            items.append((lines[start], body, lines[start + 1]))
    return items


def split_items(text: str) -> list[tuple[str, str, str | None]]:
    """(title, body, source) of each item of a bulletin text; [] when it is not one."""
    if not text:
        return []
    return _run_in_items(text) or _heading_items(text)


def _issue_date(text: str) -> str | None:
    dates = md.dates_in(text[:300])
    return dates[0][1] if dates else None


def split_bulletin(article: Article) -> list[Article]:
    """Items of a bulletin found in the page text or in an attachment, as Articles."""
    sources = [(article.url, article.text)]
    sources += [(att.url, att.text) for att in article.attachments if att.text]
    parts: list[Article] = []
    for origin, text in sources:
        items = split_items(text)
        if not items:
            continue
        published = article.published or _issue_date(text)
        for title, body, source in items:
            parts.append(Article(
                url=f"{origin}#item-{len(parts) + 1}", site=article.site, title=title, text=body,
                source=source, published=published, parent_url=article.url,
                fetched_at=article.fetched_at,
            ))
    return parts
