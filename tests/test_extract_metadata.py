"""Each metadata field of an article, on pages shaped like county and provincial portals."""

from __future__ import annotations

import logging
from pathlib import Path

from talentwatch.core.profiles import get_profile
from talentwatch.core.records import Page
from talentwatch.crawler import metadata as md
from talentwatch.crawler.extract import extract

DATA = Path(__file__).parent / "data" / "extract"
COUNTY_URL = "http://www.qinghe.gov.cn/rcgz/content/post_4412.html"


def _page(name: str, url: str, **hints) -> Page:
    return Page(url=url, site="test", html=(DATA / name).read_text("utf-8"), **hints)


def test_info_line_fields_of_a_county_page():
    article = extract(_page("county_trs.html", COUNTY_URL))
    assert article.title == "青禾县出台“引凤归巢”人才新政十二条"  # no "-青禾县委组织部"
    # htmldate's year-only fallback would say 2022-01-01
    assert article.published == "2022-10-17T10:30:00+08:00"
    assert article.source == "青禾县委人才办"
    assert article.author == "林晓东"
    assert article.editor == "陈雨桐"  # 责任编辑 is its own field ...
    assert article.author != article.editor  # ... and never the author
    assert article.original_url == "http://www.qinghe.gov.cn/rcgz/content/post_4412.html"
    assert article.flags == []


def test_meta_tags_give_title_date_and_source():
    article = extract(_page("meta_pages_content.html", "http://www.songchuan.gov.cn/zwgk/post_88.html"))
    assert article.title == "关于公布2023年度县管优秀专家名单的通知"
    # the stamp the page shows wins over PubDate (often the page-generation time)
    assert article.published == "2023-12-06"
    assert article.source == "松川县人力资源和社会保障局"
    assert article.author is None  # meta author names the government, not a person
    assert article.text.startswith("各乡镇人民政府、县直各单位：")


def test_list_date_wins_and_keeps_the_page_time_on_the_same_day():
    same_day = extract(_page("county_trs.html", COUNTY_URL, list_date="2022-10-17"))
    assert same_day.published == "2022-10-17T10:30:00+08:00"
    other_day = extract(_page("county_trs.html", COUNTY_URL, list_date="2022-10-18"))
    assert other_day.published == "2022-10-18"


def test_12371_article_time_from_the_url_epoch():
    url = "https://www.12371.cn/2024/05/06/ARTI1714961700123456.shtml"
    article = extract(_page("12371_article.html", url), get_profile("12371"))
    assert article.published == "2024-05-06T10:15:00+08:00"
    assert article.title == "以高质量党建引领人才工作高质量发展"  # "_共产党员网" gone
    assert article.source == "《组织人事报》2024年第5期"


def test_dates_never_guess_a_day():
    assert md.parse_date("发布时间：2022年10月17日") == "2022-10-17"
    assert md.parse_date("2022年") is None
    assert md.parse_date("2022年10月") is None
    assert md.parse_date("2021-02-22T00:30:00Z") == "2021-02-22T08:30:00+08:00"  # Asia/Shanghai
    assert md.date_from_url("http://x.gov.cn/art/2016/11/22/art_12_345.html") == "2016-11-22"
    assert md.date_from_url("http://x.gov.cn/zwgk/t20190918_693227.shtml") == "2019-09-18"
    assert md.date_from_url("http://x.gov.cn/zwgk/index.shtml") is None


def test_reporter_as_author_but_no_author_from_an_end_credit():
    html = """<html><body><h1>秋收时节人才忙</h1><div class="content">
    <p>本报记者 周启航 通讯员 何帆</p>
    <p>　　金秋十月，南岭镇的田间地头处处可见农技人才的身影。镇里组织农技专家服务队，分片指导秋收。</p>
    <p>　　服务队还通过直播课堂讲解烘干和仓储技术，累计服务农户600余户，帮助农户减少损失。</p>
    </div></body></html>"""
    article = extract(Page(url="http://example.gov.cn/a.html", site="t", html=html))
    assert article.author == "周启航"
    tail = html.replace("<p>本报记者 周启航 通讯员 何帆</p>", "").replace(
        "减少损失。</p>", "减少损失。（许文静 郑一鸣）</p>")
    credited = extract(Page(url="http://example.gov.cn/a.html", site="t", html=tail))
    # a trailing （…） is as often a photographer or editor: no author, and the credit stays in the text
    assert credited.author is None
    assert credited.text.endswith("减少损失。（许文静 郑一鸣）")


def test_page_without_body_is_flagged_and_logged(caplog):
    html = "<html><head><title>栏目</title></head><body><a href='/a'>首页</a><a href='/b'>动态</a></body>"
    with caplog.at_level(logging.WARNING):
        article = extract(Page(url="http://example.gov.cn/empty.html", site="t", html=html))
    assert "no_body" in article.flags
    assert "http://example.gov.cn/empty.html" in caplog.text


def test_selector_that_matches_nothing_falls_back_and_logs(caplog):
    profile = get_profile("generic", {"body": "div.no-such-container"})
    with caplog.at_level(logging.INFO):
        article = extract(_page("county_trs.html", COUNTY_URL), profile)
    assert "人才新政十二条" in article.text
    assert "div.no-such-container" in caplog.text and COUNTY_URL in caplog.text
