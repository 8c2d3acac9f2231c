"""`talentwatch worker`: a Celery worker that crawls the sites the archive host hands it.

Design (docs/scale.md): Twisted's reactor cannot be restarted in one process,
so each worker process runs ONE long-lived Scrapy crawler on a reactor thread
(as the daemon does: PortalSpider with keep_open), and Celery's thread pool
runs the tasks. A task (a batch of due sites) hands its sites to the spider,
which crawls them side by side, and sends the runs' records — extracted,
classified, normalised articles, not-modified and gone answers, each run's
summary and what its walk left in the frontier — to the archive queue, a few
dozen to a message; it returns (and is acknowledged) once the archive host
confirms them stored. Start-up (Scrapy, the reactor, the extraction processes)
is paid once per worker, not per task. The worker never opens the archive: what
the crawl needs from it (known articles, list validators, due re-checks,
pending frontier URLs) comes in the task.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from celery import Celery
from kombu.mixins import ConsumerMixin
from talentwatch.core.config import Config, SiteConfig
from talentwatch.crawler.pipelines import ExtractPipeline
from talentwatch.crawler.run import settle_heap
from talentwatch.crawler.runs import RunTracker, SiteRun
from talentwatch.crawler.work import Processed
from talentwatch.scheduler.tasks import (
    ARCHIVE_QUEUE,
    CRAWL_QUEUE,
    CRAWL_TASK,
    HEARTBEAT_EVERY,
    archive_queue,
    encode_record,
    make_app,
    reply_queue,
)
from talentwatch.storage import frontier
from talentwatch.storage.identity import canonical_url, stable_key

log = logging.getLogger(__name__)

CHUNK = 25  # records (and runs' ends) per message on the archive queue: never one huge message
FLUSH_AFTER = 2.0  # seconds a record or a run's end waits for others before it is sent anyway
CONFIRM_WAIT = 60.0  # seconds a task waits for the archive host to confirm its records stored


def identities(url: str) -> list[str]:
    """The keys under which the archive finds an article (storage.articles.find_article)."""
    keys = [url, canonical_url(url)]
    key = stable_key(url)
    if key:
        keys.append(key)
    return keys


_sites_checked: dict[str, SiteConfig] = {}


def _site(text: str) -> SiteConfig:
    """A task's site settings (JSON text), validated once per distinct text."""
    site = _sites_checked.get(text)
    if site is None:
        if len(_sites_checked) > 10_000:  # bounded: a config edited many times over a long life
            _sites_checked.clear()
        site = _sites_checked[text] = SiteConfig.model_validate_json(text)
    return site


class SiteTask:
    """One site of a crawl task: its part of the payload, and what its walk left behind."""

    def __init__(self, entry: dict[str, Any], relevance_json: str, batch: Batch) -> None:
        self.entry = entry
        self.site = _site(entry["site"])
        self.run_id = int(entry["run_id"])
        self.lease = str(entry["lease"])
        self.shortcuts = bool(entry.get("shortcuts"))
        # None: sent without them (every start page is asked conditionally; a 304 needs none)
        self.known: set[str] | None = set(entry["known"]) if "known" in entry else None
        self.needs_known = False  # a list page changed while `known` was left out
        self.validators = {u: tuple(v) for u, v in (entry.get("list_validators") or {}).items()}
        self.relevance_json = relevance_json
        self.batch = batch
        self.stored: set[str] = set()  # frontier URLs (as listed) of the articles sent to be stored
        self.changes = 0  # the scratch archive's count of changed rows when the run began

    def add(self, record: dict[str, Any]) -> None:
        record["run_id"] = self.run_id
        self.batch.add(record)

    def end(self, summary: dict[str, Any]) -> None:
        self.batch.end({"site": self.site.name, "run_id": self.run_id, "lease": self.lease,
                        "summary": summary})


class Batch:
    """A crawl task: its sites, crawled side by side. On the reactor thread, their records
    and runs' ends gather into messages (CHUNK items, or fewer after FLUSH_AFTER seconds,
    the last when every run has ended), which the task's thread takes from `outgoing`: one
    hand-over between threads per message, not per record."""

    def __init__(self, payload: dict[str, Any]) -> None:
        relevance_json = _relevance_json(payload.get("relevance"))
        # (records, runs' ends, whether it is the last message)
        self.outgoing: queue.Queue[tuple[list[dict[str, Any]], list[dict[str, Any]], bool]] = queue.Queue()
        self.sites = [SiteTask(entry, relevance_json, self) for entry in payload.get("sites") or []]
        self.id = uuid.uuid4().hex
        self.records: list[dict[str, Any]] = []
        self.ended: list[dict[str, Any]] = []
        self.left = len(self.sites)
        self.timer: Any = None  # the reactor's call that sends a partial message
        self.cut: Any = None  # the reactor's call that cuts the runs still going at the task's timeout

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self._maybe_flush()

    def end(self, entry: dict[str, Any]) -> None:
        self.ended.append(entry)
        self.left -= 1
        if self.left <= 0 and self.cut is not None and self.cut.active():
            # as the daemon cancels its timeouts: a pending call would keep the batch's runs
            # (and their sets of URLs) alive until the timeout, 20 minutes of every check's garbage
            self.cut.cancel()
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if self.left <= 0 or len(self.records) + len(self.ended) >= CHUNK:
            self._flush()
        elif self.timer is None:
            from twisted.internet import reactor

            # twisted types the reactor module as its interface, whose methods lack self
            self.timer = reactor.callLater(FLUSH_AFTER, self._flush)  # type: ignore[arg-type]

    def _flush(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        final = self.left <= 0
        if self.records or self.ended or final:
            self.outgoing.put((self.records, self.ended, final))
            self.records, self.ended = [], []


_relevance_checked: dict[str, str] = {}


def _relevance_json(data: Any) -> str:
    """The task's relevance config as the classifier's cache key, validated once per text."""
    from talentwatch.relevance import RelevanceConfig

    if not isinstance(data, str) or not data:
        return ""
    if data not in _relevance_checked:
        _relevance_checked[data] = RelevanceConfig.model_validate_json(data).model_dump_json()
    return _relevance_checked[data]


class TaskTracker(RunTracker):
    """The RunTracker of a worker: the archive's answers come from each task's payload.

    Its `db` is a scratch archive of this worker process (in memory, never the real
    archive): crawl state the spider keeps as it goes (the frontier of the site's
    walk, a backfill cursor offered at max_list_pages) lands there, seeded from the task's
    pending URLs; when the run ends, what is left of it for the site goes back with the
    run's summary (dispatch.apply_frontier) and is cleared here."""

    def __init__(self) -> None:
        from talentwatch.storage.schema import open_archive

        # in memory: a few rows per site and run, read and cleared at the run's end; a file
        # would cost a write (and its WAL) on every check for nothing kept
        super().__init__(open_archive(":memory:", cache_mb=2))
        self.tasks: dict[str, SiteTask] = {}  # by site name; a site has one task at a time

    def seed(self, task: SiteTask) -> None:
        """Load the task's pending frontier URLs into the scratch archive's frontier."""
        pending = task.entry.get("pending") or []
        if not pending:
            return
        frontier.record_seen(self.db, task.site.name, [
            frontier.Seen(row["url"], row.get("list_url") or row["url"], int(row.get("list_page") or 1),
                          int(row.get("list_pos") or 0), row.get("list_title"), row.get("list_date"))
            for row in pending if isinstance(row, dict)])

    def open_run(self, site: SiteConfig) -> int:
        return self.tasks[site.name].run_id

    def walk_shortcuts(self, site: SiteConfig) -> bool:
        # decided on the archive host, which keeps the site's walks (storage.walks.begin)
        return self.tasks[site.name].shortcuts

    def is_known(self, url: str, site: str | None = None) -> bool:
        tasks = [self.tasks[site]] if site in self.tasks else list(self.tasks.values())
        for task in tasks:
            if task.known is None:
                # a list page was read on a walk sent without the site's known articles:
                # nothing of it is fetched (all counts as known, so the walk stops here)
                # and the archive host sends the site again with them
                task.needs_known = True
                return True
            if any(key in task.known for key in identities(url)):
                return True
        return False

    def known_urls(self, urls: list[str], site: str | None = None) -> set[str]:
        return {url for url in urls if self.is_known(url, site)}  # from memory: one at a time

    def list_validators(self, url: str) -> tuple[str | None, str | None]:
        for task in self.tasks.values():  # few sites at once per worker (tasks × batch)
            found = task.validators.get(url)
            if found is not None:
                return found[0], found[1]
        return None, None

    def due_urls(self, site: SiteConfig) -> list[str]:
        # the scratch frontier holds rows of this site only when its task brought some
        # (seed): an idle check asks it nothing
        return super().due_urls(site) if self.tasks[site.name].entry.get("pending") else []

    def due_rechecks(self, site: SiteConfig, everything: bool) -> list[dict[str, Any]]:
        return list(self.tasks[site.name].entry.get("rechecks") or [])

    def record_finish(self, run: SiteRun) -> None:
        self.finished.clear()  # a worker keeps no runs: each one's summary leaves with its task
        task = self.tasks.pop(run.site.name, None)
        if task is None:
            return
        summary: dict[str, Any] = {
            "pages": run.pages, "errors": run.errors, "failed": run.failed,
            "not_modified": run.not_modified, "requests": dict(run.requests),
            "walk_ok": run.walk_ok, "stopped_at_limit": bool(run.stopped_at_limit),
            "list_validators": {u: list(v) for u, v in run.list_validators.items()},
        }
        if task.needs_known:
            summary["needs_known"] = True
        summary.update(self._left_behind(task))
        task.end(summary)

    def _left_behind(self, task: SiteTask) -> dict[str, Any]:
        """The walk's frontier rows not stored (failed, final, or never asked) and its offered
        backfill cursors, taken out of the scratch archive."""
        if self.db.conn.total_changes == task.changes:
            return {}  # nothing written to the scratch archive since the run began (the idle case)
        name = task.site.name
        rows = [dict(r) for r in self.db.query(
            "SELECT url, list_url, list_page, list_pos, list_title, list_date, state, attempts,"
            " last_error FROM frontier WHERE site = ?", [name])]
        cursors = self.db.execute("SELECT start_url, next_url, depth FROM backfill_cursors WHERE site = ?",
                                  [name]).fetchall()
        if rows:
            self.db.execute("DELETE FROM frontier WHERE site = ?", [name])
        if cursors:
            self.db.execute("DELETE FROM backfill_cursors WHERE site = ?", [name])
        if rows or cursors:
            self.db.conn.commit()
        left: dict[str, Any] = {}
        kept = [{"url": r["url"], "list_url": r["list_url"], "list_page": r["list_page"],
                 "list_pos": r["list_pos"], "list_title": r["list_title"], "list_date": r["list_date"],
                 "state": r["state"], "failed": bool(r["attempts"]), "error": r["last_error"]}
                for r in rows if r["url"] not in task.stored]
        if kept:
            left["frontier"] = kept
        if cursors:
            left["cursors"] = [list(c) for c in cursors]
        return left


class ForwardPipeline:
    """Last pipeline of a worker's crawler: a record goes to its task, not to an archive."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> ForwardPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        from talentwatch.core.records import Gone, NotModified

        tracker: TaskTracker = self.crawler.spider.tracker
        if isinstance(item, Processed | NotModified | Gone):
            task = tracker.tasks.get(item.site)
            run = tracker.get(item.site)
            if task is not None:
                record = encode_record(item)
                if isinstance(item, Processed):
                    # the URL as listed: the archive's frontier row of it leaves with the article
                    record["requested"] = run.requested.pop(item.url, item.url) if run else item.url
                    task.stored.add(record["requested"])
                task.add(record)
            tracker.item_done(item.site, None)
            return item.article if isinstance(item, Processed) else item
        return item


class TaskExtractPipeline(ExtractPipeline):
    """Extracts and classifies with the relevance config the task carries (the archive host's)."""

    def relevance_for(self, page: Any) -> str | None:
        task = self.crawler.spider.tracker.tasks.get(page.site)
        return task.relevance_json if task is not None and task.relevance_json else None


class CrawlEngine:
    """One Scrapy crawler on a reactor thread for the worker process's whole life."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.ready = threading.Event()
        self.tracker: TaskTracker  # made on the reactor thread, which alone uses its scratch archive
        self.started_in: float | None = None  # seconds the start-up took (docs/scale.md)
        self.spider: Any = None
        self.crawler: Any = None
        self.failed: str | None = None  # why the crawler could not start

    def start(self) -> None:
        from talentwatch.crawler.run import reactor_thread

        began = time.perf_counter()
        # the process's reactor thread (crawler.run), with its pinned DNS resolver (reach checks)
        reactor_thread().callFromThread(self._setup)
        if not self.ready.wait(120):
            raise RuntimeError(self.failed or "the crawler did not start within 120 s")
        if self.failed:
            raise RuntimeError(self.failed)
        self.started_in = time.perf_counter() - began
        log.info("crawler ready in %.2f s", self.started_in)

    def _setup(self) -> None:
        """On the reactor thread: the worker's crawler, open for the process's whole life."""
        try:
            from scrapy import signals
            from scrapy.crawler import CrawlerRunner
            from talentwatch.crawler.spider import PortalSpider, spider_settings

            settings = spider_settings([], self.config.crawl, self.config.relevance)
            settings["ITEM_PIPELINES"] = {
                "talentwatch.scheduler.workers.TaskExtractPipeline": 100,
                "talentwatch.scheduler.workers.ForwardPipeline": 900,
            }
            runner = CrawlerRunner(settings)
            self.crawler = runner.create_crawler(PortalSpider)
            self.tracker = TaskTracker()
            self.crawler.signals.connect(self._opened, signal=signals.spider_opened)
            runner.crawl(self.crawler, sites=[], tracker=self.tracker, keep_open=True)
        except Exception as exc:  # told to the task that is waiting for the crawler
            log.exception("the crawler could not start")
            self.failed = f"the crawler could not start: {exc}"
            self.ready.set()

    def _opened(self, spider: Any) -> None:
        from talentwatch.core.relevance_config import RelevanceConfig
        from talentwatch.crawler.pipelines import shared_pool

        self.spider = spider
        # start the extraction process now, not in the first task: its start-up (trafilatura,
        # jieba's dictionary, the classifier: crawler.work.worker_started) takes seconds that
        # would count against that task's timeout; any job makes the pool start it. The pool
        # is the ExtractPipeline's (the same settings give the same shared pool)
        settings = self.crawler.settings
        relevance = RelevanceConfig.model_validate(settings.getdict("TALENTWATCH_RELEVANCE"))
        pool = shared_pool(settings.getint("TALENTWATCH_EXTRACT_WORKERS"), relevance.model_dump_json())
        future = pool.executor.submit(os.getpid)
        future.add_done_callback(lambda _: self.ready.set())

    def submit(self, batch: Batch, timeout: float) -> None:
        """Start the batch's runs on the reactor thread; what they send arrives on batch.outgoing."""
        from twisted.internet import reactor

        reactor.callFromThread(self._begin, batch, timeout)

    def _begin(self, batch: Batch, timeout: float) -> None:
        from twisted.internet import reactor

        runs = [run for task in batch.sites if (run := self._begin_site(task)) is not None]
        if runs:
            # one call for the batch (its sites start together): the runs still going are cut
            # twisted types the reactor module as its interface, whose methods lack self
            batch.cut = reactor.callLater(timeout, self._cut, runs, timeout)  # type: ignore[arg-type]

    def _begin_site(self, task: SiteTask) -> SiteRun | None:
        site = task.site
        if site.name in self.tracker.tasks:
            task.end({"refused": "a run of this site is still going on this worker"})
            return None
        # this site's politeness (delay, concurrency) for the downloader, as the daemon sets it
        from talentwatch.crawler.spider import site_slots

        self.crawler.engine.downloader.per_slot_settings.update(site_slots(site, self.config.crawl))
        self.tracker.tasks[site.name] = task
        try:
            task.changes = self.tracker.db.conn.total_changes  # before the seed: its rows are cleared too
            self.tracker.seed(task)
            run = self.spider.schedule_site(site)
        except Exception as exc:  # a payload the spider cannot use: report it, do not hang
            self.tracker.tasks.pop(site.name, None)
            task.end({"refused": f"could not start: {exc}"})
            return None
        return run

    def _cut(self, runs: list[SiteRun], limit: float) -> None:
        for run in runs:
            if not run.closed:
                if run.pages == 0:
                    run.start_failures = len(run.site.start_urls)
                self.tracker.close(run, f"timed out after {limit:.0f}s")


class ReplyListener(ConsumerMixin):
    """This worker's reply queue: the archive host confirms each batch once it is stored."""

    def __init__(self, app: Celery, name: str) -> None:
        self.connection = app.connection_for_read()
        self.queue = reply_queue(name)
        self.lock = threading.Lock()
        self.waiting: dict[str, threading.Event] = {}

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:  # noqa: N803 (kombu's name)
        # no_ack: a confirmation is taken off the queue as it is read (no unacked bookkeeping
        # in the broker); one lost with this process has no one left to wait for it anyway
        return [Consumer(queues=[self.queue], callbacks=[self.on_message], accept=["json"], no_ack=True)]

    def expect(self, batch: str) -> threading.Event:
        event = threading.Event()
        with self.lock:
            self.waiting[batch] = event
        return event

    def forget(self, batch: str) -> None:
        with self.lock:
            self.waiting.pop(batch, None)

    def on_message(self, body: Any, message: Any) -> None:
        with self.lock:
            event = self.waiting.get(str(body.get("batch")) if isinstance(body, dict) else "")
        if event is not None:
            event.set()


class Worker:
    """The Celery side: the task function, the archive-queue publisher, heartbeats."""

    def __init__(self, config: Config) -> None:
        assert config.workers is not None
        self.config = config
        self.settings = config.workers
        self.app: Celery = make_app(config.workers)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.engine = CrawlEngine(config)
        self.lock = threading.Lock()
        self.active = 0
        self.done = 0
        self.replies: ReplyListener | None = None  # started by run()
        self.app.task(name=CRAWL_TASK)(self._task)

    def _engine(self) -> CrawlEngine:
        with self.lock:  # the first task starts the crawler; the others wait for it
            if not self.engine.ready.is_set():
                self.engine.start()
                # as the daemon does: Celery's, Scrapy's and the crawler's start-up objects
                # live as long as the process and are not rescanned by every full collection
                settle_heap()
        return self.engine

    def _task(self, payload: dict[str, Any]) -> str:
        batch = Batch(payload)
        if float(payload.get("expires") or 0) < time.time():
            # the leases ran out while the task waited: the archive host may have sent newer
            # tasks for these sites, which must be their only crawls
            ended = [{"site": task.site.name, "run_id": task.run_id, "lease": task.lease,
                      "summary": {"refused": "task expired before a worker took it", "failed": True}}
                     for task in batch.sites]
            batch.outgoing.put(([], ended, True))
            self.send(batch)
            return "expired"
        engine = self._engine()
        with self.lock:
            self.active += len(batch.sites)
        try:
            engine.submit(batch, self.settings.task_timeout)
            self.send(batch)
            return "done"
        finally:
            with self.lock:
                self.active -= len(batch.sites)
                self.done += len(batch.sites)

    def send(self, batch: Batch) -> None:
        """Send the batch's messages to the archive queue as they come; return once the
        archive host confirms the last one stored (late acknowledgement), or after
        CONFIRM_WAIT seconds with the records safe on the durable archive queue (the
        archive host is down: docs/scale.md)."""
        head = {"kind": "batch", "batch": batch.id, "worker": self.name}
        while True:
            records, ended, final = batch.outgoing.get()
            if not final:
                self.publish(head | {"records": records, "ended": ended})
                continue
            confirmed = self.replies.expect(batch.id) if self.replies else None
            try:
                self.publish(head | {"records": records, "ended": ended, "final": True,
                                     "reply_to": self.replies.queue.name if self.replies else None})
                if confirmed is not None and not confirmed.wait(CONFIRM_WAIT):
                    log.warning("batch %s: no confirmation from the archive host within %.0fs; its"
                                " records wait on the archive queue", batch.id, CONFIRM_WAIT)
            finally:
                if self.replies:
                    self.replies.forget(batch.id)
            return

    def publish(self, body: dict[str, Any]) -> None:
        """Send one message to the archive queue, retrying through a broker outage: the task
        is acknowledged only after this returns."""
        with self.app.producer_or_acquire() as producer:
            producer.publish(
                body, exchange="", routing_key=ARCHIVE_QUEUE, declare=[archive_queue()],
                serializer="json", delivery_mode=2, retry=True,
                retry_policy={"max_retries": None, "interval_start": 0.5, "interval_step": 1,
                              "interval_max": 5})

    def heartbeat(self, stop: threading.Event) -> None:
        while True:
            try:
                self.publish({"kind": "heartbeat", "worker": self.name, "active": self.active,
                              "tasks": self.done, "at": datetime.now(UTC).isoformat(timespec="seconds")})
            except Exception as exc:  # a broker outage: the next beat tries again
                log.warning("heartbeat not sent: %s", exc)
            if stop.wait(HEARTBEAT_EVERY):
                return

    def run(self, concurrency: int, loglevel: str = "INFO") -> None:
        stop = threading.Event()
        threading.Thread(target=self.heartbeat, args=(stop,), name="heartbeat", daemon=True).start()
        self.replies = ReplyListener(self.app, self.name)
        threading.Thread(target=self.replies.run, name="replies", daemon=True).start()
        try:
            self.app.worker_main(argv=[
                "worker", "--pool", "threads", "--concurrency", str(concurrency),
                "--queues", CRAWL_QUEUE, "--hostname", f"talentwatch@{self.name}",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", loglevel])
        finally:
            stop.set()
            self.replies.should_stop = True
