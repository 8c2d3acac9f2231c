"""Crawl workers on Celery: the app, its two queues and the messages on them.

    talentwatch.crawl    archive host -> workers: one task per batch of due sites (payload below)
    talentwatch.archive  workers -> archive host: the records of each run, and heartbeats

Imported only when config.yaml has a `workers:` section (docs/scale.md). Both
queues are durable and every message persistent; the archive writer
acknowledges a message only once it is stored and then confirms the batch on
the worker's reply queue; the crawl task is acknowledged after that (late acks).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from celery import Celery
from kombu import Queue
from talentwatch.core.config import WorkersSettings
from talentwatch.core.records import Article, Gone, NotModified
from talentwatch.crawler.work import Processed
from talentwatch.storage.articles import Prepared

CRAWL_QUEUE = "talentwatch.crawl"
ARCHIVE_QUEUE = "talentwatch.archive"
CRAWL_TASK = "talentwatch.crawl_site"
HEARTBEAT_EVERY = 30.0  # seconds between a worker's heartbeats (status: workers seen recently)
REPLY_TTL = 600  # seconds a confirmation waits for its worker (one gone meanwhile never reads it)
REPLY_QUEUE_EXPIRES = 3600  # seconds: the reply queue of a worker gone for good is deleted after


def reply_queue(worker: str) -> Queue:
    """A worker process's own queue: the archive writer confirms there each batch it stored."""
    name = f"talentwatch.reply.{worker}"
    return Queue(name, routing_key=name, durable=False, expires=REPLY_QUEUE_EXPIRES)


def archive_queue() -> Queue:
    return Queue(ARCHIVE_QUEUE, routing_key=ARCHIVE_QUEUE, durable=True)


def make_app(settings: WorkersSettings) -> Celery:
    app = Celery("talentwatch", broker=settings.broker_url(), set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], task_ignore_result=True,
        task_default_queue=CRAWL_QUEUE, task_queues=[Queue(CRAWL_QUEUE, routing_key=CRAWL_QUEUE)],
        task_routes={CRAWL_TASK: {"queue": CRAWL_QUEUE}},
        # late acks: a worker that dies mid-task leaves its task on the broker for another
        task_acks_late=True, task_reject_on_worker_lost=True, task_acks_on_failure_or_timeout=True,
        # one task at a time per slot: a worker never sits on sites another could crawl now
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        broker_connection_retry_on_startup=True, broker_connection_max_retries=None,
        # our CLI owns logging (stderr, -v); Celery must not swap sys.stdout/sys.stderr for loggers
        worker_hijack_root_logger=False, worker_redirect_stdouts=False, worker_enable_remote_control=False,
        task_default_delivery_mode="persistent",
    )
    return app


def lease_seconds(settings: WorkersSettings) -> float:
    """How long a site's lease lasts: a task may wait for a free worker, be handed out again
    once its worker died (after visibility_timeout), and then run (task_timeout)."""
    return settings.task_timeout + 2 * settings.visibility_timeout


# -- the crawl task's payload -----------------------------------------------------------
#
# One task carries a batch of sites (those due in the same tick, up to `workers.batch`):
# Celery's cost per task and the archive writer's per message are shared by the batch,
# while each site keeps its own lease, run and records.

def site_payload(site_json: str, *, run_id: int, lease: str, shortcuts: bool, known: list[str] | None,
                 validators: dict[str, tuple[str | None, str | None]], rechecks: list[dict[str, Any]],
                 pending: list[dict[str, Any]]) -> dict[str, Any]:
    """What a worker needs from the archive to crawl one site as the embedded crawl would;
    empty parts are left out (an idle site's entry is a few hundred bytes)."""
    entry: dict[str, Any] = {
        # as JSON text, made once per `run`: a worker validates each distinct text once
        "site": site_json, "run_id": run_id, "lease": lease,
        # the walk may take shortcuts (a 304 ends it; storage.walks.begin on the archive host)
        "shortcuts": shortcuts,
    }
    if known is not None:
        # identities (URL, canonical URL, stable key) of the site's archived articles, for the
        # walk's stop rule; left out when every start page will be asked conditionally (a 304
        # needs none): a list page that changed then sends the site back for them ("needs_known")
        entry["known"] = known
    if validators:
        entry["list_validators"] = {url: list(v) for url, v in validators.items()}
    if rechecks:
        entry["rechecks"] = rechecks  # url, etag, last_modified of the known articles due again
    if pending:
        # frontier URLs listed earlier and not stored yet (url, list_url, list_page, list_pos,
        # list_title, list_date): the worker asks for them first, as the embedded crawl does
        entry["pending"] = pending
    return entry


def batch_payload(relevance_json: str, expires: float, entries: list[dict[str, Any]]) -> dict[str, Any]:
    # the relevance config as JSON text, once per batch (validated once per text by a worker)
    return {"relevance": relevance_json, "expires": expires, "sites": entries}


# -- records on the archive queue ------------------------------------------------------

def encode_record(item: Processed | NotModified | Gone) -> dict[str, Any]:
    if isinstance(item, NotModified):
        return {"type": "not_modified", "url": item.url, "site": item.site}
    if isinstance(item, Gone):
        return {"type": "gone", "url": item.url, "site": item.site, "http_status": item.http_status}
    # what the worker computed for storing (normalised text, hashes, MinHash, search tokens)
    # travels with the article: the archive host, the one writer, does not compute it again
    return {"type": "article", "article": item.article.to_dict(),
            "prepared": [_encode_prepared(p) for p in item.prepared]}


def decode_record(data: dict[str, Any]) -> tuple[Article | NotModified | Gone, list[Prepared | None] | None]:
    """A record and, for an article, what was computed for storing it (None: compute it)."""
    kind = data.get("type")
    if kind == "not_modified":
        return NotModified(url=data["url"], site=data["site"]), None
    if kind == "gone":
        return Gone(url=data["url"], site=data["site"], http_status=int(data["http_status"])), None
    if kind == "article":
        article = Article.from_dict(data["article"])
        prepared = [_decode_prepared(p) for p in data.get("prepared") or []]
        # one for the article and one per bulletin part, or none at all (storing computes them)
        return article, prepared if len(prepared) == 1 + len(article.parts) else None
    raise ValueError(f"unknown record type {kind!r}")


def _encode_prepared(prep: Prepared) -> dict[str, Any]:
    data = dataclasses.asdict(prep)
    if "signature" in prep.__dict__:  # computed (a cached property): sent, not recomputed
        sig = prep.__dict__["signature"]
        data["signature"] = None if sig is None else {"dtype": str(sig.dtype), "values": sig.tolist()}
    return data


def _decode_prepared(data: dict[str, Any]) -> Prepared | None:
    import numpy as np

    fields = {f.name for f in dataclasses.fields(Prepared)}
    prep = Prepared(**{k: v for k, v in data.items() if k in fields})
    if isinstance(prep.search_tokens, list):
        prep.search_tokens = (prep.search_tokens[0], prep.search_tokens[1])
    if "signature" in data:
        sig = data["signature"]
        prep.__dict__["signature"] = None if sig is None else np.asarray(sig["values"], dtype=sig["dtype"])
    return prep
