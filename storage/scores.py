"""Relevance scores of archived articles: read articles for re-scoring, write scores back.

`talentwatch classify` reads the articles in batches (bulletins before their
items, so an item can lean on its issue's region) and writes each batch's
scores in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlite_utils
from talentwatch.core.records import Article
from talentwatch.storage.articles import article_from_row, article_row
from talentwatch.storage.cells import json_cell
from talentwatch.storage.db import transaction

RELEVANCE_COLUMNS = ("talent", "score", "topics", "matched_terms", "region", "incentives", "deadline")
_READ = ("id", "url", "site", "title", "published", "source", "author", "text", "attachments",
         "parent_url", "talent")


def _which(everything: bool) -> str:
    return "" if everything else " AND talent IS NULL"


def count_to_score(db: sqlite_utils.Database, everything: bool) -> int:
    """How many articles to_score yields: all, or those never classified."""
    return db.execute(f"SELECT count(*) FROM articles WHERE 1{_which(everything)}").fetchone()[0]


def to_score(db: sqlite_utils.Database, everything: bool,
             batch: int) -> Iterator[list[tuple[int, Article]]]:
    """(article id, Article with its current `talent`) pairs, `batch` at a time, read as needed."""
    # bulletins (no parent) first, so their items can lean on the region
    for pass_sql in ("parent_url IS NULL", "parent_url IS NOT NULL"):
        last_id = 0
        while rows := list(db.query(
                f"SELECT {', '.join(_READ)} FROM articles WHERE id > ? AND {pass_sql}{_which(everything)}"
                " ORDER BY id LIMIT ?", [last_id, batch])):
            yield [(row["id"], article_from_row(row)) for row in rows]
            last_id = rows[-1]["id"]


def region_of(db: sqlite_utils.Database, url: str) -> dict[str, str]:
    """The region of the article archived under exactly `url` (empty when unknown)."""
    found = db.execute("SELECT region FROM articles WHERE url = ?", [url]).fetchone()
    return json_cell(found[0], {}) if found else {}


def save_scores(db: sqlite_utils.Database, scored: list[tuple[int, Article]]) -> None:
    """Write the relevance fields of each (article id, Article), all in one transaction."""
    sets = ", ".join(f"{c} = ?" for c in RELEVANCE_COLUMNS)
    with transaction(db):
        for article_id, article in scored:
            values = article_row(article)
            db.execute(f"UPDATE articles SET {sets} WHERE id = ?",
                       [*(values[c] for c in RELEVANCE_COLUMNS), article_id])
