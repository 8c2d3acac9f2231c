"""Hostile archive contents leave the tool safely: email, webhook, chat bot, Atom, CSV/JSONL.

The archive holds what a hostile page would leave in it: a title with CR/LF, a fake
header and control characters, and a 原文链接 of `javascript:alert(1)`. Everything is
sent to a real SMTP server and a real HTTP receiver on 127.0.0.1, and the Atom feed is
read back by feedparser.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from html.parser import HTMLParser

import feedparser
import pytest
import yaml
from click.testing import CliRunner
from talentwatch.cli import main
from talentwatch.core.config import parse_config
from talentwatch.core.records import Article
from talentwatch.core.safety import clean_text, one_line, safe_url
from talentwatch.scheduler.alerts.collect import collect
from talentwatch.scheduler.alerts.delivery import deliver_due
from talentwatch.storage.articles import save_article

HOSTILE_TITLE = ("青禾县高层次人才引进补贴申报通知\r\nBcc: leak@example.org\r\n\r\n"
                 "<a href=javascript:alert(2)>点此申报</a>\x00\x08\x1b[31m\u202e附件\x7f")
HOSTILE_TEXT = "各有关单位：\r\n现将申报事项通知如下。\x0c一、申报对象\x00为全职引进的博士研究生。\x1b"
URL = "http://127.0.0.1/rcgz/content/post_9001.html"


def hostile_article() -> Article:
    return Article(url=URL, site="青禾组工网", title=HOSTILE_TITLE, text=HOSTILE_TEXT,
                   source="青禾县委组织部\x07", original_url="javascript:alert(1)",
                   published="2026-11-20T10:00:00+08:00", talent=True, score=0.9,
                   topics=["人才引进\x00"])


def control_characters(text: str) -> set[str]:
    return {c for c in text if unicodedata.category(c) == "Cc" and c not in "\n\t"}


class Links(HTMLParser):
    """Every clickable target of an HTML document (a/area/link href)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v or "" for k, v in attrs if k in ("href", "src", "action", "formaction")]


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_hostile_title_and_javascript_link_reach_mail_webhook_and_bot_safely(db, mailbox, receiver):
    receiver.replies = [(200, {"errcode": 0, "errmsg": "ok"})]
    cfg = parse_config({"daemon": {"retry_initial": 0}, "subscriptions": [{"name": "人才政策", "channels": [
        mailbox.url, f"json://{receiver.base}/hook",
        f"dingtalk://tok123456/?endpoint=http://{receiver.base}/robot/send"]}]})
    save_article(db, hostile_article())
    collect(db, cfg)
    report = deliver_due(db, cfg)
    assert (report.sent, report.failed) == (3, 0), report.errors

    # the email was built and sent; its headers are one line each, no header was injected
    (mail,) = mailbox.messages
    assert mail["Bcc"] is None and "leak@example.org" not in str(mail["To"])
    assert "青禾县高层次人才引进补贴申报通知 Bcc: leak@example.org" in mail["Subject"]
    for name, value in mail.items():
        assert "\r" not in str(value) and "\n" not in str(value), name
        assert not control_characters(str(value)), name
    text, html = mailbox.parts(mail)
    # every clickable target in the HTML part is http(s); the javascript: 原文链接 is gone
    hrefs = Links(html).hrefs
    assert URL in hrefs and all(h.startswith("http://") for h in hrefs), hrefs
    assert "javascript:alert(1)" not in html and "javascript:alert(1)" not in text
    assert "&lt;a href=javascript:alert(2)&gt;" in html  # the title's markup stays text
    assert not control_characters(text) and not control_characters(html)

    webhook = next(r["json"] for r in receiver.requests if r["path"] == "/hook")
    (item,) = webhook["items"]
    assert item["original_url"] is None and item["url"] == URL
    assert not any(s.lower().lstrip().startswith("javascript:") for s in strings(webhook))
    assert not any(control_characters(s) for s in strings(webhook))
    assert "\n" not in item["title"] and "\n" not in webhook["title"]

    bot = next(r["json"] for r in receiver.requests if r["path"] == "/robot/send")
    markdown = bot["markdown"]["text"]
    targets = re.findall(r"(?<!\\)\]\(([^)]*)\)", markdown)
    assert targets == [URL]
    assert not control_characters(markdown) and "\n" not in bot["markdown"]["title"]


def test_atom_and_exports_of_a_hostile_archive(db, tmp_path):
    save_article(db, hostile_article())
    save_article(db, Article(url="http://127.0.0.1/rcgz/content/post_9002.html", site="青禾组工网",
                             title="关于发放2026年度人才安家补贴的公示", text="公示期为五个工作日。",
                             original_url="https://www.example.gov.cn/rcgz/post_1.html",
                             published="2026-11-21T09:00:00+08:00", talent=True))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": str(tmp_path / "archive.db"), "sites": []}),
                      encoding="utf-8")

    atom = CliRunner().invoke(main, ["--config", str(config), "export", "--format", "atom"])
    assert atom.exit_code == 0, atom.output
    feed = feedparser.parse(atom.output.encode())
    assert not feed.bozo, feed.get("bozo_exception")
    assert len(feed.entries) == 2
    hostile = next(e for e in feed.entries if e.id == URL)
    assert hostile.title.startswith("青禾县高层次人才引进补贴申报通知 Bcc:")
    assert not control_characters(hostile.title) and not control_characters(hostile.content[0].value)
    links = [link.href for entry in feed.entries for link in entry.links]
    assert all(h.startswith(("http://", "https://")) for h in links), links
    assert "https://www.example.gov.cn/rcgz/post_1.html" in links  # a real 原文链接 stays

    jsonl = CliRunner().invoke(main, ["--config", str(config), "export", "--format", "jsonl"])
    records = [json.loads(line) for line in jsonl.output.splitlines()]
    assert not any(control_characters(s) for r in records for s in strings(r))
    assert next(r for r in records if r["url"] == URL)["text"].startswith("各有关单位：\n现将申报事项")
    exported = CliRunner().invoke(main, ["--config", str(config), "export", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert len(rows) == 2 and not any(control_characters(v) for r in rows for v in r.values() if v)


def test_show_search_and_dupes_print_no_terminal_escapes(db, tmp_path):
    save_article(db, hostile_article())
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": str(tmp_path / "archive.db"), "sites": []}),
                      encoding="utf-8")
    runner = CliRunner()
    shown = runner.invoke(main, ["--config", str(config), "show", URL])
    found = runner.invoke(main, ["--config", str(config), "search", "申报"])
    assert shown.exit_code == 0 and found.exit_code == 0, shown.output + found.output
    assert "青禾县高层次人才引进补贴申报通知 Bcc: leak@example.org" in shown.output
    assert "申报" in found.output and URL in found.output
    for output in (shown.output, found.output):
        assert not control_characters(output), sorted(control_characters(output))


@pytest.mark.parametrize(("url", "safe"), [
    ("http://www.gd.gov.cn/a.html", "http://www.gd.gov.cn/a.html"),
    (" HTTPS://rsj.example.gov.cn/x?id=1 ", "HTTPS://rsj.example.gov.cn/x?id=1"),
    ("http://www.gd.gov.cn/附件 1.pdf", "http://www.gd.gov.cn/附件%201.pdf"),
    ("javascript:alert(1)", None),
    ("java\tscript:alert(1)", None),  # browsers drop the tab and read javascript:
    (" JavaScript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("file:///etc/passwd", None),
    ("//evil.example/x", None),
    ("http:///no-host", None),
    ("http://[::1", None),
    ("http://a.example/\x00x", None),
    (None, None),
])
def test_only_http_urls_with_a_host_are_safe(url, safe):
    assert safe_url(url) == safe


def test_clean_text_and_one_line():
    assert clean_text("甲\r\n乙\r丙\x00丁\x1b[0m\u2028戊\u202e\t己") == "甲\n乙\n丙丁[0m\n戊\t己"
    assert clean_text("e\u0301") == "\u00e9"  # NFC
    assert one_line(" 标题\r\n第二行\x85\t尾 ") == "标题 第二行 尾"
    long = one_line("人" * 400, limit=100)
    assert len(long) == 100 and long.endswith("…")
