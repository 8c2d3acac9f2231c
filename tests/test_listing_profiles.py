"""Both built-in profiles on list pages shaped like the real ones, and the generic fallback."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from talentwatch.core.profiles import PROFILES, get_profile
from talentwatch.core.records import Page
from talentwatch.crawler.extract import extract
from talentwatch.crawler.listing import parse_list

DATA = Path(__file__).parent / "data" / "extract"
GDZZ_RE = re.compile(PROFILES["gdzz"].article_url)


def test_gdzz_nfcms_list():
    html = (DATA / "gdzz_list.html").read_text("utf-8")
    page = parse_list(html, "https://www.gdzz.gov.cn/rcgz/gzdt/index.html", GDZZ_RE, get_profile("gdzz"))
    assert [(i.url, i.title, i.date) for i in page.items] == [
        ("https://www.gdzz.gov.cn/rcgz/gzdt/content/post_31002.html", "梅岭区以“三个一批”打造基层人才队伍",
         "2024-03-18"),
        # the full title from a[title], not the truncated link text
        ("https://www.gdzz.gov.cn/rcgz/gzdt/content/post_30977.html",
         "南川市举办2024年青年人才招聘会暨校地合作签约仪式", "2024-03-11"),
        ("https://www.gdzz.gov.cn/rcgz/gzdt/content/post_30940.html", "东湾县开展“博士服务团”进企业活动",
         "2024-03-02"),
    ]
    assert page.next_pages[0] == "https://www.gdzz.gov.cn/rcgz/gzdt/index_2.html"


def test_12371_inline_script_list():
    html = (DATA / "12371_list.html").read_text("utf-8")
    page = parse_list(html, "https://www.12371.cn/zxfb/", re.compile(PROFILES["12371"].article_url),
                      get_profile("12371"))
    assert [(i.title, i.date) for i in page.items] == [
        ("以高质量党建引领人才工作高质量发展", "2024-05-06T10:15:00+08:00"),
        ("基层党组织书记谈“党建+人才”的实践", "2024-05-05T18:40:21+08:00"),
        ("党员教育'微课堂'上新", "2024-05-04T08:00:00+08:00"),  # escaped quote kept
    ]
    assert page.items[2].url == "https://www.12371.cn/2024/05/04/ARTI1714780800111222.shtml"


def test_list_selector_matching_nothing_falls_back_to_generic(caplog):
    html = (DATA / "gdzz_list.html").read_text("utf-8")
    profile = get_profile("gdzz", {"list_item": "ul.no-such-list > li"})
    with caplog.at_level(logging.WARNING):
        page = parse_list(html, "https://www.gdzz.gov.cn/rcgz/gzdt/index.html", GDZZ_RE, profile)
    assert len(page.items) == 3
    assert "ul.no-such-list" in caplog.text and "index.html" in caplog.text


def test_gdzz_article_page():
    html = (DATA / "gdzz_article.html").read_text("utf-8")
    article = extract(Page(url="https://www.gdzz.gov.cn/rcgz/gzdt/content/post_31002.html", site="gdzz",
                           html=html, list_date="2024-03-18"), get_profile("gdzz"))
    assert article.title == "梅岭区以“三个一批”打造基层人才队伍"
    assert article.published == "2024-03-18T09:12:00+08:00"
    assert article.source == "梅岭区委组织部"
    assert article.text.startswith("今年以来，梅岭区聚焦基层治理")
    assert "字体" not in article.text and "当前位置" not in article.text and "ICP" not in article.text


def test_12371_article_page_body_from_word():
    html = (DATA / "12371_article.html").read_text("utf-8")
    article = extract(Page(url="https://www.12371.cn/2024/05/06/ARTI1714961700123456.shtml", site="12371",
                           html=html), get_profile("12371"))
    assert article.text.count("\n") == 2
    assert "12项绿色通道服务" in article.text


# a page whose generic reading takes the wrong block (a side column classed "content", as
# CMS bodies often are), and selectors for the real body written the ways a config's
# `selectors.body` may write them
_SIDE_FIRST = """<html><body><div id="main" class="shell">
<div class="content"><p>专题推荐：人才工作、组织建设、基层党建、乡村振兴、干部教育和作风建设专题。</p></div>
<div class="article-text" data-role="body"><p>县人才服务中心本周起为引进人才办理安居手续。</p></div>
</div></body></html>"""


@pytest.mark.parametrize("selector", [
    "div.article-text", "#main .article-text", ".shell > div:not(.content):not(.hidden)", "[data-role=body]",
    ".no-such-class, .article-text", "div#main div.article-text",
])
def test_a_site_body_selector_finds_the_body_however_it_is_written(selector):
    article = extract(Page(url="http://www.example.gov.cn/a.html", site="s", html=_SIDE_FIRST),
                      get_profile("generic", {"body": selector}))
    assert article.text == "县人才服务中心本周起为引进人才办理安居手续。"


def test_profile_override_and_unknown_names():
    assert get_profile("gdzz", {"body": "div.zw"}).body == "div.zw"
    assert get_profile("gdzz", {"body": "div.zw"}).list_item == PROFILES["gdzz"].list_item
    with pytest.raises(KeyError):
        get_profile("no-such-site")
    with pytest.raises(KeyError):
        get_profile("gdzz", {"bdoy": "div"})


def test_generic_list_finds_dates_in_sibling_cells_and_rows():
    html = """<html><body>
    <ul class="list"><li><div class="t"><a href="content/post_11.html">县人才驿站正式启用</a></div>
    <div class="d">2025-04-02</div></li>
    <li><div class="t"><a href="content/post_12.html">青年人才座谈会召开</a></div>
    <div class="d">2025年3月28日</div></li></ul>
    <table><tr><td><a href="content/post_13.html">人才公寓分配公告</a></td><td>2025/03/20</td></tr></table>
    </body></html>"""
    page = parse_list(html, "http://zzb.example.gov.cn/rcgz/index.html",
                      re.compile(r"/content/post_\d+\.html$"))
    assert [(i.title, i.date) for i in page.items] == [
        ("县人才驿站正式启用", "2025-04-02"),
        ("青年人才座谈会召开", "2025-03-28"),
        ("人才公寓分配公告", "2025-03-20"),
    ]
