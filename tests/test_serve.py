"""`talentwatch serve`: Datasette over the archive, read-only, with canned queries;
checked over HTTP and in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from talentwatch.core.records import Article
from talentwatch.storage.articles import save_article
from talentwatch.storage.schema import open_archive

from tests.test_search import ARTICLES, NOTICE_TEXT, build_archive

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")


def _incentive(kind: str, low: int | None, high: int, unit: str) -> dict:
    return {"type": kind, "amount_min": low, "amount_max": high, "unit": unit}


# by index into ARTICLES; 0 keeps its own 安家补贴 of 30 万元 and gains two more types
INCENTIVES = {
    0: [ARTICLES[0]["incentives"][0], _incentive("购房补贴", 10, 20, "万元"),
        _incentive("生活补贴", 3000, 3000, "元")],
    1: [_incentive("安家补贴", 50, 50, "万元")],  # 广东省潮州市 again: the same row as 0's
    2: [_incentive("安家补贴", 99, 99, "万元")],  # a repost
    4: [_incentive("生活补贴", 3000, 3000, "元"), _incentive("购房补贴", None, 15, "万元")],  # 浙江省杭州市
    6: [_incentive("技能补贴", 500, 2000, "元")],  # 广东省韶关市
    7: [_incentive("租房补贴", 800, 800, "元")],  # withdrawn below
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    db, ids = build_archive(tmp / "archive.db")
    # an edit and a withdrawal, for the canned query that lists them
    save_article(db, Article(url=ARTICLES[0]["url"], site="rsj", title=ARTICLES[0]["title"],
                             published="2024-03-05", text=NOTICE_TEXT + "（2024年3月8日更新：截止时间延长）"))
    # (relevance fills these on every save in a real crawl)
    db.execute("UPDATE articles SET talent = 1, topics = ?, region = ?, incentives = ? WHERE id = ?",
               [json.dumps(ARTICLES[0][k], ensure_ascii=False) for k in ("topics", "region", "incentives")]
               + [ids[0]])
    # several incentive types in several places; the repost (2) and the withdrawn item (7) do not count
    for index, incentives in INCENTIVES.items():
        db.execute("UPDATE articles SET incentives = ? WHERE id = ?",
                   [json.dumps(incentives, ensure_ascii=False), ids[index]])
    db.execute("UPDATE articles SET status = 'withdrawn' WHERE id = ?", [ids[7]])
    db.execute("INSERT INTO events (article_id, kind, version, created_at) VALUES (?, 'removed', 1, ?)",
               [ids[7], "2024-05-01T00:00:00+00:00"])
    db.conn.commit()
    db.close()
    config = tmp / "config.yaml"
    config.write_text("database: archive.db\nsites: []\n", encoding="utf-8")
    port = free_port()
    # a file, not a pipe: Datasette logs each refused statement at length, and a full
    # pipe nobody reads would stall the server
    log = open(tmp / "serve.log", "w+", encoding="utf-8")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "talentwatch", "--config", str(config), "serve",
                             "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
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
    yield dict(base=base, db_url=f"{base}/archive", path=tmp / "archive.db", ids=ids)
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def rows(server, query: str, **params) -> list[dict]:
    status, body = get(f"{server['db_url']}/{query}.json?_shape=array&" + urllib.parse.urlencode(params))
    assert status == 200, body
    return json.loads(body)


def test_latest_talent_items_one_per_cluster_newest_first(server):
    found = rows(server, "latest_talent")
    expected = [a for a in ARTICLES if a.get("talent") == 1 and "repost_of" not in a and a is not ARTICLES[7]]
    assert [r["url"] for r in found] == [a["url"] for a in sorted(expected, key=lambda a: a["published"],
                                                                   reverse=True)]
    assert next(r for r in found if r["url"] == ARTICLES[0]["url"])["reposts"] == 1


def test_full_text_search_reposts_incentives_and_edits(server):
    found = rows(server, "full_text_search", q="安家补贴")
    assert {r["url"] for r in found} == {ARTICLES[0]["url"], ARTICLES[2]["url"]}
    assert all("【安家补贴】" in r["snippet"] for r in found)
    assert rows(server, "full_text_search", q="人才 NOT") == []  # malformed: no rows, no error page
    reposts = rows(server, "reposts", url=ARTICLES[2]["url"])
    assert [(r["role"], r["url"]) for r in reposts] == [("original", ARTICLES[0]["url"]),
                                                         ("repost", ARTICLES[2]["url"])]
    edits = rows(server, "edits_and_withdrawals")
    assert {(r["kind"], r["url"]) for r in edits} == {("changed", ARTICLES[0]["url"]),
                                                       ("removed", ARTICLES[7]["url"])}


def test_incentives_by_region_one_row_per_place_and_type(server):
    def table(**params) -> list[tuple]:
        return [(r["province"], r["city"], r["type"], r["unit"], r["items"], r["lowest"], r["highest"])
                for r in rows(server, "incentives_by_region", **params)]

    guangdong = [("广东省", "潮州市", "安家补贴", "万元", 2, 30, 50),
                 ("广东省", "潮州市", "生活补贴", "元", 1, 3000, 3000),
                 ("广东省", "潮州市", "购房补贴", "万元", 1, 10, 20),
                 ("广东省", "韶关市", "技能补贴", "元", 1, 500, 2000)]
    zhejiang = [("浙江省", "杭州市", "生活补贴", "元", 1, 3000, 3000),
                ("浙江省", "杭州市", "购房补贴", "万元", 1, None, 15)]
    # most reported first within a city, then by type
    assert table(province="广东") == guangdong
    assert table(province="浙江") == zhejiang
    assert table(province="") == guangdong + zhejiang
    assert table(province="江苏") == []


def test_tables_carry_descriptions(server):
    status, body = get(f"{server['db_url']}/articles")
    assert status == 200
    assert "reposts point at their cluster" in body
    assert "来源 — the publishing body" in body  # a column description


def test_serve_refuses_writes_and_shows_new_articles(server):
    before = open_archive(server["path"]).execute("SELECT count(*) FROM articles").fetchone()[0]
    for sql in ("DELETE FROM articles", "UPDATE articles SET title = 'x'", "DROP TABLE events",
                "INSERT INTO events (article_id, kind) VALUES (1, 'new')"):
        status, body = get(f"{server['db_url']}.json?" + urllib.parse.urlencode({"sql": sql}))
        assert status != 200 or json.loads(body).get("ok") is False, sql
    db = open_archive(server["path"])
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == before
    assert db.execute("SELECT count(*) FROM articles WHERE title = 'x'").fetchone()[0] == 0
    # the daemon keeps writing while serve runs: a new article shows on the next request
    save_article(db, Article(url="https://rsj.example.gov.cn/a/99.html", site="rsj",
                             title="青年人才驿站开放预约", published="2025-06-01",
                             text="来访青年人才可免费入住七天。"))
    assert [r["title"] for r in rows(server, "full_text_search", q="人才驿站")] == ["青年人才驿站开放预约"]


@pytest.mark.skipif(not CHROMIUM, reason="headless browser check needs Debian's chromium (/usr/bin/chromium)")
def test_canned_query_page_shows_rows_in_a_browser(server, tmp_path):
    url = f"{server['db_url']}/full_text_search?" + urllib.parse.urlencode({"q": "人才 补贴"})
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
        capture_output=True, text=True, encoding="utf-8", timeout=120)
    dom = result.stdout
    assert "Full-text search" in dom, result.stderr[-2000:]
    expected = [a["title"] for a in ARTICLES
                if "人才" in a["title"] + a["text"] and "补贴" in a["title"] + a["text"]]
    assert expected
    for title in expected:
        assert title in dom
    assert "【人才】" in dom and "<table" in dom
    page = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom", f"{server['db_url']}/latest_talent"],
        capture_output=True, text=True, encoding="utf-8", timeout=120).stdout
    assert "Latest talent-policy items" in page and ARTICLES[4]["title"] in page
