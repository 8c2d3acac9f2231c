"""The archive's connection: opening a SQLite file for talentwatch, and transactions.

Every module of storage/ writes through `transaction`, so each write of one
article (or one outbox change, one crawl-state change) is all-or-nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils


class ArchiveError(Exception):
    """The archive file cannot be opened or created; the message says which and why."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def connect(path: str | Path, cache_mb: int = 64) -> sqlite_utils.Database:
    """A connection in WAL mode with talentwatch's pragmas (no schema work).

    `cache_mb` bounds SQLite's page cache for this connection: large for bulk
    crawls (near-duplicate bands are looked up at random), small for a daemon
    that should hold its memory flat.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path)
        db.execute("PRAGMA busy_timeout = 10000")
        db.execute(f"PRAGMA cache_size = -{int(cache_mb) * 1024}")
        db.enable_wal()
        # WAL + NORMAL: a commit is atomic and survives a crash of the process; only a power
        # cut may lose the last commits (never half of one). FULL would fsync every article.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
    except (OSError, sqlite3.DatabaseError) as exc:
        raise ArchiveError(f"{path}: cannot open the archive: {exc}") from None
    return db


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error.

    Inside another transaction (a crawl commits its articles in batches) it is a
    savepoint instead: rolled back alone on an error, committed with the outer one."""
    conn = db.conn
    if conn.in_transaction:
        conn.execute("SAVEPOINT article")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO article")
            conn.execute("RELEASE article")
            raise
        conn.execute("RELEASE article")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
