"""Output safety: what scraped text and URLs must look like before they leave the tool.

Pages are not vetted, so everything talentwatch writes out — email, webhook JSON, chat
messages, Atom, CSV/JSONL, the web view — passes through these pure functions:

    safe_url(url)    the URL if it is http(s) with a host, else None (never made clickable)
    clean_text(s)    control characters removed (newline and tab kept), NFC
    one_line(s)      a header value: line breaks folded to spaces, length bounded
    clean_data(obj)  clean_text over every string of a JSON-like value (and safe_url on URL keys)
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

# C0 controls but tab and newline, DEL, C1 controls; bidi overrides and isolates (they
# reorder what a reader sees); lone surrogates and U+FFFE/U+FFFF (no XML parser takes them)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
# everything a reader or a mail header takes as a line break, besides \n
_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_SPACES = re.compile(r"\s+")
# what a browser drops from a URL before reading its scheme (so "java\tscript:" is javascript:)
_URL_DROPPED = re.compile("[\t\n\r]")
_URL_EDGES = "".join(chr(c) for c in range(0x21)) + "\x7f"

ONE_LINE_CHARS = 250
URL_KEYS = frozenset({"url", "original_url", "link", "href"})


def safe_url(url: Any) -> str | None:
    """`url` (trimmed) when it is an http:// or https:// URL with a host, else None.

    Only such URLs are ever rendered as links; javascript:, data:, file:, mailto:,
    scheme-relative and malformed URLs are not.
    """
    if not isinstance(url, str):
        return None
    url = _URL_DROPPED.sub("", url).strip(_URL_EDGES).replace(" ", "%20")
    if not url or _CONTROL.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed port or IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return url


def clean_text(value: Any) -> str:
    """`value` as text without control characters: line breaks as \\n, tabs kept, NFC."""
    if value is None:
        return ""
    text = _BREAKS.sub("\n", str(value))
    return unicodedata.normalize("NFC", _CONTROL.sub("", text))


def one_line(value: Any, limit: int = ONE_LINE_CHARS) -> str:
    """`value` fit for a header or a title: one line, single spaces, at most `limit` chars."""
    text = _SPACES.sub(" ", clean_text(value)).strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def clean_data(value: Any, urls: bool = True) -> Any:
    """A JSON-like value with every string cleaned and, with `urls`, every URL-named key
    made safe (`url`, `original_url`, `link`, `href`: null unless http(s))."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k:
                (safe_url(v) if urls and k in URL_KEYS and v is not None else clean_data(v, urls))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(v, urls) for v in value]
    return value
