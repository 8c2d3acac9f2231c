"""Page furniture never reaches `text`: one check per kind of boilerplate."""

from __future__ import annotations

from pathlib import Path

import pytest
from talentwatch.core.profiles import get_profile
from talentwatch.core.records import Page
from talentwatch.crawler.extract import extract

DATA = Path(__file__).parent / "data" / "extract"


@pytest.fixture(scope="module")
def county_text() -> str:
    html = (DATA / "county_trs.html").read_text("utf-8")
    return extract(Page(url="http://www.qinghe.gov.cn/rcgz/content/post_4412.html", site="t", html=html)).text


@pytest.mark.parametrize("kind, fragment", [
    ("share bar", "分享到"),
    ("print", "打印"),
    ("correction", "纠错"),
    ("close window", "关闭窗口"),
    ("wechat", "微信扫一扫"),
    ("audio player", "收听本文"),
    ("audio clock", "00:00/00:00"),
    ("previous", "上一篇"),
    ("next", "下一篇"),
    ("related reading", "相关阅读"),
    ("related item", "人才驿站揭牌"),
    ("view count", "浏览次数"),
    ("breadcrumb", "当前位置"),
    ("disclaimer", "免责声明"),
    ("ICP", "ICP备"),
    ("organiser", "主办单位"),
    ("contact", "联系电话"),
    ("editor line", "责任编辑"),
    ("info line", "发布时间"),
    ("mobile link", "手机版"),
])
def test_boilerplate_kind_is_gone(county_text, kind, fragment):
    assert fragment not in county_text, kind


def test_the_body_is_all_there(county_text):
    assert county_text.startswith("为进一步集聚乡村振兴和产业发展急需人才")
    assert "每人30万元安家补贴" in county_text
    assert county_text.endswith("让各类人才引得进、留得住、用得好。")
    assert len(county_text.split("\n")) == 5  # one line per paragraph


def test_12371_page_furniture_is_gone():
    html = (DATA / "12371_article.html").read_text("utf-8")
    url = "https://www.12371.cn/2024/05/06/ARTI1714961700123456.shtml"
    text = extract(Page(url=url, site="t", html=html), get_profile("12371")).text
    for fragment in ("手机版", "打印", "纠错", "微信扫一扫", "收听本文", "版权所有", "来源"):
        assert fragment not in text
    assert text.startswith("人才是第一资源。")


def test_related_list_without_markup_cue_is_cut_from_a_density_body():
    paragraphs = "".join(
        f"<p>　　第{i}段：镇里围绕人才引进、培养和使用持续发力，推动各项政策落地见效，群众满意。</p>"
        for i in range(1, 6))
    html = (f"<html><body><div id='main'><h1>某镇人才工作纪实</h1>{paragraphs}"
            "<p>相关新闻</p><p><a href='/1.html'>某镇召开人才座谈会</a></p>"
            "<p><a href='/2.html'>某镇人才驿站投入使用</a></p></div></body></html>")
    text = extract(Page(url="http://example.gov.cn/x.html", site="t", html=html)).text
    assert "第5段" in text
    assert "相关新闻" not in text and "人才驿站投入使用" not in text
