"""`talentwatch run`: one long-lived process that crawls on schedule and delivers alerts.

Scrapy's reactor can run only once per process, so the daemon runs ONE Scrapy
crawler for its whole life (PortalSpider with keep_open=True) on the asyncio
reactor (on its own thread: crawler.run.reactor_thread), and an APScheduler
AsyncIOScheduler on the same event loop hands it sites as their schedules come
due: an idle check costs a request, not a Python process.

    site:<name>       interval (with jitter) or cron -> spider.schedule_site(site)
    digest:<name>     cron (Asia/Shanghai) -> the subscription's digest is queued
    outbox            every daemon.deliver_every, and soon after a run found news:
                      events -> outbox (one transaction) -> channels

Outbox work (SQLite + SMTP/HTTP, blocking) runs in one worker thread with its
own connection, so the reactor never waits on a mail server. Next-run times
live in the archive's `jobs` table, so a restart keeps the schedule. A lock
file next to the archive keeps a second daemon off the same archive. SIGTERM
lets the item in the pipeline and the message being sent finish, then exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils
from talentwatch.core.config import TIMEZONE, Config, SiteConfig, Subscription
from talentwatch.storage.jobs import load_jobs, save_jobs
from talentwatch.storage.outbox import iso, utcnow

if TYPE_CHECKING:  # Scrapy is imported when the daemon starts, not with this module
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

KICK_DELAY = 1.0  # seconds between a run that found news and the outbox round it triggers
# how long a stop waits for Scrapy to wind down (downloads of cut runs may still hang)
STOP_GRACE = 15.0
ONCE_GRACE = 1.0
# a long-lived process keeps a small page cache so its memory stays flat
DAEMON_CACHE_MB = 2


class AlreadyRunning(Exception):
    """Another daemon holds the archive's lock."""


class DaemonLock:
    """An exclusive flock on `<archive>.lock`; the kernel drops it if the process dies."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(f"another talentwatch daemon (pid {holder}) is using {self.path.parent}"
                                 f" (lock {self.path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def holder(self) -> str | None:
        """The pid holding the lock, or None when no daemon runs."""
        if not self.path.exists():
            return None
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.read(fd, 32).decode(errors="replace").strip() or "?"
        finally:
            os.close(fd)
        return None


def site_trigger(site: SiteConfig, config: Config):
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if site.cron:
        return CronTrigger.from_crontab(site.cron, timezone=TIMEZONE)
    every = site.every or config.daemon.every
    return IntervalTrigger(seconds=every, jitter=min(config.daemon.jitter, every) or None,
                           timezone=TIMEZONE)


def digest_trigger(sub: Subscription):
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(sub.cron, timezone=TIMEZONE)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class OutboxWorker:
    """The one thread that touches the outbox: collect, release digests, deliver."""

    def __init__(self, config: Config, stopping: Callable[[], bool]) -> None:
        self.config = config
        self.stopping = stopping
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="outbox", initializer=self._open)
        self.local = threading.local()
        self.sent = 0
        self.failed = 0
        self.dead = 0
        self.errors: list[str] = []

    def _open(self) -> None:
        from talentwatch.storage.schema import open_archive

        self.local.db = open_archive(self.config.database, cache_mb=DAEMON_CACHE_MB)
        self.local.db.execute("PRAGMA synchronous = NORMAL")

    def round(self, digests: list[str]) -> None:
        """Runs in the worker thread."""
        from talentwatch.scheduler.alerts.collect import collect
        from talentwatch.scheduler.alerts.delivery import deliver_due, release

        db: sqlite_utils.Database = self.local.db
        try:
            collect(db, self.config)
            for name in digests:
                queued = release(db, name)
                log.info("digest %s: %d message(s) queued", name, len(queued))
            report = deliver_due(db, self.config, stop=self.stopping)
        except Exception:  # a round that fails is retried next round; the daemon lives on
            log.exception("outbox round failed")
            return
        self.sent += report.sent
        self.failed += report.failed
        self.dead += report.dead
        self.errors = (self.errors + report.errors)[-20:]

    def submit(self, digests: list[str] | None = None):
        return self.pool.submit(self.round, list(digests or []))

    def close(self) -> None:
        # a round not yet started is dropped (its work is on disk); the running one finishes
        self.pool.shutdown(wait=True, cancel_futures=True)


class Daemon:
    """The scheduler, the long-lived crawler and the outbox worker in one process."""

    def __init__(self, config: Config, once: bool = False) -> None:
        self.config = config
        self.once = once
        self.sites = {s.name: s for s in config.sites if s.enabled}
        self.digests = {s.name: s for s in config.subscriptions if s.mode == "digest"}
        self.lock = DaemonLock(config.database)
        self.stopping = False
        self.finished = False
        self.exit_code = 0
        self.last_runs: dict[str, str] = {}
        self.timeouts: dict[int, asyncio.TimerHandle] = {}
        self.waiting: set[str] = set()  # --once: sites whose run has not finished
        self.failed_sites: list[str] = []
        self.kick: asyncio.TimerHandle | None = None
        self.scheduler: Any = None  # an AsyncIOScheduler once started (APScheduler is untyped)
        # with `workers:`, sites go to Celery workers (scheduler.dispatch); None: crawled here
        self.workers: Any = None
        self.remote_timeouts: dict[str, asyncio.TimerHandle] = {}
        self.done = threading.Event()  # set on the reactor thread when the daemon has ended
        self.error: BaseException | None = None  # what stopped it from starting
        # set by run(), before anything uses them
        self.crawler: Crawler
        self.loop: asyncio.AbstractEventLoop

    # -- start and stop -------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM (or, with once=True, until every job ran once); returns the exit code."""
        self.lock.acquire()  # raises AlreadyRunning
        try:
            return self._run()
        finally:
            self.lock.release()

    def _run(self) -> int:
        from talentwatch.crawler.run import reactor_thread, stop_on_signals

        reactor = reactor_thread()  # the process's reactor: it outlives the daemon
        reactor.callFromThread(self._start)
        with stop_on_signals(self._stop_soon, "finishing current work and exiting"):
            self.done.wait()
        if self.error is not None:
            raise self.error
        return self.exit_code

    def _stop_soon(self) -> None:
        # from the main thread's signal handler; the daemon lives on the reactor's thread
        loop = getattr(self, "loop", None)
        if loop is None:
            os._exit(1)  # nothing has started yet
        loop.call_soon_threadsafe(self.stop)

    def _start(self) -> None:
        """On the reactor thread: open the archive, start the crawler and, when the spider
        is open, the schedule (or the --once pass)."""
        try:
            from scrapy import signals
            from scrapy.crawler import CrawlerRunner
            from talentwatch.crawler.runs import RunTracker
            from talentwatch.crawler.spider import PortalSpider, spider_settings
            from talentwatch.storage.schema import open_archive

            self.loop = asyncio.get_event_loop()
            self.db = open_archive(self.config.database, cache_mb=DAEMON_CACHE_MB)
            # WAL + NORMAL: a commit no longer waits for fsync (which would stall the reactor on
            # every run start and finish); still atomic and safe against kill -9, and after a power
            # cut the last commits are re-crawled (outbox: at worst re-sent, with the same id)
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.tracker = RunTracker(self.db)
            self.tracker.listeners.append(self._run_finished)
            self.outbox = OutboxWorker(self.config, lambda: self.stopping)
            if self.config.workers is not None:
                self._start_workers()
            settings = spider_settings(list(self.sites.values()), self.config.crawl, self.config.relevance)
            runner = CrawlerRunner(settings)
            self.crawler = runner.create_crawler(PortalSpider)
            self.crawler.signals.connect(self._spider_opened, signal=signals.spider_opened)
            done = runner.crawl(self.crawler, sites=[], tracker=self.tracker, keep_open=True)
            done.addBoth(self._crawler_finished)
        except BaseException as exc:  # noqa: BLE001 (handed to the waiting thread)
            self.error = exc
            self.done.set()

    def _spider_opened(self, spider: Any) -> None:
        self.spider = spider
        if self.once:
            self._start_once()
        else:
            from talentwatch.crawler.run import settle_heap

            settle_heap()  # the daemon lives long: its start-up heap is not rescanned by the GC
            self._start_scheduler()

    def stop(self) -> None:
        """Stop taking work, let the current item and message finish, then exit."""
        if self.stopping:
            log.warning("second stop signal: exiting now")
            os._exit(1)
        self.stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.kick is not None:
            self.kick.cancel()
        self._stop_crawler(STOP_GRACE)

    def _stop_crawler(self, grace: float) -> None:
        # stopping the crawler lets items already in the pipelines finish; a download
        # that hangs (a cut run) is not waited for beyond `grace`
        self.loop.create_task(self.crawler.stop_async())
        self.loop.call_later(grace, self._crawler_finished, None)

    def _crawler_finished(self, result: Any) -> None:
        if self.finished:
            return None
        self.finished = True
        if self.tracker.fatal is not None:
            # the archive cannot be written: stop (non-zero), what was not stored waits in the frontier
            log.error("%s", self.tracker.fatal)
            self.exit_code = 1
        for run in list(self.tracker.active.values()):
            self._close_early(run, "stopped before the site was done (daemon shutting down)")
        if self.workers is not None:
            # the writer stops after the message it is storing; the rest wait on the broker
            self.workers.close()
        with contextlib.suppress(Exception):
            self._save_jobs()
        self.outbox.close()  # waits for the message being sent
        self.db.close()
        if self.scheduler is not None:
            from talentwatch.crawler.run import unsettle_heap

            unsettle_heap()  # settled when the schedule started
        self.done.set()
        return None

    # -- daemon mode --------------------------------------------------------------

    def _start_scheduler(self) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        stored = load_jobs(self.db)
        self.scheduler = AsyncIOScheduler(
            event_loop=self.loop, timezone=TIMEZONE,
            # a late job runs once, however late (the daemon was down at 08:00)
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        now = utcnow()
        for site in self.sites.values():
            job_id = f"site:{site.name}"
            first = _parse(stored.get(job_id, (None, None))[0])
            if first is None and not site.cron:
                # a first start spreads the sites over the jitter window
                spread = min(self.config.daemon.jitter, site.every or self.config.daemon.every)
                first = now + timedelta(seconds=random.uniform(0, spread))
            self._add_job(job_id, self._check_site, site_trigger(site, self.config), first, site.name)
        for sub in self.digests.values():
            job_id = f"digest:{sub.name}"
            self._add_job(job_id, self._digest, digest_trigger(sub), _parse(stored.get(job_id, (None,))[0]),
                          sub.name)
        self.scheduler.add_job(self._outbox_round, IntervalTrigger(seconds=self.config.daemon.deliver_every),
                               id="outbox", next_run_time=now)
        self.scheduler.start()
        log.info("daemon started: %d site(s), %d digest(s), archive %s", len(self.sites),
                 len(self.digests), self.config.database)

    def _add_job(self, job_id: str, func, trigger, first: datetime | None, arg: str) -> None:
        extra = {"next_run_time": first} if first is not None else {}
        self.scheduler.add_job(func, trigger, args=[arg], id=job_id, name=job_id, **extra)

    async def _check_site(self, name: str) -> None:
        self.last_runs[f"site:{name}"] = iso(utcnow())
        self.check_site(self.sites[name])

    async def _digest(self, name: str) -> None:
        self.last_runs[f"digest:{name}"] = iso(utcnow())
        self.outbox.submit([name])

    async def _outbox_round(self) -> None:
        self.outbox.submit()
        self._save_jobs()

    def _save_jobs(self) -> None:
        if self.scheduler is None:
            return
        jobs = {job.id: (iso(job.next_run_time) if job.next_run_time else None, self.last_runs.get(job.id))
                for job in self.scheduler.get_jobs() if job.id != "outbox"}
        save_jobs(self.db, jobs)

    # -- one site check -----------------------------------------------------------

    def check_site(self, site: SiteConfig) -> bool:
        """Start a pass over `site` unless one is running; returns whether it started."""
        if self.stopping:
            return False
        if self.workers is not None:
            return self._check_remote(site)
        run = self.spider.schedule_site(site)
        if run is None:
            return False
        limit = site.timeout or self.config.daemon.timeout
        self.timeouts[id(run)] = self.loop.call_later(limit, self._cut, run, limit)
        return True

    def _cut(self, run, limit: float) -> None:
        self.timeouts.pop(id(run), None)
        if not run.closed:
            log.warning("%s: run cut after %.0fs", run.site.name, limit)
            self._close_early(run, f"timed out after {limit:.0f}s")

    def _close_early(self, run, reason: str) -> None:
        if run.pages == 0:
            # not one page came back: the check failed, it did not just run long
            run.start_failures = len(run.site.start_urls)
        self.tracker.close(run, reason)

    def _run_finished(self, run) -> None:
        handle = self.timeouts.pop(id(run), None)
        if handle is not None:
            handle.cancel()
        # the daemon keeps no history in memory: runs are in crawl_runs
        self.tracker.finished.clear()
        if self.once:
            if run.failed:
                self.failed_sites.append(run.site.name)
            self.waiting.discard(run.site.name)
            if not self.waiting:
                self.loop.call_soon(self._finish_once)
        elif (run.new or run.changed) and self.kick is None and not self.stopping:
            self.kick = self.loop.call_later(KICK_DELAY, self._kicked)

    # -- crawl workers (`workers:` in config.yaml; docs/scale.md) -------------------------

    def _start_workers(self) -> None:
        from talentwatch.scheduler.dispatch import WorkerLink
        from talentwatch.storage.schema import open_archive

        def open_db() -> sqlite_utils.Database:
            db = open_archive(self.config.database, cache_mb=DAEMON_CACHE_MB)
            db.execute("PRAGMA synchronous = NORMAL")
            return db

        self.workers = WorkerLink(self.config, open_db)
        # one wake-up of the event loop per archive message, not per run
        self.workers.start(lambda runs: self.loop.call_soon_threadsafe(self._remote_finished_all, runs))

    def _check_remote(self, site: SiteConfig) -> bool:
        from talentwatch.scheduler.tasks import lease_seconds

        if site.name in self.remote_timeouts:
            log.info("%s: previous run still with a worker, skipped", site.name)
            return False
        assert self.config.workers is not None
        limit = lease_seconds(self.config.workers)
        self.remote_timeouts[site.name] = self.loop.call_later(limit, self._remote_lost, site, limit)
        self.workers.dispatch(site, lambda s: self.loop.call_soon_threadsafe(self._remote_lost, s, None))
        return True

    def _remote_lost(self, site: SiteConfig, limit: float | None) -> None:
        """A site that was not sent (lease held, broker down) or whose lease ran out unanswered."""
        from talentwatch.scheduler.dispatch import RemoteRun

        handle = self.remote_timeouts.pop(site.name, None)
        if handle is not None:
            handle.cancel()
        if limit is not None:
            log.warning("%s: no answer from the workers within %.0fs", site.name, limit)
        self._run_finished(RemoteRun(site=site, run_id=0, failed=True))

    def _remote_finished_all(self, runs: list[Any]) -> None:
        for run in runs:
            self._remote_finished(run)

    def _remote_finished(self, run: Any) -> None:
        handle = self.remote_timeouts.pop(run.site.name, None)
        if handle is None:
            # a late answer (its lease had run out): stored all the same; nothing waits for it
            return
        handle.cancel()
        self._run_finished(run)

    def _kicked(self) -> None:
        self.kick = None
        self.outbox.submit()

    # -- --once -----------------------------------------------------------------------

    def _start_once(self) -> None:
        started = [name for name, site in self.sites.items() if self.check_site(site)]
        self.waiting = set(started)
        now = iso(utcnow())
        for name in started:
            self.last_runs[f"site:{name}"] = now
        if not self.waiting:
            self.loop.call_soon(self._finish_once)

    def _finish_once(self) -> None:
        if self.stopping:
            return
        now = utcnow()
        stored = load_jobs(self.db)
        jobs: dict[str, tuple[str | None, str | None]] = {}
        due_digests = []
        for sub in self.digests.values():
            job_id = f"digest:{sub.name}"
            planned = _parse(stored.get(job_id, (None,))[0])
            if planned is not None and planned <= now:
                due_digests.append(sub.name)
                planned = None
                self.last_runs[job_id] = iso(now)
            if planned is None:
                planned = digest_trigger(sub).get_next_fire_time(None, now)
            jobs[job_id] = (iso(planned), self.last_runs.get(job_id))
        for site in self.sites.values():
            job_id = f"site:{site.name}"
            nxt = site_trigger(site, self.config).get_next_fire_time(None, now)
            jobs[f"site:{site.name}"] = (iso(nxt), self.last_runs.get(job_id))
        save_jobs(self.db, jobs)
        future = self.outbox.submit(due_digests)
        asyncio.wrap_future(future, loop=self.loop).add_done_callback(lambda _: self._once_done())

    def _once_done(self) -> None:
        if self.sites and len(set(self.failed_sites)) == len(self.sites):
            self.exit_code = 1
        if self.outbox.failed:
            self.exit_code = 1  # cron must notice; the outbox keeps the messages for the next run
        self.stopping = True
        self._stop_crawler(ONCE_GRACE)
