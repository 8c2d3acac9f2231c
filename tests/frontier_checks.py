"""Checks the frontier tests share: what the archive holds, and which processes a
crawl left behind."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path


def archive_facts(database: Path) -> dict:
    """Articles, duplicates, events, search entries and integrity of an archive file."""
    conn = sqlite3.connect(database)
    try:
        q = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "articles": q("SELECT count(*) FROM articles"),
            "distinct_urls": q("SELECT count(DISTINCT url) FROM articles"),
            "events": q("SELECT count(*) FROM events"),
            "events_distinct": q("SELECT count(DISTINCT article_id || ':' || kind || ':' || version)"
                                 " FROM events"),
            "indexed": q("SELECT count(*) FROM search_keys"),
            "fts_rows": q("SELECT count(*) FROM articles_fts"),
            "frontier_open": q("SELECT count(*) FROM frontier WHERE state IN ('pending', 'failing')"),
            "integrity": q("PRAGMA integrity_check"),
        }
    finally:
        conn.close()


def session_members(sid: int) -> list[int]:
    """Pids of live processes in session `sid` (a crawl started with start_new_session)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        # fields after the command: state ppid pgrp session …; zombies are already dead
        if fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids


def wait_session_gone(sid: int, timeout: float = 10.0) -> list[int]:
    """Wait for every process of session `sid` to end; returns those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in session_members(sid) if p != os.getpid()]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
