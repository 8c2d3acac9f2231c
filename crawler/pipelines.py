"""Item pipelines: Page -> Article (extraction) -> archive; re-check answers -> archive.

Extraction is CPU-bound (lxml, trafilatura) and would block the reactor, so it
runs in a pool of worker processes while the spider keeps downloading.
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
from talentwatch.core.profiles import Profile, get_profile
from talentwatch.core.records import Article, Gone, NotModified, Page
from talentwatch.crawler.extract import extract
from talentwatch.relevance import Classifier, RelevanceConfig
from talentwatch.storage.articles import prepare, save_article
from talentwatch.storage.crawlstate import mark_not_modified, mark_withdrawn

log = logging.getLogger(__name__)


def _worker_started() -> None:
    stages.TIMES.add(stages.STARTUP, time.process_time())


def _call(fn: Callable[..., Any], payload: bytes) -> tuple[bytes, dict[str, float]]:
    """Run `fn` in a worker on pickled arguments; the result goes back pickled, with the
    worker's stage times. Pickling by hand lets both sides time the transfer."""
    with stages.TIMES.cpu(stages.TRANSFER):
        args = pickle.loads(payload)
    result = fn(*args)
    start = time.process_time()
    out = pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
    stages.TIMES.add(stages.TRANSFER, time.process_time() - start)
    return out, stages.TIMES.take()


def _extract_job(page: Page, profile: Profile) -> Article:
    with stages.TIMES.cpu(stages.EXTRACTION):
        return extract(page, profile)


_classifiers: dict[str, Classifier] = {}


def _classify_job(article: Article, config_json: str) -> Article:
    # each worker builds its classifier (jieba's dictionary) once per config; the
    # config travels as JSON, which is also the cache key
    if config_json not in _classifiers:
        with stages.TIMES.cpu(stages.STARTUP):
            _classifiers[config_json] = Classifier(RelevanceConfig.model_validate_json(config_json))
    with stages.TIMES.cpu(stages.RELEVANCE):
        _classifiers[config_json].classify(article)
    return article


class WorkerPool:
    """Worker processes for the CPU-bound pipelines, renewed if one of them dies.

    A worker killed mid-page (out of memory on a huge PDF, a crash in lxml)
    breaks a ProcessPoolExecutor for good; a long-running daemon would then
    drop every later page. The page that was running is retried once in a
    fresh pool; if that breaks it too, it is the page's fault and it fails.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs a reactor is unsafe
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_started)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        with stages.TIMES.wall(stages.TRANSFER):
            payload = pickle.dumps(args, pickle.HIGHEST_PROTOCOL)
        for attempt in (1, 2):
            executor = self.executor
            try:
                out, times = await asyncio.wrap_future(executor.submit(_call, fn, payload))
                stages.WORKERS.merge(times)
                with stages.TIMES.wall(stages.TRANSFER):
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


def worker_pool(crawler) -> WorkerPool:
    """One pool of worker processes per crawler, shared by the CPU-bound pipelines."""
    pool = getattr(crawler, "talentwatch_pool", None)
    if pool is None:
        pool = WorkerPool(crawler.settings.getint("TALENTWATCH_EXTRACT_WORKERS"))
        crawler.talentwatch_pool = pool
    return pool


class ExtractPipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.pool = worker_pool(crawler)

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
            return await self.pool.run(_extract_job, item, profile)
        except Exception as exc:  # a broken page is logged with its URL and skipped
            log.warning("extraction failed for %s: %s", item.url, exc)
            raise DropItem(f"{item.url}: extraction failed: {exc}") from exc


class RelevancePipeline:
    """Fills the talent-policy fields (topics, region, incentives, deadline)."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.pool = worker_pool(crawler)
        config = RelevanceConfig.model_validate(crawler.settings.getdict("TALENTWATCH_RELEVANCE"))
        self.config_json = config.model_dump_json()

    @classmethod
    def from_crawler(cls, crawler) -> RelevancePipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        try:
            return await self.pool.run(_classify_job, item, self.config_json)
        except Exception as exc:  # unscored is better than lost: store it, say so
            log.warning("relevance scoring failed for %s: %s", item.url, exc)
            return item


class ArchivePipeline:
    """Every archive write of a crawl: each article (and its bulletin parts) in one
    transaction each, and the re-check answers (not modified, withdrawn)."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> ArchivePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        tracker = self.crawler.spider.tracker
        db = tracker.db
        if isinstance(item, NotModified):
            mark_not_modified(db, item.url)
            tracker.item_done(item.site, "not_modified")
        elif isinstance(item, Gone):
            outcome = mark_withdrawn(db, item.url, item.http_status)  # None when already withdrawn
            if outcome:
                log.info("%s: %s withdrawn (HTTP %s)", item.site, item.url, item.http_status)
            tracker.item_done(item.site, outcome)
        elif isinstance(item, Article):
            if "no_body" in item.flags:
                log.warning("no recognisable body in %s; stored with flag no_body", item.url)
            with stages.TIMES.wall(stages.NORMALISE):
                preps = [prepare(a) for a in (item, *item.parts)]
                for prep in preps:
                    _ = prep.signature
            with stages.TIMES.wall(stages.STORE):
                _, kind = save_article(db, item, preps[0])
                for part, prep in zip(item.parts, preps[1:], strict=True):
                    save_article(db, part, prep)
            tracker.item_done(item.site, kind)
        return item
