"""List pages: a pure function from a decoded list page to its article links
and the next list pages to follow."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from parsel import Selector
from talentwatch.core.profiles import Profile
from talentwatch.crawler.metadata import parse_date

log = logging.getLogger(__name__)

_DATE = re.compile(r"(\d{4})[-年/.](\d{1,2})[-月/.](\d{1,2})")
# index.html, index_1.html, index_2.shtml … in the same section
_PAGINATED = re.compile(r"(?:^|/)index(?:_(\d+))?\.s?html?$")
_NEXT_LABELS = ("下一页", "下页", "后一页")


@dataclass
class ListItem:
    url: str
    title: str | None = None
    date: str | None = None


@dataclass
class ListPage:
    items: list[ListItem] = field(default_factory=list)
    next_pages: list[str] = field(default_factory=list)


def iso_date(text: str | None) -> str | None:
    """The first date written in `text` (2024-06-12, 2024年6月12日, 2024/6/12) as ISO; a
    month or day out of range is no date. One reader for the crawl's lists and `try`."""
    if text and (m := _DATE.search(text)):
        month, day = int(m[2]), int(m[3])
        if 1 <= month <= 12 and 1 <= day <= 31:
            return f"{int(m[1]):04d}-{month:02d}-{day:02d}"
    return None


# 12371.cn-style lists: item=[{title:'…', brief:'2024-05-06 10:00:00', link_add:'…'}, …] in a <script>
_JS_OBJECT = re.compile(r"\{[^{}]*?link_add[^{}]*\}", re.DOTALL)
_JS_FIELD = re.compile(r"""(\w+)\s*:\s*(?:'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)")""")


def _js_unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def script_items(html: str, url: str, article_pattern: re.Pattern[str] | None = None) -> list[ListItem]:
    """List items kept in an inline script array instead of the markup."""
    items: list[ListItem] = []
    seen: set[str] = set()
    for obj in _JS_OBJECT.finditer(html):
        fields = {m[1]: _js_unescape(m[2] if m[2] is not None else m[3] or "")
                  for m in _JS_FIELD.finditer(obj[0])}
        link = fields.get("link_add", "").strip()
        if not link:
            continue
        target = urljoin(url, link)
        if target in seen or (article_pattern is not None and not article_pattern.search(target)):
            continue
        seen.add(target)
        title = " ".join(fields.get("title", "").split()) or None
        brief = fields.get("brief")
        items.append(ListItem(target, title, parse_date(brief) or iso_date(brief)))
    return items


# Hanweb jcms lists: <script type="text/xml"><datastore><recordset><record><![CDATA[<li>…</li>]]>
# </record>…; the records are the list, the page's markup around them is navigation
_DATASTORE = re.compile(r"<script\b[^>]*\btype\s*=\s*[\"']?text/xml[^>]*>(.*?)</script\s*>",
                        re.DOTALL | re.IGNORECASE)
_RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.DOTALL | re.IGNORECASE)


def datastore_records(html: str) -> list[str]:
    """The markup snippets of a Hanweb datastore's records, in order."""
    return [record[1] for store in _DATASTORE.finditer(html) for record in _RECORD.finditer(store[1])]


def record_link(record: Selector) -> Selector | None:
    """A record's title link: the one with the longest text (a record may also link its column)."""
    links = record.css("a[href]")
    if not links:
        return None
    return max(links, key=lambda a: len(a.attrib.get("title") or a.xpath("string()").get("").strip()))


def datastore_items(html: str, url: str, article_pattern: re.Pattern[str] | None = None) -> list[ListItem]:
    """List items kept as CDATA records in a datastore script instead of the markup (the one
    reader of them: the crawl and `try`'s suggestion both use it). A title is the link's
    `title`, else its text with runs of whitespace (line breaks in a record) as one space."""
    items: list[ListItem] = []
    seen: set[str] = set()
    for snippet in datastore_records(html):
        record = Selector(text=snippet)
        link = record_link(record)
        if link is None:
            continue
        target = urljoin(url, link.attrib["href"])
        if target in seen or (article_pattern is not None and not article_pattern.search(target)):
            continue
        seen.add(target)
        title = link.attrib.get("title") or " ".join(link.xpath("string()").get("").split())
        items.append(ListItem(target, title or None, iso_date(record.xpath("string()").get(""))))
    return items


def _section(url: str) -> str:
    path = urlsplit(url).path
    return path.rsplit("/", 1)[0] + "/"


def _profile_items(sel: Selector, url: str, article_pattern: re.Pattern[str],
                   profile: Profile) -> list[ListItem]:
    items: list[ListItem] = []
    seen: set[str] = set()
    if not profile.list_item:
        return items
    for node in sel.css(profile.list_item):
        link = node.css(profile.list_link or "a")[:1]
        href = link.attrib.get("href") if link else None
        if not href:
            continue
        target = urljoin(url, href)
        if target in seen or not article_pattern.search(target):
            continue
        seen.add(target)
        title = link.attrib.get("title") or link.xpath("string()").get("").strip()
        date_text = node.css(profile.list_date).xpath("string()").get() if profile.list_date \
            else node.xpath("string()").get()
        items.append(ListItem(target, title or None, iso_date(date_text)))
    return items


def _generic_items(sel: Selector, url: str, article_pattern: re.Pattern[str]) -> list[ListItem]:
    items: list[ListItem] = []
    seen: set[str] = set()
    for link in sel.css("a[href]"):
        target = urljoin(url, link.attrib["href"])
        if target in seen or not article_pattern.search(target):
            continue
        seen.add(target)
        title = link.attrib.get("title") or link.xpath("string()").get("").strip()
        # the date sits beside the link in the same list item or table row, often
        # in a sibling element (NFCMS: div.title > a, div.time)
        item = link.xpath("ancestor::*[self::li or self::tr or self::dd or self::dl][1]")
        context = (item or link.xpath(".."))[0].xpath("string()").get("")
        items.append(ListItem(target, title or None, iso_date(context)))
    return items


def _commented_markup(sel: Selector) -> Selector | None:
    """The markup inside the page's HTML comments that hold links, parsed as one fragment."""
    chunks = [c for c in sel.xpath("//comment()").getall() if "href" in c]
    if not chunks:
        return None
    return Selector(text="<html><body>" + "\n".join(c[4:-3] for c in chunks) + "</body></html>")


_SCRIPT_LISTS = {"inline_script": script_items, "datastore": datastore_items}


def parse_list(html: str, url: str, article_pattern: re.Pattern[str],
               profile: Profile | None = None, fallback: bool = True) -> ListPage:
    """Items and next pages of a list page. The profile's own list rules first; when they
    find nothing (and `fallback`), every matching link of the markup, then of a
    datastore or an inline-script array."""
    profile = profile or Profile()
    sel = Selector(text=html)
    page = ListPage()
    if profile.list_mode in _SCRIPT_LISTS:
        page.items = _SCRIPT_LISTS[profile.list_mode](html, url, article_pattern)
        if not page.items and fallback:
            log.warning("profile %s: no %s list items on %s; using the generic path",
                        profile.name, profile.list_mode, url)
    if not page.items and profile.list_item:
        page.items = _profile_items(sel, url, article_pattern, profile)
        if not page.items and fallback:
            log.warning("profile %s: list selector %r matched nothing on %s; using the generic path",
                        profile.name, profile.list_item, url)
    own_rules = profile.list_item or profile.list_mode in _SCRIPT_LISTS
    if not page.items and (fallback or not own_rules):
        page.items = _generic_items(sel, url, article_pattern)
    if not page.items and (fallback or not own_rules) and (commented := _commented_markup(sel)) is not None:
        # some CMS templates comment the server-rendered list out and draw it again by script
        page.items = (profile.list_item and _profile_items(commented, url, article_pattern, profile)) \
            or _generic_items(commented, url, article_pattern)
    if not page.items and fallback:
        # a generic site whose list lives in a script: its links are not in the markup
        page.items = datastore_items(html, url, article_pattern) or script_items(html, url, article_pattern)

    # best candidate first: the profile's next link, then one labelled 下一页,
    # then index_N pages by number, so a walk goes newest to oldest
    section = _section(url)
    # a numbered page's next pages have higher numbers: index_7's links back to index
    # and index_1 are not where an older list goes on (a backfill starts halfway)
    here = _PAGINATED.search(urlsplit(url).path)
    here_number = int(here[1] or 0) if here else -1
    candidates: list[tuple[int, int, str]] = []
    if profile.next_page:
        for link in sel.css(profile.next_page):
            if href := link.attrib.get("href"):
                candidates.append((0, 0, urljoin(url, href)))
    for link in sel.css("a[href]"):
        target = urljoin(url, link.attrib["href"]).split("#")[0]
        parts = urlsplit(target)
        if target == url or _section(target) != section or parts.netloc != urlsplit(url).netloc:
            continue
        label = link.xpath("string()").get("").strip()
        if any(lbl in label for lbl in _NEXT_LABELS):
            candidates.append((1, 0, target))
        elif (m := _PAGINATED.search(parts.path)) and int(m[1] or 0) > here_number:
            candidates.append((2, int(m[1] or 0), target))
    for _, _, target in sorted(candidates, key=lambda c: (c[0], c[1])):
        if target not in page.next_pages:
            page.next_pages.append(target)
    return page
