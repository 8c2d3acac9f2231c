"""What the archive remembers of each site's walks through its list pages.

A walk may take shortcuts — a 304 on a list page, stopping at a page of known
articles — only when the site's previous walk completed, under the same crawl
settings, and left nothing unstored. `begin` answers that and marks the walk
as under way, so a walk killed halfway is never taken for a complete one.

Backfill cursors: where a walk that stopped at `max_list_pages` (or a backfill
that ran out of pages) would go on, one per start URL, so `crawl --backfill`
resumes where the last one stopped.

Crawl runs left `running` by a process that no longer exists are marked
`interrupted` (`recover_runs`).
"""

from __future__ import annotations

import hashlib
import json
import os

import sqlite_utils
from talentwatch.core.config import SiteConfig
from talentwatch.storage.db import now_iso, transaction
from talentwatch.storage.frontier import unsettled

SITE_WALKS = {
    "site": str,
    "fingerprint": str,  # of the crawl settings the last walk ran under
    "completed": int,  # 1: the last walk read every list page it meant to and ended clean
    "started_at": str,
    "finished_at": str,
    "stopped_at_limit": int,  # 1: it stopped at max_list_pages while a next page existed
}

BACKFILL_CURSORS = {
    "site": str,
    "start_url": str,
    "next_url": str,  # the next older list page to read
    "depth": int,  # that page's place in the walk from start_url
    "updated_at": str,
}


def ensure_tables(db: sqlite_utils.Database) -> None:
    for name, columns, pk in (("site_walks", SITE_WALKS, "site"),
                              ("backfill_cursors", BACKFILL_CURSORS, ("site", "start_url"))):
        table = db.table(name)
        if not table.exists():
            table.create(columns, pk=pk)
            continue
        for column, kind in columns.items():
            if column not in table.columns_dict:
                table.add_column(column, kind)


def fingerprint(site: SiteConfig) -> str:
    """A hash of what decides which links a walk finds: change any and list pages are read afresh."""
    settings = {"start_urls": site.start_urls, "article_pattern": site.article_pattern,
                "profile": site.profile, "selectors": site.selectors.model_dump(),
                "max_list_pages": site.max_list_pages, "allowed_domains": site.allowed_domains}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def begin(db: sqlite_utils.Database, site: SiteConfig) -> bool:
    """Mark a walk of `site` as under way; returns whether it may take shortcuts."""
    mark = fingerprint(site)
    with transaction(db):
        row = db.execute("SELECT fingerprint, completed FROM site_walks WHERE site = ?",
                         [site.name]).fetchone()
        shortcuts = bool(row and row[0] == mark and row[1] and not unsettled(db, site.name))
        db.execute(
            "INSERT INTO site_walks (site, fingerprint, completed, started_at) VALUES (?, ?, 0, ?)"
            " ON CONFLICT(site) DO UPDATE SET completed = 0, started_at = excluded.started_at",
            [site.name, row[0] if row else None, now_iso()])
    return shortcuts


def finish(db: sqlite_utils.Database, site: SiteConfig, *, completed: bool, stopped_at_limit: bool) -> bool:
    """Record how the walk ended; returns whether it is settled (completed, nothing left
    unstored), which is when its list pages' validators may be saved."""
    with transaction(db):
        settled = completed and not unsettled(db, site.name)
        db.execute(
            "UPDATE site_walks SET fingerprint = CASE WHEN ? THEN ? ELSE fingerprint END, completed = ?,"
            " finished_at = ?, stopped_at_limit = ? WHERE site = ?",
            [completed, fingerprint(site), int(completed), now_iso(), int(stopped_at_limit), site.name])
    return settled


def state(db: sqlite_utils.Database, site: str) -> dict[str, object] | None:
    row = db.execute("SELECT completed, finished_at, stopped_at_limit, started_at FROM site_walks"
                     " WHERE site = ?", [site]).fetchone()
    if row is None:
        return None
    cursors = db.execute("SELECT count(*) FROM backfill_cursors WHERE site = ?", [site]).fetchone()[0]
    return {"completed": bool(row[0]), "finished_at": row[1], "stopped_at_limit": bool(row[2]),
            "started_at": row[3], "backfill_left": bool(cursors)}


# -- backfill cursors ---------------------------------------------------------------

def cursor(db: sqlite_utils.Database, site: str, start_url: str) -> tuple[str, int] | None:
    row = db.execute("SELECT next_url, depth FROM backfill_cursors WHERE site = ? AND start_url = ?",
                     [site, start_url]).fetchone()
    return (row[0], row[1]) if row else None


def offer_cursor(db: sqlite_utils.Database, site: str, start_url: str, next_url: str, depth: int) -> None:
    """A normal walk stopped at its limit before `next_url`: a backfill starts there,
    unless one has already gone further."""
    with transaction(db):
        db.execute("INSERT OR IGNORE INTO backfill_cursors (site, start_url, next_url, depth, updated_at)"
                   " VALUES (?, ?, ?, ?, ?)", [site, start_url, next_url, depth, now_iso()])


def move_cursor(db: sqlite_utils.Database, site: str, start_url: str, next_url: str | None,
                depth: int) -> None:
    """A backfill read a page: the next one to read is `next_url` (None: the list has ended)."""
    with transaction(db):
        if next_url is None:
            db.execute("DELETE FROM backfill_cursors WHERE site = ? AND start_url = ?", [site, start_url])
        else:
            db.execute("INSERT INTO backfill_cursors (site, start_url, next_url, depth, updated_at)"
                       " VALUES (?, ?, ?, ?, ?) ON CONFLICT(site, start_url) DO UPDATE SET"
                       " next_url = excluded.next_url, depth = excluded.depth,"
                       " updated_at = excluded.updated_at",
                       [site, start_url, next_url, depth, now_iso()])


# -- runs of dead processes ----------------------------------------------------------

def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def recover_runs(db: sqlite_utils.Database) -> int:
    """Mark runs left `running` by a process that is gone as `interrupted`; returns how many."""
    rows = db.execute("SELECT id, pid FROM crawl_runs WHERE status = 'running'").fetchall()
    dead = [run_id for run_id, pid in rows if pid != os.getpid() and not _alive(pid)]
    if dead:
        with transaction(db):
            db.execute(f"UPDATE crawl_runs SET status = 'interrupted', finished = COALESCE(finished, ?)"
                       f" WHERE status = 'running' AND id IN ({','.join('?' * len(dead))})",
                       [now_iso(), *dead])
    return len(dead)
