"""Crawl runs: one pass over one site, counted from its first request to the
last stored article, and recorded in the archive's crawl_runs table."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlite_utils
from talentwatch.core.config import SiteConfig
from talentwatch.core.profiles import Profile, get_profile
from talentwatch.storage.crawlstate import finish_run, save_list_validators, start_run

log = logging.getLogger(__name__)


@dataclass(eq=False)
class SiteRun:
    site: SiteConfig
    run_id: int
    profile: Profile
    started: float = field(default_factory=time.monotonic)
    pending: int = 0  # requests not yet answered
    items: int = 0  # pages yielded and not yet through the pipelines
    pages: int = 0
    new: int = 0
    changed: int = 0
    duplicates: int = 0  # new pages that joined a story already archived
    removed: int = 0  # known articles found withdrawn (404/410)
    not_modified: int = 0  # conditional requests answered 304
    requests: Counter[str] = field(default_factory=Counter)  # sent, by kind
    # list pages' validators (etag, last_modified, status), saved when the run ends clean
    list_validators: dict[str, tuple[str | None, str | None, int]] = field(default_factory=dict)
    start_failures: int = 0
    errors: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    closed: bool = False

    def error(self, message: str) -> None:
        log.warning("%s: %s", self.site.name, message)
        self.errors.append(message)

    @property
    def failed(self) -> bool:
        # a site fails when none of its start pages could be fetched
        return self.start_failures >= len(self.site.start_urls)


class RunTracker:
    """Counts each site's outstanding work and closes its run when none is left."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.active: dict[str, SiteRun] = {}
        self.finished: list[SiteRun] = []
        self.listeners: list[Callable[[SiteRun], None]] = []

    def begin(self, site: SiteConfig) -> SiteRun:
        run = SiteRun(site=site, run_id=start_run(self.db, site.name),
                      profile=get_profile(site.profile, site.selectors.model_dump()))
        self.active[site.name] = run
        return run

    def is_running(self, name: str) -> bool:
        return name in self.active

    def get(self, name: str) -> SiteRun | None:
        return self.active.get(name)

    def done(self, run: SiteRun) -> None:
        run.pending -= 1
        self._maybe_finish(run)

    def item_done(self, site: str, outcome: str | None, error: str | None = None) -> None:
        run = self.active.get(site)
        if run is None:
            return
        run.items -= 1
        if outcome == "new":
            run.new += 1
        elif outcome == "changed":
            run.changed += 1
        elif outcome == "duplicate":
            run.duplicates += 1
        elif outcome == "removed":
            run.removed += 1
        elif outcome == "not_modified":
            run.not_modified += 1
        if error:
            run.error(error)
        self._maybe_finish(run)

    def close(self, run: SiteRun, reason: str) -> None:
        """End a run early (timeout, shutdown); late answers are then ignored."""
        if run.closed:
            return
        run.error(reason)
        run.pending = run.items = 0
        self._maybe_finish(run)

    def _maybe_finish(self, run: SiteRun) -> None:
        if run.closed or run.pending > 0 or run.items > 0:
            return
        run.closed = True
        self.active.pop(run.site.name, None)
        if run.list_validators and not run.errors:
            # only a clean run may let the next one skip these pages on a 304: after a
            # failure, the list is read again so that nothing it named is missed
            save_list_validators(self.db, run.site.name, run.list_validators)
        finish_run(self.db, run.run_id, pages=run.pages, new=run.new, changed=run.changed,
                   errors=run.errors, failed=run.failed, duplicates=run.duplicates,
                   removed=run.removed, not_modified=run.not_modified, requests=dict(run.requests))
        self.finished.append(run)
        for listener in self.listeners:
            listener(run)
