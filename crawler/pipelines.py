"""Item pipelines: Page -> Processed (worker) -> archive; re-check answers -> archive.

Everything CPU-bound per article (extraction with lxml, relevance with jieba,
normalisation and MinHash) would block the reactor, so it runs in a pool of
worker processes, one round trip per page, while the spider keeps downloading;
the main process only fetches and stores.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from typing import Any

from scrapy.exceptions import DropItem
from talentwatch.core import stages
from talentwatch.core.profiles import get_profile
from talentwatch.core.records import Article, Gone, NotModified, Page
from talentwatch.core.relevance_config import RelevanceConfig
from talentwatch.crawler.work import Processed, call_pickled, process_page, worker_started
from talentwatch.storage.articles import Prepared, save_article
from talentwatch.storage.crawlstate import mark_not_modified, mark_withdrawn
from talentwatch.storage.db import transaction
from talentwatch.storage.frontier import settle_stored

log = logging.getLogger(__name__)


class WorkerPool:
    """Worker processes for the CPU-bound pipelines, renewed if one of them dies.

    A worker killed mid-page (out of memory on a huge PDF, a crash in lxml)
    breaks a ProcessPoolExecutor for good; a long-running daemon would then
    drop every later page. The page that was running is retried once in a
    fresh pool; if that breaks it too, it is the page's fault and it fails.
    """

    def __init__(self, workers: int, config_json: str | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.config_json = config_json  # a worker builds its classifier for it as it starts
        self.executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        # the workers die with this process, however it ends (kill -9 included)
        return ProcessPoolExecutor(self.workers, mp_context=worker_context(),
                                   initializer=worker_started, initargs=(self.config_json, os.getpid()))

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        with stages.TIMES.main(stages.TRANSFER):
            payload = pickle.dumps(args, pickle.HIGHEST_PROTOCOL)
        for attempt in (1, 2):
            executor = self.executor
            try:
                out, times = await asyncio.wrap_future(executor.submit(call_pickled, fn, payload))
                stages.WORKERS.merge(times)
                with stages.TIMES.main(stages.TRANSFER):
                    return pickle.loads(out)
            except BrokenProcessPool:
                if executor is self.executor:  # first to notice: renew it
                    log.warning("an extraction worker died; starting fresh workers")
                    executor.shutdown(wait=False, cancel_futures=True)
                    self.executor = self._new()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def shutdown(self) -> None:
        self.executor.shutdown(cancel_futures=True)


# what the fork server imports before it forks any worker (crawler/worker_preload.py); with
# "__main__", the program that started the crawl is not imported again by every worker
PRELOAD = ["__main__", "talentwatch.crawler.worker_preload"]


def worker_context() -> BaseContext:
    """How worker processes start. Not by forking this process: it runs a reactor and
    threads. A fork server where there is one: a fresh process that imports what every
    worker needs once, then forks each worker from itself. Else each worker is spawned,
    a new Python that imports it all again."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # the fork server starts with the first worker, at the first page: a crawl that finds no
    # new article (most re-crawls) starts neither
    context.set_forkserver_preload(PRELOAD)
    return context


_pools: dict[tuple[int, str | None], WorkerPool] = {}


def shared_pool(workers: int, config_json: str | None) -> WorkerPool:
    """The process's pool of worker processes for these settings, started once and kept
    between crawls (starting a worker costs a Python start-up, trafilatura and jieba's
    dictionary: about a second). A pool for other settings replaces it."""
    key = (workers, config_json)
    if key not in _pools:
        shutdown_pools()
        _pools[key] = WorkerPool(workers, config_json)
    return _pools[key]


def shutdown_pools() -> None:
    """End the worker processes (they also end with this process)."""
    while _pools:
        _pools.popitem()[1].shutdown()


class ExtractPipeline:
    """Page -> Processed: extraction, relevance, normalisation and MinHash in one round
    trip to a worker process, so the main process only fetches and stores."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        config = RelevanceConfig.model_validate(crawler.settings.getdict("TALENTWATCH_RELEVANCE"))
        self.pool = shared_pool(crawler.settings.getint("TALENTWATCH_EXTRACT_WORKERS"),
                                config.model_dump_json())

    @classmethod
    def from_crawler(cls, crawler) -> ExtractPipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page):
            return item
        run = self.crawler.spider.tracker.get(item.site)
        profile = run.profile if run else get_profile(item.profile)
        try:
            done: Processed = await self.pool.run(process_page, item, profile, self.relevance_for(item))
        except Exception as exc:  # a broken page is logged with its URL and skipped
            log.warning("extraction failed for %s: %s", item.url, exc)
            raise DropItem(f"{item.url}: extraction failed: {exc}") from exc
        if done.relevance_error:
            log.warning("relevance scoring failed for %s: %s", item.url, done.relevance_error)
        return done

    def relevance_for(self, page: Page) -> str | None:
        """The relevance config (JSON) to classify `page` with; None: the crawl's own
        (a crawl worker's tasks carry the archive host's: scheduler.workers)."""
        return None


class ArchivePipeline:
    """Every archive write of a crawl: articles (with their bulletin parts) and the
    re-check answers (not modified, withdrawn).

    Writes are gathered for a moment and committed together, in one short
    transaction per batch: a commit per article costs more than the article's own
    rows. Each record is still all-or-nothing — an article, its bulletin parts and
    its frontier row leave together, in a savepoint of their own — and its run
    counts it only once the batch is committed, so a kill in between fetches the
    page again. The search index rows of the batch's articles are written last,
    together, in the same transaction (store_record's `index_later`). A write that
    fails stops the crawl (RunTracker.storage_failed): the batch keeps what came
    before it (nothing of it when the index rows or the commit fail), nothing more
    is stored, and what was not stored stays in the frontier for the next crawl.
    """

    BATCH = 32  # writes per transaction at most
    LINGER = 0.05  # seconds between looks at whether more writes are on their way
    # seconds the first write of a batch waits for others at most: at 60 articles a second,
    # batches of a few articles cost a quarter more to write than full ones (each commit
    # writes out FTS5's pending terms and every page the batch touched)
    MAX_LINGER = 0.5

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.pending: list[tuple[Any, asyncio.Future[str | None]]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.since = 0.0  # when the first write of the batch arrived (the loop's clock)

    @classmethod
    def from_crawler(cls, crawler) -> ArchivePipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, (Processed, NotModified, Gone)):
            return item
        tracker = self.crawler.spider.tracker
        if tracker.fatal is not None:
            tracker.item_done(item.site, None)  # the crawl is stopping: store nothing more
            return item.article if isinstance(item, Processed) else item
        loop = asyncio.get_running_loop()
        written: asyncio.Future[str | None] = loop.create_future()
        self.pending.append((item, written))
        if len(self.pending) >= self.BATCH:
            self.flush()
        elif self.timer is None:
            self.since = loop.time()
            self.timer = loop.call_later(self.LINGER, self.linger)
        outcome = await written  # raises what the write raised: Scrapy counts the item as lost
        tracker.item_done(item.site, outcome)
        return item.article if isinstance(item, Processed) else item

    def linger(self) -> None:
        """The batch waits while more writes are on their way (a page downloading, a record in
        the workers), up to MAX_LINGER; with nothing more coming, as at a crawl's end, it is
        written at once."""
        self.timer = None
        loop = asyncio.get_running_loop()
        if self.pending and loop.time() - self.since < self.MAX_LINGER \
                and self.crawler.spider.tracker.expects_more(len(self.pending)):
            self.timer = loop.call_later(self.LINGER, self.linger)
        else:
            self.flush()

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if not batch:
            return
        tracker = self.crawler.spider.tracker
        outcomes: list[str | None | BaseException] = []
        failure: BaseException | None = None
        index_writes: list[Callable[[], None]] = []  # of the records stored, run last
        try:
            with stages.TIMES.main(stages.STORE), transaction(tracker.db):
                for item, _ in batch:
                    if failure is not None or tracker.fatal is not None:
                        outcomes.append(None)  # a write failed: store nothing more
                        continue
                    try:
                        outcomes.append(self._write(tracker, item, index_writes))
                    except (sqlite3.Error, OSError) as exc:  # the archive's fault: the crawl stops
                        failure = exc
                        outcomes.append(None)
                    except Exception as exc:  # this record's fault: the batch goes on
                        outcomes.append(exc)
                if failure is not None and not tracker.db.conn.in_transaction:
                    # a full disk made SQLite roll the whole transaction back: nothing of the
                    # batch is stored, and index rows written now would land outside it
                    raise failure
                write_index(index_writes)
        except Exception as exc:  # the index rows or the commit failed, or SQLite rolled it all
            # back: nothing of the batch is stored (its pages stay in the frontier)
            failure = failure or exc
            outcomes = [None] * len(batch)
        if failure is not None:
            # after the batch's transaction has ended: stopping the crawl writes its runs
            tracker.storage_failed(failure)
        for (_, written), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                written.set_exception(outcome)
            else:
                written.set_result(outcome)

    @staticmethod
    def _write(tracker, item: Processed | NotModified | Gone,
               index_writes: list[Callable[[], None]]) -> str | None:
        """Write one record in a savepoint of the batch's transaction; returns the run's outcome."""
        if not isinstance(item, Processed):
            return store_record(tracker.db, item)
        article = item.article
        run = tracker.get(article.site)
        requested = run.requested.pop(article.url, article.url) if run else article.url
        return store_record(tracker.db, article, requested, item.prepared or None, index_writes)


def store_record(db: Any, item: Article | NotModified | Gone, requested: str | None = None,
                 prepared: Sequence[Prepared | None] | None = None,
                 index_later: list[Callable[[], None]] | None = None) -> str | None:
    """Store one record of a crawl in a transaction of its own (a savepoint inside a
    caller's); returns its outcome for the run's counts (new, changed, duplicate, removed,
    not_modified, or None). The one storing path of the embedded crawl and of the crawl
    workers' archive writer (scheduler.dispatch); storing the same record twice changes
    nothing the second time. `prepared`: what a worker process computed for storing the
    article and each bulletin part (crawler.work.process_page); None: computed here. The
    article's frontier row (under `requested`, the URL as listed; default its own) leaves
    with it, so a kill in between fetches the page again. `index_later`: the article's search
    index writes are added there, once its savepoint has ended well, for the caller to run
    (write_index) with those of the rest of its batch before it commits."""
    later: list[Callable[[], None]] | None = [] if index_later is not None else None
    with transaction(db):
        if isinstance(item, NotModified):
            mark_not_modified(db, item.url)
            return "not_modified"
        if isinstance(item, Gone):
            outcome = mark_withdrawn(db, item.url, item.http_status)  # None when already withdrawn
            if outcome:
                log.info("%s: %s withdrawn (HTTP %s)", item.site, item.url, item.http_status)
            return outcome
        if "no_body" in item.flags:
            log.warning("no recognisable body in %s; stored with flag no_body", item.url)
        preps = prepared or [None] * (1 + len(item.parts))
        _, kind = save_article(db, item, preps[0], index_later=later)
        for part, prep in zip(item.parts, preps[1:], strict=True):
            save_article(db, part, prep, index_later=later)
        settle_stored(db, requested or item.url)  # the frontier row leaves with the article
    if index_later is not None and later:
        index_later.extend(later)
    return kind


def write_index(index_writes: list[Callable[[], None]]) -> None:
    """Run a batch's search index writes (store_record's `index_later`), inside its transaction."""
    for write in index_writes:
        write()
