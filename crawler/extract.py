"""Extraction: a pure function from a decoded page to an Article record.

Body, in order: the site profile's selector; the body containers of Chinese
government CMSs; the densest block of punctuated text; trafilatura as the last
resort. Metadata from the info line near the title (发布时间 / 来源 / 作者 /
责任编辑 / 原文链接), meta tags and the URL. Attachments the spider fetched are
read, and a bulletin (组工信息) is split into its items.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin

from lxml.cssselect import CSSSelector
from lxml.etree import XPathError
from talentwatch.core.profiles import CMS_BODY_SELECTORS, PROFILES, TITLE_SELECTORS, Profile, get_profile
from talentwatch.core.records import Article, Page
from talentwatch.crawler import metadata as md
from talentwatch.crawler.attachments import read_attachments
from talentwatch.crawler.body import around, densest_node, node_text, parse, prune, strip_code
from talentwatch.crawler.boilerplate import LINE_RE, TAIL_RE
from talentwatch.crawler.bulletin import split_bulletin

log = logging.getLogger(__name__)

_HAN = re.compile(r"[\u4e00-\u9fff]")
_SELECTOR_CACHE: dict[str, CSSSelector | None] = {}
# a line that is only the info line: labels with dates, sources, authors
_INFO_LABELS = re.compile(
    r"(?:发布时间|发布日期|发表时间|来源|作者|浏览|点击|字号|信息来源|文章来源|时间|日期)\s*[:：]"
)
_MIN_BODY_HAN = 20  # fewer Han characters than this is no article body


def _css(selector: str) -> CSSSelector | None:
    if selector not in _SELECTOR_CACHE:
        try:
            _SELECTOR_CACHE[selector] = CSSSelector(selector)
        except (XPathError, Exception):  # cssselect raises its own SelectorError types
            log.warning("invalid CSS selector %r ignored", selector)
            _SELECTOR_CACHE[selector] = None
    return _SELECTOR_CACHE[selector]


def _select(root, selector: str | None) -> list:
    if not selector or root is None:
        return []
    css = _css(selector)
    # lxml-stubs type every XPath result as a union; a CSS selector's is always a list of elements
    return css(root) if css is not None else []  # type: ignore[return-value]


def _han(text: str) -> int:
    return len(_HAN.findall(text))


def _link_density(node) -> float:
    total = len(node_text(node))
    links = sum(len(a.text_content().strip()) for a in node.iter("a"))
    return links / total if total else 1.0


def _usable(node) -> bool:
    return _han(node_text(node)) >= _MIN_BODY_HAN and _link_density(node) < 0.5


def _container(root, selectors: tuple[str, ...] | list[str]):
    """The first selector whose largest match holds real text."""
    for selector in selectors:
        matches = [n for n in _select(root, selector) if _usable(n)]
        if matches:
            return max(matches, key=lambda n: len(node_text(n))), selector
    return None, None


def _body_node(root, profile: Profile, url: str):
    """(node, how) for the article body, or (None, reason)."""
    if profile.body:
        node, _ = _container(root, [s.strip() for s in profile.body.split(",")])
        if node is not None:
            return node, "profile"
        log.info("profile %s: body selector %r matched nothing usable on %s; using the generic path",
                 profile.name, profile.body, url)
    dense = densest_node(root)
    node, selector = _container(root, CMS_BODY_SELECTORS)
    if node is not None:
        # a wrapper named "content" can hold the whole page; the densest block inside it is the body
        if dense is not None and dense is not node and node in dense.iterancestors():
            if len(node_text(dense)) < 0.6 * len(node_text(node)):
                return dense, "density"
        return node, f"cms:{selector}"
    if dense is not None and _han(node_text(dense)) >= _MIN_BODY_HAN:
        return dense, "density"
    return None, "none"


def clean_lines(text: str, title: str = "") -> str:
    """Drop furniture lines, the title and info line at the top, and related-reading tails."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    out: list[str] = []
    for i, line in enumerate(lines):
        if TAIL_RE.match(line) and i >= max(2, len(lines) // 3):
            break
        if LINE_RE.match(line):
            continue
        if len(out) < 4 and len(line) < 120 and not re.search(r"[。！？]", line):
            if title and line.replace(" ", "") == title.replace(" ", ""):
                continue  # the heading repeated above the text
            if len(_INFO_LABELS.findall(line)) >= 1 and (md.dates_in(line) or len(line) < 60):
                continue  # the info line: its fields are metadata, not body
        out.append(line)
    return "\n".join(out)


def _trafilatura(html: str, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url, include_comments=False) or ""


def _meta(root) -> dict[str, str]:
    values: dict[str, str] = {}
    for el in root.iter("meta"):
        key = (el.get("name") or el.get("property") or el.get("itemprop") or el.get("http-equiv") or "")
        content = (el.get("content") or "").strip()
        if key and content:
            values.setdefault(key.strip().lower(), content)
    return values


def _first_meta(meta: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if meta.get(name):
            return meta[name]
    return None


def _title(root, profile: Profile, meta: dict[str, str], page: Page) -> str:
    for selector in filter(None, (profile.title or "").split(",")):
        for node in _select(root, selector.strip()):
            if text := " ".join(node.text_content().split()):
                return md.clean_title(text, profile.site_names)
    if meta_title := meta.get("articletitle"):
        return md.clean_title(meta_title, profile.site_names)
    head = root.find(".//title")
    page_title = " ".join((head.text_content() if head is not None else "").split())
    cleaned = md.clean_title(page_title, profile.site_names)
    for selector in TITLE_SELECTORS:
        for node in _select(root, selector)[:3]:
            text = " ".join(node.text_content().split())
            # an in-page heading that the <title> repeats is the article's own title
            if len(text) >= 4 and (text in page_title or (cleaned and cleaned in text and len(text) < 80)):
                return md.clean_title(text, profile.site_names)
    if cleaned:
        return cleaned
    if page.list_title:
        return page.list_title.strip()
    og = _first_meta(meta, ("og:title", "twitter:title"))
    return md.clean_title(og or "", profile.site_names)


def _pick_date(before: str, body_text: str, after: str, page_text: str) -> str | None:
    """The publication date near the body: the info line above it, its first lines, a signature."""
    head = "\n".join(body_text.split("\n")[:8])[:300]
    near = md.dates_in(before + "\n" + head)
    labelled = [d for d in near if d[2]]
    if labelled:
        return labelled[-1][1]
    if near:
        before_only = [d for d in near if d[0] < len(before)]
        # the stamp closest above the body; a date inside its first lines otherwise
        return (before_only[-1] if before_only else near[0])[1]
    labelled_anywhere = [d for d in md.dates_in(page_text) if d[2]]
    if labelled_anywhere:
        return labelled_anywhere[0][1]
    return None


def _date_below_title(page_text: str, title: str) -> str | None:
    """年月日 on the lines right under the page's heading."""
    if len(title) < 4:
        return None
    for m in re.finditer(re.escape(title[:30]), page_text):
        if found := md.dates_in(page_text[m.end(): m.end() + 120]):
            return found[0][1]
    return None


def _signature_date(body_text: str, after: str) -> str | None:
    """A forum or blog stamp just below the body: '本贴由 X 于2005年8月12日16:12:21…'."""
    found = md.dates_in(body_text[-80:] + "\n" + after[:150])
    return found[0][1] if found else None


def _merge_day(hint: str | None, found: str | None) -> str | None:
    """The list date wins; a time from the page on the same day makes it precise."""
    if not hint:
        return found
    day = md.parse_date(hint)
    if day and found and found[:10] == day[:10]:
        return found if len(found) > len(day) else day
    return day or found


def _original_url(root, page_url: str) -> str | None:
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        text = el.text or ""
        if not md.ORIGINAL_URL_LABEL.search(text):
            continue
        link = el if el.tag == "a" and el.get("href") else next(
            (a for a in el.iter("a") if a.get("href")), None)
        if link is None:
            nxt = el.getnext()
            link = nxt if nxt is not None and nxt.tag == "a" and nxt.get("href") else None
        if link is not None:
            return urljoin(page_url, link.get("href"))
        if m := md._URL_IN_TEXT.search(el.text_content()):
            return m[0]
    return None


def _author(profile_hit: str | None, window: str, body_text: str, meta: dict[str, str]) -> str | None:
    if profile_hit:
        return profile_hit
    if found := md.first(md.AUTHOR_RE, window):
        return found
    head = "\n".join(body_text.split("\n")[:2])[:200]
    tail = body_text[-200:]
    for text in (head, tail):
        if found := md.reporter(text):
            return found
    if found := md.byline_at_end(body_text):
        return found
    if found := md.first(md.AUTHOR_RE, body_text[-300:]):
        return found
    author = _first_meta(meta, md.AUTHOR_META)
    # meta author is often the site or CMS; keep it only when it looks like a person's name
    if author and re.fullmatch(r"[\u4e00-\u9fff]{2,4}(?:[ 、,，][\u4e00-\u9fff]{2,4})*", author):
        return author
    return None


def extract(page: Page, profile: Profile | None = None) -> Article:
    if profile is None:
        profile = get_profile(page.profile if page.profile in PROFILES else None)
    article = Article(url=page.url, site=page.site, fetched_at=page.fetched_at, etag=page.etag,
                      last_modified=page.last_modified)
    root = parse(page.html) if page.html and page.html.strip() else None
    if root is None:
        log.warning("no parsable HTML on %s", page.url)
        article.title = page.list_title or ""
        article.published = _merge_day(page.list_date, md.date_from_url(page.url))
        article.flags.append("no_body")
        _add_files(article, page)
        return article

    meta = _meta(root)
    article.title = _title(root, profile, meta, page)
    strip_code(root)
    body_el = root.find(".//body")
    page_text = node_text(body_el if body_el is not None else root)
    original_url = _original_url(root, page.url)
    profile_date = " ".join(n.text_content() for n in _select(root, profile.date)[:1])
    profile_source = " ".join(" ".join(n.text_content().split()) for n in _select(root, profile.source)[:1])
    profile_author = " ".join(" ".join(n.text_content().split()) for n in _select(root, profile.author)[:1])

    prune(root)
    node, how = _body_node(root, profile, page.url)
    text = node_text(node) if node is not None else ""
    if _han(text) < _MIN_BODY_HAN:
        text = _trafilatura(page.html, page.url)
        how = "trafilatura"
    raw_text = text
    text = clean_lines(text, article.title)
    if _han(text) < _MIN_BODY_HAN and not page.files:
        log.warning("no recognisable body on %s", page.url)
        article.flags.append("no_body")
    article.text = text
    log.debug("%s: body via %s", page.url, how)

    before, after = around(root, node) if node is not None and how != "trafilatura" else ("", "")
    if not before:
        before = page_text[:600]
    window = before[-300:] + "\n" + raw_text[:300]
    found = (md.parse_date(profile_date) or md.parse_date(_first_meta(meta, md.DATE_META))
             or _pick_date(before, raw_text, after, page_text) or _date_below_title(page_text, article.title)
             or md.date_from_url(page.url)
             or _signature_date(text, after))
    article.published = _merge_day(page.list_date, found)
    source = (profile_source and (md.first(md.SOURCE_RE, profile_source + " ") or profile_source)) \
        or md.first(md.SOURCE_RE, window) or _first_meta(meta, ("contentsource",)) \
        or md.first(md.SOURCE_RE, text[-200:])
    article.source = source or None
    article.editor = md.first(md.EDITOR_RE, page_text)
    article.author = _author(profile_author or None, window, text, meta)
    if article.author and article.editor and article.author == article.editor:
        article.author = None  # 责任编辑 is never the author
    article.original_url = original_url
    _add_files(article, page)
    return article


def _add_files(article: Article, page: Page) -> None:
    article.attachments = read_attachments(page.files)
    if article.flags and "no_body" in article.flags and any(a.text for a in article.attachments):
        article.flags.remove("no_body")  # the attachment is the content
    article.parts = split_bulletin(article)
