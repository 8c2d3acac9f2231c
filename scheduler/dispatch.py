"""The archive host's side of the crawl workers: send due sites, store what comes back.

`Dispatcher.dispatch(sites)` takes each site's lease, marks its walk under way
and opens its run (one transaction for the batch), then sends one crawl task
carrying what the crawl of each site needs from the archive. `ArchiveWriter` is
the one consumer of the archive queue: it stores each message (records of a
batch's runs, and the runs that ended) in one transaction with the embedded
crawl's own storing code (crawler.pipelines.store_record), then acknowledges
it and confirms the batch to its worker, so a message is never lost and,
stored twice (a redelivery), changes nothing. A run's end closes the run as
RunTracker does (walk, list validators, frontier) and gives back the lease.
Imported only with `workers:` (docs/scale.md).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from kombu.mixins import ConsumerMixin
from talentwatch.core.config import Config, SiteConfig
from talentwatch.crawler.pipelines import store_record, write_index
from talentwatch.scheduler.tasks import (
    ARCHIVE_QUEUE,
    CRAWL_QUEUE,
    CRAWL_TASK,
    REPLY_TTL,
    archive_queue,
    batch_payload,
    decode_record,
    lease_seconds,
    make_app,
    site_payload,
)
from talentwatch.storage import frontier, leases, walks
from talentwatch.storage.articles import find_article
from talentwatch.storage.crawlstate import (
    due_for_recheck,
    finish_run,
    list_validators,
    save_list_validators,
    start_run,
)
from talentwatch.storage.db import now_iso, transaction

log = logging.getLogger(__name__)

# how many times the archive host tries the broker before a due site waits for its next turn
SEND_RETRIES = 3
LINGER = 0.05  # seconds the dispatch thread waits for the other sites due in the same tick
MAX_TICK = 5000  # sites taken as one tick at most
SPREAD = 4  # a tick's sites go out in at least this many tasks (when there are that many)


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
    """The validators of the site's list pages (start URLs and pages read since), in one query."""
    found = {url: (etag, modified) for url, etag, modified in db.execute(
        "SELECT url, etag, last_modified FROM list_pages WHERE site = ?", [site.name])}
    for url in site.start_urls:  # a start URL filed under another site keeps its own
        if url not in found:
            found[url] = list_validators(db, url)
    return {url: v for url, v in sorted(found.items()) if v[0] or v[1]}


def pending_urls(db: sqlite_utils.Database, site: str) -> list[dict[str, Any]]:
    """The frontier's due URLs of `site` (listed earlier, not stored yet), each with where it
    was listed and the list page's title and date for it, in frontier.due's order."""
    due = frontier.due(db, site)
    if not due:
        return []
    rows = {r["url"]: dict(r) for r in db.query(
        "SELECT url, list_url, list_page, list_pos, list_title, list_date FROM frontier WHERE site = ?"
        " AND state IN ('pending', 'failing')", [site])}
    return [rows[url] for url in due if url in rows]


def apply_frontier(db: sqlite_utils.Database, site: str, rows: list[dict[str, Any]]) -> None:
    """What a worker's walk left in its frontier, written to the archive's as the embedded
    crawl writes it: links it listed but did not store (fetch failed, size cap, extraction
    failed, cut by the timeout), then each failure (transient: retried later with a pause;
    final: gone or not an article). A link stored meanwhile is not re-added."""
    seen = [frontier.Seen(r["url"], r.get("list_url") or r["url"], int(r.get("list_page") or 1),
                          int(r.get("list_pos") or 0), r.get("list_title"), r.get("list_date"))
            for r in rows if find_article(db, r["url"]) is None]
    frontier.record_seen(db, site, seen)
    for row in rows:
        state, error = row.get("state"), str(row.get("error") or "")
        if state in ("gone", "done"):
            frontier.record_final(db, row["url"], state, error)
        elif row.get("failed"):
            frontier.record_failure(db, row["url"], error)


class Dispatcher:
    """Hands due sites to the workers; runs on one thread with its own archive connection
    (the archive writer re-sends a site that needs its known articles through one too)."""

    def __init__(self, config: Config, db: sqlite_utils.Database) -> None:
        assert config.workers is not None
        self.config = config
        self.db = db
        self.app = make_app(config.workers)
        self.lease_seconds = lease_seconds(config.workers)
        self.relevance_json = config.relevance.model_dump_json()
        self.sites = {s.name: s for s in config.sites}
        self.site_json = {s.name: s.model_dump_json(by_alias=True) for s in config.sites}
        self.tasks_sent = 0  # (bench, tests)

    def dispatch(self, sites: list[SiteConfig]) -> list[SiteConfig]:
        """Send `sites` to the workers as one task; returns those not sent: their lease is
        held (a worker has them) or the broker cannot be reached (they wait for their next turn).

        One transaction takes every site's lease, marks its walk as under way and opens its
        run; the task then carries each site's part of the archive (site_payload)."""
        entries: list[dict[str, Any]] = []
        sent: list[SiteConfig] = []
        skipped: list[SiteConfig] = []
        with transaction(self.db):
            for site in sites:
                token = leases.take(self.db, site.name, self.lease_seconds)
                if token is None:
                    log.info("%s: a worker still has it (lease held), skipped", site.name)
                    skipped.append(site)
                    continue
                shortcuts = walks.begin(self.db, site)
                run_id = start_run(self.db, site.name)
                leases.attach_run(self.db, site.name, token, run_id)
                entries.append(self.site_entry(site, run_id, token, shortcuts))
                sent.append(site)
        if entries and not self.send(entries):
            skipped += sent
        return skipped

    def site_entry(self, site: SiteConfig, run_id: int, token: str, shortcuts: bool,
                   with_known: bool = False) -> dict[str, Any]:
        validators = site_list_validators(self.db, site)
        # a walk that asks every start page conditionally needs no known articles on a 304
        # (the idle case); one that will read a list page does
        conditional = shortcuts and all(url in validators for url in site.start_urls)
        policy = site.revisit
        return site_payload(
            self.site_json.get(site.name) or site.model_dump_json(by_alias=True),
            run_id=run_id, lease=token, shortcuts=shortcuts,
            known=None if conditional and not with_known else site_identities(self.db, site.name),
            validators=validators,
            rechecks=due_for_recheck(self.db, site.name, max_age_days=policy.max_age_days if policy else None,
                                     every_hours=policy.every_hours if policy else None),
            pending=pending_urls(self.db, site.name))

    def send(self, entries: list[dict[str, Any]], fail_runs: bool = True) -> bool:
        """One task for `entries`; False when the broker cannot be reached (then, with
        `fail_runs`, their runs are recorded as failed and their leases given back)."""
        payload = batch_payload(self.relevance_json, time.time() + self.lease_seconds, entries)
        try:
            self.app.send_task(CRAWL_TASK, kwargs={"payload": payload}, queue=CRAWL_QUEUE,
                               retry=True, retry_policy={"max_retries": SEND_RETRIES, "interval_start": 0.5,
                                                         "interval_step": 1, "interval_max": 2})
            self.tasks_sent += 1
            return True
        except Exception as exc:  # broker down: the runs fail now, the sites are tried next turn
            names = [json.loads(e["site"])["name"] for e in entries]
            log.warning("%s: could not hand to the workers: %s", ", ".join(names), exc)
            if fail_runs:
                with transaction(self.db):
                    for name, entry in zip(names, entries, strict=True):
                        finish_run(self.db, entry["run_id"], pages=0, new=0, changed=0, failed=True,
                                   errors=[f"broker unreachable: {exc}"])
                        walks.finish(self.db, self.sites[name], completed=False, stopped_at_limit=False)
                        leases.release(self.db, name, entry["lease"])
            return False

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
    """The one consumer of the archive queue (a thread of `run`, with its own connection).

    A message holds records of one batch's runs (each tagged with its run) and the runs
    that ended, with their summaries; it is stored in one transaction, then acknowledged."""

    def __init__(self, config: Config, db_factory: Callable[[], sqlite_utils.Database],
                 on_runs: Callable[[list[RemoteRun]], None]) -> None:
        assert config.workers is not None
        self.config = config
        self.sites = {s.name: s for s in config.sites}
        self.app = make_app(config.workers)
        self.connection = self.app.connection_for_read()
        self.db_factory = db_factory
        self.db: sqlite_utils.Database | None = None
        self.dispatcher: Dispatcher | None = None  # made with the connection (sends back needs_known)
        self.on_runs = on_runs  # the runs a message ended, told once per message
        self.counts: dict[int, Counter[str]] = {}  # outcomes of runs whose last message is to come
        self.stored = 0  # messages stored (bench, tests)

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:  # noqa: N803 (kombu's name)
        return [Consumer(queues=[archive_queue()], callbacks=[self.on_message], accept=["json"],
                         prefetch_count=1)]

    def on_message(self, body: dict[str, Any], message: Any) -> None:
        if self.db is None:
            self.db = self.db_factory()
            self.dispatcher = Dispatcher(self.config, self.db)
        ended: list[RemoteRun] = []
        counts = {run_id: Counter(c) for run_id, c in self.counts.items()}  # as before, if rolled back
        try:
            with transaction(self.db):
                ended = self.store(self.db, body)
        except sqlite3.OperationalError as exc:
            # the archive cannot take it now (locked, disk full): back on the queue, tried again
            log.warning("archive queue: a message could not be stored (%s); it will be retried", exc)
            self.counts = counts
            time.sleep(1)
            message.requeue()
            return
        message.ack()
        self.stored += 1
        self.confirm(body)
        if ended:
            self.on_runs(ended)

    def confirm(self, body: dict[str, Any]) -> None:
        """Tell the worker waiting on this batch that its records are stored (its task is
        acknowledged then); a worker that is gone meanwhile finds the reply expired."""
        reply_to, batch = body.get("reply_to"), body.get("batch")
        if not (body.get("final") and reply_to and batch):
            return
        try:
            with self.app.producer_or_acquire() as producer:
                producer.publish({"batch": batch}, exchange="", routing_key=reply_to, serializer="json",
                                 delivery_mode=1, expiration=REPLY_TTL, retry=True,
                                 retry_policy={"max_retries": 3, "interval_start": 0.2})
        except Exception as exc:  # the worker acknowledges after its wait anyway (docs/scale.md)
            log.warning("archive queue: could not confirm batch %s to %s: %s", batch, reply_to, exc)

    def store(self, db: sqlite_utils.Database, body: dict[str, Any]) -> list[RemoteRun]:
        """Store one message (inside the caller's transaction); returns the runs it ended
        (told to the daemon after the commit)."""
        kind = body.get("kind")
        worker = str(body.get("worker"))
        if kind == "heartbeat":
            leases.saw_worker(db, worker, str(body.get("at")), active=int(body.get("active") or 0))
            return []
        index_writes: list[Callable[[], None]] = []  # the stored records' search index rows, run last
        for data in body.get("records") or []:
            counts = self.counts.setdefault(int(data["run_id"]), Counter())
            try:
                record, prepared = decode_record(data)
                outcome = store_record(db, record, data.get("requested"), prepared,  # in a savepoint
                                       index_writes)
            except sqlite3.OperationalError:
                raise  # the archive's fault: the whole message is tried again
            except Exception:
                # a record our storing code rejects would be rejected again: logged and dropped
                # (rolled back alone), as the embedded crawl drops an item it fails to store
                log.exception("archive queue: a record could not be stored and is dropped")
                continue
            counts[outcome or "stored"] += 1
        try:
            write_index(index_writes)
        except sqlite3.DatabaseError as exc:
            # no record's own fault (only SQL is left): the whole message is tried again, as
            # when the archive cannot take it (a damaged index: until `talentwatch reindex`)
            raise sqlite3.OperationalError(f"search index: {exc}") from exc
        ended = []
        for end in body.get("ended") or []:
            run = self._finish(db, end)
            if run is not None:
                ended.append(run)
        if ended:
            leases.saw_worker(db, worker, now_iso(), runs_done=len(ended))
        return ended

    def _finish(self, db: sqlite_utils.Database, end: dict[str, Any]) -> RemoteRun | None:
        """One run's end: as RunTracker._record_end does for the embedded crawl, then the lease back."""
        site_name, run_id, token = str(end.get("site")), int(end["run_id"]), str(end.get("lease"))
        summary: dict[str, Any] = end.get("summary") or {}
        site = self.sites.get(site_name)
        needs_known = bool(summary.get("needs_known"))
        if needs_known and site is not None and self._send_back(db, site, run_id, token):
            return None  # the same run goes on with the site's known articles
        counts = self.counts.pop(run_id, Counter())
        errors = list(summary.get("errors") or [])
        if summary.get("refused"):
            errors.append(str(summary["refused"]))
        if needs_known:
            errors.append("a list page changed and the site could not be sent again with its known articles")
        failed = bool(summary.get("failed") or summary.get("refused"))
        if site is not None:
            apply_frontier(db, site_name, summary.get("frontier") or [])
            for start_url, next_url, depth in summary.get("cursors") or []:
                walks.offer_cursor(db, site_name, start_url, next_url, int(depth))
            # a walk that stopped for its known articles read nothing it may skip next time
            completed = bool(summary.get("walk_ok")) and not failed and not needs_known
            settled = walks.finish(db, site, completed=completed,
                                   stopped_at_limit=bool(summary.get("stopped_at_limit")))
            validators = {u: (v[0], v[1], int(v[2]))
                          for u, v in (summary.get("list_validators") or {}).items()}
            if settled and validators:
                save_list_validators(db, site_name, validators)
        finish_run(db, run_id, pages=int(summary.get("pages") or 0), new=counts["new"],
                   changed=counts["changed"], errors=errors, failed=failed,
                   duplicates=counts["duplicate"], removed=counts["removed"],
                   not_modified=int(summary.get("not_modified") or 0) + counts["not_modified"],
                   requests=summary.get("requests") or {})
        leases.release(db, site_name, token)
        if site is None:
            return None
        return RemoteRun(site=site, run_id=run_id, failed=failed, new=counts["new"],
                         changed=counts["changed"], errors=errors)

    def _send_back(self, db: sqlite_utils.Database, site: SiteConfig, run_id: int, token: str) -> bool:
        """A list page changed on a walk sent without the site's known articles: send the
        site again, same run and lease, with them (the walk asks its pages again)."""
        assert self.dispatcher is not None
        held = db.execute("SELECT 1 FROM site_leases WHERE site = ? AND token = ?", [site.name, token])
        if held.fetchone() is None:
            return False  # the lease ran out meanwhile: the run ends here
        log.info("%s: a list page changed; sent again with its known articles", site.name)
        entry = self.dispatcher.site_entry(site, run_id, token, shortcuts=True, with_known=True)
        return self.dispatcher.send([entry], fail_runs=False)


class WorkerLink:
    """What `run` adds with `workers:`: a dispatch thread and the archive writer's thread,
    each with its own archive connection; results come back on the daemon's event loop.

    Sites come due one job at a time; the dispatch thread waits LINGER seconds after the
    first so that the sites of the same tick go out together, in tasks of at most
    `workers.batch` sites, and in at least SPREAD tasks when there are that many sites
    (several workers share a tick's sites)."""

    def __init__(self, config: Config, open_db: Callable[[], sqlite_utils.Database]) -> None:
        import queue

        assert config.workers is not None
        self.config = config
        self.batch = config.workers.batch
        self.open_db = open_db
        self.due: queue.Queue[tuple[SiteConfig, Callable[[SiteConfig], None]] | None] = queue.Queue()
        self.writer: ArchiveWriter | None = None
        self.threads: list[threading.Thread] = []
        self.dispatcher: Dispatcher | None = None

    def start(self, on_runs: Callable[[list[RemoteRun]], None]) -> None:
        db = self.open_db()
        leases.ensure_tables(db)  # before either thread needs them
        db.conn.close()
        self.writer = ArchiveWriter(self.config, self.open_db, on_runs)
        self.threads = [threading.Thread(target=self.writer.run, name="archive-writer", daemon=True),
                        threading.Thread(target=self._dispatching, name="dispatch", daemon=True)]
        for thread in self.threads:
            thread.start()

    def dispatch(self, site: SiteConfig, on_skipped: Callable[[SiteConfig], None]) -> None:
        """Send `site` with the others due now; `on_skipped(site)` if it was not sent."""
        self.due.put((site, on_skipped))

    def _dispatching(self) -> None:
        import queue

        self.dispatcher = Dispatcher(self.config, self.open_db())
        while True:
            first = self.due.get()
            if first is None:
                return
            time.sleep(LINGER)
            tick = [first]
            try:
                while len(tick) < MAX_TICK:
                    item = self.due.get_nowait()
                    if item is None:
                        self.due.put(None)  # close() after this tick
                        break
                    tick.append(item)
            except queue.Empty:
                pass
            self._send_tick(tick)

    def _send_tick(self, tick: list[tuple[SiteConfig, Callable[[SiteConfig], None]]]) -> None:
        assert self.dispatcher is not None
        callbacks = {site.name: on_skipped for site, on_skipped in tick}
        by_name = {site.name: site for site, _ in tick}
        for batch in split(list(by_name), self.batch):
            sites = [by_name[name] for name in batch]
            try:
                skipped = self.dispatcher.dispatch(sites)
            except Exception:
                log.exception("%s: dispatch failed", ", ".join(batch))
                skipped = sites
            for site in skipped:
                callbacks[site.name](site)

    def close(self) -> None:
        self.due.put(None)
        if self.writer is not None:
            self.writer.should_stop = True
        for thread in self.threads:
            thread.join(10)


def split(names: list[str], batch: int) -> list[list[str]]:
    """`names` in tasks of at most `batch`, and in at least SPREAD tasks when there are that
    many, of sizes differing by one at most."""
    tasks = max(-(-len(names) // batch), min(SPREAD, len(names)))
    return [names[i::tasks] for i in range(tasks)] if names else []
