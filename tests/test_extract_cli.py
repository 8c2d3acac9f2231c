"""`talentwatch extract` on saved files and on URLs served from 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.cli_runner import invoke
from tests.pdfmaker import cjk_pdf

DATA = Path(__file__).parent / "data" / "extract"


def run(*args: str) -> subprocess.CompletedProcess:
    return invoke(["extract", *args])


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("portal")
    (root / "rcgz").mkdir()
    shutil.copy(DATA / "county_trs.html", root / "rcgz" / "post_4412.html")
    # a GBK page that declares nothing, linking a PDF bulletin
    page = ("<html><head><title>青川组工信息第12期</title></head><body><div class='zw'>"
            "<p>　　本期编发市内信息两则，供各地学习借鉴，全文见附件。欢迎各地积极报送工作信息。</p>"
            "<p><a href='zgxx12.pdf'>青川组工信息第12期.pdf</a></p></div></body></html>")
    (root / "rcgz" / "zgxx12.html").write_bytes(page.encode("gbk"))
    (root / "rcgz" / "zgxx12.pdf").write_bytes(cjk_pdf([
        "青川组工信息", "第 12 期",
        "△东溪县建立在外人才信息库。东溪县收录各类在外人才1800余名，定期寄送家乡发展简报，促成回乡投资项目9个。（东溪县委组织部）",
        "△南塘区推行人才服务卡。南塘区向重点人才发放服务卡，持卡人在政务大厅享受优先办理等服务，已发卡260张。（南塘区委人才办）",
    ]))
    # a web page linking a PDF on the machine running extract, beside one of its own
    private = tmp_path_factory.mktemp("private") / "工资表.pdf"
    private.write_bytes(cjk_pdf(["内部资料", "机密：这是一份不应被读出的本地文件"]))
    (root / "rcgz" / "leak.html").write_text(
        "<html><head><title>人才公寓申请指南</title></head><body><div class='zw'>"
        "<p>　　人才公寓申请材料清单和申请表请见附件，符合条件的人才可向所在单位提交申请。</p>"
        f"<p><a href='{private.as_uri()}'>申请表.pdf</a> <a href='zgxx12.pdf'>材料清单.pdf</a></p>"
        "</div></body></html>", encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_extract_a_file():
    result = run(str(DATA / "county_trs.html"))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["title"] == "青禾县出台“引凤归巢”人才新政十二条"
    assert record["published"] == "2022-10-17T10:30:00+08:00"
    assert record["editor"] == "陈雨桐" and record["author"] == "林晓东"
    assert record["url"].startswith("file://")
    for field in ("url", "site", "title", "published", "source", "author", "editor", "original_url",
                  "text", "attachments", "parent_url", "flags"):
        assert field in record


def test_extract_urls_in_order_with_attachments_and_a_bad_target(portal):
    result = run(f"{portal}/rcgz/zgxx12.html", f"{portal}/rcgz/missing.html", f"{portal}/rcgz/post_4412.html")
    assert result.returncode == 1  # one target failed; the others still came out
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["url"] for line in lines] == [f"{portal}/rcgz/zgxx12.html", f"{portal}/rcgz/missing.html",
                                               f"{portal}/rcgz/post_4412.html"]
    bulletin, missing, county = lines
    assert "本期编发市内信息两则" in bulletin["text"]  # GBK decoded
    assert bulletin["attachments"][0]["url"] == f"{portal}/rcgz/zgxx12.pdf"
    assert [p["title"] for p in bulletin["parts"]] == ["东溪县建立在外人才信息库", "南塘区推行人才服务卡"]
    assert all(p["parent_url"] == bulletin["url"] for p in bulletin["parts"])
    assert "404" in missing["error"]
    assert county["source"] == "青禾县委人才办"
    assert "could not be read" in result.stderr


def test_extract_list_page_with_profile():
    result = run("--list", "--profile", "12371", str(DATA / "12371_list.html"))
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    assert len(items) == 3 and items[0]["date"] == "2024-05-06T10:15:00+08:00"


def test_bad_selector_option_is_a_usage_error():
    result = run("-s", "nobody", str(DATA / "county_trs.html"))
    assert result.returncode == 2 and "FIELD=CSS" in result.stderr


def test_a_malformed_url_is_reported_and_the_batch_goes_on():
    result = run("http://[::1", "http://exa mple.gov.cn/a.html", str(DATA / "county_trs.html"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    bad, spaced, good = (json.loads(line) for line in result.stdout.splitlines())
    assert bad == {"url": "http://[::1", "error": "not a valid URL: Invalid IPv6 URL"}
    assert spaced["url"] == "http://exa mple.gov.cn/a.html" and "not a valid URL" in spaced["error"]
    assert good["title"] == "青禾县出台“引凤归巢”人才新政十二条"
    assert "2 of 3 target(s) could not be read" in result.stderr


def test_a_bad_list_pattern_is_a_usage_error():
    result = run("--list", "--pattern", "(", str(DATA / "12371_list.html"))
    assert result.returncode == 2 and result.stdout == ""
    assert "--pattern is not a valid regular expression" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_web_page_cannot_make_extract_read_local_files(portal):
    result = run(f"{portal}/rcgz/leak.html")
    assert result.returncode == 0, result.stderr
    assert "机密" not in result.stdout
    local, own = json.loads(result.stdout)["attachments"]
    assert local["url"].startswith("file://") and local["text"] == ""
    assert "only http(s) links" in local["skipped"]
    assert own["url"] == f"{portal}/rcgz/zgxx12.pdf" and "东溪县" in own["text"]


def test_a_saved_page_reads_the_files_beside_it(tmp_path):
    (tmp_path / "申请表.pdf").write_bytes(cjk_pdf(["人才公寓申请表", "申请人须在本市工作满一年"]))
    page = tmp_path / "guide.html"
    page.write_text("<html><head><title>人才公寓申请指南</title></head><body><div class='zw'>"
                    "<p>　　人才公寓申请材料清单和申请表请见附件，符合条件的人才可向所在单位提交申请。</p>"
                    "<p><a href='申请表.pdf'>申请表.pdf</a></p></div></body></html>", encoding="utf-8")
    result = run(str(page))
    assert result.returncode == 0, result.stderr
    [attachment] = json.loads(result.stdout)["attachments"]
    assert "本市工作满一年" in attachment["text"]
