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
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin

import cssselect
from lxml.cssselect import CSSSelector
from lxml.etree import XPathError
from talentwatch.core.profiles import CMS_BODY_SELECTORS, PROFILES, TITLE_SELECTORS, Profile, get_profile
from talentwatch.core.records import Article, Page
from talentwatch.crawler import metadata as md
from talentwatch.crawler.attachments import read_attachments
from talentwatch.crawler.body import (
    around,
    densest_node,
    han_at_least,
    node_text,
    parse,
    prune,
    reopen_premature_end,
    strip_code,
    text_content,
)
from talentwatch.crawler.boilerplate import LINE_RE, TAIL_RE
from talentwatch.crawler.bulletin import split_bulletin

log = logging.getLogger(__name__)

_SELECTOR_CACHE: dict[str, CSSSelector | None] = {}
# a line that is only the info line: labels with dates, sources, authors
_INFO_LABELS = re.compile(
    r"(?:发布时间|发布日期|发表时间|来源|作者|浏览|点击|字号|信息来源|文章来源|时间|日期)\s*[:：]"
)
_MIN_BODY_HAN = 20  # fewer Han characters than this is no article body
# text kept per article: the longest real notice is a few tens of thousands of characters; a
# page of millions would cost the archive (dedupe, search index) hundreds of MB to store
MAX_TEXT_CHARS = 200_000


def _css(selector: str) -> CSSSelector | None:
    if selector not in _SELECTOR_CACHE:
        try:
            _SELECTOR_CACHE[selector] = CSSSelector(selector)
        except (XPathError, Exception):  # cssselect raises its own SelectorError types
            log.warning("invalid CSS selector %r ignored", selector)
            _SELECTOR_CACHE[selector] = None
    return _SELECTOR_CACHE[selector]


@dataclass(frozen=True)
class _Names:
    """Class names and ids: those a selector needs somewhere in a page, or those a page has."""

    classes: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()

    @classmethod
    def of_page(cls, root) -> _Names:
        # token by token as CSS compares them (the attribute split on whitespace)
        return cls(frozenset(name for value in root.xpath("//@class") for name in value.split()),
                   frozenset(root.xpath("//@id")))


@lru_cache(maxsize=512)
def _needs(selector: str) -> _Names:
    """The class names and ids some element must carry for `selector` to match in a page: a
    run of the selector (a walk of the whole tree, 32 of them for the CMS containers) is
    skipped where they are missing. Nothing is needed of what sits in :not(), :is() or a
    list of alternatives (a, b)."""
    try:
        parsed = cssselect.parse(selector)
    except cssselect.SelectorError:
        return _Names()
    if len(parsed) != 1:
        return _Names()
    classes: set[str] = set()
    ids: set[str] = set()
    pending = [parsed[0].parsed_tree]
    while pending:
        node = pending.pop()
        if isinstance(node, cssselect.parser.Class):
            classes.add(node.class_name)
        elif isinstance(node, cssselect.parser.Hash):
            ids.add(node.id)
        if isinstance(node, cssselect.parser.CombinedSelector):
            pending += [node.selector, node.subselector]
        elif isinstance(node, (cssselect.parser.Class, cssselect.parser.Hash, cssselect.parser.Attrib,
                               cssselect.parser.Pseudo, cssselect.parser.Function,
                               cssselect.parser.Negation, cssselect.parser.Relation)):
            pending.append(node.selector)  # the element the rest is said of
    return _Names(frozenset(classes), frozenset(ids))


def _select(root, selector: str | None, names: _Names | None = None) -> list:
    """The elements `selector` matches; `names`: the page's class names and ids, to skip a
    selector that needs one the page lacks."""
    if not selector or root is None:
        return []
    if names is not None:
        needed = _needs(selector)
        if not (needed.classes <= names.classes and needed.ids <= names.ids):
            return []
    css = _css(selector)
    # lxml-stubs type every XPath result as a union; a CSS selector's is always a list of elements
    return css(root) if css is not None else []  # type: ignore[return-value]


# `text` below: node_text(node), when computed already (a walk of the subtree each time)
def _link_density(node, text: str | None = None) -> float:
    total = len(node_text(node) if text is None else text)
    links = sum(len(text_content(a).strip()) for a in node.iter("a"))
    return links / total if total else 1.0


def _usable(node, text: str | None = None) -> bool:
    text = node_text(node) if text is None else text
    return han_at_least(text, _MIN_BODY_HAN) and _link_density(node, text) < 0.5


def _container(root, selectors: tuple[str, ...] | list[str], names: _Names | None = None):
    """The first selector whose largest match holds real text: (node, selector, its text)."""
    for selector in selectors:
        matches = []
        for node in _select(root, selector, names):
            text = node_text(node)
            if _usable(node, text):
                matches.append((node, text))
        if matches:
            node, text = max(matches, key=lambda match: len(match[1]))
            return node, selector, text
    return None, None, ""


def _body_node(root, profile: Profile, url: str, names: _Names | None = None):
    """(node, how, its text) for the article body, or (None, reason, "")."""
    if profile.body:
        node, _, text = _container(root, [s.strip() for s in profile.body.split(",")], names)
        if node is not None:
            return node, "profile", text
        log.info("profile %s: body selector %r matched nothing usable on %s; using the generic path",
                 profile.name, profile.body, url)
    dense = densest_node(root)
    node, selector, text = _container(root, CMS_BODY_SELECTORS, names)
    if node is not None:
        # a wrapper named "content" can hold the whole page; the densest block inside it is the body
        if dense is not None and dense is not node and node in dense.iterancestors():
            dense_text = node_text(dense)
            if len(dense_text) < 0.6 * len(text):
                return dense, "density", dense_text
        return node, f"cms:{selector}", text
    if dense is not None and han_at_least(dense_text := node_text(dense), _MIN_BODY_HAN):
        entry = _first_entry(root, dense)
        return entry, "density", dense_text if entry is dense else node_text(entry)
    return None, "none", ""


_MIN_ENTRY_HAN = 50


def _first_entry(root, node):
    """On a page of repeated entries (a blog's archive, a thread), the first one is the page's lead.

    The densest entry is only the longest; entries share the body's tag and class.
    """
    cls = node.get("class")
    if not cls:
        return node
    entries = [el for el in root.iter(node.tag) if el.get("class") == cls]
    if len(entries) < 2 or entries[0] is node:
        return node
    first = entries[0]
    if node in first.iterdescendants() or first in node.iterdescendants():
        return node
    text = node_text(first)
    return first if han_at_least(text, _MIN_ENTRY_HAN) and _usable(first, text) else node


# the body's last line announces what follows: 附：招生专业及考试科目 / 附件：2024年拟聘人员名单
_ANNOUNCES = re.compile(r"^附(?:件|表)?\s*\d*\s*[:：]?\s*\S{2,60}$")
_ANCESTOR_HOPS = 4


def _announced_table(node, text: str):
    """A table right after the body that its last line announces (附：…名单): part of the article.

    Table layouts often close the text block before the table, so the table is the next
    sibling of the body or of one of its near ancestors, not inside it.
    """
    last = text.rsplit("\n", 1)[-1].strip()
    if not _ANNOUNCES.match(last) or re.search(r"\.(?:pdf|docx?|xlsx?|wps|zip|rar)$", last, re.IGNORECASE):
        return None
    el = node
    for _ in range(_ANCESTOR_HOPS):
        nxt = el.getnext()
        while nxt is not None and (not isinstance(nxt.tag, str) or not text_content(nxt).strip()):
            nxt = nxt.getnext()
        if nxt is not None:
            table = nxt if nxt.tag == "table" else None
            if table is not None and han_at_least(node_text(table), _MIN_BODY_HAN) \
                    and _link_density(table) < 0.3:
                return table
            return None
        el = el.getparent()
        if el is None or el.tag in ("body", "html"):
            return None
    return None


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


# the meta tags CMSs put the site's name in
_SITE_NAME_META = ("sitename", "site_name", "og:site_name", "application-name")
# a heading: h1-h3, or a block whose class or id says title (title, tit, biaoti: table layouts)
_HEADING_XPATH = ("//h1 | //h2 | //h3 | //*[contains(@class, 'tit') or contains(@id, 'tit')"
                  " or contains(@class, 'biaoti')]")


def _is_site_name(title: str, meta: dict[str, str]) -> bool:
    """A <title> holding only the site's name ("青禾县人民政府门户网站"), no article."""
    names = {meta[k].strip() for k in _SITE_NAME_META if meta.get(k)}
    if title in names:
        return True
    return len(title) <= 20 and bool(md.SITE_NAME_END.search(title))


def _heading_above(root, node, site_title: str) -> str | None:
    """The article's heading: the last heading above the body that is no link, menu or the site name.

    Read on the pruned tree, so header and navigation blocks are gone already; the
    nearest heading above the text is the article's own.
    """
    heading = None
    for el in root.xpath(_HEADING_XPATH):
        if el is node or node in el.iterancestors():
            break
        if el.tag in ("html", "body", "head", "title") or el.xpath("ancestor-or-self::a"):
            continue
        if node in el.iterdescendants():
            continue  # a wrapper around the body, not a heading
        text = " ".join(text_content(el).split())
        if 6 <= len(text) <= 120 and text != site_title and len(el.findall(".//a")) < 2 \
                and not _INFO_LABELS.search(text):
            heading = text
    return heading


def _title(root, profile: Profile, meta: dict[str, str], page: Page, names: _Names | None = None) -> str:
    for selector in filter(None, (profile.title or "").split(",")):
        for node in _select(root, selector.strip()):
            if text := " ".join(text_content(node).split()):
                return md.clean_title(text, profile.site_names)
    if meta_title := meta.get("articletitle"):
        return md.clean_title(meta_title, profile.site_names)
    # a header include that closed its own document leaves two <title>s: the later one is the
    # article's (an <svg><title> is no page title)
    titles = [" ".join(text_content(t).split()) for t in root.iter("title") if not t.xpath("ancestor::svg")]
    titles = [t for t in titles if t] or [""]
    page_title = next((t for t in reversed(titles) if not _is_site_name(md.clean_title(t), meta)), titles[0])
    cleaned = md.clean_title(page_title, profile.site_names)
    for selector in TITLE_SELECTORS:
        for node in _select(root, selector, names)[:3]:
            text = " ".join(text_content(node).split())
            # an in-page heading that the <title> repeats is the article's own title
            if len(text) >= 4 and (text in page_title or (cleaned and cleaned in text and len(text) < 80)):
                return md.clean_title(text, profile.site_names)
    if cleaned:
        return cleaned
    if page.list_title:
        return page.list_title.strip()
    og = _first_meta(meta, ("og:title", "twitter:title"))
    return md.clean_title(og or "", profile.site_names)


# a header clock ("今天是2024年5月6日 星期一") is no publication date
_CLOCK = re.compile(r"(?:今天是|今日|今天|当前时间|现在时间|现在是)\s*[:：]?\s*$")


def _stamps(text: str) -> list[tuple[int, str, bool]]:
    return [d for d in md.dates_in(text) if not _CLOCK.search(text[max(0, d[0] - 8):d[0]])]


def _shown_date(before: str, body_text: str, page_text: str, title: str) -> str | None:
    """The date the page shows beside its title: the info line above the body (or atop it)."""
    head = "\n".join(body_text.split("\n")[:8])[:300]
    near = _stamps(before + "\n" + head)
    labelled = [d for d in near if d[2]]
    if labelled:
        return labelled[-1][1]
    if stamp := _stamp_above(before):
        return stamp
    return _date_below_title(page_text, title, body_text)


def _stamp_above(before: str) -> str | None:
    """The stamp closest above the body, unless it ends a column of dated links (a side list)."""
    lines = [line for line in before.split("\n") if line.strip()]
    dated = [bool(_stamps(line)) for line in lines]
    for i in range(len(lines) - 1, -1, -1):
        if dated[i]:
            run = 1
            while i - run >= 0 and dated[i - run]:
                run += 1
            return None if run >= 3 else _stamps(lines[i])[-1][1]
    return None


def _text_above(page_text: str, body_text: str) -> str:
    """The unpruned page text above the body's first line (pruning may have taken the info line)."""
    first_line = body_text.split("\n", 1)[0][:40]
    at = page_text.find(first_line) if first_line else -1
    return page_text[:at] if at > 0 else ""


def _weak_date(body_text: str, above: str) -> str | None:
    """Less sure stamps: a date in the body's first lines, a labelled date anywhere above the body.

    Never below the body: the related-links list there dates other articles.
    """
    head = "\n".join(body_text.split("\n")[:8])[:300]
    if found := _stamps(head):
        return found[0][1]
    labelled = [d for d in _stamps(above) if d[2]]
    return labelled[0][1] if labelled else None


def _prefer_shown(shown: str | None, meta_date: str | None) -> str | None:
    """The displayed date wins over meta (often the page-generation time).

    Meta adds a time when it gives the same day, and settles 06/02/2022: a
    displayed day and month that read as the meta date when swapped were D/M/Y.
    """
    if shown and meta_date:
        if f"{shown[:4]}-{shown[8:10]}-{shown[5:7]}" == meta_date[:10] != shown[:10]:
            return meta_date
        if shown[:10] == meta_date[:10]:
            return meta_date if len(meta_date) > len(shown) else shown
    return shown or meta_date


def _date_below_title(page_text: str, title: str, body_text: str) -> str | None:
    """年月日 on the lines right under the page's heading, above the body's first line."""
    if len(title) < 4:
        return None
    first_line = body_text.split("\n", 1)[0][:20]
    body_at = page_text.find(first_line) if first_line else -1
    end = body_at if body_at >= 0 else len(page_text)  # the body is no info line, nor what follows it
    for m in re.finditer(re.escape(title[:30]), page_text[:end]):
        if found := _stamps(page_text[m.end(): min(end, m.end() + 120)]):
            return found[0][1]
    return None


def _signature_date(body_text: str, after: str) -> str | None:
    """A forum or blog stamp just below the body: '本贴由 X 于2005年8月12日16:12:21…'."""
    lines: list[str] = []
    for line in after.split("\n")[:3]:
        if TAIL_RE.match(line):
            break  # a related-links list: its dates belong to other articles
        lines.append(line)
    found = md.dates_in(body_text[-80:] + "\n" + "\n".join(lines)[:150])
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
    if not md.ORIGINAL_URL_LABEL.search(text_content(root)):
        return None  # no element's text can hold the label: most pages
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
        if m := md._URL_IN_TEXT.search(text_content(el)):
            return m[0]
    return None


_INLINE = {"span", "a", "font", "b", "strong", "em", "i", "label", "small", "u"}
# an element that holds one label and its whole value: <i>来源：《党建研究》 2021年第4期</i>
_ELEMENT_LABEL = {
    "source": re.compile(r"(?:来源|稿源|出处|信息来源|文章来源)\s*[:：]\s*(\S.{1,39})"),
    "author": re.compile(r"(?<![责任编审])(?:作者|撰稿|撰文|执笔人?)\s*[:：]\s*(\S.{0,19})"),
}


_NOT_A_VALUE = re.compile(r"[:：【\[|｜]")  # another label or a tool bar in the same element
_BELOW_BODY_ELEMENTS = 40  # an info row right under the body (编辑 | 来源 | 作者 cells) still counts


def _element_labels(root, node) -> dict[str, str]:
    """Label values read per element above the body or just below it: a value ends where its element ends.

    Info bars of separate inline elements (<i>单位</i> <i>日期</i> <i>来源：…</i>) give
    no separator a text pattern could stop at.
    """
    found: dict[str, str] = {}
    inside = set(node.iter())
    below = -1  # elements seen after the body; -1 while above it
    for el in root.iter():
        if el is node:
            below = 0
        if el in inside:
            continue
        if below >= 0:
            below += 1
            if below > _BELOW_BODY_ELEMENTS:
                break
        if not isinstance(el.tag, str) or el.tag not in _INLINE and el.tag not in ("p", "li", "td", "div"):
            continue
        if any(isinstance(c.tag, str) and c.tag not in _INLINE for c in el):
            continue  # a block holding blocks: its children are read on their own
        text = " ".join(text_content(el).split())
        if not text or len(text) > 60:
            continue
        for field, pattern in _ELEMENT_LABEL.items():
            m = pattern.fullmatch(text)
            if m and field not in found and not _INFO_LABELS.search(m[1]) and not _NOT_A_VALUE.search(m[1]):
                found[field] = m[1].strip(" ：:，,。")
    return found


# "作者：本报记者 王某": the role is not the name
_ROLE_PREFIX = re.compile(r"^(?:本报|本刊|本台|特约|实习|首席)?(?:记者|通讯员)\s*(?=\S{2})")


def _author(profile_hit: str | None, window: str, body_text: str) -> str | None:
    found = _shown_author(profile_hit, window, body_text)
    return _ROLE_PREFIX.sub("", found) if found else None


def _shown_author(profile_hit: str | None, window: str, body_text: str) -> str | None:
    """The author the page shows: a 作者/撰稿 label or a 记者 by-line, nothing guessed.

    <meta name=author> names the site or CMS user, and a trailing （张三） is as
    often a photographer or an editor as the writer: both stay out (the credit
    stays in the text).
    """
    if profile_hit:
        return profile_hit
    if found := md.first(md.AUTHOR_RE, window):
        return found
    head = "\n".join(body_text.split("\n")[:2])[:200]
    tail = body_text[-200:]
    for text in (head, tail):
        if found := md.reporter(text):
            return found
    return md.first(md.AUTHOR_RE, body_text[-300:])


def extract(page: Page, profile: Profile | None = None) -> Article:
    if profile is None:
        profile = get_profile(page.profile if page.profile in PROFILES else None)
    article = Article(url=page.url, site=page.site, fetched_at=page.fetched_at, etag=page.etag,
                      last_modified=page.last_modified, flags=list(page.flags))
    root = parse(page.html) if page.html and page.html.strip() else None
    if root is None:
        log.warning("no parsable HTML on %s", page.url)
        article.title = page.list_title or ""
        article.published = _merge_day(page.list_date, md.date_from_url(page.url))
        article.flags.append("no_body")
        _add_files(article, page)
        return article

    meta = _meta(root)
    names = _Names.of_page(root)  # pruning only takes names away: still a superset later
    article.title = _title(root, profile, meta, page, names)
    strip_code(root)
    body_el = root.find(".//body")
    page_text = node_text(body_el if body_el is not None else root)
    original_url = _original_url(root, page.url)
    profile_date = " ".join(text_content(n) for n in _select(root, profile.date)[:1])
    profile_source = " ".join(" ".join(text_content(n).split()) for n in _select(root, profile.source)[:1])
    profile_author = " ".join(" ".join(text_content(n).split()) for n in _select(root, profile.author)[:1])

    prune(root)
    node, how, text = _body_node(root, profile, page.url, names)
    if node is not None and (table := _announced_table(node, text)) is not None:
        text += "\n" + node_text(table)
    if node is not None and not profile.title and _is_site_name(article.title, meta):
        if heading := _heading_above(root, node, article.title):
            article.title = md.clean_title(heading, profile.site_names)
    if not han_at_least(text, _MIN_BODY_HAN):
        text = _trafilatura(reopen_premature_end(page.html), page.url)
        how = "trafilatura"
    raw_text = text
    text = clean_lines(text, article.title)
    if not han_at_least(text, _MIN_BODY_HAN) and not page.files:
        log.warning("no recognisable body on %s", page.url)
        article.flags.append("no_body")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        article.flags.append("truncated")
    article.text = text
    log.debug("%s: body via %s", page.url, how)

    above, after = around(root, node, chars=len(page.html)) \
        if node is not None and how != "trafilatura" else ("", "")
    if not above.strip():
        above = _text_above(page_text, raw_text)
    before = above[-300:] or page_text[:600]
    window = before[-300:] + "\n" + raw_text[:300]
    found = (md.parse_date(profile_date)
             or _prefer_shown(_shown_date(before, raw_text, page_text, article.title),
                              md.parse_date(_first_meta(meta, md.DATE_META)))
             or _weak_date(raw_text, above or before)
             or md.date_from_url(page.url)
             or _signature_date(text, after[:300]))
    article.published = _merge_day(page.list_date, found)
    labels = _element_labels(root, node) if node is not None else {}
    source = (profile_source and (md.first(md.SOURCE_RE, profile_source + " ") or profile_source)) \
        or labels.get("source") or md.first(md.SOURCE_RE, window) or _first_meta(meta, ("contentsource",)) \
        or md.first(md.SOURCE_RE, text[-200:])
    article.source = source or None
    article.editor = md.first(md.EDITOR_RE, page_text)
    article.author = _author(profile_author or labels.get("author"), window, text)
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
