"""`talentwatch classify`: re-score archived articles with the configured topics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import click
from talentwatch.cli.app import State, main, pass_state
from talentwatch.cli.progress import progress
from talentwatch.core.records import Article, Attachment

RELEVANCE_COLUMNS = ("talent", "score", "topics", "matched_terms", "region", "incentives", "deadline")
_READ = ("id", "url", "site", "title", "published", "source", "author", "text", "attachments",
         "parent_url", "talent")


def _article(row: dict[str, Any]) -> Article:
    attachments = []
    for item in json.loads(row.get("attachments") or "[]"):
        if isinstance(item, dict):
            attachments.append(Attachment(**{k: v for k, v in item.items()
                                             if k in Attachment.__dataclass_fields__}))
    return Article(url=row["url"], site=row["site"], title=row["title"] or "",
                   published=row["published"], source=row["source"], author=row["author"],
                   text=row["text"] or "", attachments=attachments, parent_url=row["parent_url"])


def _parent_hint(db, parent_url: str | None, cache: dict[str, str]) -> tuple[str, ...]:
    """A bulletin item's region falls back on the issue it came from."""
    if not parent_url:
        return ()
    if parent_url not in cache:
        found = db.execute("SELECT region FROM articles WHERE url = ?", [parent_url]).fetchone()
        region = json.loads(found[0]) if found and found[0] else {}
        cache[parent_url] = "".join(region.get(k, "") for k in ("province", "city"))
    return (cache[parent_url],) if cache[parent_url] else ()


def _batches(db, only_new: str, batch: int) -> Iterator[list[dict[str, Any]]]:
    """The articles to score, `batch` at a time, read as they are needed."""
    # bulletins (no parent) first, so their items can lean on the region
    for pass_sql in ("parent_url IS NULL", "parent_url IS NOT NULL"):
        last_id = 0
        while rows := list(db.query(
                f"SELECT {', '.join(_READ)} FROM articles WHERE id > ? AND {pass_sql}{only_new}"
                " ORDER BY id LIMIT ?", [last_id, batch])):
            yield rows
            last_id = rows[-1]["id"]


@main.command("classify")
@click.option("--all", "everything", is_flag=True,
              help="re-score every article (default: only those never classified)")
@click.option("--batch", default=500, show_default=True, help="articles per transaction")
@pass_state
def classify_cmd(state: State, everything: bool, batch: int) -> None:
    """Score archived articles for talent policy, region, incentives and deadline.

    Run with --all after changing the relevance topics in config.yaml.
    """
    # here, not at the top: jieba, OpenCC, numpy and datasketch load only for this command
    from talentwatch.relevance import Classifier
    from talentwatch.storage.archive import article_row
    from talentwatch.storage.db import transaction
    from talentwatch.storage.schema import open_archive

    config = state.config
    db = open_archive(config.database)
    classifier = Classifier(config.relevance)
    only_new = "" if everything else " AND talent IS NULL"
    done = became = dropped = talent = 0
    hints: dict[str, str] = {}
    total = db.execute(f"SELECT count(*) FROM articles WHERE 1{only_new}").fetchone()[0]
    for rows in progress(_batches(db, only_new, batch), total=total, description="classifying", size=len):
        with transaction(db):
            for row in rows:
                article = _article(row)
                classifier.classify(article, hints=_parent_hint(db, row["parent_url"], hints))
                values = article_row(article)
                db.execute(
                    f"UPDATE articles SET {', '.join(f'{c} = ?' for c in RELEVANCE_COLUMNS)}"
                    " WHERE id = ?", [*(values[c] for c in RELEVANCE_COLUMNS), row["id"]])
                old = None if row["talent"] is None else bool(row["talent"])
                if old is not None and old != article.talent:
                    became += article.talent
                    dropped += not article.talent
                talent += article.talent
                done += 1
    click.echo(f"classified {done} article(s), {talent} talent policy; "
               f"{became + dropped} changed talent status ({became} now talent, {dropped} no longer)")
