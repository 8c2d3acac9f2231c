"""When the archive cannot be written or read: one line that says why and what to do,
and the repair that is always safe (rebuilding the full-text index from the articles)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
from talentwatch.storage.db import connect, transaction
from talentwatch.storage.search import ensure_index

MAX_DETAIL = 200
# the tables of the full-text index: all of it can be rebuilt from `articles`
INDEX_TABLES = ("articles_fts", "search_keys", "search_meta")


def archive_path(db: sqlite_utils.Database) -> str:
    try:
        row = db.execute("PRAGMA database_list").fetchone()
    except sqlite3.Error:
        return "the archive"
    return row[2] if row and row[2] else "the archive"


_DAMAGE = ("malformed", "not a database", "corrupt",
           "vtable constructor failed")  # the full-text index cannot read its own structure


def is_damage(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and any(sign in text for sign in _DAMAGE)


def damage_message(path: str | Path, exc: BaseException) -> str:
    return (f"{path} is damaged ({_detail(exc)}): run `talentwatch reindex` to rebuild the search index"
            f" from the articles; if that does not help, restore the file from a backup"
            f" (or salvage it with `sqlite3 {path} .recover`)")


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL - 1] + "…"


def write_failure(db: sqlite_utils.Database, exc: BaseException) -> str:
    """One line: which file could not be written, why, and what to do."""
    path = archive_path(db)
    text = str(exc).lower()
    if is_damage(exc):
        return damage_message(path, exc)
    if "full" in text or "no space" in text:
        why = "the disk is full (or the file reached its size limit)"
        fix = "free space"
    elif "readonly" in text or "read-only" in text or "permission" in text:
        why = "the file or its folder is read-only"
        fix = "make it writable"
    elif "locked" in text or "busy" in text:
        why = "another process held its write lock too long"
        fix = "let that process finish"
    else:
        why = _detail(exc)
        fix = "fix the cause"
    return (f"cannot write to the archive {path}: {why} ({_detail(exc)}); nothing was half-stored —"
            f" {fix}, then crawl again to store the rest")


def rebuild_search_index(path: str | Path) -> int:
    """Drop the full-text index (however damaged) and build it again from the articles;
    returns how many articles it holds."""
    db = connect(path)
    try:
        with transaction(db):
            for name in INDEX_TABLES:
                db.execute(f"DROP TABLE IF EXISTS {name}")
    except sqlite3.DatabaseError:
        # a damaged index cannot always be dropped (freeing its pages reads them): forget
        # it in the schema, then VACUUM writes a new file without its pages
        db.close()
        _forget_index(Path(path))
        db = connect(path)
        db.execute("VACUUM")
    try:
        ensure_index(db)
        return db.execute("SELECT count(*) FROM search_keys").fetchone()[0]
    finally:
        db.close()


def _forget_index(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM sqlite_master WHERE tbl_name IN (?, ?, ?)"
                     " OR tbl_name LIKE 'articles_fts_%'", INDEX_TABLES)
        conn.execute("COMMIT")
        conn.execute("PRAGMA writable_schema = OFF")
    finally:
        conn.close()


def integrity(db: sqlite_utils.Database) -> list[str]:
    """PRAGMA integrity_check's findings (empty when the file is sound)."""
    rows = [r[0] for r in db.execute("PRAGMA integrity_check(20)").fetchall()]
    return [] if rows == ["ok"] else rows
