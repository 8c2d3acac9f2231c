"""Fetching a few pages politely outside a crawl (`talentwatch try`), without Scrapy's reactor.

The same manners as the spider: the configured User-Agent, robots.txt obeyed,
a delay between requests to one host, a timeout, a size cap, and only
http(s) — redirects included.

`open_url` is the one reader of a URL outside a crawl (`try`, `extract`). Given a
`Guard` (built from the crawl's reach rules, crawler/reach.py), every request it
sends, each redirect included, must pass the guard's check first, and the
connection goes to an address the check approved, never to a second DNS answer.
"""

from __future__ import annotations

import functools
import http.client
import socket
import time
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Callable
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


@dataclass(frozen=True)
class Guard:
    """Where requests may go: `refusal(url)` says why a URL must not be asked for (None:
    it may), `connectable(host)` the addresses a connection to `host` may use (those the
    check approved). See crawler/reach.py `Reach` and `AddressBook`."""

    refusal: Callable[[str], str | None]
    connectable: Callable[[str], list[str]]


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, guard: Guard | None = None) -> None:
        self.guard = guard

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - stdlib's signature
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"redirected to a non-http(s) URL: {newurl[:200]}")
        why = self.guard.refusal(newurl) if self.guard else None
        if why:
            raise FetchError(f"refused (redirected from {req.full_url[:200]}): {why}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _PinnedConnection(http.client.HTTPConnection):
    """Connects only to the addresses its guard approved for the host (TLS still checks
    the certificate against the host's name)."""

    def __init__(self, *args: Any, connectable: Callable[[str], list[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connectable = connectable
        self._create_connection = self._connect_approved  # http.client's own seam

    def _connect_approved(self, address: tuple[str, int], timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                          source_address: Any = None) -> socket.socket:
        host, port = address
        addresses = self._connectable(host)
        if not addresses:
            raise OSError(f"{host}: no address it may be reached at")
        failure: OSError | None = None
        for ip in addresses:
            try:
                return socket.create_connection((ip, port), timeout, source_address)
            except OSError as exc:
                failure = exc
        assert failure is not None
        raise failure


class _PinnedTLSConnection(_PinnedConnection, http.client.HTTPSConnection):
    pass


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, connectable: Callable[[str], list[str]]) -> None:
        super().__init__()
        self.connectable = connectable

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_PinnedConnection, connectable=self.connectable), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, connectable: Callable[[str], list[str]]) -> None:
        super().__init__()
        self.connectable = connectable

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_PinnedTLSConnection, connectable=self.connectable), req,
                            context=self._context)  # type: ignore[attr-defined]


def opener(guard: Guard | None = None) -> urllib.request.OpenerDirector:
    """An opener that follows only http(s) redirects and, with a guard, only those the
    guard lets through, connecting only to the addresses it approved."""
    if guard is None:
        return urllib.request.build_opener(_HttpOnlyRedirects())
    return urllib.request.build_opener(_HttpOnlyRedirects(guard), _PinnedHTTPHandler(guard.connectable),
                                       _PinnedHTTPSHandler(guard.connectable))


def open_url(url: str, limit: int, timeout: float, user_agent: str,
             guard: Guard | None = None, prefix: str = "") -> Fetched:
    """GET `url` (at most `limit` bytes); FetchError with one line when it cannot be read
    or the guard refuses it or one of its redirects."""
    why = guard.refusal(url) if guard else None
    if why:
        raise FetchError(f"{prefix}refused: {why}")
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    try:
        with opener(guard).open(request, timeout=timeout) as response:
            body = read_capped(response, limit, prefix)
            return Fetched(response.geturl(), body, response.headers.get("Content-Type"))
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{prefix}HTTP {exc.code} {exc.reason}", exc.code) from None
    except (ValueError, http.client.InvalidURL) as exc:
        raise FetchError(f"not a valid URL: {url[:200]}: {exc}") from None
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
        raise FetchError(f"{prefix}cannot fetch: {getattr(exc, 'reason', exc)}") from None


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
    guard: Guard | None = None  # where requests may go (None: any http(s) URL)
    _robots: dict[str, urllib.robotparser.RobotFileParser | None] = field(default_factory=dict, repr=False)
    _last: dict[str, float] = field(default_factory=dict, repr=False)

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
        return open_url(url, limit, self.timeout, self.user_agent, self.guard, prefix=f"{url}: ")

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
