"""GBK pages decode as the crawler decodes them: declared, in the HTTP header, or undeclared."""

from __future__ import annotations

from talentwatch.core.records import Page
from talentwatch.crawler.decode import decode_html
from talentwatch.crawler.extract import extract

# 镕 and 喆 are GBK-only: a strict gb2312 decoder garbles them
BODY = ("<p>　　朱镕基路社区组建“银龄人才库”，吸纳退休教师、医生和工程师136名，开展志愿服务和技术咨询，"
        "魏喆等老专家每周坐班答疑，居民反响热烈。</p>"
        "<p>　　社区还与辖区企业签订协议，为退休专业人才提供兼职顾问岗位，发挥余热。</p>")


def _page(meta: str) -> bytes:
    html = (f"<html><head>{meta}<title>社区银龄人才库建成</title></head>"
            f"<body><div class='zw'>{BODY}</div></body></html>")
    return html.encode("gbk")


def test_declared_gb2312_is_read_as_gb18030():
    declared = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    encoding, text = decode_html(_page(declared))
    assert encoding == "gb18030"
    assert "朱镕基路" in text and "魏喆" in text and "\ufffd" not in text


def test_charset_from_http_header():
    encoding, text = decode_html(_page(""), "text/html; charset=GBK")
    assert encoding == "gb18030" and "银龄人才库" in text


def test_undeclared_gbk_page_is_detected():
    encoding, text = decode_html(_page(""))
    assert encoding == "gb18030"
    article = extract(Page(url="http://example.gov.cn/gbk.html", site="t", html=text))
    assert article.title == "社区银龄人才库建成"
    assert "魏喆等老专家每周坐班答疑" in article.text


def test_utf8_bom_wins():
    body = "\ufeff<html><body><p>人才公寓</p></body></html>".encode("utf-8")
    encoding, text = decode_html(body, "text/html; charset=gbk")
    assert encoding == "utf-8" and "人才公寓" in text
