"""Crawling hostile sites on loopback: bounded memory, nothing fetched outside the site,
Retry-After honoured. Each crawl runs in its own process, as `talentwatch crawl` does."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from talentwatch.crawler.reach import Reach, is_inward
from talentwatch.crawler.retry_after import retry_after_seconds

from tests.conftest import ROOT, run_cli, write_config
from tests.hostile_server import Route, page, redirect, send, serve_routes
from tests.pdfmaker import cjk_pdf

pytestmark = pytest.mark.slow(seconds=15)

PATTERN = r"/rcgz/content/post_\d+\.html$"
MB = 1024 * 1024
RSS_LIMIT_MB = 500


def article_html(title: str, body: str, extra: str = "") -> bytes:
    return (f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1><div class='info'>发布时间：2026-03-02 来源：市委组织部</div>"
            f"<div class='zw'><p>　　{body}</p>{extra}</div></body></html>").encode()


CALM = article_html("关于开展2026年度高层次人才认定工作的通知",
                    "各区人才工作领导小组：为做好高层次人才认定工作，现将有关事项通知如下，"
                    "请各单位认真组织申报，于三月底前报送材料。")


def list_page(links: list[tuple[str, str]]) -> bytes:
    items = "".join(f"<li><a href='{href}'>{title}</a><span>2026-03-0{i + 1}</span></li>"
                    for i, (href, title) in enumerate(links))
    return f"<html><body><ul class='list'>{items}</ul></body></html>".encode()


def site(base: str, **extra) -> dict:
    return {"name": "东溪组工网", "start_urls": [base + "/rcgz/index.html"], "article_pattern": PATTERN,
            "delay": 0, **extra}


def archived(db: Path) -> dict[str, dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    return {r["url"]: dict(r) for r in con.execute("SELECT url, title, text FROM articles")}


def attachments_of(db: Path) -> list[dict]:
    rows = sqlite3.connect(db).execute("SELECT attachments FROM articles").fetchall()
    return [a for (value,) in rows for a in json.loads(value or "[]")]


def run_errors(db: Path) -> list[str]:
    [(messages,)] = sqlite3.connect(db).execute("SELECT error_messages FROM crawl_runs").fetchall()
    return json.loads(messages or "[]")


# ---- memory: peak RSS of the crawl process and its extraction workers ----------------

def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _status_kb(pid: int, key: str) -> int | None:
    """A memory figure of /proc/PID/status (VmHWM: the peak resident set; VmRSS: now), in kB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _tree(pid: int) -> list[int]:
    todo, found = [pid], []
    while todo:
        found.append(todo.pop())
        todo += _children(found[-1])
    return found


def crawl_measured(config: Path, timeout: float = 180) -> tuple[subprocess.CompletedProcess, int, int]:
    """Run `talentwatch crawl`; (result, the crawl process's peak RSS in MB (VmHWM), the
    peak of the whole tree's RSS in MB: the crawl process and its extraction workers,
    summed at each sample, every 20 ms)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "talentwatch", "--config", str(config), "crawl"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    crawl_kb = tree_kb = 0
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        crawl_kb = max(crawl_kb, _status_kb(proc.pid, "VmHWM") or 0)
        tree_kb = max(tree_kb, sum(_status_kb(pid, "VmRSS") or 0 for pid in _tree(proc.pid)))
        time.sleep(0.02)
    if proc.poll() is None:
        proc.kill()
    stdout, stderr = proc.communicate()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return result, crawl_kb // 1024, tree_kb // 1024


def endless(handler) -> None:
    """An HTML body that never ends, sent as fast as the socket takes it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = "<p>人才工作无止境。</p>".encode() * 4096
    handler.wfile.write(b"<html><body><div class='zw'>")
    while True:
        handler.wfile.write(chunk)


def huge_undeclared(size: int) -> Route:
    """A page of `size` bytes with no Content-Length: only counting on the wire can stop it."""
    def route(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Connection", "close")
        handler.end_headers()
        chunk = "<p>关于人才安居工程的实施意见。</p>".encode() * 8192
        for _ in range(size // len(chunk)):
            handler.wfile.write(chunk)
    return route


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 1 MB of gzip that expands to 1 GB of HTML.

    Compressing 1 GB takes seconds; after a full flush the compressor forgets what came
    before, so each further megabyte of spaces compresses to the same bytes: one such block
    is repeated, and the gzip trailer (CRC-32 and length of all 1 GB) is written for it."""
    head = b"<html><body><div class='zw'>"
    filler = b" " * MB
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip wrapper
    first = packer.compress(head) + packer.compress(filler) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(filler) + packer.flush(zlib.Z_FULL_FLUSH)
    end = packer.flush()[:-8]  # the last block, without the trailer for 2 MB
    crc = zlib.crc32(head)
    for _ in range(1024):
        crc = zlib.crc32(filler, crc)
    return first + block * 1023 + end + struct.pack("<II", crc, (len(head) + 1024 * MB) % 2**32)


def hostile_case(name: str, gzip_bomb: bytes) -> Route:
    if name == "50 MB page":
        big = article_html("人才安居", "关于人才安居工程的实施意见。" * (50 * MB // 42))
        return page(big)
    if name == "50 MB page, length not declared":
        return huge_undeclared(50 * MB)
    if name == "1 MB gzip bomb":
        return page(gzip_bomb, Content_Encoding="gzip")
    return endless


HOSTILE = ["50 MB page", "50 MB page, length not declared", "1 MB gzip bomb", "endless body"]


def test_hostile_pages_are_skipped_with_one_line_each_and_memory_stays_bounded(
        tmp_path: Path, gzip_bomb: bytes, record_property) -> None:
    """One crawl meets every kind at once, among calm articles, as a portal could serve them."""
    hostile = {f"/rcgz/content/post_{i}.html": case for i, case in enumerate(HOSTILE, start=2)}
    routes = {"/rcgz/content/post_1.html": page(CALM),
              **{path: hostile_case(case, gzip_bomb) for path, case in hostile.items()}}
    with serve_routes(routes) as (base, _):
        links = [(path.removeprefix("/rcgz/"), "人才安居意见") for path in routes]
        routes["/rcgz/index.html"] = page(list_page(links))
        config = write_config(tmp_path / "config.yaml", [site(base)])
        started = time.monotonic()
        result, crawl_mb, tree_mb = crawl_measured(config)
        seconds = time.monotonic() - started
    record_property("rss", f"crawl process {crawl_mb} MB, with workers {tree_mb} MB, {seconds:.1f} s")
    print(f"\ncrawl process peak {crawl_mb} MB, tree {tree_mb} MB, {seconds:.1f} s")
    assert result.returncode == 0, result.stderr
    assert crawl_mb < RSS_LIMIT_MB and tree_mb < RSS_LIMIT_MB, f"{crawl_mb} MB, {tree_mb} MB"
    assert set(archived(tmp_path / "archive.db")) == {base + "/rcgz/content/post_1.html"}
    assert "Traceback" not in result.stderr
    errors = run_errors(tmp_path / "archive.db")
    for path, case in hostile.items():
        hostile_url = base + path
        [error] = [e for e in errors if hostile_url in e]
        assert "size" in error.lower(), f"{case}: {error}"
        # one message, the run's (logged as it happens and repeated in the summary); Scrapy's
        # own warnings about the same download are not shown
        naming = [line for line in result.stderr.splitlines() if hostile_url in line]
        assert naming and all(line.endswith(error) for line in naming), f"{case}: {result.stderr}"
    assert len(errors) == len(hostile), errors
    size_lines = [line for line in result.stderr.splitlines() if "max size" in line]
    assert all(any(line.endswith(e) for e in errors) for line in size_lines), result.stderr


def test_a_page_under_a_lowered_cap_is_kept_and_one_over_it_skipped(tmp_path: Path) -> None:
    routes = {"/rcgz/content/post_1.html": page(CALM),
              "/rcgz/content/post_2.html": page(article_html("人才安居", "人才安居。" * 60_000))}  # ~1 MB
    with serve_routes(routes) as (base, _):
        routes["/rcgz/index.html"] = page(list_page([("content/post_1.html", "人才认定通知"),
                                                     ("content/post_2.html", "人才安居意见")]))
        config = write_config(tmp_path / "config.yaml", [site(base)])
        data = config.read_text(encoding="utf-8").replace("retries: 0", "retries: 0\n  max_page_mb: 0.5")
        config.write_text(data, encoding="utf-8")
        result = run_cli("crawl", config=config, check=False)
    assert result.returncode == 0, result.stderr
    assert set(archived(tmp_path / "archive.db")) == {base + "/rcgz/content/post_1.html"}


# ---- reach: nothing fetched outside the site --------------------------------------------

@pytest.fixture
def other_host() -> Iterator[tuple[str, object]]:
    """Another site on another loopback address: every request it gets is a leak."""
    secret = article_html("内部通知", "内部资料，请勿外传。这是另一台主机上的页面，不属于被抓取的网站。")
    routes = {"/rcgz/content/post_9.html": page(secret),
              "/files/a.pdf": page(cjk_pdf(["内部资料：干部考察材料，请勿外传"]), "application/pdf")}
    with serve_routes(routes, host="127.0.0.2") as (base, log):
        yield base, log


def test_redirects_and_attachments_to_another_host_are_not_followed(tmp_path: Path, other_host) -> None:
    other, other_log = other_host
    own_pdf = cjk_pdf(["人才公寓申请表由用人单位盖章后提交"])
    with_files = article_html("关于人才公寓申请的通知", "人才公寓申请材料清单见附件，请于月底前提交。",
                              f"<p><a href='{other}/files/a.pdf'>干部考察材料.pdf</a></p>"
                              "<p><a href='/files/form.pdf'>申请表.pdf</a></p>")
    routes = {"/rcgz/content/post_1.html": page(CALM),
              "/rcgz/content/post_2.html": redirect(other + "/rcgz/content/post_9.html"),
              "/rcgz/content/post_3.html": page(with_files),
              "/files/form.pdf": page(own_pdf, "application/pdf")}
    with serve_routes(routes) as (base, own_log):
        routes["/rcgz/index.html"] = page(list_page([("content/post_1.html", "人才认定通知"),
                                                     ("content/post_2.html", "跳转页面"),
                                                     ("content/post_3.html", "人才公寓通知")]))
        config = write_config(tmp_path / "config.yaml", [site(base)])
        result = run_cli("crawl", config=config, check=False)
    assert result.returncode == 0, result.stderr
    assert other_log.paths() == []  # not the page, not the PDF, not even robots.txt
    articles = archived(tmp_path / "archive.db")
    assert set(articles) == {base + "/rcgz/content/post_1.html", base + "/rcgz/content/post_3.html"}
    assert not any("请勿外传" in (a["text"] or "") for a in articles.values())
    assert "/files/form.pdf" in own_log.paths()  # the site's own attachment still comes in
    errors = run_errors(tmp_path / "archive.db")
    assert any("post_2.html" in e and "127.0.0.2 is outside the site" in e for e in errors), errors
    skipped = {a["url"]: a["skipped"] for a in attachments_of(tmp_path / "archive.db")}
    assert "outside the site" in skipped[other + "/files/a.pdf"]
    assert not skipped[base + "/files/form.pdf"]


def test_an_allowed_name_that_resolves_inward_is_refused(tmp_path: Path, other_host) -> None:
    """The site lives at 127.0.0.1 (named localhost); its attachment_domains let in the
    other host by name, but that name resolves to an internal address the site does not
    live on: the address, not the name, decides."""
    other, other_log = other_host
    with_file = article_html("关于人才公寓申请的通知", "人才公寓申请材料清单见附件，请于月底前提交。",
                             f"<p><a href='{other}/files/a.pdf'>干部考察材料.pdf</a></p>")
    routes = {"/rcgz/content/post_3.html": page(with_file)}
    with serve_routes(routes) as (base, _):
        routes["/rcgz/index.html"] = page(list_page([("content/post_3.html", "人才公寓通知")]))
        named = base.replace("127.0.0.1", "localhost")
        config = write_config(tmp_path / "config.yaml",
                              [site(named, attachment_domains=["127.0.0.2"])])
        result = run_cli("crawl", config=config, check=False)
    assert result.returncode == 0, result.stderr
    assert other_log.paths() == []
    assert set(archived(tmp_path / "archive.db")) == {named + "/rcgz/content/post_3.html"}
    [attachment] = attachments_of(tmp_path / "archive.db")
    assert "resolves to 127.0.0.2, a non-public address the site does not live on" in attachment["skipped"]


def fake_dns(table: dict[str, list[str]]):
    return lambda host: table.get(host, [])


def test_reach_checks_the_resolved_address_not_the_name() -> None:
    from talentwatch.core.config import SiteConfig

    portal = SiteConfig(name="p", start_urls=["https://www.example.gov.cn/list/"], article_pattern="x",
                        attachment_domains=["files.example.net"])
    portal.allowed_domains.append("example.gov.cn")
    dns = fake_dns({"www.example.gov.cn": ["121.8.10.80"], "files.example.net": ["10.1.2.3"],
                    "news.example.gov.cn": ["121.8.10.81", "::1"],
                    "cdn.example.gov.cn": ["169.254.169.254"], "img.example.gov.cn": ["121.8.10.90"]})
    reach = Reach(portal, dns)  # no network: the names resolve through the table
    assert reach.refusal("https://www.example.gov.cn/a.html") is None
    assert reach.refusal("https://img.example.gov.cn/a.html") is None  # a subdomain, public
    assert "::1" in reach.refusal("https://news.example.gov.cn/a.html")  # any inward answer refuses
    assert "10.1.2.3" in reach.refusal("https://files.example.net/a.pdf", attachment=True)
    assert "outside the site" in reach.refusal("https://files.example.net/a.html")
    assert "169.254.169.254" in reach.refusal("https://cdn.example.gov.cn/a.html")
    assert "outside the site" in reach.refusal("https://evil.example.com/a.html")
    assert "not an http(s) URL" in reach.refusal("ftp://www.example.gov.cn/a.pdf")


def test_a_site_on_an_intranet_may_be_crawled_there() -> None:
    from talentwatch.core.config import SiteConfig

    intranet = SiteConfig(name="内网", start_urls=["http://oa.local/list/"], article_pattern="x")
    reach = Reach(intranet, fake_dns({"oa.local": ["192.168.10.5"], "www.oa.local": ["192.168.10.6"]}))
    assert reach.refusal("http://oa.local/a.html") is None
    # its own domain, but another internal machine than the one the site lives on
    assert "192.168.10.6" in reach.refusal("http://www.oa.local/a.html")


@pytest.mark.parametrize("address, inward", [
    ("127.0.0.1", True), ("10.0.0.8", True), ("172.16.3.4", True), ("192.168.1.1", True),
    ("169.254.169.254", True), ("::1", True), ("fe80::1", True), ("fd00::5", True),
    ("::ffff:10.0.0.1", True), ("0.0.0.0", True), ("100.64.0.1", True), ("224.0.0.1", True),
    ("8.8.8.8", False), ("2001:4860:4860::8888", False), ("::ffff:8.8.8.8", False),
])
def test_inward_addresses(address: str, inward: bool) -> None:
    assert is_inward(address) is inward


# ---- Retry-After --------------------------------------------------------------------------

def throttled_once(seconds: str) -> Route:
    """429 with Retry-After the first time, the article after that."""
    asked = []

    def route(handler) -> None:
        asked.append(1)
        if len(asked) == 1:
            send(handler, 429, b"too many requests", "text/plain", {"Retry-After": seconds})
        else:
            send(handler, 200, CALM)
    return route


def test_a_429_is_retried_no_sooner_than_retry_after(tmp_path: Path) -> None:
    routes = {"/rcgz/content/post_1.html": throttled_once("2")}
    with serve_routes(routes) as (base, log):
        routes["/rcgz/index.html"] = page(list_page([("content/post_1.html", "人才认定通知")]))
        config = write_config(tmp_path / "config.yaml", [site(base)])
        result = run_cli("crawl", config=config, check=False)
    assert result.returncode == 0, result.stderr
    first, second = log.times("/rcgz/content/post_1.html")
    print(f"\nRetry-After: 2 -> asked again after {second - first:.2f} s")
    assert second - first >= 2.0
    assert set(archived(tmp_path / "archive.db")) == {base + "/rcgz/content/post_1.html"}


def test_a_long_retry_after_leaves_the_url_to_a_later_crawl(tmp_path: Path) -> None:
    routes = {"/rcgz/content/post_1.html": page(CALM),
              "/rcgz/content/post_2.html": throttled_once("3600")}
    with serve_routes(routes) as (base, log):
        routes["/rcgz/index.html"] = page(list_page([("content/post_1.html", "人才认定通知"),
                                                     ("content/post_2.html", "人才安居意见")]))
        config = write_config(tmp_path / "config.yaml", [site(base)])
        config.write_text(config.read_text(encoding="utf-8").replace("retries: 0", "retries: 2"),
                          encoding="utf-8")
        result = run_cli("crawl", config=config, check=False)  # an hour-long wait would hit the timeout
    assert result.returncode == 0, result.stderr
    assert len(log.times("/rcgz/content/post_2.html")) == 1  # not retried at once either
    assert set(archived(tmp_path / "archive.db")) == {base + "/rcgz/content/post_1.html"}
    [error] = run_errors(tmp_path / "archive.db")
    assert "post_2.html" in error and "later crawl" in error


def test_retry_after_values() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("Mon, 02 Mar 2026 08:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Mon, 02 Mar 2026 07:00:00 GMT", now) == 0.0  # already past
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") is None
    assert retry_after_seconds(None) is None
