"""Who an article is: canonical URLs, a site's stable ids, official domains.

The same page is reachable under many spellings (http/https, `www.`, a
trailing `index.html`, a `#fragment`, `?utm_source=…`); the canonical URL folds
them into one key. Many portals also move a post between columns while its id
(`post_18406`, `ARTI1618…`, `t20230424_123456`) stays: the stable key
(host + id) catches those moves.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# query parameters that only say where a click came from
TRACKING_PARAMS = frozenset({
    "spm", "from", "isappinstalled", "scene", "share", "share_token", "sharer_shareid",
    "share_source", "wxfrom", "wx_fmt", "clicktime", "enterid", "timestamp", "ts", "_", "f",
    "tt_from", "utm_id", "fbclid", "gclid", "mpshare", "srcid", "sessionid", "nsukey",
})
TRACKING_PREFIXES = ("utm_",)
# directory index pages: /a/b/index.html is /a/b/
INDEX_PAGES = re.compile(r"/(?:index|default)\.(?:s?html?|jsp|php|aspx?)$", re.I)

# a site's own article ids, as named patterns (first match wins)
STABLE_ID_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("post", re.compile(r"post_(\d+)\.s?html?$", re.I)),  # gdzz.gov.cn and many TRS/DSP sites
    ("arti", re.compile(r"(ARTI[0-9A-Za-z]{8,})")),  # 12371.cn
    ("trs", re.compile(r"/(t\d{8}_\d+)\.s?html?$")),  # TRS WCM: t20230424_4158817.html
    ("art", re.compile(r"/(art_\d+_\d+)\.html?$")),  # Zhejiang/Jiangsu government sites
    ("content", re.compile(r"content_(\d+)\.s?html?$")),  # gov.cn
)

# hosts of official publishers: preferred as the original of a cluster
OFFICIAL_SUFFIXES = (".gov.cn", ".12371.cn", ".gov")
OFFICIAL_HOSTS = frozenset({"gov.cn", "12371.cn"})

# 原文链接 / 原文地址 / 来源链接 followed by a URL, as reposts print it in the text
_ORIGINAL_LINK = re.compile(r"(?:原文链接|原文地址|原文網址|原文鏈接|来源链接|原文)\s*[:：]?\s*(https?://[^\s<>\"'，。；）)]+)")


def _host(netloc: str) -> str:
    host = netloc.rsplit("@", 1)[-1].lower()
    if host.endswith(":80") or host.endswith(":443"):
        host = host.rsplit(":", 1)[0]
    return host.removeprefix("www.")


def canonical_url(url: str) -> str:
    """One spelling per page: https, no www., no index page, no fragment, no tracking."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https", ""):
        return url
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    path = INDEX_PAGES.sub("/", path)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)]
    return urlunsplit(("https", _host(parts.netloc), path, urlencode(sorted(query)), ""))


def host_of(url: str) -> str:
    return _host(urlsplit(url).netloc)


def stable_key(url: str) -> str | None:
    """host + the site's own id for the article, e.g. `gdzz.gov.cn/post:18406`."""
    path = urlsplit(url).path
    for name, pattern in STABLE_ID_PATTERNS:
        if m := pattern.search(path):
            return f"{host_of(url)}/{name}:{m.group(1)}"
    return None


def is_official(url: str) -> bool:
    host = host_of(url)
    return host in OFFICIAL_HOSTS or host.endswith(OFFICIAL_SUFFIXES)


def original_link(text: str | None) -> str | None:
    """The URL a repost names as its source (`原文链接:https://…`), if it prints one."""
    if text and (m := _ORIGINAL_LINK.search(text)):
        return m.group(1).rstrip(".,;")
    return None
