"""`talentwatch worker`: a Celery worker that crawls the sites the archive host hands it.

Design (docs/scale.md): Twisted's reactor cannot be restarted in one process,
so each worker process runs ONE long-lived Scrapy crawler on a reactor thread
(as the daemon does: PortalSpider with keep_open), and Celery's thread pool
runs the tasks. A task hands its site to the spider, waits for the run to end,
and sends the run's records — extracted, classified, normalised articles,
not-modified and gone answers, and the run's summary — to the archive queue.
Start-up (Scrapy, the reactor, the extraction processes) is paid once per
worker, not per task. The worker never opens the archive: what the crawl needs
from it (known articles, list validators, due re-checks) comes in the task.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import Celery
from talentwatch.core.config import Config, SiteConfig
from talentwatch.crawler.pipelines import RelevancePipeline, _classify_job
from talentwatch.crawler.runs import RunTracker, SiteRun
from talentwatch.scheduler.tasks import (
    ARCHIVE_QUEUE,
    CRAWL_QUEUE,
    CRAWL_TASK,
    HEARTBEAT_EVERY,
    archive_queue,
    encode_record,
    make_app,
)
from talentwatch.storage.identity import canonical_url, stable_key

log = logging.getLogger(__name__)

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
CHUNK = 25  # records per message on the archive queue: a backfill never makes one huge message


def identities(url: str) -> list[str]:
    """The keys under which the archive finds an article (storage.articles.find_article)."""
    keys = [url, canonical_url(url)]
    key = stable_key(url)
    if key:
        keys.append(key)
    return keys


class Task:
    """One crawl task on this worker: its payload, and the records waiting to be sent."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.site = SiteConfig.model_validate(payload["site"])
        self.known = set(payload.get("known") or [])
        self.validators = {u: tuple(v) for u, v in (payload.get("list_validators") or {}).items()}
        self.relevance_json = _relevance_json(payload.get("relevance"))
        self.outgoing: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.buffer: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        self.buffer.append(record)
        if len(self.buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.outgoing.put(("records", self.buffer))
            self.buffer = []


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

    Its `db` is a scratch archive of this worker process (a temporary file, never the
    real archive): crawl state the spider keeps as it goes (the frontier of the site's
    walk) lands there, seeded from the task's pending URLs, and nothing in it is sent
    anywhere; the records are."""

    def __init__(self) -> None:
        import tempfile

        from talentwatch.storage.schema import open_archive

        scratch = Path(tempfile.mkdtemp(prefix="talentwatch-worker-")) / "scratch.db"
        super().__init__(open_archive(scratch, cache_mb=2))
        self.tasks: dict[str, Task] = {}  # by site name; a site has one task at a time

    def seed(self, task: Task) -> None:
        """Load the task's pending frontier URLs into the scratch archive's frontier."""
        assert self.db is not None
        if not self.db.table("frontier").exists():
            return  # an archive without a frontier (storage.frontier)
        frontier = importlib.import_module("talentwatch.storage.frontier")
        self.db.execute("DELETE FROM frontier WHERE site = ?", [task.site.name])
        frontier.record_seen(self.db, task.site.name, [
            frontier.Seen(row["url"], row.get("list_url") or row["url"], int(row.get("list_page") or 1),
                          int(row.get("list_pos") or 0), row.get("list_title"), row.get("list_date"))
            for row in task.payload.get("pending") or [] if isinstance(row, dict)])

    def open_run(self, site: SiteConfig) -> int:
        return int(self.tasks[site.name].payload["run_id"])

    def is_known(self, url: str) -> bool:
        return any(key in task.known for task in self.tasks.values() for key in identities(url))

    def list_validators(self, url: str) -> tuple[str | None, str | None]:
        for task in self.tasks.values():
            if url in task.validators:
                etag, last_modified = task.validators[url]
                return etag, last_modified
        return None, None

    def due_rechecks(self, site: SiteConfig, everything: bool) -> list[dict[str, Any]]:
        return list(self.tasks[site.name].payload.get("rechecks") or [])

    def record_finish(self, run: SiteRun) -> None:
        task = self.tasks.pop(run.site.name, None)
        if task is None:
            return
        task.flush()
        task.outgoing.put(("done", {
            "pages": run.pages, "errors": run.errors, "failed": run.failed,
            "not_modified": run.not_modified, "requests": dict(run.requests),
            "list_validators": {u: list(v) for u, v in run.list_validators.items()},
        }))


class ForwardPipeline:
    """Last pipeline of a worker's crawler: a record goes to its task, not to an archive."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> ForwardPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        from talentwatch.core.records import Article, Gone, NotModified

        tracker: TaskTracker = self.crawler.spider.tracker
        if isinstance(item, Article | NotModified | Gone):
            task = tracker.tasks.get(item.site)
            run = tracker.get(item.site)
            if task is not None:
                record = encode_record(item)
                if isinstance(item, Article) and run is not None:
                    # the URL as listed: the archive's frontier row of it leaves with the article
                    record["requested"] = run.requested.pop(item.url, item.url)
                task.add(record)
            tracker.item_done(item.site, None)
        return item


class TaskRelevancePipeline(RelevancePipeline):
    """Scores with the relevance config the task carries (the archive host's)."""

    async def process_item(self, item: Any) -> Any:
        from talentwatch.core.records import Article

        if not isinstance(item, Article):
            return item
        task = self.crawler.spider.tracker.tasks.get(item.site)
        config_json = task.relevance_json if task and task.relevance_json else self.config_json
        try:
            return await self.pool.run(_classify_job, item, config_json)
        except Exception as exc:  # unscored is better than lost, as in the embedded crawl
            log.warning("relevance scoring failed for %s: %s", item.url, exc)
            return item


def _warm_up(relevance_json: str) -> None:
    """Runs in the extraction process once: load what extraction and scoring use."""
    from talentwatch.core.records import Article
    from talentwatch.crawler import extract  # noqa: F401

    _classify_job(Article(url="http://localhost/", site="", title="人才", text="人才引进"), relevance_json)


class CrawlEngine:
    """One Scrapy crawler on a reactor thread for the worker process's whole life."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.ready = threading.Event()
        self.tracker: TaskTracker  # made on the reactor thread, which alone uses its scratch archive
        self.started_in: float | None = None  # seconds the start-up took (docs/scale.md)
        self.spider: Any = None
        self.crawler: Any = None

    def start(self) -> None:
        began = time.perf_counter()
        thread = threading.Thread(target=self._run_reactor, name="reactor", daemon=True)
        thread.start()
        if not self.ready.wait(120):
            raise RuntimeError("the crawler did not start within 120 s")
        self.started_in = time.perf_counter() - began
        log.info("crawler ready in %.2f s", self.started_in)

    def _run_reactor(self) -> None:
        from scrapy.utils.reactor import install_reactor

        install_reactor(ASYNCIO_REACTOR)
        import asyncio

        from scrapy import signals
        from scrapy.crawler import CrawlerRunner
        from talentwatch.crawler.spider import PortalSpider, spider_settings
        from twisted.internet import reactor

        asyncio.set_event_loop(asyncio.get_event_loop())
        settings = spider_settings([], self.config.crawl, self.config.relevance)
        settings["ITEM_PIPELINES"] = {
            "talentwatch.crawler.pipelines.ExtractPipeline": 100,
            "talentwatch.scheduler.workers.TaskRelevancePipeline": 500,
            "talentwatch.scheduler.workers.ForwardPipeline": 900,
        }
        runner = CrawlerRunner(settings)
        self.crawler = runner.create_crawler(PortalSpider)
        self.tracker = TaskTracker()

        def opened(spider: Any) -> None:
            from talentwatch.crawler.pipelines import worker_pool

            self.spider = spider
            # start the extraction process now, not in the first task (it imports trafilatura,
            # jieba's dictionary …: seconds that would count against that task's timeout)
            relevance_json = self.config.relevance.model_dump_json()
            future = worker_pool(self.crawler).executor.submit(_warm_up, relevance_json)
            future.add_done_callback(lambda _: self.ready.set())

        self.crawler.signals.connect(opened, signal=signals.spider_opened)
        runner.crawl(self.crawler, sites=[], tracker=self.tracker, keep_open=True)
        reactor.run(installSignalHandlers=False)  # type: ignore[misc, call-arg]

    def submit(self, task: Task, timeout: float) -> None:
        """Start the task's run on the reactor thread; its records arrive on task.outgoing."""
        from twisted.internet import reactor

        reactor.callFromThread(self._begin, task, timeout)

    def _begin(self, task: Task, timeout: float) -> None:
        from twisted.internet import reactor

        site = task.site
        if site.name in self.tracker.tasks:
            task.outgoing.put(("done", {"refused": "a run of this site is still going on this worker"}))
            return
        # this site's politeness (delay, concurrency) for the downloader, as the daemon sets it
        slots = self.crawler.engine.downloader.per_slot_settings
        for domain in site.allowed_domains:
            slots[domain] = {"delay": site.delay, "concurrency": self.config.crawl.concurrency_per_domain}
        self.tracker.tasks[site.name] = task
        try:
            self.tracker.seed(task)
            run = self.spider.schedule_site(site)
        except Exception as exc:  # a payload the spider cannot use: report it, do not hang
            self.tracker.tasks.pop(site.name, None)
            task.outgoing.put(("done", {"refused": f"could not start: {exc}"}))
            return
        if run is not None:
            # twisted types the reactor module as its interface, whose methods lack self
            reactor.callLater(timeout, self._cut, run, timeout)  # type: ignore[arg-type]

    def _cut(self, run: SiteRun, limit: float) -> None:
        if not run.closed:
            if run.pages == 0:
                run.start_failures = len(run.site.start_urls)
            self.tracker.close(run, f"timed out after {limit:.0f}s")


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
        self.app.task(name=CRAWL_TASK)(self._task)

    def _engine(self) -> CrawlEngine:
        with self.lock:  # the first task starts the crawler; the others wait for it
            if not self.engine.ready.is_set():
                self.engine.start()
        return self.engine

    def _task(self, payload: dict[str, Any]) -> str:
        if float(payload.get("expires") or 0) < time.time():
            # the lease ran out while the task waited: the archive host may have sent a newer
            # task for this site, which must be the only crawl of it
            self.publish({"kind": "expired", "site": payload["site"].get("name"),
                          "run_id": payload.get("run_id"), "lease": payload.get("lease"),
                          "worker": self.name})
            return "expired"
        engine = self._engine()
        task = Task(payload)
        with self.lock:
            self.active += 1
        try:
            engine.submit(task, self.settings.task_timeout)
            head = {"kind": "run", "site": task.site.name, "run_id": payload["run_id"],
                    "lease": payload["lease"], "worker": self.name}
            while True:
                what, data = task.outgoing.get()
                if what == "records":
                    self.publish(head | {"records": data})
                    continue
                self.publish(head | {"records": [], "final": True, "summary": data})
                return "done"
        finally:
            with self.lock:
                self.active -= 1
                self.done += 1

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
        try:
            self.app.worker_main(argv=[
                "worker", "--pool", "threads", "--concurrency", str(concurrency),
                "--queues", CRAWL_QUEUE, "--hostname", f"talentwatch@{self.name}",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", loglevel])
        finally:
            stop.set()
