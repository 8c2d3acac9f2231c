"""Site leases: while a crawl worker holds a site's lease, no other task for it is sent.

The archive host takes a lease when it hands a site to the crawl workers and
gives it back when the run's last records are stored. A lease ends by itself
at its expiry, so a site whose worker and task were both lost is crawled again
later instead of never. (Only used with `workers:`; see docs/scale.md.)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils
from talentwatch.storage.db import transaction

LEASES = {
    "site": str,
    "token": str,  # one per task: records of an older task never end a newer one's lease
    "run_id": int,
    "taken_at": str,
    "expires_at": str,
}

WORKERS = {"name": str, "last_seen": str, "active": int, "runs": int}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def ensure_table(db: sqlite_utils.Database) -> None:
    if not db.table("site_leases").exists():
        db.table("site_leases").create(LEASES, pk="site")


def ensure_tables(db: sqlite_utils.Database) -> None:
    """Both tables, made once when `run` starts with `workers:` (not on every lease: a
    schema change on each check would contend with the archive writer for the lock)."""
    ensure_table(db)
    if not db.table("crawl_workers").exists():
        db.table("crawl_workers").create(WORKERS, pk="name", defaults={"runs": 0})


def take(db: sqlite_utils.Database, site: str, seconds: float, now: datetime | None = None) -> str | None:
    """A new lease on `site` for `seconds`, or None while another one is live (tables made
    by ensure_tables; inside a caller's transaction it joins it)."""
    now = now or datetime.now(UTC)
    token = uuid.uuid4().hex
    with transaction(db):
        row = db.execute("SELECT expires_at FROM site_leases WHERE site = ?", [site]).fetchone()
        if row is not None and row[0] > _iso(now):
            return None
        db.execute("INSERT OR REPLACE INTO site_leases (site, token, run_id, taken_at, expires_at)"
                   " VALUES (?, ?, NULL, ?, ?)",
                   [site, token, _iso(now), _iso(now + timedelta(seconds=seconds))])
    return token


def attach_run(db: sqlite_utils.Database, site: str, token: str, run_id: int) -> None:
    with transaction(db):
        db.execute("UPDATE site_leases SET run_id = ? WHERE site = ? AND token = ?", [run_id, site, token])


def release(db: sqlite_utils.Database, site: str, token: str) -> bool:
    """Give the lease back; False when `token` no longer holds it (expired and taken again)."""
    with transaction(db):
        cur = db.execute("DELETE FROM site_leases WHERE site = ? AND token = ?", [site, token])
    return cur.rowcount > 0


def live(db: sqlite_utils.Database, now: datetime | None = None) -> list[dict[str, Any]]:
    """Leases not yet expired, oldest first."""
    ensure_table(db)
    now = now or datetime.now(UTC)
    return [dict(r) for r in db.query(
        "SELECT * FROM site_leases WHERE expires_at > ? ORDER BY taken_at", [_iso(now)])]


# -- workers seen (heartbeats and runs reach the archive host on the archive queue) ------

def saw_worker(db: sqlite_utils.Database, name: str, at: str, active: int | None = None,
               runs_done: int = 0) -> None:
    """A worker was heard from: a heartbeat (with its sites in progress) or runs' ends."""
    with transaction(db):
        db.execute("INSERT INTO crawl_workers (name, last_seen, active, runs) VALUES (?, ?, ?, ?)"
                   " ON CONFLICT(name) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen),"
                   " active = COALESCE(excluded.active, active), runs = runs + excluded.runs",
                   [name, at, active, runs_done])


def workers_seen(db: sqlite_utils.Database, since: datetime) -> list[dict[str, Any]]:
    if not db.table("crawl_workers").exists():
        return []
    return [dict(r) for r in db.query("SELECT * FROM crawl_workers WHERE last_seen >= ? ORDER BY name",
                                      [_iso(since)])]
