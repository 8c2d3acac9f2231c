"""The archive host's side of the crawl workers: send due sites, store what comes back.

`Dispatcher.dispatch(site)` takes the site's lease, opens its run and sends a
crawl task carrying what the crawl needs from the archive. `ArchiveWriter` is
the one consumer of the archive queue: it stores each message's records with
the embedded crawl's own storing code (crawler.pipelines.store_record) and only
then acknowledges the message, so a message is never lost and, stored twice
(a redelivery), changes nothing. A run's last message closes the run and
gives back the lease. Imported only with `workers:` (docs/scale.md).
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from kombu.mixins import ConsumerMixin
from talentwatch.core.config import Config, SiteConfig
from talentwatch.crawler.pipelines import store_record
from talentwatch.scheduler.tasks import (
    ARCHIVE_QUEUE,
    CRAWL_QUEUE,
    CRAWL_TASK,
    archive_queue,
    build_payload,
    decode_record,
    lease_seconds,
    make_app,
)
from talentwatch.storage import leases
from talentwatch.storage.crawlstate import (
    due_for_recheck,
    finish_run,
    list_validators,
    save_list_validators,
    start_run,
)
from talentwatch.storage.db import now_iso

log = logging.getLogger(__name__)

# how many times the archive host tries the broker before a due site waits for its next turn
SEND_RETRIES = 3


@dataclass
class RemoteRun:
    """A worker's run once stored: what the daemon needs to know of it (as of a SiteRun)."""

    site: SiteConfig
    run_id: int
    failed: bool = False
    new: int = 0
    changed: int = 0
    errors: list[str] = field(default_factory=list)


def site_identities(db: sqlite_utils.Database, site: str) -> list[str]:
    """Every key under which the archive finds an article of `site` (as find_article does)."""
    keys: set[str] = set()
    for url, canonical, stable in db.execute(
            "SELECT url, canonical_url, stable_key FROM articles WHERE site = ?", [site]):
        keys.update(k for k in (url, canonical, stable) if k)
    return sorted(keys)


def site_list_validators(db: sqlite_utils.Database,
                         site: SiteConfig) -> dict[str, tuple[str | None, str | None]]:
    urls = {r[0] for r in db.execute("SELECT url FROM list_pages WHERE site = ?", [site.name])}
    urls.update(site.start_urls)
    return {url: list_validators(db, url) for url in sorted(urls)}


def pending_urls(db: sqlite_utils.Database, site: str) -> list[dict[str, Any]]:
    """The frontier's due URLs of `site` (listed earlier, not stored yet), each with where it
    was listed and the list page's title and date for it; none while the archive has no
    frontier table."""
    if not db.table("frontier").exists():
        return []
    frontier = importlib.import_module("talentwatch.storage.frontier")
    due = frontier.due(db, site)
    rows = {r["url"]: dict(r) for r in db.query(
        "SELECT url, list_url, list_page, list_pos, list_title, list_date FROM frontier WHERE site = ?"
        " AND state IN ('pending', 'failing')", [site])}
    return [rows[url] for url in due if url in rows]


class Dispatcher:
    """Hands due sites to the workers; runs on one thread with its own archive connection."""

    def __init__(self, config: Config, db: sqlite_utils.Database) -> None:
        assert config.workers is not None
        self.config = config
        self.db = db
        self.app = make_app(config.workers)
        self.lease_seconds = lease_seconds(config.workers)
        self.relevance_json = config.relevance.model_dump_json()

    def dispatch(self, site: SiteConfig, recheck: bool = False) -> int | None:
        """Send `site` to the workers; returns its run id, or None when its lease is held (a
        worker has it) or the broker cannot be reached (the site waits for its next turn)."""
        token = leases.take(self.db, site.name, self.lease_seconds)
        if token is None:
            log.info("%s: a worker still has it (lease held), skipped", site.name)
            return None
        run_id = start_run(self.db, site.name)
        leases.attach_run(self.db, site.name, token, run_id)
        policy = site.revisit
        payload = build_payload(
            site, self.relevance_json, run_id=run_id, lease=token, expires=time.time() + self.lease_seconds,
            known=site_identities(self.db, site.name),
            validators=site_list_validators(self.db, site),
            rechecks=due_for_recheck(self.db, site.name, everything=recheck,
                                     max_age_days=policy.max_age_days if policy else None,
                                     every_hours=policy.every_hours if policy else None),
            pending=pending_urls(self.db, site.name))
        try:
            self.app.send_task(CRAWL_TASK, kwargs={"payload": payload}, queue=CRAWL_QUEUE,
                               retry=True, retry_policy={"max_retries": SEND_RETRIES, "interval_start": 0.5,
                                                         "interval_step": 1, "interval_max": 2})
        except Exception as exc:  # broker down: the run fails now, the site is tried next turn
            log.warning("%s: could not hand to the workers: %s", site.name, exc)
            finish_run(self.db, run_id, pages=0, new=0, changed=0, failed=True,
                       errors=[f"broker unreachable: {exc}"])
            leases.release(self.db, site.name, token)
            return None
        return run_id

    def queue_lengths(self) -> dict[str, int]:
        return queue_lengths(self.app)

    def close(self) -> None:
        self.app.close()


def queue_lengths(app: Any) -> dict[str, int]:
    """Messages waiting on each queue (a passive declare: creates nothing)."""
    lengths = {}
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1)
        channel = conn.default_channel
        for name in (CRAWL_QUEUE, ARCHIVE_QUEUE):
            try:
                lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except Exception:  # not declared yet: nothing was ever sent to it
                lengths[name] = 0
    return lengths


class ArchiveWriter(ConsumerMixin):
    """The one consumer of the archive queue (a thread of `run`, with its own connection)."""

    def __init__(self, config: Config, db_factory: Callable[[], sqlite_utils.Database],
                 on_run: Callable[[RemoteRun], None]) -> None:
        assert config.workers is not None
        self.config = config
        self.sites = {s.name: s for s in config.sites}
        self.app = make_app(config.workers)
        self.connection = self.app.connection_for_read()
        self.db_factory = db_factory
        self.db: sqlite_utils.Database | None = None
        self.on_run = on_run
        self.counts: dict[int, Counter[str]] = {}  # outcomes of runs whose last message is to come
        self.stored = 0  # messages stored (bench, tests)

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:  # noqa: N803 (kombu's name)
        return [Consumer(queues=[archive_queue()], callbacks=[self.on_message], accept=["json"],
                         prefetch_count=1)]

    def on_message(self, body: dict[str, Any], message: Any) -> None:
        if self.db is None:
            self.db = self.db_factory()
        try:
            self.store(self.db, body)
        except sqlite3.OperationalError as exc:
            # the archive cannot take it now (locked, disk full): back on the queue, tried again
            log.warning("archive queue: a message could not be stored (%s); it will be retried", exc)
            time.sleep(1)
            message.requeue()
            return
        except Exception:
            # a record our storing code rejects would be rejected again: logged and dropped,
            # as the embedded crawl drops an item its archive pipeline fails on
            log.exception("archive queue: a message could not be stored and is dropped")
        message.ack()
        self.stored += 1

    def store(self, db: sqlite_utils.Database, body: dict[str, Any]) -> None:
        kind = body.get("kind")
        if kind == "heartbeat":
            leases.saw_worker(db, str(body.get("worker")), str(body.get("at")),
                              active=int(body.get("active") or 0))
            return
        site_name = str(body.get("site"))
        run_id = int(body["run_id"])
        if kind == "expired":
            log.warning("%s: its task waited past its lease and was not crawled", site_name)
            self._finish(db, body, run_id, site_name, {"failed": True,
                                                      "errors": ["task expired before a worker took it"]})
            return
        counts = self.counts.setdefault(run_id, Counter())
        for data in body.get("records") or []:
            counts[store_record(db, decode_record(data), data.get("requested")) or "stored"] += 1
        if body.get("final"):
            self._finish(db, body, run_id, site_name, body.get("summary") or {})

    def _finish(self, db: sqlite_utils.Database, body: dict[str, Any], run_id: int, site_name: str,
                summary: dict[str, Any]) -> None:
        counts = self.counts.pop(run_id, Counter())
        errors = list(summary.get("errors") or [])
        if summary.get("refused"):
            errors.append(str(summary["refused"]))
        failed = bool(summary.get("failed") or summary.get("refused"))
        validators = {u: (v[0], v[1], int(v[2])) for u, v in (summary.get("list_validators") or {}).items()}
        if validators and not errors:
            save_list_validators(db, site_name, validators)  # as RunTracker.record_finish does
        finish_run(db, run_id, pages=int(summary.get("pages") or 0), new=counts["new"],
                   changed=counts["changed"], errors=errors, failed=failed,
                   duplicates=counts["duplicate"], removed=counts["removed"],
                   not_modified=int(summary.get("not_modified") or 0) + counts["not_modified"],
                   requests=summary.get("requests") or {})
        leases.release(db, site_name, str(body.get("lease")))
        leases.saw_worker(db, str(body.get("worker")), now_iso(), run_done=True)
        site = self.sites.get(site_name)
        if site is not None:
            self.on_run(RemoteRun(site=site, run_id=run_id, failed=failed, new=counts["new"],
                                  changed=counts["changed"], errors=errors))


class WorkerLink:
    """What `run` adds with `workers:`: a dispatch thread and the archive writer's thread,
    each with its own archive connection; results come back on the daemon's event loop."""

    def __init__(self, config: Config, open_db: Callable[[], sqlite_utils.Database]) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.config = config
        self.open_db = open_db
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="dispatch", initializer=self._open)
        self.writer: ArchiveWriter | None = None
        self.thread: threading.Thread | None = None
        self.dispatcher: Dispatcher | None = None

    def _open(self) -> None:
        self.dispatcher = Dispatcher(self.config, self.open_db())

    def start(self, on_run: Callable[[RemoteRun], None]) -> None:
        import threading

        self.writer = ArchiveWriter(self.config, self.open_db, on_run)
        self.thread = threading.Thread(target=self.writer.run, name="archive-writer", daemon=True)
        self.thread.start()

    def dispatch(self, site: SiteConfig, on_skipped: Callable[[SiteConfig], None]) -> None:
        """Send `site` (on the dispatch thread); `on_skipped(site)` if it was not sent."""

        def send() -> None:
            assert self.dispatcher is not None
            try:
                run_id = self.dispatcher.dispatch(site)
            except Exception:
                log.exception("%s: dispatch failed", site.name)
                run_id = None
            if run_id is None:
                on_skipped(site)

        self.pool.submit(send)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.writer is not None:
            self.writer.should_stop = True
        if self.thread is not None:
            self.thread.join(10)
