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
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy.exceptions import DropItem
from talentwatch.core import stages
from talentwatch.core.profiles import get_profile
from talentwatch.core.records import Gone, NotModified, Page
from talentwatch.core.relevance_config import RelevanceConfig
from talentwatch.crawler.work import Processed, call_pickled, process_page, worker_started
from talentwatch.storage.articles import save_article
from talentwatch.storage.crawlstate import mark_not_modified, mark_withdrawn
from talentwatch.storage.db import transaction

log = logging.getLogger(__name__)


def _worker_started() -> None:
    stages.TIMES.add(stages.STARTUP, time.process_time())


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
        # spawn, not fork: forking a process that runs a reactor is unsafe
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=worker_started, initargs=(self.config_json,))

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


def worker_pool(crawler, config_json: str | None = None) -> WorkerPool:
    """One pool of worker processes per crawler, shared by the CPU-bound pipelines."""
    pool = getattr(crawler, "talentwatch_pool", None)
    if pool is None:
        pool = WorkerPool(crawler.settings.getint("TALENTWATCH_EXTRACT_WORKERS"), config_json)
        crawler.talentwatch_pool = pool
    return pool


class ExtractPipeline:
    """Page -> Processed: extraction, relevance, normalisation and MinHash in one round
    trip to a worker process, so the main process only fetches and stores."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        config = RelevanceConfig.model_validate(crawler.settings.getdict("TALENTWATCH_RELEVANCE"))
        self.pool = worker_pool(crawler, config.model_dump_json())

    @classmethod
    def from_crawler(cls, crawler) -> ExtractPipeline:
        return cls(crawler)

    def close_spider(self) -> None:
        self.pool.shutdown()

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page):
            return item
        run = self.crawler.spider.tracker.get(item.site)
        profile = run.profile if run else get_profile(item.profile)
        try:
            done: Processed = await self.pool.run(process_page, item, profile)
        except Exception as exc:  # a broken page is logged with its URL and skipped
            log.warning("extraction failed for %s: %s", item.url, exc)
            raise DropItem(f"{item.url}: extraction failed: {exc}") from exc
        if done.relevance_error:
            log.warning("relevance scoring failed for %s: %s", item.url, done.relevance_error)
        return done


class ArchivePipeline:
    """Every archive write of a crawl: articles (with their bulletin parts) and the
    re-check answers (not modified, withdrawn).

    Writes are gathered for a moment and committed together, in one short
    transaction per batch: a commit per article costs more than the article's own
    rows. Each article is still all-or-nothing — it is written inside a savepoint
    of its own, so a failing one is rolled back alone and the batch goes on — and
    its run counts it only once the batch is committed.
    """

    BATCH = 32  # writes per transaction at most
    LINGER = 0.05  # seconds the first write of a batch waits for others

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.pending: list[tuple[Any, asyncio.Future[str | None]]] = []
        self.timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_crawler(cls, crawler) -> ArchivePipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, (Processed, NotModified, Gone)):
            return item
        loop = asyncio.get_running_loop()
        written: asyncio.Future[str | None] = loop.create_future()
        self.pending.append((item, written))
        if len(self.pending) >= self.BATCH:
            self.flush()
        elif self.timer is None:
            self.timer = loop.call_later(self.LINGER, self.flush)
        outcome = await written  # raises what the write raised: Scrapy counts the item as lost
        self.crawler.spider.tracker.item_done(item.site, outcome)
        return item.article if isinstance(item, Processed) else item

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if not batch:
            return
        db = self.crawler.spider.tracker.db
        outcomes: list[tuple[asyncio.Future[str | None], str | None | BaseException]] = []
        try:
            with stages.TIMES.main(stages.STORE), transaction(db):
                for item, written in batch:
                    try:
                        outcomes.append((written, self._write(db, item)))
                    except Exception as exc:  # that article's savepoint is rolled back, not the batch
                        outcomes.append((written, exc))
        except Exception as exc:  # the commit itself failed: nothing of the batch is stored
            for _, written in batch:
                written.set_exception(exc)
            return
        for written, outcome in outcomes:
            if isinstance(outcome, BaseException):
                written.set_exception(outcome)
            else:
                written.set_result(outcome)

    @staticmethod
    def _write(db, item: Processed | NotModified | Gone) -> str | None:
        """Write one record (inside the batch's transaction); returns the run's outcome."""
        if isinstance(item, NotModified):
            mark_not_modified(db, item.url)
            return "not_modified"
        if isinstance(item, Gone):
            outcome = mark_withdrawn(db, item.url, item.http_status)  # None when already withdrawn
            if outcome:
                log.info("%s: %s withdrawn (HTTP %s)", item.site, item.url, item.http_status)
            return outcome
        article = item.article
        if "no_body" in article.flags:
            log.warning("no recognisable body in %s; stored with flag no_body", article.url)
        preps = item.prepared or [None] * (1 + len(article.parts))
        # the article and its bulletin parts: one savepoint, all or nothing
        with transaction(db):
            _, kind = save_article(db, article, preps[0])
            for part, prep in zip(article.parts, preps[1:], strict=True):
                save_article(db, part, prep)
        return kind
