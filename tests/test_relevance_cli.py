"""`talentwatch classify` on a real SQLite archive, before and after a topics change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from talentwatch.core.records import Article
from talentwatch.storage.articles import save_article
from talentwatch.storage.export import export_records
from talentwatch.storage.schema import open_archive

from tests.cli_runner import invoke
from tests.conftest import run_on_terminal

SUBSIDY = Article(
    url="http://127.0.0.1/gzdt/1.html", site="county", title="怀宁县出台青年人才集聚十条措施",
    source="怀宁县委组织部", published="2024-03-01",
    text="对新引进的硕士研究生每人每月给予1000至3000元租房补贴。博士研究生首次购房的，给予最高15万元购房补贴。",
)
PLATFORM = Article(
    url="http://127.0.0.1/gzdt/2.html", site="county", title="岳西县院士工作站揭牌成立",
    source="岳西县委组织部", published="2024-03-02",
    text="岳西县首个院士工作站揭牌，对进站院士团队给予100万元科研启动经费，柔性引进院士团队成员。",
)
CADRE = Article(
    url="http://127.0.0.1/gzdt/3.html", site="county", title="注重一线考核评价 激励干部担当作为",
    source="中共岳西县委组织部", published="2024-03-03",
    text="考察识别干部，选拔任用，提拔重用干部216人，晋升职级264人。",
)


def run(config: Path, *args: str) -> subprocess.CompletedProcess:
    return invoke(["--config", str(config), *args])


def write_config(path: Path, relevance: dict | None) -> Path:
    data: dict = {"database": "archive.db"}
    if relevance is not None:
        data["relevance"] = relevance
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def talent_by_url(db_path: Path) -> dict[str, bool | None]:
    db = open_archive(db_path)
    return {r["url"]: r["talent"] for r in export_records(db)}


def test_classify_then_reclassify_after_a_topics_change(tmp_path):
    db_path = tmp_path / "archive.db"
    db = open_archive(db_path)
    for article in (SUBSIDY, PLATFORM, CADRE):
        save_article(db, article)  # archived unclassified, as an old archive would be
    db.close()
    config = write_config(tmp_path / "config.yaml", None)

    first = run(config, "classify")
    assert first.returncode == 0, first.stderr
    assert "classified 3 article(s), 2 talent policy" in first.stdout
    assert talent_by_url(db_path) == {SUBSIDY.url: True, PLATFORM.url: True, CADRE.url: False}
    row = open_archive(db_path).execute(
        "SELECT topics, matched_terms, region, incentives FROM articles WHERE url = ?",
        [SUBSIDY.url]).fetchone()
    topics, matched, region, incentives = (json.loads(v) for v in row)
    assert "人才补贴与待遇" in topics and "租房补贴" in matched["人才补贴与待遇"]
    assert region == {"province": "安徽省", "city": "安庆市", "county": "怀宁县"}
    assert [(o["type"], o["amount_min"], o["amount_max"], o["period"]) for o in incentives] == [
        ("租房补贴", 1000, 3000, "每月"), ("购房补贴", None, 150000, None)]

    # without --all nothing is re-scored: everything has been classified
    again = run(config, "classify")
    assert "classified 0 article(s)" in again.stdout

    # a user narrows the topics to research platforms only
    write_config(config, {"threshold": 3, "topics": [
        {"name": "人才平台", "title_weight": 2, "terms": {"院士工作站": 2, "博士后工作站": 2}}]})
    narrowed = run(config, "classify", "--all")
    assert narrowed.returncode == 0, narrowed.stderr
    assert "classified 3 article(s), 1 talent policy; 1 changed talent status (0 now talent, 1 no longer)" \
        in narrowed.stdout
    assert talent_by_url(db_path) == {SUBSIDY.url: False, PLATFORM.url: True, CADRE.url: False}
    exported = {r["url"]: r for r in export_records(open_archive(db_path))}
    assert exported[PLATFORM.url]["topics"] == ["人才平台"]
    assert exported[SUBSIDY.url]["incentives"] == []  # offers are kept for talent items only


def test_bad_topic_config_stops_classify_with_the_topic_named(tmp_path):
    config = write_config(tmp_path / "config.yaml",
                          {"topics": [{"name": "人才补贴", "terms": {"生活补贴": "很高"}}]})
    result = run(config, "classify")
    assert result.returncode == 2
    assert "topic '人才补贴'" in result.stderr and "生活补贴" in result.stderr
    assert not (tmp_path / "archive.db").exists()


def test_classify_draws_a_progress_bar_only_on_a_terminal(tmp_path):
    db = open_archive(tmp_path / "archive.db")
    for article in (SUBSIDY, PLATFORM, CADRE):
        save_article(db, article)
    db.close()
    config = write_config(tmp_path / "config.yaml", None)
    args = [sys.executable, "-m", "talentwatch", "--config", str(config), "classify", "--all", "--batch", "1"]
    returncode, stdout, seen = run_on_terminal(args)
    assert returncode == 0
    assert b"classifying" in seen
    assert b"classified 3 article(s), 2 talent policy" in stdout
    quiet = run(config, "classify", "--all", "--batch", "1")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert "classified 3 article(s), 2 talent policy" in quiet.stdout
