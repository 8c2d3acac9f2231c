"""Edits become versions with diffs; cosmetic changes do not; a failed write
leaves the previous version intact; withdrawals are recorded once."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import talentwatch.crawler.pipelines as pipelines
import talentwatch.storage.articles as articles
from talentwatch.core.records import Article
from talentwatch.storage.articles import save_article
from talentwatch.storage.crawlstate import due_for_recheck, mark_not_modified, mark_withdrawn
from talentwatch.storage.db import transaction
from talentwatch.storage.search import search

from tests.dedupe_texts import EDITED, ORIGINAL, ORIGINAL_TITLE, OTHER, OTHER_TITLE, mirror

URL = "https://www.baishi.gov.cn/rcgz/content/post_501.html"



def art(paragraphs: list[str], title: str = ORIGINAL_TITLE, url: str = URL, **kw) -> Article:
    return Article(url=url, site="baishi", title=title, text="\n".join(paragraphs),
                   published=kw.pop("published", "2026-03-01"), **kw)


def counts(db) -> tuple[int, int]:
    return (db.execute("SELECT COUNT(*) FROM versions").fetchone()[0],
            db.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def test_edit_makes_a_version_with_a_diff_and_a_changed_event(db):
    article_id, _ = save_article(db, art(ORIGINAL))
    assert save_article(db, art(EDITED)) == (article_id, "changed")
    v2 = next(db.query("SELECT * FROM versions WHERE article_id = ? AND version = 2", [article_id]))
    assert "-措施明确，对新引进的国家级领军人才，给予最高80万元" in v2["diff"]
    assert "+措施明确，对新引进的国家级领军人才，给予最高100万元" in v2["diff"]
    event = next(db.query("SELECT * FROM events WHERE kind = 'changed'"))
    assert event["version"] == 2
    spans = json.loads(event["details"])["spans"]
    assert {"op": "replace", "old": "8", "new": "10", "at": "军人才，给予最高"} in spans


def test_title_change_is_a_version(db):
    save_article(db, art(ORIGINAL))
    _, kind = save_article(db, art(ORIGINAL, title=ORIGINAL_TITLE.replace("80万元", "100万元")))
    assert kind == "changed"
    v2 = next(db.query("SELECT diff FROM versions WHERE version = 2"))
    assert "-标题：" in v2["diff"] and "+标题：" in v2["diff"]


@pytest.mark.parametrize("cosmetic", [
    lambda t: t.replace("近日", "浏览次数：1375 近日", 1),  # view counter
    lambda t: t + "\n页面生成时间：2026-03-09 10:22:31",  # render stamp
    lambda t: t.replace("，", ", ").replace("。", ". "),  # punctuation and spacing
    lambda t: "\n\n".join(t.splitlines()),  # paragraph spacing
])
def test_cosmetic_changes_make_no_version(db, cosmetic):
    original = "浏览次数：20 " + "\n".join(ORIGINAL)
    article_id, _ = save_article(db, art([original]))
    before = counts(db)
    assert save_article(db, art([cosmetic(original)])) == (article_id, None)
    assert counts(db) == before
    assert next(db.query("SELECT version FROM articles"))["version"] == 1


def test_a_crash_while_storing_a_version_leaves_the_previous_one_intact(db, monkeypatch):
    article_id, _ = save_article(db, art(ORIGINAL))
    before = counts(db)
    bands_before = db.execute("SELECT COUNT(*) FROM lsh_bands").fetchone()[0]

    def disk_full(*args, **kwargs):  # the last write of the transaction fails
        raise OSError("disk full")

    monkeypatch.setattr(articles, "index_article", disk_full)
    with pytest.raises(OSError):
        save_article(db, art(EDITED))
    row = next(db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
    assert row["version"] == 1 and "最高80万元安家" in row["text"] and "本文于发布后更新" not in row["text"]
    assert counts(db) == before
    assert db.execute("SELECT COUNT(*) FROM lsh_bands").fetchone()[0] == bands_before
    monkeypatch.undo()
    # the near-duplicate index still holds version 1: a mirror of it still matches
    copy, kind = save_article(db, art(mirror(ORIGINAL), url="https://mirror.example.net/a/1.html"))
    assert kind == "duplicate"
    # and the edit, tried again, goes through
    assert save_article(db, art(EDITED)) == (article_id, "changed")


def test_in_a_batch_a_failed_article_is_rolled_back_alone(db, monkeypatch):
    """A crawl commits its articles in batches: one failing write loses that article
    (all of it) and no other."""
    index = articles.index_article

    def full_for_the_second(db, article_id, title, *args, **kwargs):
        if "post_502" in title:
            raise OSError("disk full")
        index(db, article_id, title, *args, **kwargs)

    monkeypatch.setattr(articles, "index_article", full_for_the_second)
    with transaction(db):
        save_article(db, art(ORIGINAL, title="post_501"))
        with pytest.raises(OSError):
            with transaction(db):  # as the archive pipeline writes each article of a batch
                save_article(db, art(EDITED, title="post_502", url=URL.replace("501", "502")))
        save_article(db, art(mirror(ORIGINAL), title="post_503", url=URL.replace("501", "503")))
    stored = [r["title"] for r in db.query("SELECT title FROM articles ORDER BY id")]
    assert stored == ["post_501", "post_503"]
    assert counts(db) == (2, 2)  # no version, no event of the lost one
    for table in ("search_keys", "lsh_bands"):  # nor a trace in the search or near-duplicate index
        assert db.execute(f"SELECT COUNT(*) FROM {table} WHERE article_id NOT IN"
                          " (SELECT id FROM articles)").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM search_keys").fetchone()[0] == 2


def test_a_batchs_index_rows_written_last_hold_only_the_articles_stored(db, monkeypatch):
    """The crawl writes a batch's search index rows together, before its commit: an article
    rolled back alone leaves none, and a failure writing them stores nothing of the batch."""
    settle = pipelines.settle_stored

    def fails_for_the_second(db, url):
        if "post_502" in url:
            raise ValueError("a fault of this record")
        settle(db, url)

    monkeypatch.setattr(pipelines, "settle_stored", fails_for_the_second)
    writes: list = []
    with transaction(db):
        pipelines.store_record(db, art(ORIGINAL), index_later=writes)
        with pytest.raises(ValueError):
            pipelines.store_record(db, art(EDITED, url=URL.replace("501", "502")), index_later=writes)
        pipelines.store_record(db, art(OTHER, title=OTHER_TITLE, url=URL.replace("501", "503")),
                               index_later=writes)
        assert db.execute("SELECT COUNT(*) FROM search_keys").fetchone()[0] == 0  # not yet
        pipelines.write_index(writes)
    found = {hit["url"] for hit in search(db, "白石县", limit=10)}  # in all three texts
    assert found == {URL, URL.replace("501", "503")}
    assert search(db, "补贴标准调整为", limit=10) == []  # only the lost article's text says so
    assert db.execute("SELECT COUNT(*) FROM search_keys").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM articles_fts").fetchone()[0] == 2

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    writes = []
    with pytest.raises(sqlite3.OperationalError), transaction(db):
        pipelines.store_record(db, art(EDITED, url=URL.replace("501", "504")), index_later=writes)
        pipelines.write_index([broken, *writes])
    assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 2  # nothing of that batch


def test_withdrawal_is_recorded_once_and_a_return_restores(db):
    article_id, _ = save_article(db, art(ORIGINAL))
    assert mark_withdrawn(db, URL, 404) == "removed"
    assert mark_withdrawn(db, URL, 410) is None  # still gone: no second event
    row = next(db.query("SELECT * FROM articles"))
    assert row["status"] == "withdrawn" and row["text"]  # kept in the archive
    assert [e["kind"] for e in db.query("SELECT kind FROM events ORDER BY id")] == ["new", "removed"]
    assert save_article(db, art(ORIGINAL)) == (article_id, "changed")
    assert next(db.query("SELECT status FROM articles"))["status"] == "active"
    last = next(db.query("SELECT details FROM events ORDER BY id DESC LIMIT 1"))
    assert json.loads(last["details"]) == {"restored": True}


def test_revisit_policy_picks_young_articles_not_checked_lately(db):
    now = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    save_article(db, art(ORIGINAL, url=URL, published="2026-03-08"))
    save_article(db, art(["很久以前的通知" * 20], url=URL.replace("501", "400"), published="2025-12-01"))
    db.execute("UPDATE articles SET checked_at = ?", [(now - timedelta(hours=30)).isoformat()])
    due = due_for_recheck(db, "baishi", max_age_days=7, every_hours=24, now=now)
    assert [d["url"] for d in due] == [URL]
    mark_not_modified(db, URL)  # a 304 counts as checked
    assert due_for_recheck(db, "baishi", max_age_days=7, every_hours=24) == []
    assert len(due_for_recheck(db, "baishi", everything=True)) == 2
    assert due_for_recheck(db, "baishi") == []  # no policy, no --recheck: nothing
