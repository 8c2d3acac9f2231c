"""Bytes -> text: the one decoder of pages, for the crawl and `talentwatch extract` alike.

Close to the way Scrapy's `response.text` decodes a page, with one difference below.

Order: BOM, charset in the HTTP Content-Type header, charset declared in the
HTML (meta), then detection for undeclared pages (ASCII, UTF-8, then -- unlike
Scrapy -- GB18030 if the bytes are valid GB18030, then charset detection).
w3lib maps GB2312/GBK to GB18030, its superset, so pages that declare gb2312
but use GBK-only characters still decode cleanly.
"""

from __future__ import annotations

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode, resolve_encoding


def _detect(body: bytes) -> str | None:
    # the same order Scrapy's TextResponse uses for pages that declare nothing
    # GB18030 before generic detection: these portals are Chinese, and the byte
    # statistics of short GBK pages often look like Cyrillic code pages.
    for enc in ("ascii", "utf-8"):
        try:
            body.decode(enc)
        except UnicodeError:
            continue
        return resolve_encoding(enc)
    # tolerate a few bad bytes: CMSs cut titles mid-character ("标题…" truncation)
    bad = body.decode("gb18030", errors="replace").count("\ufffd")
    if bad <= max(2, len(body) // 5000):
        return "gb18030"
    match = from_bytes(body).best()
    return resolve_encoding(match.encoding) if match else None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (encoding, text) for a fetched page; `content_type` is the HTTP header value."""
    header = content_type
    if header and "charset" not in header.lower():
        header = None  # a bare "text/html" says nothing about the encoding
    encoding, text = html_to_unicode(header, body, default_encoding="ascii", auto_detect_fun=_detect)
    return encoding, text


def decode_text(body: bytes, content_type: str | None = None) -> str:
    return decode_html(body, content_type)[1]
