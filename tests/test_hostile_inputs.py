"""Hostile inputs fail cleanly: one line, exit 2, no traceback; saved pages read only their own folder."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from talentwatch.core.config import ConfigError, load_config
from talentwatch.storage.query import MAX_NESTING, QueryError, parse_query

from tests.cli_runner import invoke
from tests.conftest import write_config
from tests.pdfmaker import cjk_pdf


def one_line_exit_2(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1]


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    """Topics whose terms are aliases of aliases: a few hundred bytes, width**levels terms."""
    lines = ["relevance:", "  topics:",
             "    - name: 人才引进", "      terms: &t0 [" + ", ".join(["引才"] * width) + "]"]
    for level in range(1, levels):
        lines += [f"    - name: 层{level}",
                  f"      terms: &t{level} [" + ", ".join([f"*t{level - 1}"] * width) + "]"]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_in_the_topics_is_refused_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bomb.yaml"
    config.write_text(alias_bomb(), encoding="utf-8")
    started = time.monotonic()
    last = one_line_exit_2(invoke(["--config", str(config), "validate"]))
    assert time.monotonic() - started < 5  # refused before anything walks it
    assert str(config) in last and "alias" in last


def test_aliases_of_a_sane_size_still_load(tmp_path: Path) -> None:
    # aliases are a fair YAML feature: a shared list of terms used by two topics is fine
    config = tmp_path / "config.yaml"
    config.write_text("relevance:\n  topics:\n    - {name: 人才引进, terms: &shared [引才, 揭榜挂帅]}\n"
                      "    - {name: 科技人才, terms: *shared}\n", encoding="utf-8")
    loaded = load_config(config)
    assert [t.name for t in loaded.relevance.topics] == ["人才引进", "科技人才"]
    assert set(loaded.relevance.topics[1].terms) == {"引才", "揭榜挂帅"}


def test_a_small_bomb_under_the_limit_is_still_a_clean_error(tmp_path: Path) -> None:
    # nested lists of terms, below the alias limit: a config error naming the topic, no traceback
    config = tmp_path / "config.yaml"
    config.write_text(alias_bomb(levels=3, width=3), encoding="utf-8")
    with pytest.raises(ConfigError, match="topic '层1': terms must be a list of words"):
        load_config(config)


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "loop.yaml"
    config.write_text("relevance: &r\n  topics: [*r]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="loop.yaml: refused"):
        load_config(config)


def test_deeply_nested_yaml_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "deep.yaml"
    config.write_text("sites: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="deep.yaml: refused"):
        load_config(config)


@pytest.fixture
def archive_config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config.yaml", [])


def test_400_nested_parentheses_are_one_line_and_exit_2(archive_config: Path) -> None:
    query = "(" * 400 + "人才" + ")" * 400
    last = one_line_exit_2(invoke(["--config", str(archive_config), "search", query]))
    assert "too deeply nested" in last


def test_nesting_up_to_the_limit_still_searches(archive_config: Path) -> None:
    query = "(" * MAX_NESTING + "人才" + ")" * MAX_NESTING
    result = invoke(["--config", str(archive_config), "search", query])
    assert result.returncode == 0, result.stderr
    with pytest.raises(QueryError, match="too deeply nested"):
        parse_query("人才 (" * (MAX_NESTING + 1) + "补贴" + ")" * (MAX_NESTING + 1))


def test_export_query_has_the_same_nesting_limit(archive_config: Path) -> None:
    query = "(" * 400 + "人才" + ")" * 400
    last = one_line_exit_2(invoke(["--config", str(archive_config), "export", "-q", query]))
    assert "too deeply nested" in last


@pytest.mark.parametrize("args", [
    ["search", "人才", "--limit", "9999999999999"],
    ["search", "人才", "--limit", "0"],
    ["export", "--limit", "99999999999999999999"],
    ["dupes", "--limit", "-1"],
    ["serve", "--port", "70000"],
    ["extract", "--timeout", "-1", "x.html"],
])
def test_numeric_options_out_of_range_are_one_line_and_exit_2(archive_config: Path, args) -> None:
    last = one_line_exit_2(invoke(["--config", str(archive_config), *args]))
    assert "Invalid value" in last and "range" in last


# ---- extract on a saved page: attachments only from regular files in its own folder ----

SECRET = "机密：本文件不得外传"


def saved_page(folder: Path, links: list[str]) -> Path:
    anchors = "".join(f"<p><a href='{href}'>附件{i}.pdf</a></p>" for i, href in enumerate(links))
    page = folder / "notice.html"
    page.write_text("<html><head><title>关于人才公寓申请的通知</title></head><body><div class='zw'>"
                    "<p>　　各有关单位：人才公寓申请材料清单和申请表请见附件，请按要求于月底前提交。</p>"
                    f"{anchors}</div></body></html>", encoding="utf-8")
    return page


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A PDF outside the saved page's folder, holding text that must not be read."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(cjk_pdf([SECRET]))
    return folder / "a.pdf"


def extract_attachments(page: Path) -> list[dict]:
    result = invoke(["extract", str(page)])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)["attachments"]


def test_saved_page_cannot_reach_files_outside_its_folder(tmp_path: Path, outside: Path) -> None:
    folder = tmp_path / "saved" / "deep" / "er"
    folder.mkdir(parents=True)
    copy = outside.with_name("b.pdf")
    copy.write_bytes(outside.read_bytes())
    # up and out; a file:// URL; an absolute path (that resolves to file:///etc/passwd)
    links = ["../../../outside/a.pdf", copy.as_uri(), "/etc/passwd"]
    attachments = extract_attachments(saved_page(folder, links))
    assert len(attachments) == len(links)
    for attachment in attachments:
        assert attachment["text"] == ""
        assert "outside the saved page's folder" in attachment["skipped"], attachment


def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path: Path, outside: Path) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "link.pdf").symlink_to(outside)
    [attachment] = extract_attachments(saved_page(folder, ["link.pdf"]))
    assert SECRET not in json.dumps(attachment, ensure_ascii=False)
    assert "outside" in attachment["skipped"]


def test_devices_and_fifos_are_not_read(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    os.mkfifo(folder / "pipe.pdf")  # nobody writes: reading it would wait forever
    (folder / "zero.pdf").symlink_to("/dev/zero")
    started = time.monotonic()
    attachments = extract_attachments(saved_page(folder, ["pipe.pdf", "file:///dev/zero", "zero.pdf"]))
    assert time.monotonic() - started < 10
    pipe, zero, zero_link = attachments
    assert "not a regular file" in pipe["skipped"]
    assert "outside" in zero["skipped"] and "outside" in zero_link["skipped"]


def test_an_attachment_over_the_cap_is_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    with open(folder / "big.pdf", "wb") as big:
        big.truncate(21 * 1024 * 1024)  # sparse: no disk, no memory
    [attachment] = extract_attachments(saved_page(folder, ["big.pdf"]))
    assert attachment["skipped"].startswith("too large")


def test_a_saved_page_still_reads_its_own_attachments(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    (folder / "files").mkdir(parents=True)
    (folder / "files" / "申请表.pdf").write_bytes(cjk_pdf(["人才公寓申请表须由用人单位盖章"]))
    [attachment] = extract_attachments(saved_page(folder, ["files/申请表.pdf"]))
    assert "用人单位盖章" in attachment["text"]


def test_extract_refuses_a_device_as_the_page(tmp_path: Path) -> None:
    result = invoke(["extract", "/dev/zero"])
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "not a regular file: /dev/zero"



def test_an_enormous_article_text_is_truncated_and_flagged() -> None:
    from talentwatch.core.records import Page
    from talentwatch.crawler.extract import MAX_TEXT_CHARS, extract

    paragraph = "关于进一步加强高层次人才引进和培养工作的实施意见，各单位要认真贯彻落实。"
    html = ("<html><head><title>人才工作实施意见</title></head><body><div class='zw'>"
            + "".join(f"<p>{paragraph}</p>" for _ in range(MAX_TEXT_CHARS // len(paragraph) + 2000))
            + "</div></body></html>")
    article = extract(Page(url="http://127.0.0.1/rcgz/content/post_1.html", site="东溪组工网", html=html))
    assert len(article.text) == MAX_TEXT_CHARS
    assert "truncated" in article.flags
