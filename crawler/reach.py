"""Where a site's crawl may send requests: its own domains, and public addresses only.

A page nobody vetted chooses the links and redirects the spider follows. This
downloader middleware checks every request of a site's run before it leaves
(redirects and meta refreshes included: Scrapy sends those back through the
downloader middlewares as new requests):

- the host must be one of the site's `allowed_domains` (or a subdomain), or,
  for an attachment, of its `attachment_domains`;
- the address the host resolves to must be public, unless the site itself
  lives at that address (a portal on an intranet, a test server on loopback):
  checked on the resolved address, so a public-looking name that points
  inward is refused too.

A refused request fails with IgnoreRequest; the spider's errback records it as
one line of the run's errors (an attachment is kept as skipped).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from talentwatch.core.config import SiteConfig

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (an IP literal is its own address); [] if none."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    return address


def is_inward(text: str) -> bool:
    """Loopback, private, link-local, or otherwise not a public internet address."""
    address = _address(text)
    return address is None or not address.is_global or address.is_multicast


def host_in(host: str, domains: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in (d.lower().rstrip(".") for d in domains))


class Reach:
    """The checks for one site: which hosts and which addresses its requests may reach."""

    def __init__(self, site: SiteConfig, resolver: Resolver = resolve) -> None:
        self.site = site
        self.resolver = resolver
        # where the site itself lives: the addresses of its start pages' hosts
        self.home: set[Address] = {
            a for url in site.start_urls for text in resolver(urlsplit(url).hostname or "")
            if (a := _address(text)) is not None}

    def refusal(self, url: str, attachment: bool = False) -> str | None:
        """Why a request to `url` must not be sent, or None when it may."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return f"not an http(s) URL: {url}"
        host = parts.hostname or ""
        domains = [*self.site.allowed_domains, *(self.site.attachment_domains if attachment else ())]
        if not host_in(host, domains):
            what = "allowed_domains or attachment_domains" if attachment else "allowed_domains"
            return f"{host} is outside the site ({what})"
        addresses = self.resolver(host)
        for text in addresses:
            address = _address(text)
            if is_inward(text) and address not in self.home:
                return f"{host} resolves to {text}, a non-public address the site does not live on"
        return None  # an unresolvable host fails in the downloader, as any DNS error does


DNS_TTL = 600  # seconds a host's addresses are trusted: the daemon runs for months


class ReachMiddleware:
    """Downloader middleware: every request of a run stays within its site's reach."""

    def __init__(self) -> None:
        self.reaches: dict[str, tuple[int, Reach]] = {}

    def _reach(self, site: SiteConfig) -> Reach:
        # one per site and DNS period: the site's own addresses are looked up once in each
        period = int(time.monotonic() // DNS_TTL)
        known = self.reaches.get(site.name)
        if known is None or known[0] != period or known[1].site is not site:
            resolver = functools.partial(_cached_resolve, period=period)
            known = self.reaches[site.name] = (period, Reach(site, resolver))
        return known[1]

    def process_request(self, request: Request) -> None:
        run = request.meta.get("run")
        if run is None:
            return  # Scrapy's own requests (robots.txt) for a host a run was let through to
        why = self._reach(run.site).refusal(request.url, request.meta.get("kind") == "attachment")
        if why:
            redirected = request.meta.get("redirect_urls")
            origin = f" (redirected from {redirected[0]})" if redirected else ""
            raise IgnoreRequest(f"refused{origin}: {why}")


@lru_cache(maxsize=1024)
def _cached_resolve(host: str, period: int) -> list[str]:
    # getaddrinfo blocks the reactor; a crawl meets a handful of hosts, so each is asked
    # once per DNS period (`period` is only the cache key)
    return resolve(host)
