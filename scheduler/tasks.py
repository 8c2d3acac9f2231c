"""Crawl workers on Celery: the app, its two queues and the messages on them.

    talentwatch.crawl    archive host -> workers: one task per due site (its payload below)
    talentwatch.archive  workers -> archive host: the records of each run, and heartbeats

Imported only when config.yaml has a `workers:` section (docs/scale.md). Both
queues are durable and every message persistent; a crawl task is acknowledged
late (after its records are on the archive queue) and the archive writer
acknowledges a message only once it is stored.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue
from talentwatch.core.config import SiteConfig, WorkersSettings
from talentwatch.core.records import Article, Gone, NotModified

CRAWL_QUEUE = "talentwatch.crawl"
ARCHIVE_QUEUE = "talentwatch.archive"
CRAWL_TASK = "talentwatch.crawl_site"
HEARTBEAT_EVERY = 30.0  # seconds between a worker's heartbeats (status: workers seen recently)


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

def build_payload(site: SiteConfig, relevance_json: str, *, run_id: int, lease: str, expires: float,
                  known: list[str], validators: dict[str, tuple[str | None, str | None]],
                  rechecks: list[dict[str, Any]], pending: list[dict[str, Any]]) -> dict[str, Any]:
    """What a worker needs from the archive to crawl `site` as the embedded crawl would."""
    return {
        "site": site.model_dump(mode="json", by_alias=True),
        # as JSON text, made once per `run`: a worker validates each distinct text once
        "relevance": relevance_json,
        "run_id": run_id, "lease": lease, "expires": expires,
        "known": known,  # identities (canonical URL, stable key) of the site's archived articles
        "list_validators": {url: list(v) for url, v in validators.items()},
        "rechecks": rechecks,  # url, etag, last_modified of the known articles due again
        # frontier URLs listed earlier and not stored yet (url, list_url, list_page, list_pos,
        # list_title, list_date): the worker asks for them first, as the embedded crawl does
        "pending": pending,
    }


# -- records on the archive queue ------------------------------------------------------

def encode_record(item: Article | NotModified | Gone) -> dict[str, Any]:
    if isinstance(item, NotModified):
        return {"type": "not_modified", "url": item.url, "site": item.site}
    if isinstance(item, Gone):
        return {"type": "gone", "url": item.url, "site": item.site, "http_status": item.http_status}
    return {"type": "article", "article": item.to_dict()}


def decode_record(data: dict[str, Any]) -> Article | NotModified | Gone:
    kind = data.get("type")
    if kind == "not_modified":
        return NotModified(url=data["url"], site=data["site"])
    if kind == "gone":
        return Gone(url=data["url"], site=data["site"], http_status=int(data["http_status"]))
    if kind == "article":
        return Article.from_dict(data["article"])
    raise ValueError(f"unknown record type {kind!r}")
