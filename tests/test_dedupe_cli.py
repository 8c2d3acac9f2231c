"""`talentwatch show` and `talentwatch dupes` on a real archive file."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from talentwatch.cli.app import main
from talentwatch.core.records import Article
from talentwatch.storage.articles import save_article
from talentwatch.storage.crawlstate import mark_withdrawn
from talentwatch.storage.schema import open_archive

from tests.dedupe_texts import EDITED, ORIGINAL, ORIGINAL_TITLE, OTHER, OTHER_TITLE, mirror, repost_text

GOV = "https://www.baishi.gov.cn/rcgz/content/post_501.html"
AGG = "https://news.example.org/difang/8812.html"
MIRROR = "https://mirror.example.net/tw/77.html"
GONE = "https://www.baishi.gov.cn/rcgz/content/post_502.html"


@pytest.fixture
def config(tmp_path):
    db = open_archive(tmp_path / "archive.db")
    save_article(db, Article(url=GOV, site="gov", title=ORIGINAL_TITLE, text="\n".join(ORIGINAL),
                             published="2026-03-01"))
    save_article(db, Article(url=AGG, site="agg", title=ORIGINAL_TITLE, text="\n".join(repost_text(GOV)),
                             published="2026-03-02"))
    save_article(db, Article(url=MIRROR, site="mirror", title=ORIGINAL_TITLE,
                             text="\n".join(mirror(ORIGINAL)), published="2026-03-03"))
    save_article(db, Article(url=GOV, site="gov", title=ORIGINAL_TITLE, text="\n".join(EDITED),
                             published="2026-03-01"))
    save_article(db, Article(url=GONE, site="gov", title=OTHER_TITLE, text="\n".join(OTHER),
                             published="2026-02-20"))
    mark_withdrawn(db, GONE, 410)
    db.close()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database": str(tmp_path / "archive.db")}), encoding="utf-8")
    return str(path)


def run(config: str, *args: str):
    return CliRunner().invoke(main, ["--config", config, *args])


def test_show_by_url_lists_copies_and_text(config):
    result = run(config, "show", "http://baishi.gov.cn/rcgz/content/post_501.html#x")
    assert result.exit_code == 0, result.output
    assert "version 2 · active" in result.output
    assert "original of 2 copies" in result.output and AGG in result.output and MIRROR in result.output
    assert "最高100万元安家补贴" in result.output


def test_show_history_and_diff(config):
    result = run(config, "show", "1", "--history", "--diff")
    assert result.exit_code == 0, result.output
    assert "v1 fetched" in result.output and "v2 fetched" in result.output
    assert "changed v2" in result.output
    assert "+措施明确，对新引进的国家级领军人才，给予最高100万元安家补贴" in result.output


def test_show_a_copy_names_its_original(config):
    result = run(config, "show", MIRROR)
    assert result.exit_code == 0
    assert f"copy of #1 {GOV}" in result.output


def test_show_withdrawn(config):
    result = run(config, "show", GONE, "--history")
    assert "withdrawn since" in result.output and "HTTP 410" in result.output
    assert "removed v1 (HTTP 410)" in result.output


def test_show_unknown_is_a_clear_error(config):
    result = run(config, "show", "https://nowhere.example/x.html")
    assert result.exit_code == 1 and "no archived article" in result.output


def test_dupes_lists_each_story_with_its_copies(config):
    result = run(config, "dupes", "--json")
    assert result.exit_code == 0, result.output
    (story,) = [json.loads(line) for line in result.output.splitlines()]
    assert story["original"]["url"] == GOV
    assert sorted(c["url"] for c in story["copies"]) == sorted([AGG, MIRROR])
    assert all(c["published"] and c["first_seen"] for c in story["copies"])
    text = run(config, "dupes").output
    assert "original  #1 gov" in text and "copy      #2 agg" in text
    assert run(config, "dupes", "--site", "nosuchsite", "--json").output.strip() == ""
