"""The crawl frontier end to end (real CLI in subprocesses, portals on 127.0.0.1, real
SQLite): failed articles are fetched by later crawls whatever the list pages say, a
404 is reported once as gone, a config change makes the walk read list pages afresh,
a walk cut at max_list_pages says so and --backfill reads on, articles come newest
first, and repeated failures are summarised."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from talentwatch.cli.demo_portal.portal import build_site
from talentwatch.storage import frontier
from talentwatch.storage.schema import open_archive

from tests.conftest import run_cli
from tests.frontier_site import PATTERN, build_portal, make_articles, site_config, write_config
from tests.portal_server import serve_counting


def stored_urls(database: Path) -> set[str]:
    conn = sqlite3.connect(database)
    try:
        return {r[0] for r in conn.execute("SELECT url FROM articles")}
    finally:
        conn.close()


def site_status(config: Path) -> dict:
    return json.loads(run_cli("status", "--json", config=config).stdout)["sites"][0]


def article_hits(traffic, mark: int) -> list[str]:
    return [h.path for h in traffic.since(mark) if "/content/" in h.path]


def test_503_article_is_stored_by_a_later_crawl_although_no_list_shows_it(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles = build_portal(site, 8)
    failing = articles[2]  # on the first list page
    with serve_counting(site) as (base, traffic):
        config = write_config(tmp_path / "config.yaml", [site_config(base)])
        traffic.forced["/" + failing["path"]] = 503
        first = run_cli("crawl", config=config)
        assert "HTTP 503" in first.stderr
        expected = {base + a["path"] for a in articles} - {base + failing["path"]}
        assert stored_urls(tmp_path / "archive.db") == expected
        status = site_status(config)
        assert (status["pending"], status["walk_completed"]) == (1, True)

        # the server recovers, and the list pages no longer show the article at all
        build_site(site, [a for a in make_articles(8) if a["id"] != failing["id"]])
        del traffic.forced["/" + failing["path"]]
        mark = traffic.mark()
        run_cli("crawl", config=config)
        assert base + failing["path"] in stored_urls(tmp_path / "archive.db")
        assert article_hits(traffic, mark) == ["/" + failing["path"]]  # nothing else fetched again
        assert site_status(config)["pending"] == 0


def test_404_for_a_never_stored_article_is_reported_once_as_gone(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles = build_portal(site, 4)
    lost = "/" + articles[1]["path"]
    with serve_counting(site) as (base, traffic):
        config = write_config(tmp_path / "config.yaml", [site_config(base)])
        traffic.forced[lost] = 503
        run_cli("crawl", config=config)
        traffic.forced[lost] = 404
        second = run_cli("crawl", config=config)
        assert f"{base}{lost[1:]}: gone (HTTP 404), never stored" in second.stderr
        mark = traffic.mark()
        third = run_cli("crawl", config=config)
        assert "gone" not in third.stderr
        assert lost not in article_hits(traffic, mark)  # not asked again
        status = site_status(config)
        assert (status["gone"], status["pending"], status["failing"]) == (1, 0, 0)


def test_wrong_pattern_then_fixed_finds_every_article(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles = build_portal(site, 8)
    with serve_counting(site) as (base, traffic):
        config = write_config(tmp_path / "config.yaml",
                              [site_config(base, article_pattern=r"/rcgz/content/article_\d+\.html$")])
        run_cli("crawl", config=config)
        assert stored_urls(tmp_path / "archive.db") == set()
        write_config(config, [site_config(base, article_pattern=PATTERN)])
        mark = traffic.mark()
        run_cli("crawl", config=config)
        assert stored_urls(tmp_path / "archive.db") == {base + a["path"] for a in articles}
        # the list pages were read afresh, not asked conditionally
        assert not any(h.conditional for h in traffic.since(mark) if "index" in h.path)


def test_max_list_pages_raised_stores_the_rest_and_the_first_summary_said_it_stopped(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles = build_portal(site, 30)  # 8 list pages of 4
    with serve_counting(site) as (base, _):
        config = write_config(tmp_path / "config.yaml", [site_config(base, max_list_pages=2)])
        first = run_cli("crawl", config=config)
        assert "stopped at max_list_pages (2)" in first.stdout + first.stderr
        assert "crawl --backfill --site qinghe" in first.stdout + first.stderr
        assert len(stored_urls(tmp_path / "archive.db")) == 8
        write_config(config, [site_config(base, max_list_pages=10)])
        second = run_cli("crawl", config=config)
        assert stored_urls(tmp_path / "archive.db") == {base + a["path"] for a in articles}
        assert "stopped at max_list_pages" not in second.stdout + second.stderr


def test_backfill_reads_older_pages_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles = build_portal(site, 30)  # list pages index.html, index_1 … index_7
    with serve_counting(site) as (base, traffic):
        config = write_config(tmp_path / "config.yaml", [site_config(base, max_list_pages=2)])
        run_cli("crawl", config=config)
        assert site_status(config)["walk_stopped_at_limit"] is True
        first = run_cli("crawl", "--backfill", "--pages", "3", config=config)
        assert "older list pages remain" in first.stdout + first.stderr
        assert len(stored_urls(tmp_path / "archive.db")) == 20  # 2 + 3 pages of 4
        mark = traffic.mark()
        second = run_cli("crawl", "--backfill", "--site", "qinghe", config=config)
        lists = [h.path for h in traffic.since(mark) if "index" in h.path]
        assert lists == ["/rcgz/index_5.html", "/rcgz/index_6.html", "/rcgz/index_7.html"]  # resumed
        assert "the list has no older pages" in second.stdout + second.stderr
        assert stored_urls(tmp_path / "archive.db") == {base + a["path"] for a in articles}
        assert run_cli("crawl", "--pages", "3", config=config, check=False).returncode == 2


def _list_page(links: list[str]) -> str:
    items = "".join(f'<li><a href="{href}">通知{n}</a><span>2026-11-{20 - n % 19:02d}</span></li>'
                    for n, href in enumerate(links))
    return f'<html><head><meta charset="utf-8"><title>列表</title></head><body><ul>{items}</ul></body></html>'


def test_articles_come_newest_first_and_repeated_failures_are_summarised(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles = build_portal(site, 6)
    real = ["content/" + a["path"].rsplit("/", 1)[1] for a in articles]
    dead = [f"content/post_{9000 + n}.html" for n in range(40)]
    (site / "rcgz" / "index.html").write_text(_list_page(real + dead), encoding="utf-8")
    with serve_counting(site) as (base, traffic):
        config = write_config(tmp_path / "config.yaml", [site_config(base, max_list_pages=1)],
                              concurrency_per_domain=1)
        result = run_cli("crawl", config=config)
        fetched = [path for path in traffic.arrivals if "/content/" in path]
        # in list order, newest first: the six real articles are asked for before most of the
        # 40 dead links listed after them (downloads overlap, and on a loaded machine the
        # server's threads may log arrivals late, or one request may fail and wait for the
        # next run: five of six is the bar; asked for in reverse order, they would come last)
        early = {"/rcgz/" + p for p in real} & set(fetched[:23])
        assert len(early) >= 5, fetched
        named = {d for d in dead if d in result.stderr}
        assert len(named) == 3, result.stderr  # three examples and a count, not forty lines
        assert "37 more like this: article gone: HTTP 404" in result.stderr
        assert site_status(config)["gone"] == 40


def test_a_url_failing_again_and_again_shows_as_failing_and_is_retried_daily(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "archive.db")
    url = "http://127.0.0.1:9/rcgz/content/post_1.html"
    frontier.record_seen(db, "s", [frontier.Seen(url, "http://127.0.0.1:9/rcgz/index.html", 1, 0)])
    now = datetime.now(UTC)
    for attempt in range(1, frontier.FAILING_AFTER + 1):
        state = frontier.record_failure(db, url, "HTTP 503")
        assert state == ("failing" if attempt >= frontier.FAILING_AFTER else "pending")
    assert frontier.due(db, "s", now + timedelta(hours=23)) == []
    assert frontier.due(db, "s", now + timedelta(hours=25)) == [url]
    counts = frontier.counts(db, "s")
    assert counts["failing"] == 1 and "HTTP 503" in counts["failing_last_error"]
    db.close()
