"""`talentwatch extract URL` fetches attachments only where a crawl would: the page's host
family (or the --site's domains), public addresses unless the page lives there, redirects
included, at the address that was checked, under the size caps. The other host is a
second loopback server (127.0.0.2) recording every request: any request there is a leak."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.cli_runner import invoke
from tests.conftest import ROOT
from tests.hostile_server import Log, page, redirect, serve_routes
from tests.pdfmaker import cjk_pdf
from tests.test_hostile_crawl import article_html

SECRET_PDF = cjk_pdf(["内部资料：干部考察材料，请勿外传"])
OWN_PDF = cjk_pdf(["人才公寓申请表由用人单位盖章后提交"])


def notice(*links: str) -> bytes:
    anchors = "".join(f"<p><a href='{href}'>附件{i + 1}.pdf</a></p>" for i, href in enumerate(links))
    return article_html("关于人才公寓申请的通知", "人才公寓申请材料清单见附件，请于月底前提交。", anchors)


@pytest.fixture
def hosts() -> Iterator[tuple[dict, str, Log]]:
    """(the site's routes, its base URL, the other host's log); both on one port number."""
    routes: dict = {"/files/form.pdf": page(OWN_PDF, "application/pdf")}
    with serve_routes(routes) as (base, _):
        port = int(base.rsplit(":", 1)[1])
        inward = {"/files/a.pdf": page(SECRET_PDF, "application/pdf"),
                  "/rcgz/content/post_9.html": page(article_html("内部通知", "内部资料，请勿外传。"))}
        with serve_routes(inward, host="127.0.0.2", port=port) as (_, inward_log):
            yield routes, base, inward_log


def extract(*args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    result = invoke(["extract", *args])
    return result, [json.loads(line) for line in result.stdout.splitlines()]


def test_attachments_elsewhere_or_redirected_inward_are_not_fetched(hosts) -> None:
    routes, base, inward_log = hosts
    other = base.replace("127.0.0.1", "127.0.0.2")
    routes["/files/moved.pdf"] = redirect(other + "/files/a.pdf")
    routes["/rcgz/post_1.html"] = page(notice(other + "/files/a.pdf", "/files/moved.pdf", "/files/form.pdf"))
    result, [record] = extract(base + "/rcgz/post_1.html")
    assert result.returncode == 0, result.stderr
    assert inward_log.paths() == []
    elsewhere, moved, own = record["attachments"]
    outside = "127.0.0.2 is outside the site (allowed_domains or attachment_domains)"
    assert elsewhere["skipped"] == f"refused: {outside}"
    assert moved["skipped"] == f"refused (redirected from {base}/files/moved.pdf): {outside}"
    assert not own["skipped"] and "人才公寓申请表" in own["text"]
    assert "请勿外传" not in result.stdout


def test_a_page_that_redirects_elsewhere_is_not_followed(hosts) -> None:
    routes, base, inward_log = hosts
    routes["/rcgz/go.html"] = redirect(base.replace("127.0.0.1", "127.0.0.2") + "/rcgz/content/post_9.html")
    result, [record] = extract(base + "/rcgz/go.html")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert record["error"].startswith(f"refused (redirected from {base}/rcgz/go.html): 127.0.0.2 is outside")
    assert inward_log.paths() == []


def test_a_saved_page_fetches_web_links_only_with_its_site(hosts, tmp_path: Path) -> None:
    routes, base, inward_log = hosts
    other = base.replace("127.0.0.1", "127.0.0.2")
    saved = tmp_path / "post_1.html"
    saved.write_bytes(notice(other + "/files/a.pdf", base + "/files/form.pdf"))
    result, [record] = extract(str(saved))
    assert result.returncode == 0, result.stderr
    assert [a["skipped"] for a in record["attachments"]] == [
        "not fetched: a saved page's web links are fetched only with --site (its domains)"] * 2
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": str(tmp_path / "archive.db"), "sites": [{
        "name": "东溪组工网", "start_urls": [base + "/rcgz/index.html"], "article_pattern": "post_"}]},
        allow_unicode=True), encoding="utf-8")
    result, [record] = extract_with(config, "--site", "东溪组工网", str(saved))
    elsewhere, own = record["attachments"]
    assert "127.0.0.2 is outside the site" in elsewhere["skipped"]
    assert "人才公寓申请表" in own["text"]
    assert inward_log.paths() == []


def extract_with(config: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    result = invoke(["--config", str(config), "extract", *args])
    assert result.returncode == 0, result.stderr
    return result, [json.loads(line) for line in result.stdout.splitlines()]


def test_the_sites_attachment_cap_holds(hosts, tmp_path: Path) -> None:
    routes, base, _ = hosts
    routes["/files/big.pdf"] = page(b"%PDF-1.4\n" + b"0" * 100_000, "application/pdf")
    routes["/rcgz/post_1.html"] = page(notice("/files/big.pdf", "/files/form.pdf"))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": str(tmp_path / "archive.db"),
                                      "crawl": {"max_attachment_mb": 0.05},
                                      "sites": [{"name": "东溪组工网", "article_pattern": "post_",
                                                 "start_urls": [base + "/rcgz/index.html"]}]},
                                     allow_unicode=True), encoding="utf-8")
    _, [record] = extract_with(config, "--site", "东溪组工网", base + "/rcgz/post_1.html")
    big, own = record["attachments"]
    assert big["skipped"] == f"too large: {100_009} bytes > {int(0.05 * 1024 * 1024)}"
    assert "人才公寓申请表" in own["text"]


def test_an_attachment_host_that_changes_its_answer_is_read_where_it_was_checked(hosts) -> None:
    """files.rebind.test answers 127.0.0.1 (where the page lives) to the first lookup and
    127.0.0.2 to every later one: extract connects where the check looked."""
    routes, base, inward_log = hosts
    port = base.rsplit(":", 1)[1]
    routes["/rcgz/post_1.html"] = page(notice(f"http://files.rebind.test:{port}/files/a.pdf"))
    routes["/files/a.pdf"] = page(OWN_PDF, "application/pdf")
    table = {"www.rebind.test": ["127.0.0.1"], "files.rebind.test": ["127.0.0.1", "127.0.0.2"]}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "tests.rebinding_cli", json.dumps(table), "extract",
                             f"http://www.rebind.test:{port}/rcgz/post_1.html"],
                            capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    [attachment] = json.loads(result.stdout)["attachments"]
    assert not attachment["skipped"] and "人才公寓申请表" in attachment["text"]
    assert inward_log.paths() == []
