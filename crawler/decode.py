"""Bytes -> text: the one decoder of pages, for the crawl and `talentwatch extract` alike.

Close to the way Scrapy's `response.text` decodes a page, with two differences below.

Order: BOM, charset in the HTTP Content-Type header, charset declared in the
HTML (meta), then detection for undeclared pages (ASCII, UTF-8, then -- unlike
Scrapy -- GB18030 if the bytes are valid GB18030, then charset detection).
w3lib maps GB2312/GBK to GB18030, its superset, so pages that declare gb2312
but use GBK-only characters still decode cleanly. A page whose declared
charset garbles it while GB18030 reads it cleanly is read as GB18030 and
flagged "charset_mismatch".
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    if bad <= _tolerated(body):
        return "gb18030"
    match = from_bytes(body).best()
    return resolve_encoding(match.encoding) if match else None


def _tolerated(body: bytes) -> int:
    # a few bad bytes are a cut-off title, not a wrong charset
    return max(2, len(body) // 5000)


@dataclass
class Decoded:
    encoding: str
    text: str
    flags: list[str] = field(default_factory=list)  # "charset_mismatch": the declaration was wrong


def decode_page(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode a fetched page; `content_type` is the HTTP header value.

    A page may declare utf-8 (header and meta) and still be GBK bytes: the
    declared charset then leaves replacement characters all over the text.
    When GB18030 reads the same bytes cleanly, it wins and the page is flagged.
    """
    header = content_type
    if header and "charset" not in header.lower():
        header = None  # a bare "text/html" says nothing about the encoding
    encoding, text = html_to_unicode(header, body, default_encoding="ascii", auto_detect_fun=_detect)
    if encoding != "gb18030" and text.count("\ufffd") > _tolerated(body):
        fallback = body.decode("gb18030", errors="replace")
        if fallback.count("\ufffd") <= _tolerated(body):
            return Decoded("gb18030", fallback.removeprefix("\ufeff"), ["charset_mismatch"])
    return Decoded(encoding, text)


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (encoding, text) for a fetched page; `content_type` is the HTTP header value."""
    decoded = decode_page(body, content_type)
    return decoded.encoding, decoded.text


def decode_text(body: bytes, content_type: str | None = None) -> str:
    return decode_html(body, content_type)[1]
