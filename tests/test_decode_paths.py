"""The crawl and `talentwatch extract` decode page bytes with one decoder: the same bytes
give the same record whichever way they come in — pages that declare no charset (a
short one, whose byte statistics charset detection reads as Korean), a GBK page
labelled gb2312, and a GBK page mislabelled utf-8 (read as GB18030 and flagged charset_mismatch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import export_jsonl, run_cli, write_config
from tests.portal_server import serve_counting

# 镕 and 喆 are in GBK but not in GB2312: a page labelled gb2312 uses them all the same
PAGES = {
    "undeclared": ("", "县人社局发布2026年度高层次人才安家补贴申报指南"),
    "short undeclared": ("", "引进人才名单公示"),
    "gb2312": ('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
               "镕城区启动青年人才驿站免费住宿服务"),
    "mislabelled": ('<meta charset="utf-8">', "关于开展第三批乡村振兴人才评选工作的通知"),
}
BODY = ("<p>　　为进一步做好引才聚才工作，经研究决定，自即日起受理{title}相关事项。"
        "符合条件的博士研究生一次性发放安家补贴20万元，硕士研究生8万元，由魏喆同志负责解答咨询。</p>"
        "<p>　　申报材料请于2026年4月30日前报送县人才工作领导小组办公室，逾期不予受理。"
        "联系电话：0571-88886666。</p>"
        "<p>　　各乡镇、各部门要高度重视，广泛宣传，确保政策落实到位，让人才引得进、留得住、用得好。</p>")
FIELDS = ("title", "published", "source", "author", "editor", "original_url", "text",
          "attachments", "flags")


def _article(meta: str, title: str) -> bytes:
    short = len(title) <= 10  # a title and a date: too few bytes for charset detection
    info = "2026-03-05" if short else "发布时间：2026-03-05 09:30 来源：县委组织部"
    body = f"<p>{title}</p>" if short else BODY.format(title=title)
    html = (f"<html><head>{meta}<title>{title}</title></head><body>"
            f"<h1>{title}</h1><div class='info'>{info}</div>"
            f"<div class='zw'>{body}</div></body></html>")
    return html.encode("gbk")  # every page is GBK, whatever it says


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "portal"
    (root / "rcgz").mkdir(parents=True)
    links = []
    for n, (meta, title) in enumerate(PAGES.values(), start=1):
        (root / "rcgz" / f"post_{n}.html").write_bytes(_article(meta, title))
        links.append(f'<li><a href="post_{n}.html">{title}</a></li>')
    index = f'<html><head><meta charset="utf-8"></head><body><ul>{"".join(links)}</ul></body></html>'
    (root / "rcgz" / "index.html").write_text(index, encoding="utf-8")
    with serve_counting(root) as (base_url, _):
        yield root, base_url


def test_crawl_and_extract_give_the_same_record_for_the_same_bytes(tmp_path: Path, site) -> None:
    root, base_url = site
    config = write_config(tmp_path / "config.yaml", [{
        "name": "县人社局", "start_urls": [base_url + "rcgz/index.html"],
        "article_pattern": r"/rcgz/post_\d+\.html$", "delay": 0}])
    run_cli("crawl", config=config)
    crawled = {r["url"].rsplit("/", 1)[-1]: r for r in export_jsonl(config)}

    files = [root / "rcgz" / f"post_{n}.html" for n in range(1, len(PAGES) + 1)]
    out = run_cli("extract", "--no-attachments", *map(str, files)).stdout
    extracted = [json.loads(line) for line in out.splitlines()]

    assert len(crawled) == len(extracted) == len(PAGES)
    for file, record in zip(files, extracted, strict=True):
        from_crawl = crawled[file.name]
        assert {f: from_crawl[f] for f in FIELDS} == {f: record[f] for f in FIELDS}, file.name
    # the declared and the undeclared GBK pages read correctly (GBK-only 镕 and 喆 included)
    names = list(PAGES)
    for name in ("undeclared", "short undeclared", "gb2312"):
        record = crawled[f"post_{names.index(name) + 1}.html"]
        assert record["title"] == PAGES[name][1], name
        assert "\ufffd" not in record["text"] and ("魏喆同志" in record["text"] or len(record["title"]) <= 10)
    # the GBK page that says utf-8 reads correctly too, and both ways flag it
    mislabelled = crawled[f"post_{names.index('mislabelled') + 1}.html"]
    assert mislabelled["title"] == PAGES["mislabelled"][1]
    assert "charset_mismatch" in mislabelled["flags"]
