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
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the archive's modules load sqlite-utils only when a command opens it
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
    import sqlite_utils  # here: `talentwatch validate` and `--help` do not pay for it

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
        raise ArchiveError(f"{path}: cannot open the archive: {exc}{_repair_hint(path, exc)}") from None
    return db


_DEPTH = "_talentwatch_depth"  # how deep in `transaction` this connection is


def _repair_hint(path: Path, exc: BaseException) -> str:
    """What to do about a file SQLite finds damaged (see storage.health for the index)."""
    text = str(exc).lower()
    if "malformed" in text or "not a database" in text:
        return f"; restore it from a backup, or salvage it with `sqlite3 {path} .recover`"
    return ""


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error.

    Nested use is a savepoint of the outer transaction (a crawl commits its articles
    in batches; schema creation wraps the index's own set-up): rolled back alone on
    an error, which still reaches the outer one, and committed with it."""
    conn = db.conn
    depth = getattr(db, _DEPTH, 0)
    if depth:
        setattr(db, _DEPTH, depth + 1)
        conn.execute("SAVEPOINT nested")
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # a full disk may already have rolled it all back
                conn.execute("ROLLBACK TO nested")
                conn.execute("RELEASE nested")
            raise
        finally:
            setattr(db, _DEPTH, depth)
        conn.execute("RELEASE nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    setattr(db, _DEPTH, 1)
    try:
        yield
    except BaseException:
        setattr(db, _DEPTH, 0)
        if conn.in_transaction:  # a full disk may already have rolled it back
            conn.execute("ROLLBACK")
        raise
    setattr(db, _DEPTH, 0)
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
