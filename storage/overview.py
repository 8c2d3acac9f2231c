"""Per-site figures for `talentwatch sites`, read without writing anything.

The archive is opened read-only (mode=ro): looking at it never creates it, migrates
it or changes a byte of it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class SiteFigures:
    last_run: str | None = None  # when the last run started
    last_status: str | None = None  # ok | failed | running | …
    articles: int = 0
    pending: int | None = None  # frontier URLs still to fetch (None: the archive keeps no frontier)
    failing_runs: int = 0  # failed runs in a row, most recent first
    last_error: str | None = None


def _read_only(path: Path) -> sqlite3.Connection | None:
    if not path.is_file():
        return None
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def _tables(conn: sqlite3.Connection) -> dict[str, set[str]]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {n: {c[1] for c in conn.execute(f"PRAGMA table_info([{n}])")} for n in names}


def site_figures(database: Path, sites: list[str]) -> dict[str, SiteFigures]:
    """Figures for each named site; empty ones when the archive does not exist yet."""
    figures = {name: SiteFigures() for name in sites}
    try:
        conn = _read_only(database)
    except sqlite3.Error:
        return figures
    if conn is None:
        return figures
    try:
        tables = _tables(conn)
        for name, fig in figures.items():
            _fill(conn, tables, name, fig)
    finally:
        conn.close()
    return figures


def _fill(conn: sqlite3.Connection, tables: dict[str, set[str]], site: str, fig: SiteFigures) -> None:
    if "articles" in tables:
        fig.articles = conn.execute("SELECT count(*) FROM articles WHERE site = ?",
                                    [site]).fetchone()[0]
    if "crawl_runs" in tables:
        runs: list[dict[str, Any]] = [dict(r) for r in conn.execute(
            "SELECT started, status, error_messages FROM crawl_runs WHERE site = ? ORDER BY id DESC"
            " LIMIT 50", [site])]
        if runs:
            fig.last_run, fig.last_status = runs[0]["started"], runs[0]["status"]
        for run in runs:
            if run["status"] != "failed":
                break
            fig.failing_runs += 1
        for run in runs:
            try:
                errors = json.loads(run["error_messages"] or "[]")
            except ValueError:
                errors = []
            if errors:
                fig.last_error = str(errors[-1])
                break
            if run["status"] == "ok":
                break  # an error older than the last clean run is no longer news
    frontier = tables.get("frontier", set())
    if {"site", "status"} <= frontier:
        fig.pending = conn.execute("SELECT count(*) FROM frontier WHERE site = ? AND status = 'pending'",
                                   [site]).fetchone()[0]
