"""The daemon's schedule: when each job (a site's crawl, a digest) runs next and ran last.

Kept in the archive's `jobs` table so that a restarted daemon picks up where
it left off instead of crawling every site at once.
"""

from __future__ import annotations

import sqlite_utils


def load_jobs(db: sqlite_utils.Database) -> dict[str, tuple[str | None, str | None]]:
    """Job id -> (next run, last run), as ISO timestamps."""
    return {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, next_run, last_run FROM jobs")}


def save_jobs(db: sqlite_utils.Database, jobs: dict[str, tuple[str | None, str | None]]) -> None:
    """Record next (and, where given, last) runs; a last run of None keeps the stored one."""
    if not jobs:
        return
    with db.conn:
        db.conn.executemany(
            "INSERT INTO jobs (id, next_run, last_run) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
            " next_run = excluded.next_run, last_run = coalesce(excluded.last_run, jobs.last_run)",
            [(job_id, nxt, last) for job_id, (nxt, last) in jobs.items()])
