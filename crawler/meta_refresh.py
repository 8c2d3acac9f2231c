"""Meta refresh redirects, found without decoding every page twice.

Scrapy's MetaRefreshMiddleware looks for `<meta http-equiv="refresh">` in the
first 4,096 characters of `response.text`, and `response.text` decodes the whole
page with Scrapy's own charset detection. The spider then decodes it again
with crawler.decode, so every article page was decoded twice. This subclass
first looks at the bytes that can hold those characters: in an ASCII-compatible
encoding (UTF-8, GBK, GB18030, Big5: at most 4 bytes a character) "refresh" is
the same bytes, and a tag w3lib reads as a refresh has "refresh" in it (in any
case). A page whose head does not have them has no meta refresh to follow; any
other page, a UTF-16 one among them, is looked at as Scrapy does.
"""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefresh
from scrapy.http import HtmlResponse, Response

# the bytes Scrapy's 4,096 characters can take
HEAD_BYTES = 4 * 4096


def may_refresh(body: bytes) -> bool:
    """Whether a page's head could hold a meta refresh (False: it surely holds none)."""
    head = body[:HEAD_BYTES]
    # NUL bytes: UTF-16 or UTF-32, where "refresh" is spelled in other bytes
    return b"refresh" in head.lower() or b"\x00" in head


class MetaRefreshMiddleware(ScrapyMetaRefresh):
    """Scrapy's MetaRefreshMiddleware (same settings), skipping pages that cannot refresh."""

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Request | Response:
        if isinstance(response, HtmlResponse) and not may_refresh(response.body):
            return response
        return super().process_response(request, response)
