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

The check and the connection see the same answer. A host's addresses are
looked up once per DNS period in one book (ADDRESS_BOOK); a request the check
lets through records the answer it approved, and the downloader connects only
to approved addresses (PinnedResolver, installed on the reactor). Without
that, Scrapy would ask the DNS again, and a name answering a public address to
the check and 127.0.0.1 to the connection ("DNS rebinding") would lead inward.
A host the check never saw (it should not happen) is looked up afresh and its
inward addresses dropped, unless a site lives there.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from talentwatch.core.config import SiteConfig
from talentwatch.crawler.fetch import Guard
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

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


def host_key(host: str) -> str:
    """A host as both the check and the connection name it: lower case, no trailing dot."""
    return host.lower().rstrip(".")


def host_in(host: str, domains: Iterable[str]) -> bool:
    host = host_key(host)
    return any(host == d or host.endswith("." + d) for d in map(host_key, domains))


class Reach:
    """The checks for one site: which hosts and which addresses its requests may reach.

    `approve(host, addresses)` is told the answer every request it lets through was
    checked on, so the connection can use that answer and no other."""

    def __init__(self, site: SiteConfig, resolver: Resolver = resolve,
                 approve: Callable[[str, list[str]], None] | None = None) -> None:
        self.site = site
        self.resolver = resolver
        self.approve = approve
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
        if addresses and self.approve is not None:
            self.approve(host_key(host), addresses)
        return None  # an unresolvable host fails in the downloader, as any DNS error does


DNS_TTL = 600  # seconds a host's addresses are trusted: the daemon runs for months


def proxy_hosts() -> set[str]:
    """Hosts of the proxies the environment configures (Scrapy and urllib both use them)."""
    hosts = set()
    for scheme, url in urllib.request.getproxies().items():
        if scheme != "no":
            with contextlib.suppress(ValueError):
                hosts.add(host_key(urlsplit(url if "://" in url else "//" + url).hostname or ""))
    return hosts - {""}


class AddressBook:
    """One answer per host for the reach check and for the connection that follows it.

    `lookup` is what the check asks (each host once per `ttl`); `approve` records the
    answer a check let a request through on; `connectable` is what the downloader
    connects to: the approved answer, never a second lookup that could differ."""

    def __init__(self, resolver: Resolver = resolve, ttl: float = DNS_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.resolver = resolver
        self.ttl = ttl
        self.clock = clock
        self.homes: set[Address] = set()  # every site's own addresses, for unchecked hosts
        # the operator's proxies (http_proxy, https_proxy): connections to them go as configured
        self.proxies = proxy_hosts()
        self._answers: dict[str, tuple[float, list[str]]] = {}
        self._approved: dict[str, list[str]] = {}
        self._lock = threading.Lock()  # `connectable` may run in the reactor's thread pool

    def lookup(self, host: str) -> list[str]:
        key = host_key(host)
        with self._lock:
            known = self._answers.get(key)
        if known is not None and self.clock() - known[0] < self.ttl:
            return known[1]
        addresses = self.resolver(key)
        with self._lock:
            if len(self._answers) >= 4096:  # a crawl meets a handful of hosts; bound it anyway
                self._answers.clear()
            self._answers[key] = (self.clock(), addresses)
        return addresses

    def approve(self, host: str, addresses: list[str]) -> None:
        with self._lock:
            if len(self._approved) >= 4096:
                self._approved.clear()
            self._approved[host_key(host)] = list(addresses)

    def approved(self, host: str) -> list[str] | None:
        with self._lock:
            return self._approved.get(host_key(host))

    def connectable(self, host: str) -> list[str]:
        """The addresses a connection to `host` may use."""
        if _address(host) is not None:
            return [host]  # an IP literal was checked as itself
        approved = self.approved(host)
        if approved is not None:
            return approved
        if host_key(host) in self.proxies:
            return self.lookup(host)
        return [a for a in self.lookup(host) if not is_inward(a) or _address(a) in self.homes]


ADDRESS_BOOK = AddressBook()  # one per crawl process: the middleware and the resolver share it


class ReachMiddleware:
    """Downloader middleware: every request of a run stays within its site's reach."""

    def __init__(self, book: AddressBook = ADDRESS_BOOK) -> None:
        self.book = book
        self.reaches: dict[str, tuple[int, Reach]] = {}

    def _reach(self, site: SiteConfig) -> Reach:
        # one per site and DNS period: the site's own addresses are looked up once in each
        period = int(time.monotonic() // DNS_TTL)
        known = self.reaches.get(site.name)
        if known is None or known[0] != period or known[1].site is not site:
            # lookups block the reactor; a crawl meets a handful of hosts, each asked once a period
            reach = Reach(site, self.book.lookup, self.book.approve)
            self.book.homes |= reach.home
            known = self.reaches[site.name] = (period, reach)
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


def host_family(host: str) -> str:
    """The domain a page's own links may stay within: its host, without a leading www."""
    host = host_key(host)
    return host[4:] if host.startswith("www.") and host.count(".") >= 2 else host


def page_reach(page_url: str | None, site: SiteConfig | None, book: AddressBook) -> Reach:
    """The crawl's rules for the requests one page makes us send outside a crawl (`extract`,
    `try`): the page's own host family (www.x.gov.cn: x.gov.cn and its subdomains) and, given
    a site, its allowed_domains and attachment_domains; an inward address only where the
    page or the site lives."""
    host = urlsplit(page_url).hostname or "" if page_url else ""
    if site is None:
        assert page_url, "a page URL or a site"
        site = SiteConfig(name=host or "page", start_urls=[page_url], article_pattern=".")
    if host:
        site = site.model_copy(update={"start_urls": [*site.start_urls, page_url],
                                       "allowed_domains": [*site.allowed_domains, host_family(host)]})
    return Reach(site, book.lookup, book.approve)


def guard(reach: Reach, book: AddressBook, attachment: bool) -> Guard:
    """The reach rules as crawler.fetch's Guard: checked before each request and redirect,
    and connections only to approved addresses."""
    return Guard(lambda url: reach.refusal(url, attachment), book.connectable)


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True  # a lookup in the thread pool runs to its end; nobody hears it


@implementer(IHostnameResolver)
class PinnedResolver:
    """The reactor's name resolver: connections go to the addresses the reach check
    approved for the host (ADDRESS_BOOK), not to a fresh DNS answer."""

    def __init__(self, reactor: Any, book: AddressBook = ADDRESS_BOOK) -> None:
        self.reactor = reactor
        self.book = book

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> PinnedResolver:
        return cls(reactor)

    def install_on_reactor(self) -> None:
        # also serves reactor.resolve() (Twisted wraps a name resolver for simple lookups)
        self.reactor.installNameResolver(self)

    # Twisted's IHostnameResolver (zope interfaces, which mypy cannot check: Any)
    def resolveHostName(self, resolutionReceiver: Any, hostName: str,  # noqa: N802, N803
                        portNumber: int = 0, addressTypes: Sequence[type] | None = None,  # noqa: N803
                        transportSemantics: str = "TCP") -> Any:  # noqa: N803
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)

        def deliver(addresses: list[str]) -> None:
            if resolution.cancelled:
                return
            for text in addresses:
                address = _address(text)
                kind = IPv4Address if isinstance(address, ipaddress.IPv4Address) else IPv6Address
                if address is None or (addressTypes is not None and kind not in addressTypes):
                    continue
                resolutionReceiver.addressResolved(kind("TCP", str(address), portNumber))
            resolutionReceiver.resolutionComplete()

        approved = self.book.approved(hostName)
        if approved is not None or _address(hostName) is not None:
            deliver(self.book.connectable(hostName))  # known: no thread, no lookup
        else:
            pool = self.reactor.getThreadPool()
            deferToThreadPool(self.reactor, pool, self.book.connectable, hostName).addCallbacks(
                deliver, lambda _failure: deliver([]))
        return resolution
