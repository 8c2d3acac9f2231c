"""DNS rebinding: the reach check and the connection see the same answer.

A name that answers an allowed address to the check and an inward one to the
connection must not lead the crawl inward. The crawl runs as `talentwatch crawl`
in its own process with a controlled resolver (tests/rebinding_cli.py); the
inward host is a second loopback server on 127.0.0.2 that records every request.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

from talentwatch.core.config import SiteConfig
from talentwatch.crawler.reach import AddressBook, PinnedResolver, Reach

from tests.conftest import ROOT, write_config
from tests.hostile_server import page, serve_routes
from tests.pdfmaker import cjk_pdf
from tests.test_hostile_crawl import PATTERN, archived, article_html, attachments_of, list_page

SECRET = article_html("内部通知", "内部资料，请勿外传。这台主机不属于被抓取的网站。")
SECRET_PDF = cjk_pdf(["内部资料：干部考察材料，请勿外传"])


def crawl_with_dns(config: Path, table: dict[str, list[str]]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "tests.rebinding_cli", json.dumps(table),
                           "--config", str(config), "crawl"],
                          capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)


def test_a_name_that_changes_its_answer_after_the_check_does_not_lead_inward(tmp_path: Path) -> None:
    """news.rebind.test and files.rebind.test answer 127.0.0.1 (where the site lives) to
    the first lookup and 127.0.0.2 (another internal machine) to every later one."""
    own_pdf = cjk_pdf(["人才公寓申请表由用人单位盖章后提交"])
    hostel = article_html("关于开展青年人才驿站入住登记的通知",
                          "来本市求职的高校毕业生可申请免费入住青年人才驿站七天。")
    routes = {"/rcgz/content/post_2.html": page(hostel),
              "/files/a.pdf": page(own_pdf, "application/pdf")}
    with serve_routes(routes) as (base, own_log):
        port = base.rsplit(":", 1)[1]
        inward = {"/rcgz/content/post_2.html": page(SECRET),
                  "/files/a.pdf": page(SECRET_PDF, "application/pdf"),
                  "/robots.txt": page(b"User-agent: *\nAllow: /\n", "text/plain")}
        # the same port on the other address: only the address decides where a request lands
        with serve_routes(inward, host="127.0.0.2", port=int(port)) as (_, inward_log):
            portal = f"http://portal.rebind.test:{port}"
            routes["/rcgz/content/post_1.html"] = page(article_html(
                "关于人才公寓申请的通知", "人才公寓申请材料清单见附件，请于月底前提交。",
                f"<p><a href='http://files.rebind.test:{port}/files/a.pdf'>申请表.pdf</a></p>"))
            routes["/rcgz/index.html"] = page(list_page([
                ("content/post_1.html", "人才公寓通知"),
                (f"http://news.rebind.test:{port}/rcgz/content/post_2.html", "人才驿站通知")]))
            config = write_config(tmp_path / "config.yaml", [{
                "name": "东溪组工网", "start_urls": [portal + "/rcgz/index.html"], "article_pattern": PATTERN,
                "allowed_domains": ["rebind.test"], "delay": 0}])
            result = crawl_with_dns(config, {
                "portal.rebind.test": ["127.0.0.1"],
                "news.rebind.test": ["127.0.0.1", "127.0.0.2"],
                "files.rebind.test": ["127.0.0.1", "127.0.0.2"]})
    assert result.returncode == 0, result.stderr
    assert inward_log.paths() == []  # not the article, not the attachment, not robots.txt
    articles = archived(tmp_path / "archive.db")
    news = f"http://news.rebind.test:{port}/rcgz/content/post_2.html"
    assert set(articles) == {portal + "/rcgz/content/post_1.html", news}
    assert "青年人才驿站" in articles[news]["text"]
    assert not any("请勿外传" in (a["text"] or "") for a in articles.values())
    [attachment] = attachments_of(tmp_path / "archive.db")
    assert not attachment["skipped"] and "人才公寓申请表" in attachment["text"]
    assert "/files/a.pdf" in own_log.paths() and "/rcgz/content/post_2.html" in own_log.paths()


class Answers:
    """A resolver whose answers change: each lookup of a host takes the next one."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.asked: dict[str, int] = {}

    def __call__(self, host: str) -> list[str]:
        nth = self.asked[host] = self.asked.get(host, 0) + 1
        answers = self.table.get(host, [[]])
        return answers[min(nth, len(answers)) - 1]


class Receiver:
    """What Twisted's connection code gets from a name resolver."""

    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.complete = False

    def resolutionBegan(self, resolution) -> None:  # noqa: N802 - Twisted's interface
        pass

    def addressResolved(self, address) -> None:  # noqa: N802
        self.addresses.append(address.host)

    def resolutionComplete(self) -> None:  # noqa: N802
        self.complete = True


def test_the_connection_gets_the_answer_the_check_approved() -> None:
    """Public first, loopback next: the check sees the public answer and the connection
    goes there, not to the second answer (no network: nothing connects here)."""
    portal = SiteConfig(name="p", start_urls=["https://www.example.gov.cn/list/"], article_pattern="x")
    portal.allowed_domains.append("example.gov.cn")
    dns = Answers({"www.example.gov.cn": [["121.8.10.80"]],
                   "cdn.example.gov.cn": [["121.8.10.90"], ["127.0.0.1"]]})
    book = AddressBook(dns, ttl=600)
    reach = Reach(portal, book.lookup, book.approve)
    assert reach.refusal("https://cdn.example.gov.cn/a.pdf") is None
    receiver = Receiver()
    PinnedResolver(reactor=None, book=book).resolveHostName(receiver, "CDN.example.gov.cn", 443)
    assert receiver.complete and receiver.addresses == ["121.8.10.90"]
    assert dns.asked["cdn.example.gov.cn"] == 1  # the connection asked nobody again


def test_after_the_ttl_a_changed_answer_is_checked_again_before_it_is_used() -> None:
    clock = [0.0]
    portal = SiteConfig(name="p", start_urls=["https://www.example.gov.cn/list/"], article_pattern="x")
    dns = Answers({"www.example.gov.cn": [["121.8.10.80"], ["127.0.0.1"]]})
    book = AddressBook(dns, ttl=600, clock=lambda: clock[0])
    reach = Reach(portal, book.lookup, book.approve)
    assert reach.refusal("https://www.example.gov.cn/a.html") is None
    clock[0] = 601  # the name now points inward, at an address the site did not live on
    assert "127.0.0.1" in reach.refusal("https://www.example.gov.cn/b.html")
    # the refused answer is never connected to: the last approved one stays
    assert book.connectable("www.example.gov.cn") == ["121.8.10.80"]


def test_a_host_no_check_saw_gets_only_public_or_home_addresses() -> None:
    dns = Answers({"unchecked.example.net": [["121.8.10.7", "127.0.0.1", "10.0.0.8"]],
                   "oa.local": [["192.168.10.5"]]})
    book = AddressBook(dns)
    assert book.connectable("unchecked.example.net") == ["121.8.10.7"]
    book.homes.add(ipaddress.ip_address("192.168.10.5"))  # an intranet site lives there
    assert book.connectable("oa.local") == ["192.168.10.5"]
    assert book.connectable("127.0.0.2") == ["127.0.0.2"]  # an IP literal is checked as itself


def test_the_operators_proxy_is_reached_as_configured(monkeypatch) -> None:
    """With http_proxy set, Scrapy connects to the proxy (an internal machine, usually):
    that connection is the operator's choice, not a page's, and is not refused."""
    monkeypatch.setenv("http_proxy", "http://proxy.corp.test:3128")
    dns = Answers({"proxy.corp.test": [["10.0.0.9"]], "intranet.corp.test": [["10.0.0.10"]]})
    book = AddressBook(dns)
    assert book.connectable("proxy.corp.test") == ["10.0.0.9"]
    assert book.connectable("intranet.corp.test") == []
