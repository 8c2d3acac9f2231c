"""Crawl runs: one pass over one site, counted from its first request to the
last stored article, and recorded in the archive's crawl_runs table.

A run also carries its walk through the site's list pages (see storage.walks:
whether it may take shortcuts, whether it completed, whether it stopped at
max_list_pages) and the frontier URLs it is fetching (storage.frontier).
Failures are logged a few per kind and summarised at the end of the run, so a
list page of 20,000 dead links gives a handful of lines, not 20,000.

A write to the archive that fails (full disk, read-only file, lock timeout,
damaged file) stops the crawl: `RunTracker.storage_failed` keeps the first
such failure as one line for the user, and nothing more is stored.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from talentwatch.core.config import SiteConfig
from talentwatch.core.profiles import Profile, get_profile
from talentwatch.storage import frontier, walks
from talentwatch.storage.articles import archived_urls, find_article
from talentwatch.storage.crawlstate import (
    due_for_recheck,
    finish_run,
    list_validators,
    save_list_validators,
    start_run,
)
from talentwatch.storage.health import write_failure

LOGGED_PER_KIND = 3  # failures of one kind logged one by one; the rest are summarised
KEPT_ERRORS = 100

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
    error_kinds: Counter[str] = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)
    closed: bool = False
    # the walk: shortcuts allowed (storage.walks.begin), whether every list page it meant
    # to read was read, and the start URLs whose walk stopped at max_list_pages
    shortcuts: bool = False
    walk_ok: bool = True
    stopped_at_limit: list[str] = field(default_factory=list)
    backfill: int | None = None  # pages to read past the cursor (crawl --backfill)
    backfill_left: list[str] = field(default_factory=list)  # start URLs with older pages still unread
    gone: int = 0  # never-stored articles that answered 404/410 (reported once)
    # article URL as fetched -> URL as the list page (and the frontier) named it
    requested: dict[str, str] = field(default_factory=dict)

    def error(self, message: str, kind: str | None = None) -> None:
        """Record a failure; `kind` groups repeats (only the first few are logged)."""
        kind = kind or message
        self.error_kinds[kind] += 1
        if self.error_kinds[kind] <= LOGGED_PER_KIND:
            log.warning("%s: %s", self.site.name, message)
            if len(self.errors) < KEPT_ERRORS:
                self.errors.append(message)

    def summarise_errors(self) -> None:
        for kind, n in self.error_kinds.items():
            if n > LOGGED_PER_KIND:
                line = f"{n - LOGGED_PER_KIND} more like this: {kind}"
                log.warning("%s: %s", self.site.name, line)
                self.errors.append(line)

    @property
    def error_count(self) -> int:
        return sum(self.error_kinds.values())

    @property
    def failed(self) -> bool:
        # a site fails when none of its start pages could be fetched
        return self.start_failures >= len(self.site.start_urls)


class RunTracker:
    """Counts each site's outstanding work and closes its run when none is left.

    It is also the spider's one view of the archive: what is known, the list pages'
    validators, the re-checks due, and where a run is opened and closed. A crawl worker
    (scheduler.workers) answers the same questions from its task instead of a database."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.active: dict[str, SiteRun] = {}
        self.finished: list[SiteRun] = []
        self.listeners: list[Callable[[SiteRun], None]] = []
        # the first failed write to the archive, as one line; once set nothing more is stored
        self.fatal: str | None = None
        self.fatal_listeners: list[Callable[[str], None]] = []
        walks.recover_runs(db)

    def begin(self, site: SiteConfig, backfill: int | None = None) -> SiteRun:
        # a backfill reads older pages only; it leaves the normal walk's record alone
        shortcuts = backfill is None and self.walk_shortcuts(site)
        run = SiteRun(site=site, run_id=self.open_run(site),
                      profile=get_profile(site.profile, site.selectors.model_dump()),
                      shortcuts=shortcuts, backfill=backfill)
        self.active[site.name] = run
        return run

    # -- the archive as the crawl sees it (overridden by a crawl worker) -------------

    def open_run(self, site: SiteConfig) -> int:
        assert self.db is not None
        return start_run(self.db, site.name)

    def walk_shortcuts(self, site: SiteConfig) -> bool:
        """Whether this walk may take shortcuts (storage.walks.begin)."""
        return walks.begin(self.db, site)

    def is_known(self, url: str, site: str | None = None) -> bool:
        """Whether the archive holds the article of `url`, listed by `site` (the walk's stop rule)."""
        assert self.db is not None
        return find_article(self.db, url) is not None

    def known_urls(self, urls: list[str], site: str | None = None) -> set[str]:
        """Those of `urls` that is_known says the archive holds (a list page's links, looked
        up together: a few statements, not up to three per link)."""
        assert self.db is not None
        return archived_urls(self.db, urls)

    def list_validators(self, url: str) -> tuple[str | None, str | None]:
        assert self.db is not None
        return list_validators(self.db, url)

    def due_urls(self, site: SiteConfig) -> list[str]:
        """Frontier URLs of `site` to ask for first (listed earlier, not stored yet)."""
        return frontier.due(self.db, site.name)

    def due_rechecks(self, site: SiteConfig, everything: bool) -> list[dict[str, Any]]:
        """Known articles of `site` to ask again (url, etag, last_modified)."""
        assert self.db is not None
        policy = site.revisit
        return due_for_recheck(self.db, site.name, everything=everything,
                               max_age_days=policy.max_age_days if policy else None,
                               every_hours=policy.every_hours if policy else None)

    def record_finish(self, run: SiteRun) -> None:
        """Write a finished run to the archive (unless a write failed before)."""
        if self.fatal is None:
            try:
                self._record_end(run)
            except sqlite3.Error as exc:
                self.storage_failed(exc)

    def storage_failed(self, exc: BaseException) -> None:
        """A write to the archive failed: stop storing, keep the reason for the user."""
        if self.fatal is not None:
            return
        self.fatal = write_failure(self.db, exc)
        log.debug("archive write failed", exc_info=exc)
        for listener in self.fatal_listeners:
            listener(self.fatal)

    def article_lost(self, site: str, url: str, reason: str) -> None:
        """An article page was fetched but not stored (extraction failed): retry it later."""
        run = self.active.get(site)
        requested = run.requested.pop(url, url) if run else url
        if self.fatal is None:
            try:
                frontier.record_failure(self.db, requested, reason)
            except sqlite3.Error as exc:
                self.storage_failed(exc)
        self.item_done(site, None, f"{url}: not stored: {reason}")

    def is_running(self, name: str) -> bool:
        return name in self.active

    def get(self, name: str) -> SiteRun | None:
        return self.active.get(name)

    def done(self, run: SiteRun) -> None:
        run.pending -= 1
        self._maybe_finish(run)

    def expects_more(self, held: int) -> bool:
        """Whether more records are on their way to the pipelines' end than the `held` ones
        waiting there: a request not yet answered, or a record still in an earlier pipeline."""
        runs = self.active.values()
        return any(run.pending > 0 for run in runs) or sum(run.items for run in runs) > held

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
        run.walk_ok = False
        run.pending = run.items = 0
        self._maybe_finish(run)

    def _maybe_finish(self, run: SiteRun) -> None:
        if run.closed or run.pending > 0 or run.items > 0:
            return
        run.closed = True
        self.active.pop(run.site.name, None)
        run.summarise_errors()
        self.record_finish(run)
        self.finished.append(run)
        for listener in self.listeners:
            listener(run)

    def _record_end(self, run: SiteRun) -> None:
        completed = run.walk_ok and run.backfill is None
        if run.backfill is None:
            settled = walks.finish(self.db, run.site, completed=completed,
                                   stopped_at_limit=bool(run.stopped_at_limit))
            if settled and run.list_validators:
                # only a walk that read every page and stored every article it found may
                # let the next one skip these pages on a 304 (storage.walks)
                save_list_validators(self.db, run.site.name, run.list_validators)
        finish_run(self.db, run.run_id, pages=run.pages, new=run.new, changed=run.changed,
                   errors=run.errors, failed=run.failed, duplicates=run.duplicates,
                   removed=run.removed, not_modified=run.not_modified, requests=dict(run.requests))
