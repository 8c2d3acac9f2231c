"""Extraction: a pure function from a decoded page to an Article record."""

from __future__ import annotations

import re

import trafilatura
from parsel import Selector

from crawler.items import Article, Page
from crawler.profiles import Profile, get_profile

_INFO_DATE = re.compile(r"(?:发布时间|发布日期|时间|日期)[:：]\s*(\d{4})[-年/.](\d{1,2})[-月/.](\d{1,2})")
_INFO_SOURCE = re.compile(r"来源[:：]\s*([^\s　|]+)")
_INFO_AUTHOR = re.compile(r"(?<!责任)(?<!编)作者[:：]\s*([^\s　|]+)")


def extract(page: Page, profile: Profile | None = None) -> Article:
    profile = profile or get_profile(None)
    sel = Selector(text=page.html)
    title = ""
    if profile.title:
        title = " ".join(sel.css(profile.title).xpath("string()").getall()).strip()
    if not title:
        title = (sel.css("h1").xpath("string()").get() or "").strip()
    if not title:
        title = page.list_title or (sel.css("title::text").get() or "").strip()

    text = trafilatura.extract(page.html, url=page.url, favor_precision=True) or ""
    flat = " ".join(sel.xpath("//body//text()").getall())
    published = page.list_date
    if not published and (m := _INFO_DATE.search(flat)):
        published = f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}"
    source = m[1] if (m := _INFO_SOURCE.search(flat)) else None
    author = m[1] if (m := _INFO_AUTHOR.search(flat)) else None
    flags = [] if text.strip() else ["no_body"]
    return Article(
        url=page.url,
        site=page.site,
        title=title,
        published=published,
        source=source,
        author=author,
        text=text,
        flags=flags,
        fetched_at=page.fetched_at,
        etag=page.etag,
        last_modified=page.last_modified,
    )
