"""A site's first crawl is a baseline, not news.

When a site is added, its first crawl archives everything its lists show —
often years of notices. Items published before that crawl (less a recent
window, `daemon.baseline_window`) are archived without per-item alerts; the
first message for the site says in one line how many were archived that way.

The first crawl is the site's earliest row in `crawl_runs`; an article belongs
to it when it was first seen while that run lasted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils
from talentwatch.storage.cells import time_cell


@dataclass(frozen=True)
class FirstRun:
    started: str
    finished: str | None  # None while it still runs

    def covers(self, first_seen: str | None) -> bool:
        if not first_seen:
            return False
        return first_seen >= self.started and (self.finished is None or first_seen <= self.finished)


def first_runs(db: sqlite_utils.Database) -> dict[str, FirstRun]:
    """Each site's first crawl."""
    return {r[0]: FirstRun(r[1], r[2]) for r in db.execute(
        "SELECT site, started, finished FROM crawl_runs WHERE id IN"
        " (SELECT min(id) FROM crawl_runs GROUP BY site)").fetchall()}


def is_baseline(run: FirstRun | None, first_seen: str | None, published: str | None,
                window: float | None) -> bool:
    """Whether an article was archived by its site's first crawl and published before the window.

    An undated page of a first crawl counts as old: a flood of undated pages is the
    failure this prevents."""
    if window is None or run is None or not run.covers(first_seen):
        return False
    when = time_cell(published)
    cutoff = datetime.fromisoformat(run.started) - timedelta(seconds=window)
    return when is None or when < cutoff


def baseline_count(db: sqlite_utils.Database, site: str, window: float | None) -> int:
    """How many articles of `site` its first crawl archived as baseline."""
    run = first_runs(db).get(site)
    if run is None or window is None:
        return 0
    return sum(1 for first_seen, published in db.execute(
        "SELECT first_seen, published FROM articles WHERE site = ? AND first_seen >= ?",
        [site, run.started]).fetchall() if is_baseline(run, first_seen, published, window))
