"""Honouring `Retry-After` on 429 and 503 answers.

Scrapy's RetryMiddleware retries a 429 at once, which is what a throttling
portal punishes. This downloader middleware reads the answer's Retry-After
(seconds or an HTTP date) and:

- waits that long, then asks again, when the wait is at most MAX_WAIT seconds
  (a few times per request at most);
- otherwise gives the URL up for this crawl with one line in the run's errors,
  and hands it to `defer_to_later_crawl`, the place where a later crawl is
  told when to ask again.

It sits just before RetryMiddleware on the way back (a higher priority number),
so an answer with Retry-After never reaches the immediate retry.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

log = logging.getLogger(__name__)

MAX_WAIT = 60.0  # seconds a crawl waits in place; longer waits go to a later crawl
MAX_WAITS = 3  # Retry-After waits per request before it is given up
STATUSES = (429, 503)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def defer_to_later_crawl(request: Request, not_before: datetime) -> None:
    """Say that `request.url` waits for a later crawl.

    The spider's errback records an article so given up in the frontier as a transient
    failure (storage.frontier.record_failure): later crawls ask for it again, with their
    own backoff rather than the exact `not_before`."""
    log.info("%s: deferred to a crawl after %s", request.url, not_before.isoformat(timespec="seconds"))


class RetryAfterMiddleware:
    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in STATUSES:
            return response
        header = response.headers.get("Retry-After")
        wait = retry_after_seconds(header.decode("latin-1") if header else None)
        if wait is None:
            return response  # no usable Retry-After: RetryMiddleware's usual handling
        waits = request.meta.get("retry_after_waits", 0)
        if wait > MAX_WAIT:
            defer_to_later_crawl(request, datetime.now(UTC) + timedelta(seconds=wait))
            raise IgnoreRequest(f"HTTP {response.status} asking to wait {wait:.0f}s (over {MAX_WAIT:.0f}s):"
                                " left for a later crawl")
        if waits >= MAX_WAITS:
            raise IgnoreRequest(f"HTTP {response.status} after waiting as asked {MAX_WAITS} times; given up")
        log.info("%s: HTTP %s, waiting %.1fs as Retry-After asks", request.url, response.status, wait)
        await asyncio.sleep(wait)
        retry = request.replace(dont_filter=True)
        retry.meta["retry_after_waits"] = waits + 1
        return retry
