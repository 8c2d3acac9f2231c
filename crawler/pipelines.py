"""Item pipelines: Page -> Article (extraction) -> archive.

Extraction is CPU-bound (lxml, trafilatura) and would block the reactor, so it
runs in a pool of worker processes while the spider keeps downloading.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from scrapy.exceptions import DropItem

from crawler.extract import extract
from crawler.items import Article, Page
from crawler.profiles import Profile, get_profile
from storage.archive import save_article

log = logging.getLogger(__name__)


def _extract_job(page: Page, profile: Profile) -> Article:
    return extract(page, profile)


class ExtractPipeline:
    def __init__(self, crawler, workers: int) -> None:
        self.crawler = crawler
        self.workers = workers or os.cpu_count() or 1
        self.pool: Executor | None = None

    @classmethod
    def from_crawler(cls, crawler) -> ExtractPipeline:
        return cls(crawler, crawler.settings.getint("TALENTWATCH_EXTRACT_WORKERS"))

    def open_spider(self) -> None:
        # spawn, not fork: forking a process that runs a reactor is unsafe
        self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page):
            return item
        run = self.crawler.spider.tracker.get(item.site)
        profile = run.profile if run else get_profile(item.profile)
        try:
            return await asyncio.wrap_future(self.pool.submit(_extract_job, item, profile))
        except Exception as exc:  # a broken page is logged with its URL and skipped
            log.warning("extraction failed for %s: %s", item.url, exc)
            raise DropItem(f"{item.url}: extraction failed: {exc}") from exc


class ArchivePipeline:
    """Stores each article (and its bulletin parts) in one transaction each."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> ArchivePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        tracker = self.crawler.spider.tracker
        db = tracker.db
        if "no_body" in item.flags:
            log.warning("no recognisable body in %s; stored with flag no_body", item.url)
        _, kind = save_article(db, item)
        for part in item.parts:
            save_article(db, part)
        tracker.item_done(item.site, kind)
        return item
