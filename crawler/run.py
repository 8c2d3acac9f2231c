"""Running the spider: one pass over some sites, then return their runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from scrapy.crawler import CrawlerProcess
from talentwatch.core import stages
from talentwatch.core.config import Config, SiteConfig
from talentwatch.crawler.runs import RunTracker, SiteRun
from talentwatch.crawler.spider import PortalSpider, spider_settings
from talentwatch.storage.schema import open_archive

log = logging.getLogger(__name__)


def select_sites(config: Config, names: list[str] | None = None) -> list[SiteConfig]:
    if names:
        return [config.site(name) for name in names]
    return [site for site in config.sites if site.enabled]


class CrawlStopped(Exception):
    """The archive could not be written; the message is one line for the user."""

    def __init__(self, message: str, runs: list[SiteRun]) -> None:
        super().__init__(message)
        self.runs = runs


def run_crawl(config: Config, sites: list[SiteConfig],
              on_tick: Callable[[RunTracker], None] | None = None,
              recheck: bool = False, backfill: int | None = None) -> list[SiteRun]:
    """Crawl `sites` once in this process (Scrapy's reactor runs only once per process).

    `recheck` re-fetches every known article of the sites (conditionally), not
    only those their revisit policy says are due. `backfill` reads that many
    older list pages past where each site's last walk stopped (and nothing else
    but the frontier's due URLs). Raises CrawlStopped when the archive could not
    be written."""
    db = open_archive(config.database)
    tracker = RunTracker(db)
    process = CrawlerProcess(spider_settings(sites, config.crawl, config.relevance))
    process.crawl(PortalSpider, sites=sites, tracker=tracker, recheck=recheck, backfill=backfill)
    if on_tick is not None:
        # after crawl(): that installs Scrapy's asyncio reactor; LoopingCall before it
        # would install Twisted's default one and the crawl would refuse to start
        from twisted.internet import task

        task.LoopingCall(on_tick, tracker).start(0.25, now=False)
    startup_cpu = time.process_time()
    process.start()
    # runs that never got an answer at all (the reactor stopped) are closed as such
    for run in list(tracker.active.values()):
        tracker.close(run, "crawl stopped before the site was done")
    db.close()
    if stages.enabled():
        stages.report(startup_cpu)
    if tracker.fatal is not None:
        raise CrawlStopped(tracker.fatal, tracker.finished)
    return tracker.finished
