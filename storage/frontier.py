"""The crawl frontier: every article URL a list page named and the archive does not hold yet.

A URL is written here before it is requested, so nothing a list page showed is
lost to a kill, a failed download, a full disk or a list page that later stops
showing it. Each crawl of a site asks for its due URLs first, whatever the list
pages say now. A stored article leaves the frontier in the transaction that
stores it (see `settle_stored`), so a URL is never both stored and pending.

States:
- pending: not fetched yet, or failed fewer than FAILING_AFTER times (retried
  on the next crawls, with a growing pause between attempts)
- failing: failed FAILING_AFTER times or more; still tried once a day, shown in
  `talentwatch status`
- gone: answered 404/410 and never stored; reported once, not asked again
- done: answered with something that is not an article (not HTML); not asked again
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils
from talentwatch.storage.db import now_iso, transaction

FRONTIER = {
    "url": str,
    "site": str,
    "first_seen": str,
    "attempts": int,  # answered requests that did not store the article
    "last_error": str,
    "last_attempt": str,
    "next_attempt": str,  # not asked before this time (ISO, UTC)
    "state": str,  # pending | failing | gone | done
    "list_url": str,  # the list page that named it
    "list_page": int,  # that page's place in its walk (1: the start page)
    "list_pos": int,  # its place on that page (0: first listed, newest)
    "list_title": str,  # title and date shown beside the link: extraction's hints
    "list_date": str,
}

FAILING_AFTER = 5  # attempts: from then on the URL shows as failing and is tried daily
FAILING_EVERY = timedelta(days=1)
MAX_ERROR_CHARS = 300


def ensure_table(db: sqlite_utils.Database) -> None:
    table = db.table("frontier")
    if not table.exists():
        table.create(FRONTIER, pk="url", not_null={"site", "state"}, defaults={"attempts": 0})
    else:
        for column, kind in FRONTIER.items():
            if column not in table.columns_dict:
                table.add_column(column, kind)
    table.create_index(["site", "state", "next_attempt"], if_not_exists=True)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def backoff(attempts: int) -> timedelta:
    """Pause after the attempts-th failure: the next crawl may retry at once, then 1, 2, 4 … minutes."""
    if attempts >= FAILING_AFTER:
        return FAILING_EVERY
    return timedelta(minutes=0 if attempts <= 1 else 2 ** (attempts - 2))


@dataclass(frozen=True)
class Seen:
    """An article link as a list page showed it."""

    url: str
    list_url: str
    list_page: int
    list_pos: int
    title: str | None = None
    date: str | None = None


def record_seen(db: sqlite_utils.Database, site: str, links: Iterable[Seen]) -> list[str]:
    """Write the links not yet in the frontier (one transaction); returns their URLs, in order.

    Callers pass only links the archive does not hold; a URL already in the
    frontier keeps its row (its attempts, its schedule, its state)."""
    links = list(links)
    if not links:
        return []
    now = now_iso()
    added: list[str] = []
    with transaction(db):
        for link in links:
            cur = db.execute(
                "INSERT OR IGNORE INTO frontier (url, site, first_seen, attempts, next_attempt, state,"
                " list_url, list_page, list_pos, list_title, list_date)"
                " VALUES (?, ?, ?, 0, ?, 'pending', ?, ?, ?, ?, ?)",
                [link.url, site, now, now, link.list_url, link.list_page, link.list_pos,
                 link.title, link.date])
            if cur.rowcount:
                added.append(link.url)
    return added


def due(db: sqlite_utils.Database, site: str, now: datetime | None = None) -> list[str]:
    """URLs of `site` to ask for now: pending and failing ones whose pause is over,
    newest first (latest walk first, then in list order)."""
    moment = _iso(now or datetime.now(UTC))
    return [row[0] for row in db.execute(
        "SELECT url FROM frontier WHERE site = ? AND state IN ('pending', 'failing')"
        " AND next_attempt <= ? ORDER BY first_seen DESC, list_page, list_pos",
        [site, moment]).fetchall()]


def list_hints(db: sqlite_utils.Database, url: str) -> tuple[str | None, str | None]:
    row = db.execute("SELECT list_title, list_date FROM frontier WHERE url = ?", [url]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def known_states(db: sqlite_utils.Database, urls: list[str]) -> dict[str, str]:
    """The frontier state of each of `urls` that has a row."""
    states: dict[str, str] = {}
    for start in range(0, len(urls), 500):
        chunk = urls[start:start + 500]
        marks = ",".join("?" * len(chunk))
        states.update(db.execute(f"SELECT url, state FROM frontier WHERE url IN ({marks})", chunk).fetchall())
    return states


def settle_stored(db: sqlite_utils.Database, url: str) -> None:
    """The article of `url` is stored: it leaves the frontier. Call inside the storing transaction."""
    db.execute("DELETE FROM frontier WHERE url = ?", [url])


def _cut(message: str) -> str:
    return message if len(message) <= MAX_ERROR_CHARS else message[:MAX_ERROR_CHARS - 1] + "…"


def record_failure(db: sqlite_utils.Database, url: str, error: str) -> str | None:
    """A transient failure (5xx, 429, timeout, reset, truncated body, extraction error):
    count the attempt and schedule the next. Returns the new state (None: no row)."""
    now = datetime.now(UTC)
    with transaction(db):
        row = db.execute("SELECT attempts, state FROM frontier WHERE url = ?", [url]).fetchone()
        if row is None or row[1] in ("gone", "done"):
            return None
        attempts = row[0] + 1
        state = "failing" if attempts >= FAILING_AFTER else "pending"
        db.execute("UPDATE frontier SET attempts = ?, last_error = ?, last_attempt = ?, next_attempt = ?,"
                   " state = ? WHERE url = ?",
                   [attempts, _cut(error), _iso(now), _iso(now + backoff(attempts)), state, url])
    return state


def record_final(db: sqlite_utils.Database, url: str, state: str, error: str) -> bool:
    """A final answer for a never-stored URL: `gone` (404/410) or `done` (not an article).
    Returns True the first time, so that it is reported once."""
    with transaction(db):
        cur = db.execute(
            "UPDATE frontier SET state = ?, last_error = ?, last_attempt = ?, attempts = attempts + 1"
            " WHERE url = ? AND state NOT IN ('gone', 'done')", [state, _cut(error), now_iso(), url])
    return bool(cur.rowcount)


def counts(db: sqlite_utils.Database, site: str) -> dict[str, Any]:
    """Per state: how many URLs of `site`; with the failing ones' latest error."""
    result: dict[str, Any] = {"pending": 0, "failing": 0, "gone": 0}
    for state, n in db.execute("SELECT state, count(*) FROM frontier WHERE site = ? GROUP BY state",
                               [site]).fetchall():
        if state in result:
            result[state] = n
    row = db.execute("SELECT url, last_error, attempts FROM frontier WHERE site = ? AND state = 'failing'"
                     " ORDER BY last_attempt DESC LIMIT 1", [site]).fetchone()
    result["failing_last_error"] = f"{row[0]}: {row[1]} ({row[2]} attempts)" if row else None
    return result


def unsettled(db: sqlite_utils.Database, site: str) -> int:
    """URLs of `site` still to be stored (pending or failing): while any is, the walk's
    shortcuts are off and its list validators are not saved."""
    return db.execute("SELECT count(*) FROM frontier WHERE site = ? AND state IN ('pending', 'failing')",
                      [site]).fetchone()[0]
