"""End to end on a local portal (real HTTP on 127.0.0.1, crawls in subprocesses):
reposts and mirrors join the original's cluster, an unchanged recrawl fetches no
article, a new article costs one article request, and a re-check finds an edit
(version 2 with a diff), a withdrawal (404) and a 5xx that is not one."""

from __future__ import annotations

import html
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from talentwatch.cli.demo_portal.portal import build_site, load_articles
from talentwatch.storage.schema import open_archive

from tests.conftest import run_cli
from tests.dedupe_texts import (
    EDITED,
    ORIGINAL,
    ORIGINAL_TITLE,
    OTHER,
    OTHER_TITLE,
    SIBLING,
    SIBLING_TITLE,
    mirror,
    repost_text,
)
from tests.portal_server import Hit, serve_counting

GOV_PATTERN = r"/gov/rcgz/content/post_\d+\.html$"


def gov_articles(edited: bool = False, extra: list[dict] | None = None) -> list[dict]:
    ours = [
        {"id": 501, "title": ORIGINAL_TITLE, "date": "2026-03-01 09:00", "source": "白石县委组织部",
         "author": "何青", "paragraphs": EDITED if edited else ORIGINAL},
        {"id": 502, "title": OTHER_TITLE, "date": "2026-02-20 10:00", "source": "白石县委组织部",
         "author": "罗川", "paragraphs": OTHER},
        {"id": 503, "title": SIBLING_TITLE, "date": "2026-02-10 15:30", "source": "白石县人社局",
         "author": "苏禾", "paragraphs": SIBLING},
    ]
    return load_articles() + ours + (extra or [])


def _page(title: str, body: list[str], header: str, footer: str, info: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>\n" for p in body)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body><div class="top">{header}</div><div class="main"><h1>{html.escape(title)}</h1>'
            f'<div class="info">{info}</div><div class="content">{paragraphs}</div></div>'
            f'<div class="bottom">{footer}</div></body></html>')


def _list(links: list[tuple[str, str, str]]) -> str:
    items = "".join(f'<li><a href="{href}">{html.escape(t)}</a><span>{d}</span></li>' for href, t, d in links)
    return f'<html><head><meta charset="utf-8"><title>列表</title></head><body><ul>{items}</ul></body></html>'


def build_copies(root: Path, base: str) -> None:
    """An aggregator repost (header, footer, 原文链接) and a traditional+pinyin mirror."""
    original_url = base + "gov/rcgz/content/post_501.html"
    agg = root / "agg" / "news" / "20260302"
    agg.mkdir(parents=True)
    body = repost_text(original_url)
    (agg / "8812.html").write_text(_page(
        ORIGINAL_TITLE, body[3:], "政讯汇览网 首页 地方动态 人事任免 专题", "政讯汇览网 版权所有",
        "发布时间：2026-03-02 来源：白石县委组织部 作者：佚名"), encoding="utf-8")
    (root / "agg" / "index.html").write_text(
        _list([("news/20260302/8812.html", ORIGINAL_TITLE, "2026-03-02")]), encoding="utf-8")
    mirrored = mirror([ORIGINAL_TITLE] + ORIGINAL)
    (root / "mirror" / "a").mkdir(parents=True)
    (root / "mirror" / "a" / "20260303_77.html").write_text(_page(
        mirrored[0], mirrored[1:], "新聞鏡像 首頁", "鏡像站", "發佈時間：2026-03-03"), encoding="utf-8")
    (root / "mirror" / "index.html").write_text(
        _list([("a/20260303_77.html", mirrored[0], "2026-03-03")]), encoding="utf-8")


def crawl(config: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli("crawl", *args, config=config)


def articles_hit(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if "/content/" in h.path or "/news/" in h.path or "/a/" in h.path]


def lists_hit(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if h.path.endswith(("/index.html",)) or "/index_" in h.path]


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("portal")
    build_site(root / "gov", gov_articles())
    with serve_counting(root) as (base, traffic):
        build_copies(root, base)
        config = root / "config.yaml"
        config.write_text(yaml.safe_dump({
            "database": str(root / "archive.db"),
            "crawl": {"autothrottle": False, "extract_workers": 1, "retries": 0, "obey_robots": False,
                      "timeout": 10},
            "sites": [
                {"name": "gov", "start_urls": [base + "gov/rcgz/index.html"], "article_pattern": GOV_PATTERN,
                 "delay": 0, "max_list_pages": 10},
                {"name": "agg", "start_urls": [base + "agg/index.html"],
                 "article_pattern": r"/agg/news/\d+/\d+\.html$", "delay": 0},
                {"name": "mirror", "start_urls": [base + "mirror/index.html"],
                 "article_pattern": r"/mirror/a/\d+_\d+\.html$", "delay": 0},
            ],
        }, allow_unicode=True), encoding="utf-8")
        steps: dict[str, list[Hit]] = {}

        mark = traffic.mark()
        crawl(config)
        steps["first"] = traffic.since(mark)

        mark = traffic.mark()
        crawl(config)
        steps["unchanged"] = traffic.since(mark)

        # a new article on top of the list
        time.sleep(1.1)  # Last-Modified has one-second resolution
        new = {"id": 3107, "title": "青禾县新建三家人才驿站", "date": "2026-11-20 09:00",
               "source": "青禾县委组织部", "author": "林晓舟", "paragraphs": [
                   "近日，青禾县在县城、工业园区和高铁新区各建成一家人才驿站，为来青禾考察、求职的各类人才提供最长七天的免费住宿。",
                   "驿站同时提供政策咨询、岗位推介和创业指导服务，县委组织部将根据运行情况在各乡镇逐步推开。"]}
        build_site(root / "gov", gov_articles(extra=[new]))
        mark = traffic.mark()
        crawl(config)
        steps["one_new"] = traffic.since(mark)

        # the original is edited, one article withdrawn, one answers 500
        time.sleep(1.1)
        build_site(root / "gov", gov_articles(edited=True, extra=[new]))
        edited = root / "gov" / "rcgz" / "content" / "post_501.html"
        now = time.time()
        os.utime(edited, (now, now))  # an edit changes the file's time, as on a real server
        (root / "gov" / "rcgz" / "content" / "post_3103.html").unlink()
        traffic.forced["/gov/rcgz/content/post_3104.html"] = 500
        mark = traffic.mark()
        steps["recheck_output"] = crawl(config, "--recheck").stdout
        steps["recheck"] = traffic.since(mark)
        yield {"db": open_archive(root / "archive.db"), "base": base, "steps": steps, "config": config}


def _row(db, url_tail: str) -> dict:
    rows = list(db.query("SELECT * FROM articles WHERE url LIKE ?", ["%" + url_tail]))
    assert len(rows) == 1, url_tail
    return rows[0]


def test_repost_and_mirror_join_the_original(portal):
    db = portal["db"]
    original = _row(db, "/gov/rcgz/content/post_501.html")
    repost = _row(db, "/agg/news/20260302/8812.html")
    copy = _row(db, "/mirror/a/20260303_77.html")
    assert original["duplicate_of"] is None
    assert repost["duplicate_of"] == original["id"]
    assert copy["duplicate_of"] == original["id"]
    assert repost["cluster_id"] == copy["cluster_id"] == original["cluster_id"]
    # the same office's other notice (same template, different story) stays apart
    sibling = _row(db, "/gov/rcgz/content/post_503.html")
    assert sibling["cluster_id"] != original["cluster_id"] and sibling["duplicate_of"] is None
    # one `new` per story: the copies are `duplicate` events that name the story
    kinds = [r["kind"] for r in db.query(
        "SELECT kind FROM events WHERE cluster_id = ? ORDER BY id", [original["cluster_id"]])]
    assert kinds.count("new") == 1 and kinds.count("duplicate") == 2


def test_export_names_the_original_by_url(portal):
    from talentwatch.storage.export import export_records

    records = {r["url"]: r for r in export_records(portal["db"])}
    repost = records[portal["base"] + "agg/news/20260302/8812.html"]
    assert repost["duplicate_of"] == portal["base"] + "gov/rcgz/content/post_501.html"
    assert records[portal["base"] + "gov/rcgz/content/post_501.html"]["version"] == 2


def test_first_crawl_fetched_every_article(portal):
    first = articles_hit(portal["steps"]["first"])
    assert len({h.path for h in first}) == 11  # 9 on the portal, 1 repost, 1 mirror
    assert all(h.status == 200 for h in first)


def test_unchanged_recrawl_fetches_no_article(portal):
    hits = portal["steps"]["unchanged"]
    assert articles_hit(hits) == []
    assert hits, "the list pages were not asked at all"
    assert all(h.conditional and h.status == 304 for h in hits), hits
    # only the first page of each list: a 304 there says the older pages are unchanged too
    assert sorted(h.path for h in hits) == ["/agg/index.html", "/gov/rcgz/index.html", "/mirror/index.html"]
    stored = {r["url"]: r for r in portal["db"].query("SELECT * FROM list_pages")}
    first = stored[portal["base"] + "gov/rcgz/index.html"]
    assert first["etag"] and first["last_modified"] and first["site"] == "gov"


def test_new_article_costs_one_article_request(portal):
    hits = portal["steps"]["one_new"]
    assert [h.path for h in articles_hit(hits)] == ["/gov/rcgz/content/post_3107.html"]
    gov_lists = sorted(h.path for h in lists_hit(hits) if h.path.startswith("/gov/"))
    # page 1 has the new item; page 2 holds only known ones, so page 3 is never read
    assert gov_lists == ["/gov/rcgz/index.html", "/gov/rcgz/index_1.html"]


def test_edit_makes_version_two_with_a_diff(portal):
    db = portal["db"]
    original = _row(db, "/gov/rcgz/content/post_501.html")
    assert original["version"] == 2 and "100万元" in original["text"]
    v1, v2 = db.query("SELECT * FROM versions WHERE article_id = ? ORDER BY version", [original["id"]])
    assert "80万元" in v1["text"] and v1["diff"] is None
    assert "-" in v2["diff"] and "+" in v2["diff"] and "100万元" in v2["diff"]
    (event,) = db.query("SELECT * FROM events WHERE article_id = ? AND kind = 'changed'", [original["id"]])
    details = json.loads(event["details"])
    assert any(s["old"] == "8" and s["new"] == "10" for s in details["spans"])


def test_recheck_is_conditional_and_unchanged_pages_get_no_version(portal):
    db = portal["db"]
    hits = articles_hit(portal["steps"]["recheck"])
    assert hits and all(h.conditional for h in hits)
    assert {h.status for h in hits} <= {200, 304, 404, 500}
    # pages whose text did not change: no second version, even when refetched
    assert db.execute("SELECT COUNT(*) FROM articles WHERE version > 1").fetchone()[0] == 1


def test_404_on_recheck_is_a_withdrawal(portal):
    db = portal["db"]
    gone = _row(db, "/gov/rcgz/content/post_3103.html")
    assert gone["status"] == "withdrawn" and gone["http_status"] == 404 and gone["text"]
    (event,) = db.query("SELECT * FROM events WHERE article_id = ? AND kind = 'removed'", [gone["id"]])
    assert json.loads(event["details"]) == {"http_status": 404}


def test_5xx_on_recheck_is_not_a_withdrawal(portal):
    db = portal["db"]
    hits = [h for h in portal["steps"]["recheck"] if h.path.endswith("post_3104.html")]
    assert [h.status for h in hits] == [500]
    flaky = _row(db, "/gov/rcgz/content/post_3104.html")
    assert flaky["status"] == "active"
    assert db.execute("SELECT COUNT(*) FROM events WHERE kind = 'removed'").fetchone()[0] == 1
