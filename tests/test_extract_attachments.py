"""Attachment links are found; files are read, or skipped with a reason."""

from __future__ import annotations

import io

import docx
import pytest
from talentwatch.core.records import FetchedFile, Page
from talentwatch.crawler.attachments import MAX_ATTACHMENT_BYTES, find_attachment_links, read_attachment
from talentwatch.crawler.extract import extract

from tests.pdfmaker import cjk_pdf

PAGE = """<html><body><div class="zw"><p>附件：</p>
<p><a href="/attach/mingdan.pdf">1.入选人员名单.pdf</a></p>
<p><a href="../files/shenbaobiao.DOCX?v=2">2.申报表</a></p>
<p><a href="/download.jsp?id=77">3.补贴标准.doc</a></p>
<p><a href="/attach/mingdan.pdf">1.入选人员名单.pdf</a></p>
<p><a href="/zwgk/index.html">政务公开</a> <a href="javascript:void(0)">打印.pdf</a></p>
</div></body></html>"""


def test_find_attachment_links():
    links = find_attachment_links(PAGE, "http://www.example.gov.cn/zwgk/tzgg/post_1.html")
    assert links == [
        ("http://www.example.gov.cn/attach/mingdan.pdf", "1.入选人员名单.pdf"),
        ("http://www.example.gov.cn/zwgk/files/shenbaobiao.DOCX?v=2", "2.申报表"),
        ("http://www.example.gov.cn/download.jsp?id=77", "3.补贴标准.doc"),
    ]


@pytest.mark.parametrize("href", ["/fj/mingdan.Pdf", "/fj/mingdan%2Epdf", "/fj/mingdan&#46;pdf",
                                  "/fj/mingdan&#X2e;docx", "/fj/mingdan&#0046;DOC", "/fj/mingdan&period;pdf"])
def test_a_document_link_is_found_however_its_dot_or_extension_is_written(href: str) -> None:
    """The quick scan that lets most pages skip parsing must not skip any of these."""
    page = f'<html><body><p>名单见附件：<a href="{href}">人才认定名单</a></p></body></html>'
    [(url, text)] = find_attachment_links(page, "http://www.example.gov.cn/zwgk/post_1.html")
    assert url.startswith("http://www.example.gov.cn/fj/mingdan") and text == "人才认定名单"


def test_a_page_without_document_links_has_none() -> None:
    page = '<html><body><p>详见<a href="/zwgk/post_2.html">通知原文</a>（v1.0版）</p></body></html>'
    assert find_attachment_links(page, "http://www.example.gov.cn/zwgk/post_1.html") == []


def test_docx_text_is_read():
    document = docx.Document()
    document.add_paragraph("青年人才生活补贴申报表")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "补贴标准"
    table.rows[0].cells[1].text = "每月2000元"
    buf = io.BytesIO()
    document.save(buf)
    att = read_attachment(FetchedFile(url="http://x.gov.cn/a.docx", name="申报表.docx", body=buf.getvalue()))
    assert att.skipped is None
    assert "青年人才生活补贴申报表" in att.text and "每月2000元" in att.text


def test_pdf_text_is_searchable_with_the_article():
    pdf = FetchedFile(url="http://x.gov.cn/m.pdf", name="名单.pdf",
                      body=cjk_pdf(["入选人员：王立新、赵一帆、孙梅。"]))
    html = ("<html><body><div class='zw'><p>现将2024年度县管专家入选名单予以公布，公示期五个工作日。</p>"
            "</div></body></html>")
    article = extract(Page(url="http://x.gov.cn/t.html", site="t", html=html, files=[pdf]))
    assert "赵一帆" in article.attachments[0].text
    assert article.attachments[0].name == "名单.pdf"


def test_malformed_oversized_and_unfetched_files_are_skipped_with_a_reason():
    broken = read_attachment(FetchedFile(url="http://x/a.pdf", body=b"%PDF-1.4\n this is not a pdf"))
    assert broken.skipped and broken.skipped.startswith("malformed pdf")
    big = read_attachment(FetchedFile(url="http://x/b.pdf", body=b"%PDF" + b"0" * MAX_ATTACHMENT_BYTES))
    assert big.skipped and "too large" in big.skipped
    failed = read_attachment(FetchedFile(url="http://x/c.pdf", skipped="HTTP 404"))
    assert failed.skipped == "HTTP 404"
    legacy = read_attachment(FetchedFile(url="http://x/d.doc", body=b"\xd0\xcf\x11\xe0" + b"\0" * 100))
    assert legacy.skipped and ".doc" in legacy.skipped


def test_page_whose_content_is_only_an_attachment_is_not_flagged():
    notice = "关于开展2024年度高层次人才认定工作的通知。各单位：现将有关事项通知如下。"
    pdf = FetchedFile(url="http://x.gov.cn/m.pdf", body=cjk_pdf([notice]))
    html = "<html><body><a href='/m.pdf'>通知.pdf</a></body></html>"
    article = extract(Page(url="http://x.gov.cn/t.html", site="t", html=html, files=[pdf]))
    assert "no_body" not in article.flags
