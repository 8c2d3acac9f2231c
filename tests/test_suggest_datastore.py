"""`try` suggests from a Hanweb datastore list exactly what the crawl will read from it:
one reader (crawler.listing.datastore_items) for both, so titles and dates agree."""

from __future__ import annotations

import re

from talentwatch.core.profiles import get_profile
from talentwatch.crawler.listing import parse_list
from talentwatch.crawler.suggest import suggest

URL = "http://www.example.gov.cn/col/col12290/index.html"


def record(path: str, link_text: str, date: str, title: str | None = None) -> str:
    title_attr = f' title="{title}"' if title else ""
    return (f'<record><![CDATA[<li><a href="{path}" target="_blank"{title_attr}>{link_text}</a>'
            f'<span class="bt-data-time">{date}</span></li>]]></record>')


PAGE = (
    "<html><head><title>人才工作</title></head><body><div class='bt-box'><div id='55555'>"
    "<script type='text/xml'><datastore><recordset>"
    + record("/art/2026/3/2/art_12290_58001.html", "关于开展2026年度\n          高层次人才认定工作的通知",
             "2026-03-02")
    + record("/art/2026/3/1/art_12290_58002.html", "关于发放青年人才　生活补贴的公告", "2026年3月1日")
    + record("/art/2026/2/27/art_12290_58003.html", "人才公寓…", "2026-02-27",
             title="关于人才公寓申请受理的通知")
    + record("/art/2026/2/26/art_12290_58004.html", "关于举办  博士后创新创业大赛的通知", "2026-13-45")
    + "</recordset></datastore></script></div></div>"
    "<ul class='links'><li><a href='/col/col12291/index.html'>人才政策</a></li></ul></body></html>")


def test_the_suggestion_reads_the_datastore_as_the_crawl_does() -> None:
    suggestion = suggest(PAGE, URL)
    assert suggestion.list_kind == "datastore"
    crawl = parse_list(PAGE, URL, re.compile(suggestion.article_pattern), get_profile("hanweb"))
    shown = [(e.url, e.title, e.date) for e in suggestion.entries]
    read = [(i.url, i.title, i.date) for i in crawl.items]
    assert shown == read
    assert [title for _, title, _ in read] == [
        "关于开展2026年度 高层次人才认定工作的通知",  # a line break inside the link is one space
        "关于发放青年人才 生活补贴的公告",
        "关于人才公寓申请受理的通知",  # the link's title attribute wins over its cut text
        "关于举办 博士后创新创业大赛的通知"]
    assert [date for _, _, date in read] == ["2026-03-02", "2026-03-01", "2026-02-27", None]  # 13/45: no date
