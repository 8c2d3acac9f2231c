"""`talentwatch serve`: the web view over an archive crawled from a local portal, read in
headless Chromium (the DOM it builds, not pixels) and over HTTP.

One crawl and one server per module: the portal is crawled, one article edited and one
withdrawn, then re-checked, as a daemon would over days.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from talentwatch.cli.demo_portal.portal import build_site, serve
from talentwatch.core.records import Article
from talentwatch.storage.articles import save_article
from talentwatch.storage.schema import open_archive
from talentwatch.web.changes import changed_sentences
from talentwatch.web.plugin import tw_changes, tw_snippet

from tests.browser import CHROMIUM, Browser
from tests.conftest import run_cli, write_config

pytestmark = pytest.mark.slow(seconds=25)

ROOT = Path(__file__).resolve().parent.parent
needs_chromium = pytest.mark.skipif(not CHROMIUM, reason="the browser checks need Debian's chromium")

# Our own texts, in the register of city talent-office notices.
HOUSING_TITLE = "潮州市出台高层次人才安家补贴办法"
PAGES = [
    dict(id=4101, column="rcgz", title=HOUSING_TITLE, date="2026-03-12 09:00", source="潮州市委人才办",
         author="林晓舟", paragraphs=[
             "近日，广东省潮州市印发《高层次人才安家补贴办法》，进一步加大人才引进力度。",
             "办法明确，对新引进的博士研究生，一次性发放安家费30万元，并提供人才公寓免租入住三年。",
             "对全职引进的顶尖人才，每月给予生活补贴2万元，连续发放五年。",
         ]),
    dict(id=4102, column="rcgz", title="杭州市余杭区发布人才公寓申请指南", date="2026-04-02 10:00",
         source="余杭区人才办", author="周雨桐", paragraphs=[
             "浙江省杭州市余杭区发布人才公寓申请指南，符合条件的青年人才可申请入住人才公寓。",
             "未入住人才公寓的硕士研究生，每月给予1000至3000元租房补贴。",
         ]),
    dict(id=4103, column="rcgz", title="韶关市人才驿站启用 提供人才公寓和购房补贴", date="2026-05-20 15:30",
         source="韶关市委组织部", author="吴建国", paragraphs=[
             "广东省韶关市人才驿站近日启用，为来韶创业就业的青年人才提供人才公寓短期免费入住。",
             "在韶关市购买首套住房的博士研究生，给予购房补贴最高50万元。",
         ]),
    dict(id=4104, column="rcgz", title="潮州市2025年人才公寓配租公告", date="2025-06-01 08:30",
         source="潮州市住房和城乡建设局", author="孙立", paragraphs=[
             "广东省潮州市2025年第一批人才公寓共150套，面向全市高层次人才配租。",
             "申请人须在潮州市全职工作，且本人及配偶在潮州市无自有住房。",
         ]),
    # a repost of 4101 on the same portal a day later: it joins 4101's story
    dict(id=4106, column="rcgz", title="转载：" + HOUSING_TITLE, date="2026-03-13 11:00", source="潮州日报",
         author="陈默", paragraphs=[
             "近日，广东省潮州市印发《高层次人才安家补贴办法》，进一步加大人才引进力度。",
             "办法明确，对新引进的博士研究生，一次性发放安家费30万元，并提供人才公寓免租入住三年。",
             "对全职引进的顶尖人才，每月给予生活补贴2万元，连续发放五年。",
         ]),
    dict(id=4105, column="rcgz", title="县委组织部召开党建工作推进会", date="2026-02-10 14:00",
         source="县委组织部", author="赵一帆", paragraphs=[
             "2月9日，县委组织部召开党建工作推进会，总结去年基层党建工作，部署今年重点任务。",
             "会议要求，各级党组织要压实主体责任，推动基层党建工作提质增效。",
         ]),
]
EDITED = ("一次性发放安家费30万元", "一次性发放安家费50万元")
WITHDRAWN = 4105
REPOST = 4106
QUERIES = ["Latest talent-policy items", "Full-text search", "Offers by region and type", "Changes",
           "Reposts of an article"]
INTERNAL = ["minhash", "lsh_bands", "outbox", "jobs", "alert_cursors", "list_pages", "articles_fts",
            "search_keys", "search_meta"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 30) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Iterator[dict]:
    """The portal crawled, then one page edited and one removed, then re-checked."""
    tmp = tmp_path_factory.mktemp("serve")
    site = tmp / "site"
    pages = build_site(site, [dict(p) for p in PAGES])
    with serve(site) as base_url:
        config = write_config(tmp / "config.yaml", [{
            "name": "portal", "start_urls": [base_url + "rcgz/index.html"],
            "article_pattern": r"/rcgz/content/post_\d+\.html$", "delay": 0}])
        run_cli("crawl", config=config)
        edited = site / next(p["path"] for p in pages if p["id"] == 4101)
        edited.write_text(edited.read_text(encoding="utf-8").replace(*EDITED), encoding="utf-8")
        (site / next(p["path"] for p in pages if p["id"] == WITHDRAWN)).unlink()
        run_cli("crawl", "--recheck", config=config)
    urls = {p["id"]: base_url + p["path"] for p in pages}
    yield dict(config=config, path=tmp / "archive.db", urls=urls, tmp=tmp)


@pytest.fixture(scope="module")
def server(crawled) -> Iterator[dict]:
    tmp = crawled["tmp"]
    port = free_port()
    # a file, not a pipe: Datasette logs each refused statement at length, and a full
    # pipe nobody reads would stall the server
    log = open(tmp / "serve.log", "w+", encoding="utf-8")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "talentwatch", "--config", str(crawled["config"]),
                             "serve", "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if get(base + "/-/versions.json")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.seek(0)
            pytest.fail(f"serve did not start: {log.read()}")
        time.sleep(0.2)
    yield dict(crawled, base=base, db_url=f"{base}/archive", pid=proc.pid)
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Browser]:
    """One headless Chromium for the module's pages."""
    assert CHROMIUM
    chromium = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def dom(browser: Browser, url: str) -> str:
    """The page's DOM after its scripts ran, as headless Chromium builds it."""
    page = browser.dom(url)
    assert "<body" in page, page[:2000]
    return page


def rows(server, query: str, **params) -> list[dict]:
    status, body = get(f"{server['db_url']}/{query}.json?_shape=array&" + urllib.parse.urlencode(params))
    assert status == 200, body
    return json.loads(body)


def archive_rows(server, sql: str, *params) -> list[dict]:
    db = open_archive(server["path"])
    try:
        return [dict(r) for r in db.query(sql, list(params))]
    finally:
        db.close()


@needs_chromium
def test_index_lists_the_queries_first_and_no_internal_table(server, browser):
    page = dom(browser, server["base"] + "/")
    positions = [page.find(title) for title in QUERIES]
    assert all(p > 0 for p in positions), positions
    assert max(positions) < page.find("Browse")  # the questions before anything to browse
    for table in INTERNAL:
        assert f'/archive/{table}"' not in page, table
    # and the database page hides them too
    database = dom(browser, server["db_url"])
    for table in INTERNAL:
        assert f'href="/archive/{table}"' not in database, table


@needs_chromium
def test_articles_open_on_talent_items_with_facets_and_no_text_column(server, browser):
    index = dom(browser, server["base"] + "/")
    href = re.search(r'<a href="([^"]+)">Articles</a>', index).group(1)
    page = dom(browser, server["base"] + href.replace("&amp;", "&"))
    for facet in ("province", "city", "topics", "offer_types", "site", "talent", "status"):
        assert f'id="facet-{facet}"' in page, facet
    headers = re.findall(r'<th class="col-([\w-]+)', page)
    assert "text" not in headers and "title" in headers and "offers" in headers, headers
    # talent items only, newest first: every page but the party-building meeting
    titles = re.findall(r'class="article-title" href="/archive/articles/\d+">([^<]+)<', page)
    expected = [p["title"] for p in sorted(PAGES, key=lambda p: p["date"], reverse=True) if p["id"] != 4105]
    assert titles == expected
    assert "一次性50万元安家费（博士）" in page or "一次性50万元安家费" in page  # offers in words
    assert "每月2万元生活补贴" in page
    assert "最高50万元购房补贴" in page
    assert "2026-03-12 09:00" in page  # published, China time


@needs_chromium
def test_article_page_reads_like_an_article(server, browser):
    article = archive_rows(server, "SELECT id FROM articles WHERE url = ?", server["urls"][4101])[0]
    page = dom(browser, f"{server['db_url']}/articles/{article['id']}")
    title = re.search(r'<h1 class="tw-title"([^>]*)>([^<]*)</h1>', page)
    assert title.group(2) == HOUSING_TITLE
    assert 'data-lines="1"' in title.group(1) and 'data-fits="yes"' in title.group(1), title.group(1)
    body = re.findall(r"<p>([^<]+)</p>", page.split('class="tw-body"')[1].split("</section>")[0])
    assert [p.strip("\u3000 ") for p in body] == [p.replace(*EDITED) for p in PAGES[0]["paragraphs"]]
    assert "潮州市委人才办" in page and "广东省 潮州市" in page
    assert "一次性50万元安家费" in page  # the offers, in words
    assert "<del>30</del><ins>50</ins>" in page  # the version history shows the edit
    assert f'href="{server["urls"][4101]}"' in page  # the original page
    # where else it appeared: the repost, with its own article page
    repost = archive_rows(server, "SELECT id FROM articles WHERE url = ?", server["urls"][REPOST])[0]
    elsewhere = page.split('class="tw-members"')[1]
    assert f'href="/archive/articles/{repost["id"]}"' in elsewhere and "转载" in elsewhere


def test_search_returns_what_the_cli_returns(server):
    args = ["人才公寓", "--region", "广东", "--since", "2026-01"]
    cli = [json.loads(line)["url"] for line in
           run_cli("search", *args, "--json", config=server["config"]).stdout.splitlines()]
    assert cli == [server["urls"][4103], server["urls"][4101]] or \
        cli == [server["urls"][4101], server["urls"][4103]]
    found = rows(server, "full_text_search", q="人才公寓", region="广东", since="2026-01")
    assert [r["url"] for r in found] == cli
    assert all("【人才公寓】" in r["snippet"] for r in found)
    # and no rows, not an error page, for a malformed query or filter
    assert rows(server, "full_text_search", q="人才 NOT") == []
    assert rows(server, "full_text_search", q="人才", since="2026-13") == []


@needs_chromium
def test_search_page_in_a_browser_lists_the_same_articles(server, browser):
    cli = [json.loads(line)["url"] for line in run_cli(
        "search", "人才公寓", "--region", "广东", "--since", "2026-01", "--json",
        config=server["config"]).stdout.splitlines()]
    url = f"{server['db_url']}/full_text_search?" + urllib.parse.urlencode(
        {"q": "人才公寓", "region": "广东", "since": "2026-01"})
    page = dom(browser, url)
    assert re.findall(r'class="original" href="([^"]+)"', page) == cli
    for field in ("q", "since", "until", "region", "topic", "site", "talent_only"):
        assert f'name="{field}"' in page, field


@needs_chromium
def test_offers_by_region_in_wan_with_periods_apart(server, browser):
    page = dom(browser, f"{server['db_url']}/incentives_by_region?province=")
    assert "lowest 万元" in page and "highest 万元" in page
    # the SQL (and any comment in it) is not on the page, only behind "Edit SQL"
    assert 'id="sql-query"' not in page and 'id="sql-editor"' not in page
    found = {(r["city"], r["type"], r["period"]): (r["lowest 万元"], r["highest 万元"])
             for r in rows(server, "incentives_by_region", province="广东")}
    assert found[("潮州市", "安家费", "一次性")] == (50, 50)
    assert found[("潮州市", "生活补贴", "每月")] == (2, 2)
    assert found[("韶关市", "购房补贴", "一次性")] == (50, 50)  # 最高50万元: both ends filled
    assert all(low is not None and high is not None for low, high in found.values())
    zhejiang = rows(server, "incentives_by_region", province="浙江")
    assert [(r["type"], r["period"], r["lowest 万元"], r["highest 万元"]) for r in zhejiang] \
        == [("租房补贴", "每月", 0.1, 0.3)]


@needs_chromium
def test_changes_page_marks_the_differing_words(server, browser):
    page = dom(browser, f"{server['db_url']}/edits_and_withdrawals")
    assert "<del>30</del><ins>50</ins>" in page
    assert '<p class="change"><mark>' in page
    assert "连续发放五年" not in page  # unchanged sentences are left out
    kinds = {(r["kind"], r["url"]) for r in rows(server, "edits_and_withdrawals")}
    assert kinds == {("changed", server["urls"][4101]), ("removed", server["urls"][WITHDRAWN])}


def test_feeds_for_talent_items_and_for_a_search(server):
    talent = feedparser.parse(get(server["base"] + "/feed.atom")[1])
    assert not talent.bozo, talent.bozo_exception
    # one entry per story: the repost is part of its original's entry
    expected = [p for p in sorted(PAGES, key=lambda p: p["date"], reverse=True)
                if p["id"] not in (WITHDRAWN, REPOST)]
    assert [e.link for e in talent.entries] == [server["urls"][p["id"]] for p in expected]
    status, body = get(server["base"] + "/feed.atom?" + urllib.parse.urlencode(
        {"q": "人才公寓", "region": "广东"}))
    search = feedparser.parse(body)
    assert status == 200 and not search.bozo
    assert {e.link for e in search.entries} == {server["urls"][i] for i in (4101, 4103, 4104)}
    assert "50万元" in next(e for e in search.entries if e.link == server["urls"][4101]).content[0].value
    status, body = get(server["base"] + "/feed.atom?since=2026-13")
    assert status == 400 and body.count("\n") == 1 and "--since" in body


def test_feed_is_safe_with_hostile_rows(server):
    # a row as a hostile page could leave it: control characters, a javascript: original
    db = open_archive(server["path"])
    save_article(db, Article(url="https://bad.example.gov.cn/x.html", site="portal",
                             title="人才\x07夜校\x1b[31m 开课", published="2026-06-01",
                             original_url="javascript:alert(1)", text="人才夜校\x00开课\x0b说明"))
    db.execute("UPDATE articles SET talent = 1 WHERE url = 'https://bad.example.gov.cn/x.html'")
    db.conn.commit()
    db.close()
    status, body = get(server["base"] + "/feed.atom?" + urllib.parse.urlencode({"q": "夜校"}))
    feed = feedparser.parse(body)
    assert status == 200 and not feed.bozo, body[:500]
    assert [e.title for e in feed.entries] == ["人才夜校[31m 开课"]
    assert "javascript:" not in body and "\x07" not in body


def test_sql_functions_are_bounded():
    huge = "人才" * 5_000_000  # 10 million characters
    start = time.process_time()  # CPU seconds: a busy machine does not stretch them
    assert "【人才】" in tw_snippet("人才", huge)
    diff = "--- v1\n+++ v2\n@@\n-" + "甲乙丙丁。" * 200_000 + "\n+" + "乙丙丁甲。" * 200_000
    assert json.loads(tw_changes(diff))["changed_sentences"]
    assert time.process_time() - start < 2.0
    # one sentence changed in one number
    assert changed_sentences("@@\n-安家费30万元。其余不变。\n+安家费50万元。其余不变。") == [
        [("=", "安家费"), ("-", "30"), ("+", "50"), ("=", "万元。")]]


def test_a_huge_text_does_not_hold_the_server(server):
    # 10 million characters built inside SQLite, handed to each function: the function adds
    # next to nothing to what building the text costs SQLite itself. Counted in the server's
    # CPU seconds, which a busy machine does not stretch as it stretches the wall clock
    huge = "printf('%.*c', 10000000, '人')"
    stat = Path(f"/proc/{server['pid']}/stat")

    def cpu() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def seconds(expr: str) -> float:
        sql = urllib.parse.urlencode({"sql": f"select length({expr})"})
        start = cpu()
        status, body = get(f"{server['db_url']}.json?{sql}")
        assert status == 200, body
        return cpu() - start

    for function, text in (("tw_snippet('人才', {})", huge), ("tw_match({})", huge),
                           ("tw_changes({})", f"'-' || {huge} || char(10) || '+' || {huge} || '才'")):
        assert seconds(function.format(text)) < seconds(text) + 1.5, function
    assert get(server["base"] + "/-/versions.json")[0] == 200


@needs_chromium
def test_pages_name_cjk_fonts(server, browser):
    page = dom(browser, server["base"] + "/")
    css = re.search(r'<link rel="stylesheet" href="(/-/talentwatch\.css)"', page).group(1)
    status, text = get(server["base"] + css)
    assert status == 200
    for font in ("PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC"):
        assert font in text


def test_serve_refuses_writes_and_shows_new_articles(server):
    before = archive_rows(server, "SELECT count(*) AS n FROM articles")[0]["n"]
    for sql in ("DELETE FROM articles", "UPDATE articles SET title = 'x'", "DROP TABLE events",
                "INSERT INTO events (article_id, kind) VALUES (1, 'new')", "DROP VIEW article_list"):
        status, body = get(f"{server['db_url']}.json?" + urllib.parse.urlencode({"sql": sql}))
        assert status != 200 or json.loads(body).get("ok") is False, sql
    assert archive_rows(server, "SELECT count(*) AS n FROM articles")[0]["n"] == before
    # the daemon keeps writing while serve runs: a new article shows on the next request
    db = open_archive(server["path"])
    save_article(db, Article(url="https://rsj.example.gov.cn/a/99.html", site="portal",
                             title="青年创客营地开放预约", published="2026-06-01",
                             text="来访青年人才可免费入住七天。"))
    db.close()
    assert [r["title"] for r in rows(server, "full_text_search", q="创客营地")] == ["青年创客营地开放预约"]
