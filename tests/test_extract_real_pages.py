"""Shapes of real government pages that used to defeat extraction (issue 17), one page each."""

from __future__ import annotations

import re
from pathlib import Path

from talentwatch.core.records import Page
from talentwatch.crawler.decode import decode_page
from talentwatch.crawler.extract import extract
from talentwatch.crawler.listing import parse_list

DATA = Path(__file__).parent / "data" / "extract" / "real"


def _extract(name: str, url: str = "http://www.example.gov.cn/rcgz/content/post_1.html"):
    return extract(Page(url=url, site="t", html=(DATA / name).read_text("utf-8")))


def test_article_after_a_header_include_that_closes_the_document():
    article = _extract("premature_end.html")
    assert article.text.startswith("为进一步优化人才发展环境")  # not the top bar
    assert "累计受理申请八十六件" in article.text
    assert "登录" not in article.text
    assert article.published == "2024-06-03T15:20:00+08:00"
    assert article.source == "白沙县委人才办"


def test_date_shown_beside_the_title_beats_meta_pubdate():
    article = _extract("shown_date.html")
    # meta PubDate holds the page-generation time, months later
    assert article.published == "2021-03-15T09:00:00+08:00"


def test_meta_pubdate_when_the_page_shows_no_date():
    html = (DATA / "shown_date.html").read_text("utf-8").replace("<span>2021-03-15 09:00</span>", "")
    article = extract(Page(url="http://www.example.gov.cn/a/post_2.html", site="t", html=html))
    assert article.published == "2021-09-30T02:14:07+08:00"


def test_meta_gives_the_time_when_it_agrees_on_the_day():
    html = (DATA / "shown_date.html").read_text("utf-8").replace("2021-03-15 09:00", "2021-09-30")
    article = extract(Page(url="http://www.example.gov.cn/a/post_2.html", site="t", html=html))
    assert article.published == "2021-09-30T02:14:07+08:00"


def test_title_from_the_heading_when_title_tag_is_only_the_site_name():
    article = _extract("site_name_title.html")
    assert article.title == "青溪县首批“乡村振兴人才驿站”挂牌运行"
    assert article.published == "2023-05-18"


def test_no_date_from_the_related_links_below_the_article():
    article = _extract("related_dates.html", "http://www.example.gov.cn/nanping/show.aspx?id=88")
    assert article.published is None  # the page shows none; 2022-11-08 dates another article
    assert article.source == "南坪镇党委"
    assert "人才公寓交付使用" not in article.text


def test_empty_label_takes_not_the_next_label_as_its_value():
    article = _extract("empty_label.html")
    assert article.source == "西河区住建局"  # not "作者": the empty 来源 gives nothing
    assert article.author is None  # "作者：" with nothing after it, not "字号"
    assert article.published == "2022-08-09"


def test_info_bar_of_separate_inline_elements():
    article = _extract("inline_info_bar.html")
    assert article.source == "《党建研究》 2021年第4期"  # the whole element, not what a pattern guessed
    assert article.published == "2021-04-20T09:30:00+08:00"
    assert article.text.startswith("近年来，松岗县坚持党管人才原则")


def test_author_only_when_the_page_shows_it():
    article = _extract("author_credit.html")
    assert article.author is None  # neither <meta name=author> nor the trailing credit
    assert article.text.endswith("赴产业园区现场观摩。（张明远）")  # the credit stays in the text
    shown = (DATA / "author_credit.html").read_text("utf-8").replace(
        "来源：北湖县委组织部", "来源：北湖县委组织部　作者：孙晓梅")
    assert extract(Page(url="http://www.example.gov.cn/a/3.html", site="t", html=shown)).author == "孙晓梅"
    role = shown.replace("作者：孙晓梅", "作者：本报记者 孙晓梅")
    assert extract(Page(url="http://www.example.gov.cn/a/3.html", site="t", html=role)).author == "孙晓梅"


def test_gbk_bytes_declared_utf8_are_read_as_gb18030_and_flagged():
    html = (DATA / "author_credit.html").read_text("utf-8")
    body = html.replace("北湖县", "北湖县镕").encode("gbk")  # 镕: a GBK-only character too
    decoded = decode_page(body, "text/html; charset=utf-8")
    assert decoded.encoding == "gb18030" and decoded.flags == ["charset_mismatch"]
    article = extract(Page(url="http://www.example.gov.cn/a/4.html", site="t", html=decoded.text,
                           flags=decoded.flags))
    assert article.title == "北湖县镕举办人才工作专题培训班"
    assert "charset_mismatch" in article.flags


def test_utf8_page_is_not_flagged():
    decoded = decode_page((DATA / "author_credit.html").read_bytes(), "text/html; charset=utf-8")
    assert decoded.encoding == "utf-8" and decoded.flags == []


def test_list_inside_an_html_comment_is_read_when_the_visible_list_is_empty():
    html = (DATA / "commented_list.html").read_text("utf-8")
    page = parse_list(html, "http://www.dongchuan.gov.cn/rcgz/index.html",
                      re.compile(r"/content/post_\d+\.html$"))
    assert [(i.url.rsplit("/", 1)[1], i.title, i.date) for i in page.items] == [
        ("post_7021.html", "东川区发布人才引进十条措施", "2024-04-12"),
        ("post_7008.html", "东川区举办博士后工作站推介会", "2024-03-29"),
    ]
    assert page.items[0].url == "http://www.dongchuan.gov.cn/rcgz/content/post_7021.html"
    assert page.next_pages == ["http://www.dongchuan.gov.cn/rcgz/index_1.html"]


def test_reporter_in_running_text_is_no_author():
    html = """<html><body><h1>人才公寓申请人数创新高</h1><div class="content">
    <p>　　记者从市住建局获悉，今年以来全市人才公寓申请人数达到三千余人，创历年新高。</p>
    <p>　　本报记者在现场看到，前来咨询的青年人才络绎不绝。</p>
    <p>　　市住建局工作人员向记者介绍，今年新增房源八百套。</p>
    </div></body></html>"""
    assert extract(Page(url="http://example.gov.cn/b.html", site="t", html=html)).author is None
    byline = html.replace("<p>　　记者从", "<p>本报记者 韩雪松</p><p>　　记者从")
    assert extract(Page(url="http://example.gov.cn/b.html", site="t", html=byline)).author == "韩雪松"


def test_author_from_the_info_row_right_below_the_body():
    html = """<html><body><h1>高新区引进博士人才四十名</h1>
    <table><tr><td class="content">
    <p>　　今年上半年，高新区通过“揭榜挂帅”等方式引进博士人才四十名，其中半数进入企业研发一线。</p>
    <p>　　高新区将为引进人才提供科研启动经费和安家补贴，并协助解决子女入学等问题。</p>
    </td></tr></table>
    <table><tr><td>编辑：周敏</td><td>来源：高新区管委会</td><td>作者：陆文博 钱佳怡</td></tr></table>
    </body></html>"""
    article = extract(Page(url="http://example.gov.cn/c.html", site="t", html=html))
    assert article.author == "陆文博 钱佳怡"
    assert article.editor == "周敏"


def test_table_announced_by_the_last_line_is_part_of_the_body():
    article = _extract("announced_table.html")
    assert article.text.startswith("根据《东岭市2024年引进高层次人才公告》")
    assert "附：拟聘用人员名单" in article.text
    assert "孙若溪" in article.text and "东岭职业技术学院" in article.text  # the table after the text block
    assert "主办单位" not in article.text


def test_an_article_title_that_ends_like_a_site_name_is_kept():
    html = (DATA / "site_name_title.html").read_text("utf-8").replace(
        "<title>青溪县人民政府门户网站</title>", "<title>青溪县人才服务网正式上线</title>").replace(
        "青溪县首批“乡村振兴人才驿站”挂牌运行</td>", "青溪县人才服务网正式上线</td>")
    article = extract(Page(url="http://www.example.gov.cn/a/5.html", site="t", html=html))
    assert article.title == "青溪县人才服务网正式上线"


def test_header_include_that_is_a_whole_document_of_its_own():
    # the include brings <html><head><title>site</title></head><body>bar</body></html>; the page's own
    # document follows with its own <title>
    html = """<html><head><meta charset="utf-8"><title>白沙县人民政府</title></head>
    <body><div class="topbar">首页 | 简 | 繁 | EN</div></body></html>
    <html><head><title>关于开展第五届县拔尖人才评选工作的通知_白沙县人民政府</title></head><body>
    <div class="zw"><p>各单位：为进一步激发人才创新活力，经研究，决定开展第五届县拔尖人才评选工作。
    <svg><title>分享</title></svg></p></div></body></html>"""
    article = extract(Page(url="http://www.example.gov.cn/a/6.html", site="t", html=html))
    assert article.title == "关于开展第五届县拔尖人才评选工作的通知"
    assert article.text.startswith("各单位：为进一步激发人才创新活力")


def test_a_column_of_dated_links_above_the_body_is_no_stamp():
    html = """<html><head><meta name="PubDate" content="2023-04-11 10:00">
    <title>北川县人才工作简报</title></head>
    <body><table><tr><td class="left"><ul>
    <li><a href="/a/1.html">县委人才办召开工作例会</a> 2023-03-30</li>
    <li><a href="/a/2.html">人才驿站开展政策宣讲</a> 2023-03-21</li>
    <li><a href="/a/3.html">青年人才联谊会成立</a> 2023-03-09</li></ul></td>
    <td class="main"><div class="con">
    <p>　　一季度，北川县新引进各类人才一百二十名，其中硕士以上学历三十六名，人才总量稳步增长。</p>
    <p>　　县人才服务中心全程代办人才落户、社保接续等事项，办理时限压缩一半以上。</p>
    </div></td></tr></table></body></html>"""
    article = extract(Page(url="http://www.example.gov.cn/a/7.html", site="t", html=html))
    assert article.published == "2023-04-11T10:00:00+08:00"  # meta, as the page shows no date of its own
