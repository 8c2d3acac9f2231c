"""Bulletins (组工信息): a PDF issue attached to a page is split into its items."""

from __future__ import annotations

from talentwatch.core.records import FetchedFile, Page
from talentwatch.crawler.bulletin import split_items
from talentwatch.crawler.extract import extract

from tests.pdfmaker import cjk_pdf

ISSUE = [
    "青川组工信息",
    "第 12 期",
    "中共青川市委组织部研究室 2024年6月3日",
    "★ 市内信息",
    "△东溪县以“乡贤回归”凝聚发展合力。东溪县建立在外人才信息库，收录各类人才1800余名，定期寄送家乡发展简报。"
    "今年以来，先后在深圳、杭州举办乡贤恳谈会3场，促成回乡投资项目9个，带回技术骨干40余名。（东溪县委组织部）",
    "△南塘区推行人才服务“一卡通”。南塘区向重点人才发放服务卡，持卡人可在政务大厅享受优先办理，"
    "在区内定点医院享受绿色就医通道，子女入学由教育部门统筹安排。目前已发卡260张。（南塘区委人才办）",
    "★ 市外参考",
    "△外省某市：实施技能人才“薪火计划”。该市每年遴选100名高技能人才担任导师，采取师带徒方式培养青年技工，"
    "对带徒成效明显的导师给予每年2万元津贴，两年来累计培养青年技工1200余名。（摘自《组织工作简报》）",
]
URL = "http://www.qingchuan.gov.cn/zgxx/content/post_77.html"


def _issue_page(files: list[FetchedFile]) -> Page:
    html = ("<html><head><title>青川组工信息第12期_青川组工网</title></head><body>"
            "<div class='content'><p>青川组工信息（第12期）全文见附件。</p>"
            "<p><a href='/attach/zgxx12.pdf'>青川组工信息第12期.pdf</a></p></div></body></html>")
    return Page(url=URL, site="qingchuan", html=html, files=files)


def test_pdf_bulletin_is_split_into_items():
    pdf = FetchedFile(url="http://www.qingchuan.gov.cn/attach/zgxx12.pdf", name="青川组工信息第12期.pdf",
                      body=cjk_pdf(ISSUE), content_type="application/pdf")
    article = extract(_issue_page([pdf]))
    assert article.attachments[0].skipped is None
    assert "乡贤恳谈会3场" in article.attachments[0].text  # the PDF's text is read back
    titles = [p.title for p in article.parts]
    assert titles == ["东溪县以“乡贤回归”凝聚发展合力", "南塘区推行人才服务“一卡通”",
                      "外省某市：实施技能人才“薪火计划”"]
    first = article.parts[0]
    assert first.parent_url == URL
    assert first.url == "http://www.qingchuan.gov.cn/attach/zgxx12.pdf#item-1"
    assert first.source == "东溪县委组织部"
    assert first.text.startswith("东溪县建立在外人才信息库")
    assert first.text.endswith("带回技术骨干40余名。")
    # a section heading between items belongs to neither
    assert "市外参考" not in article.parts[1].text
    assert article.parts[1].source == "南塘区委人才办"
    assert first.published == "2024-06-03"  # the issue's date
    assert len({p.url for p in article.parts}) == 3


def test_heading_separated_bulletin():
    text = "\n".join([
        "青川组工信息", "第6期", "中共青川市委组织部研究室", "2024年3月14日",
        "编者按：现将全市组织部长会议交流材料予以刊发，供各地学习借鉴。",
        "聚焦产业需求 精准引育人才", "中共东溪县委组织部",
        "东溪县围绕主导产业编制紧缺人才目录，全年引进急需紧缺人才120名，其中博士12名。",
        "建立人才联系服务制度，县级领导每人联系2名以上高层次人才，定期走访解决实际困难。",
        "抓实基层党建 夯实组织基础", "中共南塘区委组织部",
        "南塘区实施村党组织书记能力提升工程，分批次开展轮训，全区村书记轮训覆盖率达到100%。",
    ])
    items = split_items(text)
    assert [i[0] for i in items] == ["聚焦产业需求 精准引育人才", "抓实基层党建 夯实组织基础"]
    assert items[0][2] == "中共东溪县委组织部"
    assert "博士12名" in items[0][1] and "村书记" not in items[0][1]


def test_ordinary_article_has_no_parts():
    text = "某县召开人才工作会议。会议指出，要进一步完善人才政策体系。"
    assert split_items(text) == []
