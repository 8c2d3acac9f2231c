"""Suggesting a site's settings from one list page: a pure function, page text + URL in.

The article list is found by structure, not by URL: links that sit at the same
place in the markup (the same chain of tags and classes), one per repeated item
of one container, form a candidate list; so do a Hanweb datastore's records and
a 12371-style inline-script array. The candidate with the most items, titles of
a headline's length, dates beside them and one URL shape wins; navigation
(short labels, column index pages) loses. The article pattern is then generalised
from the winning list's URLs only as far as they differ, and checked against
every other link of the page.

List entries on other hosts (a hiring unit's own notice linked from an HR
bureau's column) are entries all the same: they count, shape the pattern, and
their hosts are suggested as extra allowed_domains.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree
from talentwatch.core.profiles import PROFILES, Profile, get_profile
from talentwatch.crawler.listing import (
    ListItem,
    datastore_items,
    iso_date,
    parse_list,
    script_items,
)

_HAN = re.compile(r"[\u4e00-\u9fff]")
_COLUMN_PAGE = re.compile(r"(?:^|/)(?:index(?:_\d+)?\.s?html?|default\.s?html?|)$")
# classes that mark one item among its siblings (the current one, odd rows), not a kind of item
_STATE_CLASSES = {"on", "cur", "current", "active", "odd", "even", "first", "last", "hover", "sel",
                  "selected", "hot", "new", "top"}
_SKIP_TAGS = {"script", "style", "noscript", "template"}
# the narrowest class that holds every differing part (hex ids, column slugs, anything)
_CLASSES = (r"\d+", r"[0-9a-f]+", r"[0-9A-Fa-f]+", r"[a-z]+", r"[0-9a-z]+", r"[0-9A-Za-z]+",
            r"[\w-]+", r"[^/]+")
_PAGE_NAME = re.compile(r"(?:^|/)index(?:_(\d+))?\.s?html?$")
_REGEX_SPECIAL = re.compile(r"([.^$*+?{}\[\]\\|()])")

MIN_ENTRIES = 2
MIN_TITLE_CHARS = 5
# a page with this much prose outside its list (and more than the list holds) is an article
ARTICLE_PROSE_CHARS = 300


class NotAListPage(ValueError):
    """No group of links on the page looks like a list of articles; the message says why."""


@dataclass
class Candidate:
    """One group of links that might be the article list."""

    kind: str  # "markup" | "datastore" | "inline script"
    where: str  # the container, for messages ("ul.newsList")
    entries: list[ListItem]
    node: etree._Element | None = None  # the container in the markup, if the list is there
    score: float = 0.0
    why_not: str | None = None  # set when the group cannot be the article list


@dataclass
class Suggestion:
    url: str
    article_pattern: str
    entries: list[ListItem]  # the list's entries, in page order
    matched: list[ListItem]  # every link of the page (on allowed hosts) the pattern matches
    unmatched: list[str]  # the other links of the page
    next_page: str | None
    list_kind: str
    list_where: str
    family: str | None = None  # CMS family recognised from the entries' URLs
    profile: str | None = None  # a built-in profile whose list rules read this page as suggested
    extra_domains: list[str] = field(default_factory=list)  # entry hosts other than the page's

    @property
    def allowed_domains(self) -> list[str]:
        return [urlsplit(self.url).hostname or "", *self.extra_domains]


# -- reading the page -----------------------------------------------------------


def _clean_url(base: str, href: str) -> str | None:
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
        return None
    try:
        url = urljoin(base, href).split("#", 1)[0]
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def _all_text(node: etree._Element) -> str:
    return "".join(str(t) for t in node.itertext())


def _text(node: etree._Element) -> str:
    return " ".join(_all_text(node).split())


def _title(link: etree._Element) -> str:
    return (link.get("title") or "").strip() or _text(link)


def _classes(node: etree._Element) -> str:
    names = sorted({re.sub(r"\d+", "", c) for c in (node.get("class") or "").split()}
                   - _STATE_CLASSES - {""})
    return ".".join(names)


def _signature(link: etree._Element) -> tuple[str, ...]:
    """Where a link sits in the markup: its ancestors' tags and classes, without positions."""
    chain = [f"{link.tag}.{_classes(link)}"]
    for node in link.iterancestors():
        if not isinstance(node.tag, str):
            continue
        chain.append(f"{node.tag}.{_classes(node)}")
    return tuple(reversed(chain))


def _describe(node: etree._Element) -> str:
    ident = f"#{node.get('id')}" if node.get("id") else ""
    classes = "".join(f".{c}" for c in (node.get("class") or "").split()[:2])
    return f"{node.tag}{ident}{classes}"


def _ancestors(node: etree._Element) -> list[etree._Element]:
    """Root first, the node itself last."""
    return [*reversed(list(node.iterancestors())), node]


Item = tuple[etree._Element, list[etree._Element]]  # an item of a list and its links


def _split_lists(links: list[etree._Element]) -> list[tuple[etree._Element, list[Item]]]:
    """Links of one signature -> lists: (container, items), each item with the links it holds.

    Their lowest common ancestor is the container when its children each hold one
    link (or each two): those children are the items. Otherwise the children are
    separate blocks of the same make (two columns side by side): each is split on
    its own."""
    if len(links) < 2:
        return []
    chains = [_ancestors(a) for a in links]
    depth = 0
    while all(len(c) > depth + 1 for c in chains) and all(c[depth + 1] is chains[0][depth + 1]
                                                           for c in chains):
        depth += 1
    container = chains[0][depth]
    groups: dict[int, Item] = {}
    order: list[int] = []
    for chain, link in zip(chains, links, strict=True):
        if len(chain) <= depth + 1:
            continue  # the link is the container itself (nested links): not an item
        key = id(chain[depth + 1])
        if key not in groups:
            groups[key] = (chain[depth + 1], [])
            order.append(key)
        groups[key][1].append(link)
    counts = [len(groups[k][1]) for k in order]
    one_each = len(order) >= 2 and statistics.median(counts) == 1
    # items with two links alike (a title split in two); three or more alike are blocks
    two_each = len(order) >= 3 and set(counts) == {2}
    if one_each or two_each:
        return [(container, [groups[k] for k in order])]
    out = []
    for key in order:
        out.extend(_split_lists(groups[key][1]))
    return out


def _markup_candidates(root: etree._Element, url: str) -> list[Candidate]:
    by_signature: dict[tuple[str, ...], list[etree._Element]] = {}
    for link in root.iter("a"):
        if link.get("href") is None or _clean_url(url, link.get("href", "")) is None:
            continue
        by_signature.setdefault(_signature(link), []).append(link)
    candidates = []
    for links in by_signature.values():
        for container, items in _split_lists(links):
            entries: list[ListItem] = []
            seen: set[str] = set()
            for item, item_links in items:
                link = max(item_links, key=lambda a: len(_title(a)))
                target = _clean_url(url, link.get("href", ""))
                if target is None or target in seen:
                    continue
                seen.add(target)
                entries.append(ListItem(target, _title(link) or None, iso_date(_text(item))))
            candidates.append(Candidate("markup", _describe(container), entries, container))
    return candidates


def _datastore_candidate(html: str, url: str) -> Candidate | None:
    # the crawl's own reader (crawler.listing), so the suggestion shows what the crawl will read
    entries = [e for e in datastore_items(html, url) if _clean_url(url, e.url)]
    return Candidate("datastore", 'script[type="text/xml"] datastore', entries) if entries else None


def _script_candidate(html: str, url: str) -> Candidate | None:
    entries = [e for e in script_items(html, url) if _clean_url(url, e.url)]
    return Candidate("inline script", "inline-script item array", entries) if entries else None


def _all_links(root: etree._Element, html: str, url: str, extra: list[Candidate]) -> list[str]:
    links: dict[str, None] = {}
    for link in root.iter("a"):
        if (target := _clean_url(url, link.get("href") or "")) is not None:
            links[target] = None
    for candidate in extra:
        for entry in candidate.entries:
            links[entry.url] = None
    return list(links)


# -- choosing the list ----------------------------------------------------------


def _shape(url: str) -> str:
    """A URL's path (and query) with its digit runs generalised: /a/content/post_#.html."""
    parts = urlsplit(url)
    return re.sub(r"\d+", "#", parts.path + ("?" + parts.query if parts.query else ""))


def _score(candidate: Candidate) -> None:
    entries = candidate.entries
    n = len(entries)
    if n < MIN_ENTRIES:
        candidate.why_not = f"{n} link"
        return
    title_chars = statistics.median(len(e.title or "") for e in entries)
    dated = sum(1 for e in entries if e.date) / n
    shapes = Counter(_shape(e.url) for e in entries)
    coherence = shapes.most_common(1)[0][1] / n
    column_pages = sum(1 for e in entries if _COLUMN_PAGE.search(urlsplit(e.url).path)) / n
    if title_chars < MIN_TITLE_CHARS:
        candidate.why_not = f"{n} links with labels of {title_chars:g} characters (navigation)"
    elif column_pages >= 0.5:
        candidate.why_not = f"{n} links to column pages (navigation)"
    elif dated < 0.5 and not (n >= 5 and coherence >= 0.8):
        candidate.why_not = f"{n} links without dates or one URL shape"
    candidate.score = n * (0.3 + dated) * min(1.0, title_chars / 10) * (0.5 + 0.5 * coherence) \
        * (1 - column_pages)


def _han(text: str | None) -> int:
    return len(_HAN.findall(text)) if text else 0


def _prose_chars(root: etree._Element, skip: etree._Element | None) -> int:
    """Han characters of the page's own text: outside links, scripts and the list."""
    count = _han(_all_text(root))
    for node in root.iter("a", *_SKIP_TAGS):
        count -= _han(_all_text(node))
    if skip is not None:
        count -= _han(_all_text(skip))
        for node in skip.iter("a", *_SKIP_TAGS):
            count += _han(_all_text(node))  # already taken off once
    return max(count, 0)


# -- the pattern ------------------------------------------------------------------


def _escape(text: str) -> str:
    return _REGEX_SPECIAL.sub(r"\\\1", text)


def _tokens(segment: str) -> list[str]:
    return re.findall(r"\d+|\D+", segment)


def _segment_regex(values: list[str]) -> str:
    """One regex for one path segment's values: literal where they agree, \\d+ for numbers,
    the narrowest character class between a common prefix and suffix where they differ
    otherwise."""
    if len(set(values)) == 1 and not re.search(r"\d", values[0]):
        return _escape(values[0])
    token_lists = [_tokens(v) for v in values]
    first = token_lists[0]
    if all(len(t) == len(first) for t in token_lists):
        parts = []
        for i, token in enumerate(first):
            column = [t[i] for t in token_lists]
            if all(c.isdigit() for c in column):
                parts.append(r"\d+")
            elif len(set(column)) == 1:
                parts.append(_escape(token))
            else:
                break
        else:
            return "".join(parts)
    prefix = _common_prefix(values)
    suffix = _common_prefix([v[::-1] for v in values])[::-1]
    prefix, suffix = re.split(r"\d", prefix)[0], re.split(r"\d", suffix)[-1]
    if len(prefix) + len(suffix) >= min(len(v) for v in values):
        suffix = ""
    middles = [v[len(prefix):len(v) - len(suffix)] for v in values]
    middle = next(c for c in _CLASSES if all(re.fullmatch(c, m) for m in middles))
    return _escape(prefix) + middle + _escape(suffix)


def _common_prefix(values: list[str]) -> str:
    first = min(values)
    last = max(values)
    i = 0
    while i < min(len(first), len(last)) and first[i] == last[i]:
        i += 1
    return first[:i]


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + ("?" + parts.query if parts.query else "")


def _alternatives(urls: list[str], merge: bool) -> list[str]:
    """Regexes for the paths of `urls`: one per host and number of segments when merging,
    else one per URL shape (digits generalised, every other character kept)."""
    groups: dict[object, list[list[str]]] = {}
    for url in urls:
        segments = _path_of(url).split("/")
        # entries on different hosts never share a regex: their sites' shapes are their own
        key: object = (urlsplit(url).hostname, len(segments)) if merge else _shape(url)
        groups.setdefault(key, []).append(segments)
    regexes = []
    # the most common shape first: it is what a reader checks
    for members in sorted(groups.values(), key=len, reverse=True):
        columns = zip(*members, strict=True)
        regexes.append("/".join(_segment_regex(list(column)) for column in columns))
    return list(dict.fromkeys(regexes))


def _compose(regexes: list[str]) -> str:
    if len(regexes) == 1:
        return regexes[0] + "$"
    return "(?:" + "|".join(regexes) + ")$"


def _on_hosts(url: str, hosts: list[str]) -> bool:
    host = urlsplit(url).hostname or ""
    return any(host == h or host.endswith("." + h) for h in hosts)


def derive_pattern(entries: list[str], others: list[str]) -> str:
    """A regex that every entry URL matches and, if it can be had, none of `others`
    nor the column pages beside the entries (index.html, index_2.html)."""
    others = others + [urljoin(u, name) for u in entries for name in ("index.html", "index_2.html")]
    tries = [_compose(_alternatives(entries, merge=True)), _compose(_alternatives(entries, merge=False))]
    for pattern in tries:
        compiled = re.compile(pattern)
        if not any(compiled.search(o) for o in others):
            return pattern
    return tries[-1]  # links of the very same shape elsewhere on the page: articles too


# -- the family -------------------------------------------------------------------


def recognise_family(entry_urls: list[str]) -> Profile | None:
    """The built-in profile whose article URLs most of the entries have (80% or more)."""
    best: tuple[float, Profile] | None = None
    for profile in PROFILES.values():
        if not profile.article_url or not entry_urls:
            continue
        pattern = re.compile(profile.article_url)
        share = sum(1 for u in entry_urls if pattern.search(u)) / len(entry_urls)
        if share >= 0.8 and (best is None or share > best[0]):
            best = (share, profile)
    return best[1] if best else None


def _profile_reads(profile: Profile, html: str, url: str, pattern: re.Pattern[str],
                   expected: set[str]) -> bool:
    """The profile's own list rules find exactly the links the pattern matches."""
    items = parse_list(html, url, pattern, profile, fallback=False).items
    return bool(items) and {i.url for i in items} == expected


def _page_number(url: str, otherwise: float) -> float:
    """index.html is page 0, index_3.html page 3; any other name is `otherwise`."""
    m = _PAGE_NAME.search(urlsplit(url).path)
    return float(m[1] or 0) if m else otherwise


def _later_page(candidate: str, current: str) -> bool:
    """A next-page candidate that is not this page or one before it (the last page of a
    list links back to the first). A page named otherwise (a 下一页 link) is later; a start
    page named otherwise (…/column/) is the first."""
    return _page_number(candidate, float("inf")) > _page_number(current, 0)


# -- the whole suggestion ---------------------------------------------------------


def suggest(html: str, url: str) -> Suggestion:
    """The article list of the page at `url`, and the settings that crawl it.

    Raises NotAListPage when no group of links looks like a list of articles."""
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise NotAListPage(f"not an HTML page ({exc})") from None
    scripted = [c for c in (_datastore_candidate(html, url), _script_candidate(html, url)) if c]
    candidates = _markup_candidates(root, url) + scripted
    for candidate in candidates:
        _score(candidate)
    fit = sorted((c for c in candidates if c.why_not is None), key=lambda c: c.score, reverse=True)
    if not fit:
        biggest = max(candidates, key=lambda c: len(c.entries), default=None)
        detail = f"; the largest group: {biggest.why_not} in {biggest.where}" if biggest else \
            "; no two of its links sit alike"
        raise NotAListPage(f"no group of links looks like articles{detail}")
    best = fit[0]
    prose = _prose_chars(root, best.node)
    list_chars = sum(len(e.title or "") for e in best.entries)
    if prose > ARTICLE_PROSE_CHARS and prose > list_chars:
        raise NotAListPage(f"it reads as an article ({prose} characters of text outside its "
                           f"{len(best.entries)} links), not as a list of articles")

    page_host = urlsplit(url).hostname or ""
    entry_urls = [e.url for e in best.entries]
    extra_domains = sorted({urlsplit(u).hostname or "" for u in entry_urls} - {page_host})
    hosts = [page_host, *extra_domains]
    links = _all_links(root, html, url, scripted)
    entry_set = set(entry_urls)
    others = [link for link in links if link not in entry_set and _on_hosts(link, hosts)]
    pattern = derive_pattern(entry_urls, others)
    compiled = re.compile(pattern)

    titles = {e.url: e for e in best.entries}
    matched: list[ListItem] = []
    for link in links:
        if _on_hosts(link, hosts) and compiled.search(link):
            matched.append(titles.get(link, ListItem(link)))
    matched_set = {m.url for m in matched}
    unmatched = [link for link in links if link not in matched_set]

    family = recognise_family([u for u in entry_urls if urlsplit(u).hostname == page_host])
    profile_name = None
    if family is not None and _profile_reads(family, html, url, compiled, matched_set):
        profile_name = family.name
    listing = parse_list(html, url, compiled, get_profile(profile_name))
    next_page = next((p for p in listing.next_pages
                      if urlsplit(p).hostname == page_host and _later_page(p, url)), None)
    return Suggestion(
        url=url, article_pattern=pattern, entries=best.entries, matched=matched, unmatched=unmatched,
        next_page=next_page, list_kind=best.kind, list_where=best.where,
        family=family.family or family.name if family else None, profile=profile_name,
        extra_domains=extra_domains,
    )
