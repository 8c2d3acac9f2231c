"""Running the spider: one pass over some sites, then return their runs.

Twisted's reactor can run only once per process, so it runs on a thread of its
own, started by the first crawl and kept for the process's life; each crawl is
a Scrapy crawler scheduled on it, and the extraction workers are kept between
crawls too (crawler.pipelines.shared_pool). A program (or a test) can thus
crawl any number of times in one process, paying Scrapy's and the workers'
start-up once.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from talentwatch.core import stages
from talentwatch.core.config import Config, SiteConfig
from talentwatch.crawler.runs import RunTracker, SiteRun

log = logging.getLogger(__name__)

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def select_sites(config: Config, names: list[str] | None = None) -> list[SiteConfig]:
    if names:
        return [config.site(name) for name in names]
    return [site for site in config.sites if site.enabled]


class CrawlStopped(Exception):
    """The archive could not be written; the message is one line for the user."""

    def __init__(self, message: str, runs: list[SiteRun]) -> None:
        super().__init__(message)
        self.runs = runs


_started = threading.Lock()
_reactor_thread: threading.Thread | None = None


def reactor_thread() -> Any:
    """The process's reactor, running on its own thread (started on first use)."""
    global _reactor_thread
    with _started:
        if _reactor_thread is None:
            ready = threading.Event()
            failed: list[BaseException] = []

            def run() -> None:
                try:
                    # installed on this thread: the asyncio loop it drives belongs to it
                    from scrapy.utils.reactor import install_reactor

                    install_reactor(ASYNCIO_REACTOR)
                    from talentwatch.crawler.reach import PinnedResolver
                    from twisted.internet import reactor

                    # connections go to the addresses the reach check approved, never to a
                    # second DNS answer that could point inward (DNS rebinding). Scrapy
                    # installs TWISTED_DNS_RESOLVER only in CrawlerProcess.start; crawls and
                    # the daemon share this reactor, so it is installed here, once.
                    PinnedResolver(reactor).install_on_reactor()
                except BaseException as exc:  # noqa: BLE001 (handed to the waiting thread)
                    failed.append(exc)
                    ready.set()
                    return
                reactor.callWhenRunning(ready.set)
                # twisted types the reactor module as its interface, whose methods lack self and options
                reactor.run(installSignalHandlers=False)  # type: ignore[misc, call-arg]

            thread = threading.Thread(target=run, name="scrapy-reactor", daemon=True)
            thread.start()
            ready.wait()
            if failed:
                raise failed[0]
            _reactor_thread = thread
    from twisted.internet import reactor

    return reactor


def settle_heap() -> None:
    """For a long-lived process (the daemon, a crawl worker) once it has started: what is
    alive now (modules, settings, the crawler, the extraction pool) stays for the process's
    life, so it is moved out of the garbage collector's sight (gc.freeze). Otherwise every
    full collection walks it again: about 0.17 s per collection over 160,000 objects, a
    fifth of an idle site check's CPU in the daemon (bench/daemon_cost.py)."""
    gc.collect()
    gc.freeze()


def unsettle_heap() -> None:
    """Undo settle_heap when the long-lived part ends in a process that goes on (a daemon
    run in-process, as the tests do): what it froze can be collected again."""
    gc.unfreeze()


def run_crawl(config: Config, sites: list[SiteConfig],
              on_tick: Callable[[RunTracker], None] | None = None,
              recheck: bool = False, backfill: int | None = None) -> list[SiteRun]:
    """Crawl `sites` once; returns their runs when every one has ended.

    `recheck` re-fetches every known article of the sites (conditionally), not
    only those their revisit policy says are due. `backfill` reads that many
    older list pages past where each site's last walk stopped (and nothing else
    but the frontier's due URLs). A first SIGINT or SIGTERM stops the crawl
    cleanly (what was fetched is stored, the rest stays in the frontier), a
    second ends the process. Raises CrawlStopped when the archive could not be
    written."""
    from twisted.internet.threads import blockingCallFromThread

    reactor = reactor_thread()
    startup_cpu = time.process_time()  # imports and the reactor's start: the crawl's start-up
    crawl = _Crawl(config, sites, on_tick, recheck, backfill)
    with stop_on_signals(lambda: reactor.callFromThread(crawl.stop), "finishing current pages and stopping"):
        tracker: RunTracker = blockingCallFromThread(reactor, crawl.start)
    if stages.enabled():
        from talentwatch.crawler.pipelines import shutdown_pools

        shutdown_pools()  # the workers' CPU is counted once they have ended
        stages.report(startup_cpu)
    if tracker.fatal is not None:
        raise CrawlStopped(tracker.fatal, tracker.finished)
    return tracker.finished


class _Crawl:
    """One crawl on the reactor thread: its archive connection is opened and closed there."""

    def __init__(self, config: Config, sites: list[SiteConfig],
                 on_tick: Callable[[RunTracker], None] | None, recheck: bool, backfill: int | None) -> None:
        self.config, self.sites, self.on_tick = config, sites, on_tick
        self.recheck, self.backfill = recheck, backfill
        self.runner: Any = None
        self.stopping = False

    def start(self) -> Any:
        from scrapy.crawler import CrawlerRunner
        from talentwatch.crawler.spider import PortalSpider, spider_settings
        from talentwatch.storage.schema import open_archive
        from twisted.internet import task

        db = open_archive(self.config.database)
        tracker = RunTracker(db)
        self.runner = CrawlerRunner(spider_settings(self.sites, self.config.crawl, self.config.relevance))
        done = self.runner.crawl(PortalSpider, sites=self.sites, tracker=tracker,
                                 recheck=self.recheck, backfill=self.backfill)
        ticks = task.LoopingCall(self.on_tick, tracker) if self.on_tick is not None else None
        if ticks is not None:
            ticks.start(0.25, now=False)

        def ended(result: Any) -> Any:
            if ticks is not None and ticks.running:
                ticks.stop()
            # runs that never got an answer at all (the crawl was stopped) are closed as such
            for run in list(tracker.active.values()):
                tracker.close(run, "crawl stopped before the site was done")
            db.close()
            return result if _is_failure(result) else tracker

        return done.addBoth(ended)

    def stop(self) -> None:
        if self.runner is not None and not self.stopping:
            self.stopping = True
            self.runner.stop()


def _is_failure(result: Any) -> bool:
    from twisted.python.failure import Failure

    return isinstance(result, Failure)


class stop_on_signals:
    """While the main thread waits for work on the reactor's thread (a crawl, the daemon):
    the first SIGINT/SIGTERM calls `stop`, which asks that work to end cleanly; a second
    exits at once (what is stored is whole: SQLite). Python runs handlers on the main
    thread only, so elsewhere nothing is installed."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, stop: Callable[[], None], what: str) -> None:
        self.stop = stop
        self.what = what  # what the first signal starts, for the log line
        self.previous: dict[int, Any] = {}
        self.asked = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.asked:
            log.warning("second stop signal: exiting now")
            os._exit(1)
        self.asked = True
        log.warning("%s received: %s", signal.Signals(signum).name, self.what)
        self.stop()

    def __enter__(self) -> stop_on_signals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
