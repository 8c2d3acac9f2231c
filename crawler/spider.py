"""One config-driven spider for list-and-article portals.

List pages -> article links -> article pages (and their attachments). The
spider fetches and decodes (with crawler.decode, as `talentwatch extract`
does); it yields records — `Page` for an article page, `NotModified` / `Gone`
for a re-check answered 304 / 404-410 — and leaves extraction and every
archive write to the item pipelines — but one: the frontier. It reads the
archive to decide what to ask for (known articles, list validators, due
re-checks, due frontier URLs), and writes an article link to the frontier
before requesting it, and an article request's failure after it, because
those must happen in that order (a record in the pipeline could come too late).

Each site's pass is tracked as a run (`crawler.runs`), so the same spider
serves a one-off `talentwatch crawl` and the long-lived daemon, which keeps it
open and hands it sites as their schedules come due.

Nothing a list page showed is lost: every article link not yet archived is
written to the frontier (storage.frontier) before it is requested, and each
run asks for the site's due frontier URLs first, whatever the list pages say
now. A transient failure (5xx, 429, timeout, reset, truncated body) is retried
on later runs; 404/410 for a never-stored article marks it gone.

Crawls are incremental: list pages are fetched conditionally (a 304 means
nothing new there or further on) and pagination stops at a page of known
articles — but only when the site's previous walk completed under the same
settings and left nothing unstored (storage.walks). Known articles are not
fetched again, except re-checks (`--recheck`, or the site's revisit policy),
which ask conditionally and read 404/410 as a withdrawal and 5xx/timeouts as
nothing at all.

Order: list pages first (the walk is sequential), then due frontier URLs,
then the articles the walk finds, in list order (newest first): the
scheduler's queues are FIFO (spider_settings), so a run cut short by its
timeout still has the newest items.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import deferred_from_coro
from talentwatch.core.config import SiteConfig
from talentwatch.core.records import FetchedFile, Gone, NotModified, Page
from talentwatch.crawler.attachments import find_attachment_links
from talentwatch.crawler.decode import Decoded, decode_page
from talentwatch.crawler.listing import ListItem, parse_list
from talentwatch.crawler.runs import RunTracker, SiteRun
from talentwatch.crawler.size_caps import quiet_size_warnings, size_cap_reason
from talentwatch.storage import frontier, walks
from twisted.python.failure import Failure

log = logging.getLogger(__name__)


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def decoded_page(response: Response) -> Decoded:
    """The page decoded as `talentwatch extract` decodes a page (crawler.decode): the same
    bytes give the same text whichever way they come in, and the same flags (charset_mismatch)."""
    return decode_page(response.body, _header(response, "Content-Type"))


def page_text(response: Response) -> str:
    return decoded_page(response).text


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


WITHDRAWN_STATUSES = (404, 410)
# scheduler priorities (higher first): the walk, then retries from the frontier, then
# attachments (so a page waiting for its files finishes), then newly listed articles
LIST_PRIORITY = 10
DUE_PRIORITY = 5
ATTACHMENT_PRIORITY = 3
ARTICLE_PRIORITY = 0


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
                 recheck: bool = False, backfill: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.initial_sites = sites
        self.tracker = tracker
        self.keep_open = keep_open
        self.recheck = recheck  # re-fetch every known article, not only those the policy says
        self.backfill = backfill  # crawl --backfill: list pages to read past each walk's cursor
        tracker.fatal_listeners.append(self._stop_storing)

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> PortalSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._on_item_lost, signal=signals.item_dropped)
        crawler.signals.connect(spider._on_item_lost, signal=signals.item_error)
        quiet_size_warnings()
        return spider

    def _reason(self, failure: Failure) -> str:
        """One line on why a request failed: the size cap by its config key, else the failure's own."""
        capped = size_cap_reason(failure, _request_of(failure), self.settings.getint("DOWNLOAD_MAXSIZE"))
        return capped or _reason(failure)

    def _on_item_lost(self, item: Any, response: Response | None = None,
                      exception: BaseException | None = None, failure: Failure | None = None,
                      **_: Any) -> None:
        reason = exception or (failure.value if failure else None)
        url = getattr(item, "url", "?")
        self.tracker.article_lost(item.site, url, str(reason))

    def _stop_storing(self, reason: str) -> None:
        """The archive cannot be written: end the crawl (the CLI or daemon reports `reason`)."""
        log.debug("stopping: %s", reason)
        for run in list(self.tracker.active.values()):
            run.walk_ok = False
            self.tracker.close(run, "stopped: the archive cannot be written")
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="archive_write_failed"))

    def _storing(self, write: Callable[..., Any], *args: Any) -> Any:
        """Run one archive write; a failure stops the crawl (see RunTracker.storage_failed)."""
        if self.tracker.fatal is not None:
            return None
        try:
            return write(self.tracker.db, *args)
        except sqlite3.Error as exc:
            self.tracker.storage_failed(exc)
            return None


    def _on_idle(self) -> None:
        if self.keep_open:
            raise DontCloseSpider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for site in self.initial_sites:
            try:
                requests = list(self.site_requests(site))
            except sqlite3.Error as exc:
                self.tracker.storage_failed(exc)
                return
            for request in requests:
                yield request

    def schedule_site(self, site: SiteConfig, recheck: bool = False) -> SiteRun | None:
        """Start a pass over `site` now, unless one is still running (daemon use)."""
        if self.tracker.is_running(site.name):
            log.info("%s: previous run still in progress, skipped", site.name)
            return None
        try:
            requests = list(self.site_requests(site, recheck=recheck or self.recheck))
        except sqlite3.Error as exc:
            self.tracker.storage_failed(exc)
            return None
        run = self.tracker.get(site.name)
        for request in requests:
            self.crawler.engine.crawl(request)
        return run

    # -- requests ---------------------------------------------------------

    def site_requests(self, site: SiteConfig, recheck: bool | None = None) -> Iterator[scrapy.Request]:
        db = self.tracker.db
        run = self.tracker.begin(site, backfill=self.backfill)
        for url in self.tracker.due_urls(site):
            run.seen.add(url)
            yield self._article_request(run, url, priority=DUE_PRIORITY)
        for start_url in site.start_urls:
            if self.backfill is None:
                yield self._list_request(run, start_url, depth=1, start_url=start_url,
                                         limit=site.max_list_pages)
                continue
            # --backfill: on from where the last walk or backfill stopped, N pages further
            resume = walks.cursor(db, site.name, start_url)
            url, depth = resume or (start_url, 1)
            limit = depth + self.backfill - 1 if resume else site.max_list_pages + self.backfill
            yield self._list_request(run, url, depth=depth, start_url=start_url, limit=limit)
        if self.backfill is not None:
            return
        due = self.tracker.due_rechecks(site, everything=self.recheck if recheck is None else recheck)
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

    def _list_request(self, run: SiteRun, url: str, depth: int, start_url: str,
                      limit: int) -> scrapy.Request:
        run.seen.add(url)
        # conditional (a 304 says the page, and so the articles it lists, are as last
        # read) only when the last walk completed with nothing left unstored
        etag, last_modified = self.tracker.list_validators(url) if run.shortcuts else (None, None)
        # list pages first: the walk through a long list is sequential, so it must
        # not wait behind the article pages each list page adds to the queue
        return self._request(run, url, self.parse_list, depth=depth, kind="list",
                             headers=conditional_headers(etag, last_modified), priority=LIST_PRIORITY,
                             handle_httpstatus_list=[304], start_url=start_url, limit=limit)

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
            run.walk_ok = False
            run.error(f"{response.url}: list page is not text")
            return
        site = run.site
        asked = (response.meta.get("redirect_urls") or [response.url])[0]  # the key next time
        run.list_validators[asked] = (
            _header(response, "ETag"), _header(response, "Last-Modified"), response.status)
        listing = parse_list(page_text(response), response.url, site.article_re, run.profile)
        if not listing.items:
            log.warning("%s: no article links on list page %s", site.name, response.url)
        meta = response.meta
        depth, start_url, limit = meta["depth"], meta["start_url"], meta["limit"]
        listed: list[tuple[int, ListItem]] = []
        for pos, item in enumerate(listing.items):
            if item.url in run.seen or not self._allowed(site, item.url):
                continue
            run.seen.add(item.url)
            listed.append((pos, item))
        # archived already: re-checks, not list walks, look at those again
        known = self.tracker.known_urls([item.url for _, item in listed], site.name)
        found = [(frontier.Seen(item.url, response.url, depth, pos, item.title, item.date), item)
                 for pos, item in listed if item.url not in known]
        # into the frontier before any of them is requested: a kill from here on loses nothing
        added = self._storing(frontier.record_seen, site.name, [seen for seen, _ in found])
        if added is None:
            return
        fresh = set(added)
        for _, item in found:
            if item.url in fresh:  # the others are in the frontier already, on their own schedule
                yield self._article_request(run, item.url, list_title=item.title, list_date=item.date)
        if run.shortcuts and listing.items and not found:
            return  # a page of known articles only: the rest of the list is older still
        next_url = next((u for u in listing.next_pages if u not in run.seen and self._allowed(site, u)), None)
        if run.backfill is not None:
            # resumable: the cursor moves past each page once its articles are in the frontier
            self._storing(walks.move_cursor, site.name, start_url, next_url, depth + 1)
        if next_url is None:
            return
        if depth < limit:
            # one next page per page keeps the walk in order
            yield self._list_request(run, next_url, depth + 1, start_url, limit)
        elif run.backfill is not None:
            run.backfill_left.append(start_url)
        else:
            run.stopped_at_limit.append(start_url)
            self._storing(walks.offer_cursor, site.name, start_url, next_url, depth + 1)

    def _article_request(self, run: SiteRun, url: str, priority: int = ARTICLE_PRIORITY,
                         list_title: str | None = None, list_date: str | None = None) -> scrapy.Request:
        if list_title is None and priority == DUE_PRIORITY:
            list_title, list_date = frontier.list_hints(self.tracker.db, url)
        return self._request(run, url, self.parse_article, kind="article", priority=priority,
                             list_title=list_title, list_date=list_date)

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
        asked = (response.meta.get("redirect_urls") or [response.url])[0]
        if not isinstance(response, TextResponse):
            run.error(f"{response.url}: not an HTML page", kind="article is not an HTML page")
            if response.meta.get("kind") == "article":
                self._storing(frontier.record_final, asked, "done", "not an HTML page")
            return
        if response.meta.get("kind") == "article":
            run.requested[response.url] = asked  # its frontier row leaves with the stored article
        decoded = decoded_page(response)
        html = decoded.text
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
            flags=decoded.flags,
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
                                    priority=ATTACHMENT_PRIORITY, page_state=page_state, name=name)
            request.errback = self._attachment_failed
            # the attachment cap, on the wire and after decompression (Scrapy reads this key in both)
            request.meta["download_maxsize"] = self.settings.getint("TALENTWATCH_MAX_ATTACHMENT_BYTES")
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
        reason = self._reason(failure)
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
        status = failure.value.response.status if isinstance(failure.value, HttpError) else None
        reason = f"HTTP {status}" if status else _short(self._reason(failure))
        what = f"HTTP {status}" if status else type(failure.value).__name__
        kind = request.meta.get("kind", "page")
        if kind == "list":
            run.walk_ok = False  # the pages behind it were not read: no shortcuts next time
            if request.meta.get("depth") == 1:
                run.start_failures += 1
        if kind == "article" and status in WITHDRAWN_STATUSES:
            if self._storing(frontier.record_final, request.url, "gone", reason):
                run.gone += 1
                run.error(f"{request.url}: gone ({reason}), never stored", kind=f"article gone: {what}")
            return
        if kind == "article":
            self._storing(frontier.record_failure, request.url, reason)  # retried on a later run
        run.error(f"{request.url}: {kind} failed: {reason}", kind=f"{kind} failed: {what}")


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


# Scrapy components a crawl leaves out, by the setting that lists them
OFF = {
    "DOWNLOADER_MIDDLEWARES": {
        # Scrapy's offsite check knows no per-site domains: reach.ReachMiddleware does it
        "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware",
        # what the crawl never uses costs a call per request: no HTTP auth, no stats
        "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware",
        "scrapy.downloadermiddlewares.stats.DownloaderStats",
        # no cookies: the same page for every visitor, and no session to keep
        "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
        # replaced by ours, at its place (meta_refresh.MetaRefreshMiddleware)
        "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
    },
    "SPIDER_MIDDLEWARES": {
        # the list walk keeps its own depth in meta (the same numbers: a list page's
        # next page is one deeper; DEPTH_LIMIT and DEPTH_PRIORITY are unset); Scrapy's
        # depth stats and its check for copied meta keys (a development aid) are
        # per-request work for nothing
        "scrapy.spidermiddlewares.depth.DepthMiddleware",
        "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware",
    },
    # no feeds, no memory limit, no periodic stats line, no telnet or remote control
    "EXTENSIONS": {
        "scrapy.extensions.feedexport.FeedExporter",
        "scrapy.extensions.memusage.MemoryUsage",
        "scrapy.extensions.logstats.LogStats",
        "scrapy.extensions.telnet.TelnetConsole",
        "scrapy.extensions.remote_control.RemoteControl",
    },
}


def _components(name: str, ours: dict[str, int]) -> dict[str, dict[str, int]]:
    """`name` with our components, and `name`_BASE: Scrapy's defaults without OFF.

    Left out of the base list, not set to None: Scrapy imports every component a
    setting names, None or not, and a crawl's start would pay for modules it never
    runs (the remote control imports aiohttp, the cookies middleware tldextract and
    requests: about a third of a second). Taken from Scrapy's own defaults, so a
    component a later Scrapy adds is kept."""
    from scrapy.settings import default_settings

    base = getattr(default_settings, f"{name}_BASE")
    return {f"{name}_BASE": {path: order for path, order in base.items() if path not in OFF[name]},
            name: ours}


def site_slots(site: SiteConfig, crawl) -> dict[str, dict[str, Any]]:
    """The downloader's per-domain politeness for a site: its delay, the crawl's concurrency."""
    return {domain: {"delay": site.delay, "concurrency": crawl.concurrency_per_domain}
            for domain in site.allowed_domains}


def spider_settings(sites: list[SiteConfig], crawl, relevance) -> dict[str, Any]:
    """Scrapy settings from our config: politeness first."""
    slots = {}
    for site in sites:
        slots.update(site_slots(site, crawl))
    return {
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max([s.delay for s in sites] + [0.5]),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_domain),
        "DOWNLOAD_SLOTS": slots,
        # hosts without a slot of their own; with no sites (a crawl worker's crawler, whose
        # sites arrive later), the crawl's delay
        "DOWNLOAD_DELAY": min([s.delay for s in sites] or [crawl.delay]),
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        "CONCURRENT_REQUESTS": 32,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        # pages: the cap on the wire (the download is cut past it, endless bodies included)
        # and after decompression (HttpCompressionMiddleware stops a gzip bomb at it)
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,  # the cap says it all; no second warning below it
        "TALENTWATCH_MAX_ATTACHMENT_BYTES": crawl.max_attachment_bytes,
        # (DNS: crawler.run.reactor_thread installs reach.PinnedResolver on the reactor)
        # Scrapy's components: ours added, the unused left out (OFF, above)
        **_components("DOWNLOADER_MIDDLEWARES", {
            # before robots.txt (100): a refused host is not even asked for its robots.txt
            "talentwatch.crawler.reach.ReachMiddleware": 60,
            # on the way back, before RetryMiddleware (550) would retry a 429 at once
            "talentwatch.crawler.retry_after.RetryAfterMiddleware": 560,
            # Scrapy's, without decoding a page that cannot hold a meta refresh
            "talentwatch.crawler.meta_refresh.MetaRefreshMiddleware": 580,
        }),
        **_components("SPIDER_MIDDLEWARES", {}),
        **_components("EXTENSIONS", {}),
        # Scrapy hands a callback's output to CONCURRENT_ITEMS tasks (100 by default: a
        # hundred asyncio tasks and queue slots for every page); a page yields one record,
        # and a list page only requests, which are scheduled at once
        "CONCURRENT_ITEMS": 1,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": crawl.retries,
        # first in, first out within a priority: articles in list order, newest first
        # (Scrapy's default is last in, first out)
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
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
