"""Crawling real local portals end to end: list pages, pagination, GBK, re-crawls, failures."""

from __future__ import annotations

import http.server
import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from talentwatch.cli.demo_portal.portal import build_site, serve

from tests.conftest import CRAWL, export_jsonl, run_cli, write_config
from tests.portal_server import serve_counting

pytestmark = pytest.mark.slow(seconds=16)

PATTERN = r"/rcgz/content/post_\d+\.html$"


def three_key_site(base_url: str, name: str = "青禾组工网") -> dict:
    return {"name": name, "start_urls": [base_url + "rcgz/index.html"], "article_pattern": PATTERN}


def fast_site(base_url: str) -> dict:
    # no politeness delay towards our own test server
    return three_key_site(base_url) | {"delay": 0}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gbk_site_with_three_keys_is_crawled_completely(tmp_path: Path, gbk_portal) -> None:
    base_url, articles = gbk_portal
    # the site has its three keys alone; the crawl-wide delay spares our own server the wait
    config = write_config(tmp_path / "config.yaml", [three_key_site(base_url)],
                          crawl={**CRAWL, "delay": 0})
    result = run_cli("crawl", config=config)
    assert "青禾组工网" in result.stdout

    records = {r["url"]: r for r in export_jsonl(config)}
    # both list pages were followed: every article of the portal is in the archive
    assert set(records) == {base_url + a["path"] for a in articles}
    for article in articles:
        record = records[base_url + article["path"]]
        assert record["title"] == article["title"]
        # the list gives the day, the page the time: ISO 8601 in Asia/Shanghai
        assert record["published"] == f"{article['date'].replace(' ', 'T')}:00+08:00"
        assert record["site"] == "青禾组工网"
        for paragraph in article["paragraphs"]:
            assert paragraph in record["text"]
    # 喆 is in GBK but not in GB2312: the page must have been read as GB18030
    assert any(r["author"] == "钱喆" for r in records.values())
    assert not any("\ufffd" in r["text"] for r in records.values())


@pytest.mark.parametrize("where", ["crawl", "site"])
def test_requests_to_a_site_are_spaced_by_its_delay(tmp_path: Path, where: str) -> None:
    """crawl.delay for a site that sets none; a site's own delay wins over it."""
    site = tmp_path / "site"
    build_site(site)
    with serve_counting(site) as (base_url, traffic):
        entry = three_key_site(base_url) | ({"delay": 0.25} if where == "site" else {})
        crawl = {**CRAWL, "delay": 0.25 if where == "crawl" else 5}
        run_cli("crawl", config=write_config(tmp_path / "config.yaml", [entry], crawl=crawl))
    gaps = [b - a for a, b in pairwise(traffic.arrived_at)]
    assert len(gaps) >= 8
    # Scrapy waits between 0.5 and 1.5 times the delay, at random; arrivals are seen
    # less evenly than requests leave (a busy machine), so the bounds keep a margin
    assert min(gaps) >= 0.05  # no two requests at once
    # 0.25 s on average: not the default 1 s, nor the crawl's 5 s that the site overrides
    assert 0.7 * 0.25 <= sum(gaps) / len(gaps) < 0.7


def test_recrawl_adds_no_duplicates(tmp_path: Path, portal) -> None:
    base_url, articles = portal
    config = write_config(tmp_path / "config.yaml", [fast_site(base_url)])
    run_cli("crawl", config=config)
    run_cli("crawl", config=config)
    db = sqlite3.connect(tmp_path / "archive.db")
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == len(articles)
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'new'").fetchone()[0] == len(articles)
    runs = db.execute("SELECT site, status, new_articles, finished FROM crawl_runs ORDER BY id").fetchall()
    assert [(r[0], r[1], r[2]) for r in runs] == [("青禾组工网", "ok", len(articles)),
                                                   ("青禾组工网", "ok", 0)]
    assert all(r[3] for r in runs)


# a page that moved, its old address left as a stub that sends visitors on: in UTF-8, in
# GBK, and in UTF-16 (whose bytes spell no ASCII word)
REFRESH_STUBS = {
    "utf-8": ('<meta http-equiv="Refresh" content="0; url={to}">', "utf-8"),
    "gbk": ('<meta charset="gbk"><meta http-equiv="REFRESH" content="0;url={to}">', "gbk"),
    "utf-16": ('<meta http-equiv="refresh" content="0;url={to}">', "utf-16"),
}


@pytest.mark.parametrize("stub", list(REFRESH_STUBS))
def test_a_meta_refresh_stub_leads_to_the_moved_article(tmp_path: Path, stub: str) -> None:
    site = tmp_path / "site"
    articles = build_site(site)
    moved = articles[0]
    old = site / moved["path"]
    (site / "rcgz" / "moved").mkdir()
    (site / "rcgz" / "moved" / old.name).write_bytes(old.read_bytes())
    tag, encoding = REFRESH_STUBS[stub]
    old.write_bytes(f"<html><head>{tag.format(to='../moved/' + old.name)}<title>页面已迁移</title>"
                    "</head><body><p>本页面已迁移，正在跳转。</p></body></html>".encode(encoding))
    with serve(site) as base_url:
        config = write_config(tmp_path / "config.yaml", [fast_site(base_url)])
        run_cli("crawl", config=config)
    records = {r["url"]: r for r in export_jsonl(config)}
    record = records[base_url + "rcgz/moved/" + old.name]
    assert record["title"] == moved["title"]
    assert moved["paragraphs"][0] in record["text"]
    assert base_url + moved["path"] not in records  # the stub itself is not an article
    assert not any("正在跳转" in r["text"] for r in records.values())


def test_max_list_pages_limits_pagination(tmp_path: Path, portal) -> None:
    base_url, articles = portal
    site = fast_site(base_url) | {"max_list_pages": 1}
    config = write_config(tmp_path / "config.yaml", [site])
    run_cli("crawl", config=config)
    # the first list page holds the four newest articles
    newest = sorted(articles, key=lambda a: a["date"], reverse=True)[:4]
    assert {r["url"] for r in export_jsonl(config)} == {base_url + a["path"] for a in newest}


def test_unreachable_site_is_reported_and_others_still_crawl(tmp_path: Path, portal) -> None:
    base_url, articles = portal
    dead = {"name": "dead", "start_urls": [f"http://127.0.0.1:{closed_port()}/list/index.html"],
            "article_pattern": PATTERN}
    config = write_config(tmp_path / "config.yaml", [dead, fast_site(base_url)])
    result = run_cli("crawl", config=config)
    assert result.returncode == 0
    assert "FAILED" in result.stdout
    assert "dead" in result.stderr and "Connection" in result.stderr
    assert "Traceback" not in result.stderr  # one line per failure, not a stack
    assert len(export_jsonl(config)) == len(articles)
    db = sqlite3.connect(tmp_path / "archive.db")
    status = dict(db.execute("SELECT site, status FROM crawl_runs").fetchall())
    assert status == {"dead": "failed", "青禾组工网": "ok"}


def test_every_site_failing_exits_nonzero(tmp_path: Path) -> None:
    dead = {"name": "dead", "start_urls": [f"http://127.0.0.1:{closed_port()}/"],
            "article_pattern": PATTERN}
    config = write_config(tmp_path / "config.yaml", [dead])
    result = run_cli("crawl", config=config, check=False)
    assert result.returncode == 1
    assert "every site failed" in result.stderr


def test_broken_article_is_logged_with_its_url_and_skipped(tmp_path: Path) -> None:
    site_dir = tmp_path / "site"
    articles = build_site(site_dir)
    broken = site_dir / articles[0]["path"]
    broken.unlink()  # the list still links to it: a 404
    with serve(site_dir) as base_url:
        config = write_config(tmp_path / "config.yaml", [fast_site(base_url)])
        result = run_cli("crawl", config=config)
    assert base_url + articles[0]["path"] in result.stderr
    assert len(export_jsonl(config)) == len(articles) - 1
    db = sqlite3.connect(tmp_path / "archive.db")
    errors, messages = db.execute("SELECT errors, error_messages FROM crawl_runs").fetchone()
    assert errors == 1 and articles[0]["path"] in json.loads(messages)[0]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Iterator[tuple[str, list[dict], Path]]:
    """The demo portal crawled once, for the tests that only read the archive: (URL, articles, config)."""
    tmp = tmp_path_factory.mktemp("crawled")
    articles = build_site(tmp / "site")
    with serve(tmp / "site") as base_url:
        config = write_config(tmp / "config.yaml", [fast_site(base_url)])
        run_cli("crawl", config=config)
        yield base_url, articles, config


def test_search_finds_two_character_words(crawled) -> None:
    base_url, articles, config = crawled
    hits = [json.loads(line) for line in
            run_cli("search", "人才", "--json", config=config).stdout.splitlines()]
    expected = {base_url + a["path"] for a in articles
                if "人才" in a["title"] + "".join(a["paragraphs"])}
    assert {h["url"] for h in hits} == expected
    assert 0 < len(expected) < len(articles)
    one = run_cli("search", "安家费", "--json", config=config).stdout.splitlines()
    assert len(one) == 1 and "英才计划" in json.loads(one[0])["title"]


def test_export_csv_has_the_promised_columns(crawled) -> None:
    _, _, config = crawled
    header = run_cli("export", "--format", "csv", config=config).stdout.splitlines()[0]
    for column in ("url", "site", "title", "published", "source", "author", "text",
                   "first_seen", "last_seen"):
        assert column in header.split(",")


def test_robots_txt_is_obeyed_and_user_agent_is_honest(tmp_path: Path) -> None:
    site_dir = tmp_path / "site"
    articles = build_site(site_dir)
    forbidden = articles[1]["path"]
    (site_dir / "robots.txt").write_text(f"User-agent: *\nDisallow: /{forbidden}\n")
    seen_agents: list[tuple[str, str | None]] = []

    class Recording(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(site_dir), **kwargs)

        def log_message(self, *args) -> None:
            seen_agents.append((self.path, self.headers.get("User-Agent")))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}/"
        config = write_config(tmp_path / "config.yaml", [fast_site(base_url)])
        run_cli("crawl", config=config)
    finally:
        server.shutdown()
        server.server_close()
    urls = {r["url"] for r in export_jsonl(config)}
    assert base_url + forbidden not in urls
    assert len(urls) == len(articles) - 1
    assert "/" + forbidden not in [path for path, _ in seen_agents]
    assert seen_agents[0][0] == "/robots.txt"
    assert all(agent.startswith("talentwatch/") for _, agent in seen_agents)
