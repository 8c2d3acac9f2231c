"""Page and attachment size caps: Scrapy enforces them, this names them.

Scrapy cuts a download at DOWNLOAD_MAXSIZE (or a request's `download_maxsize`)
on the wire, endless bodies included, and HttpCompressionMiddleware stops
decompressing at the same cap. What reaches the spider's errback is then a
bare CancelledError, or an IgnoreRequest in Scrapy's words; `size_cap_reason`
turns either into one line naming the config key, and `quiet_size_warnings`
drops Scrapy's own warning about the same download, so a skipped page is one
line, not three.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

# the loggers whose warnings about a download over the cap repeat what the run records
_SIZE_WARNERS = ("scrapy.core.downloader.handlers.http11", "scrapy.downloadermiddlewares.httpcompression")


def _cap(request: Request, page_cap: int) -> tuple[str, int]:
    if request.meta.get("kind") == "attachment":
        return "crawl.max_attachment_mb", int(request.meta.get("download_maxsize") or page_cap)
    return "crawl.max_page_mb", page_cap


def _over_cap(failure: Failure) -> bool:
    if failure.check(CancelledError, DownloadCancelledError):
        return True  # cut on the wire (a crawl stopped at shutdown closes its runs first)
    if failure.check(IgnoreRequest):
        # HttpCompressionMiddleware's: its cause is a private class, its message names the setting
        cause = type(getattr(failure.value, "__cause__", None)).__name__
        return cause == "_DecompressionMaxSizeExceeded" or "DOWNLOAD_MAXSIZE" in str(failure.value)
    return False


def size_cap_reason(failure: Failure, request: Request, page_cap: int) -> str | None:
    """'larger than the … cap' when the download was cut for its size, else None."""
    if not _over_cap(failure):
        return None
    key, cap = _cap(request, page_cap)
    how = "after decompression" if failure.check(IgnoreRequest) else "on the wire"
    return f"larger than the size cap {key} ({cap / 1024 / 1024:g} MB, {how}): skipped"


def quiet_size_warnings() -> None:
    """Scrapy's warnings about a download over the cap: the run's error line says it once."""
    for name in _SIZE_WARNERS:
        logging.getLogger(name).setLevel(logging.ERROR)
