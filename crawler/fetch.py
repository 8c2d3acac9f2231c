"""Fetching a few pages politely outside a crawl (`talentwatch try`), without Scrapy's reactor.

The same manners as the spider: the configured User-Agent, robots.txt obeyed,
a delay between requests to one host, a timeout, a size cap, and only
http(s) — redirects included.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
import urllib.robotparser
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MAX_PAGE_BYTES = 10 * 1024 * 1024
MAX_ROBOTS_BYTES = 512 * 1024


class FetchError(Exception):
    """A page that could not be fetched; the message says why, in one line."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, when the server answered


def read_capped(response: Any, limit: int, prefix: str = "") -> bytes:
    """An HTTP response's body, refused (FetchError) past `limit` bytes, declared or read."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FetchError(f"{prefix}too large: {declared} bytes > {limit}")
    body: bytes = response.read(limit + 1)
    if len(body) > limit:
        raise FetchError(f"{prefix}too large: more than {limit} bytes")
    return body


@dataclass
class Fetched:
    url: str  # after redirects
    body: bytes
    content_type: str | None


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - stdlib's signature
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"redirected to a non-http(s) URL: {newurl[:200]}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@dataclass
class PoliteFetcher:
    user_agent: str
    timeout: float = 30.0
    delay: float = 1.0  # seconds between two requests to one host
    obey_robots: bool = True
    max_bytes: int = MAX_PAGE_BYTES
    _opener: urllib.request.OpenerDirector = field(init=False, repr=False)
    _robots: dict[str, urllib.robotparser.RobotFileParser | None] = field(default_factory=dict, repr=False)
    _last: dict[str, float] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._opener = urllib.request.build_opener(_HttpOnlyRedirects())

    def get(self, url: str) -> Fetched:
        if not http_url(url):
            raise FetchError(f"not an http(s) URL: {url[:200]}")
        if self.obey_robots and not self._robots_allow(url):
            raise FetchError(f"robots.txt of {urlsplit(url).netloc} disallows {url}")
        return self._read(url, self.max_bytes)

    def _wait_turn(self, host: str) -> None:
        last = self._last.get(host)
        if last is not None:
            time.sleep(max(0.0, last + self.delay - time.monotonic()))
        self._last[host] = time.monotonic()

    def _read(self, url: str, limit: int) -> Fetched:
        self._wait_turn(urlsplit(url).netloc)
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = read_capped(response, limit, f"{url}: ")
                return Fetched(response.geturl(), body, response.headers.get("Content-Type"))
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}", exc.code) from None
        except (ValueError, http.client.InvalidURL) as exc:
            raise FetchError(f"not a valid URL: {url[:200]}: {exc}") from None
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
            raise FetchError(f"{url}: cannot fetch: {getattr(exc, 'reason', exc)}") from None

    def _robots_allow(self, url: str) -> bool:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._robots:
            self._robots[key] = self._load_robots(key)
        rules = self._robots[key]
        return rules is None or rules.can_fetch(self.user_agent, url)

    def _load_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        """The site's rules; None (everything allowed) when it has no robots.txt or it
        cannot be read, as Scrapy does. 401/403 disallow everything, as the standard says."""
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        try:
            fetched = self._read(origin + "/robots.txt", MAX_ROBOTS_BYTES)
        except FetchError as exc:
            if exc.status in (401, 403):
                parser.parse(["User-agent: *", "Disallow: /"])
                return parser
            return None
        parser.parse(fetched.body.decode("utf-8", errors="replace").splitlines())
        return parser
