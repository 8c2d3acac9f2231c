"""One config-driven spider for list-and-article portals.

List pages -> article links -> article pages (and their attachments). The
spider fetches and decodes (with crawler.decode, as `talentwatch extract`
does); it yields records — `Page` for an article page, `NotModified` / `Gone`
for a re-check answered 304 / 404-410 — and leaves extraction and every
archive write to the item pipelines. It reads the archive only to decide what
to ask for (known articles, list validators, due re-checks).

Each site's pass is tracked as a run (`crawler.runs`), so the same spider
serves a one-off `talentwatch crawl` and the long-lived daemon, which keeps it
open and hands it sites as their schedules come due.

Crawls are incremental: list pages are fetched conditionally (a 304 means
nothing new there or further on), pagination stops at a page of known
articles only, and known articles are not fetched again — except re-checks
(`--recheck`, or the site's revisit policy), which ask conditionally and read
404/410 as a withdrawal and 5xx/timeouts as nothing at all.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse
from talentwatch.core.config import SiteConfig
from talentwatch.core.records import FetchedFile, Gone, NotModified, Page
from talentwatch.crawler.attachments import MAX_ATTACHMENT_BYTES, find_attachment_links
from talentwatch.crawler.decode import decode_text
from talentwatch.crawler.listing import ListItem, parse_list
from talentwatch.crawler.runs import RunTracker, SiteRun
from talentwatch.storage.articles import find_article
from talentwatch.storage.crawlstate import due_for_recheck, list_validators
from twisted.python.failure import Failure

log = logging.getLogger(__name__)


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def page_text(response: Response) -> str:
    """The page's text, decoded as `talentwatch extract` decodes a page (crawler.decode):
    the same bytes give the same text whichever way they come in."""
    return decode_text(response.body, _header(response, "Content-Type"))


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


WITHDRAWN_STATUSES = (404, 410)


def _request_of(failure: Failure) -> scrapy.Request:
    # Scrapy attaches the request to the Failure it hands an errback; twisted's type does not declare it
    return failure.request  # type: ignore[attr-defined]


def _reason(failure: Failure) -> str:
    """The failure's message, else the name of its exception's class."""
    return failure.getErrorMessage() or type(failure.value).__name__


def _counted(callback: Callable[..., Iterator[Any] | None]) -> Callable[..., Iterator[Any]]:
    """Wrap a callback or errback of a run: it is skipped once the run is closed
    (cut at a timeout), and its request is always counted as answered."""

    @functools.wraps(callback)
    def wrapper(self: PortalSpider, answer: Response | Failure) -> Iterator[Any]:
        meta = _request_of(answer).meta if isinstance(answer, Failure) else answer.meta
        run: SiteRun = meta["run"]
        try:
            if not run.closed:
                yield from callback(self, answer, run) or ()
        finally:
            self.tracker.done(run)

    return wrapper


class PortalSpider(scrapy.Spider):
    name = "portal"
    # sites are checked against their own allowed_domains, not one global list
    allowed_domains: list[str] = []

    def __init__(self, sites: list[SiteConfig], tracker: RunTracker, keep_open: bool = False,
                 recheck: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.initial_sites = sites
        self.tracker = tracker
        self.keep_open = keep_open
        self.recheck = recheck  # re-fetch every known article, not only those the policy says

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> PortalSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._on_item_lost, signal=signals.item_dropped)
        crawler.signals.connect(spider._on_item_lost, signal=signals.item_error)
        return spider

    def _on_item_lost(self, item: Any, response: Response | None = None,
                      exception: BaseException | None = None, failure: Failure | None = None,
                      **_: Any) -> None:
        reason = exception or (failure.value if failure else None)
        url = getattr(item, "url", "?")
        self.tracker.item_done(item.site, None, f"{url}: not stored: {reason}")

    def _on_idle(self) -> None:
        if self.keep_open:
            raise DontCloseSpider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for site in self.initial_sites:
            for request in self.site_requests(site):
                yield request

    def schedule_site(self, site: SiteConfig, recheck: bool = False) -> SiteRun | None:
        """Start a pass over `site` now, unless one is still running (daemon use)."""
        if self.tracker.is_running(site.name):
            log.info("%s: previous run still in progress, skipped", site.name)
            return None
        requests = list(self.site_requests(site, recheck=recheck or self.recheck))
        run = self.tracker.get(site.name)
        for request in requests:
            self.crawler.engine.crawl(request)
        return run

    # -- requests ---------------------------------------------------------

    def site_requests(self, site: SiteConfig, recheck: bool | None = None) -> Iterator[scrapy.Request]:
        run = self.tracker.begin(site)
        for url in site.start_urls:
            yield self._list_request(run, url, depth=1)
        policy = site.revisit
        due = due_for_recheck(
            self.tracker.db, site.name, everything=self.recheck if recheck is None else recheck,
            max_age_days=policy.max_age_days if policy else None,
            every_hours=policy.every_hours if policy else None)
        for known in due:
            run.seen.add(known["url"])
            yield self._request(
                run, known["url"], self.parse_article, kind="recheck",
                headers=conditional_headers(known["etag"], known["last_modified"]),
                handle_httpstatus_list=[304, *WITHDRAWN_STATUSES])

    def _request(self, run: SiteRun, url: str, callback, headers: dict[str, str] | None = None,
                 priority: int = 0, **meta: Any) -> scrapy.Request:
        run.pending += 1
        run.requests[meta.get("kind", "page")] += 1
        return scrapy.Request(
            url, callback=callback, errback=self._failed, dont_filter=True, headers=headers,
            priority=priority, meta={"run": run, **meta},
        )

    def _list_request(self, run: SiteRun, url: str, depth: int) -> scrapy.Request:
        run.seen.add(url)
        # conditional: a 304 says the page, and so the articles it lists, are as last read
        etag, last_modified = list_validators(self.tracker.db, url)
        # list pages first: the walk through a long list is sequential, so it must
        # not wait behind the article pages each list page adds to the queue
        return self._request(run, url, self.parse_list, depth=depth, kind="list",
                             headers=conditional_headers(etag, last_modified), priority=10,
                             handle_httpstatus_list=[304])

    def _allowed(self, site: SiteConfig, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return any(host == d or host.endswith("." + d) for d in site.allowed_domains)

    # -- callbacks ----------------------------------------------------------

    @_counted
    def parse_list(self, response: Response, run: SiteRun) -> Iterator[Any]:
        if response.status == 304:
            run.not_modified += 1
            return  # nothing new here, nor on the older pages behind it
        run.pages += 1
        if not isinstance(response, TextResponse):
            run.error(f"{response.url}: list page is not text")
            return
        site = run.site
        asked = (response.meta.get("redirect_urls") or [response.url])[0]  # the key next time
        run.list_validators[asked] = (
            _header(response, "ETag"), _header(response, "Last-Modified"), response.status)
        listing = parse_list(page_text(response), response.url, site.article_re, run.profile)
        if not listing.items:
            log.warning("%s: no article links on list page %s", site.name, response.url)
        fresh = 0
        for item in listing.items:
            if item.url in run.seen or not self._allowed(site, item.url):
                continue
            run.seen.add(item.url)
            if find_article(self.tracker.db, item.url) is not None:
                continue  # archived already: re-checks, not list walks, look at it again
            fresh += 1
            yield self._article_request(run, item)
        if listing.items and not fresh:
            return  # a page of known articles only: the rest of the list is older still
        depth = response.meta["depth"]
        if depth < site.max_list_pages:
            for url in listing.next_pages:
                if url not in run.seen and self._allowed(site, url):
                    yield self._list_request(run, url, depth + 1)
                    break  # one next page per page keeps the walk in order

    def _article_request(self, run: SiteRun, item: ListItem) -> scrapy.Request:
        return self._request(run, item.url, self.parse_article, kind="article",
                             list_title=item.title, list_date=item.date)

    @_counted
    def parse_article(self, response: Response, run: SiteRun) -> Iterator[Any]:
        if response.meta.get("kind") == "recheck":
            answer = self._recheck_answer(run, response)
            if answer is not None:
                run.items += 1  # the run ends once the pipeline has recorded it
                yield answer
                return
            if not self._recheck_usable(run, response):
                return
        run.pages += 1
        if not isinstance(response, TextResponse):
            run.error(f"{response.url}: not an HTML page")
            return
        html = page_text(response)
        page = Page(
            url=response.url,
            site=run.site.name,
            html=html,
            status=response.status,
            list_title=response.meta.get("list_title"),
            list_date=response.meta.get("list_date"),
            profile=run.site.profile,
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
            etag=_header(response, "ETag"),
            last_modified=_header(response, "Last-Modified"),
        )
        links = find_attachment_links(html, response.url)
        if not links:
            run.items += 1
            yield page
            return
        # fetch the attachments first; the page goes on when the last one is in
        page_state = {"page": page, "left": len(links)}
        for url, name in links:
            request = self._request(run, url, self.parse_attachment, kind="attachment",
                                    page_state=page_state, name=name)
            request.errback = self._attachment_failed
            request.meta["download_maxsize"] = MAX_ATTACHMENT_BYTES
            yield request

    @staticmethod
    def _recheck_answer(run: SiteRun, response: Response) -> NotModified | Gone | None:
        """A re-check answered 304 or 404/410, as the record the archive pipeline stores."""
        url = (response.meta.get("redirect_urls") or [response.url])[0]  # the URL we asked for
        if response.status == 304:
            return NotModified(url=url, site=run.site.name)
        if response.status in WITHDRAWN_STATUSES:
            return Gone(url=url, site=run.site.name, http_status=response.status)
        return None

    @staticmethod
    def _recheck_usable(run: SiteRun, response: Response) -> bool:
        """Whether a re-check's page is the article (to extract and store again)."""
        url = (response.meta.get("redirect_urls") or [response.url])[0]
        if response.url != url and not run.site.article_re.search(response.url):
            # many portals send a withdrawn page's visitors to the home page; without a
            # 404 this is not proof of withdrawal, and the home page is not the article
            run.error(f"{url}: re-check redirected to {response.url}; not stored")
            return False
        return True

    @_counted
    def parse_attachment(self, response: Response, run: SiteRun) -> Iterator[Any]:
        ctype = _header(response, "Content-Type")
        yield from self._attach(run, response.meta, FetchedFile(
            url=response.url, name=response.meta.get("name", ""), body=response.body,
            content_type=ctype))

    @_counted
    def _attachment_failed(self, failure: Failure, run: SiteRun) -> Iterator[Any]:
        request = _request_of(failure)
        reason = _reason(failure)
        log.warning("%s: attachment %s skipped: %s", run.site.name, request.url, reason)
        yield from self._attach(run, request.meta, FetchedFile(
            url=request.url, name=request.meta.get("name", ""), skipped=reason))

    def _attach(self, run: SiteRun, meta: dict[str, Any], file: FetchedFile) -> Iterator[Page]:
        state = meta["page_state"]
        state["page"].files.append(file)
        state["left"] -= 1
        if state["left"] == 0:
            run.items += 1
            yield state["page"]

    @_counted
    def _failed(self, failure: Failure, run: SiteRun) -> None:
        request = _request_of(failure)
        reason = _reason(failure)
        kind = request.meta.get("kind", "page")
        if kind == "list" and request.meta.get("depth") == 1:
            run.start_failures += 1
        run.error(f"{request.url}: {kind} failed: {reason}")


def spider_settings(sites: list[SiteConfig], crawl, relevance) -> dict[str, Any]:
    """Scrapy settings from our config: politeness first."""
    slots = {}
    for site in sites:
        for domain in site.allowed_domains:
            slots[domain] = {"delay": site.delay, "concurrency": crawl.concurrency_per_domain}
    return {
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max([s.delay for s in sites] + [0.5]),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_domain),
        "DOWNLOAD_SLOTS": slots,
        "DOWNLOAD_DELAY": min([s.delay for s in sites] or [1.0]),
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        "CONCURRENT_REQUESTS": 32,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": crawl.retries,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        # inspecting every callback's source for `return` costs ~3 ms per page
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        # our CLI owns logging; Scrapy's lines go through its handler
        "LOG_INSTALL_ROOT_HANDLER": False,
        "TALENTWATCH_EXTRACT_WORKERS": crawl.extract_workers,
        "TALENTWATCH_RELEVANCE": relevance.model_dump(),
        "ITEM_PIPELINES": {
            "talentwatch.crawler.pipelines.ExtractPipeline": 100,
            "talentwatch.crawler.pipelines.ArchivePipeline": 900,
        },
    }
