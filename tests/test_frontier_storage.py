"""The archive under stress (real CLI, real SQLite files, portals on 127.0.0.1): a full
disk mid-crawl stops the crawl with one line and the next crawl stores the rest; four
crawls started at once on a new archive all succeed; a damaged search index gives one
line naming the file and `talentwatch reindex` restores search."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.frontier_checks import archive_facts
from tests.frontier_site import build_portal, make_articles, site_config, write_config
from tests.portal_server import serve_counting
from tests.zygote import launch

pytestmark = pytest.mark.slow(seconds=21)

ARTICLES = 34


def page_count(database: Path) -> int:
    conn = sqlite3.connect(database)
    try:
        return conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()


def _check_one_clear_line(result: subprocess.CompletedProcess, database: Path, body_text: str) -> None:
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "disk is full" in errors[0] and str(database) in errors[0]
    assert "Traceback" not in result.stderr
    assert all(len(line) <= 500 for line in result.stderr.splitlines())
    assert body_text not in result.stderr  # no page content in any log line


def test_full_archive_mid_crawl_stops_with_one_line_and_the_next_crawl_stores_the_rest(tmp_path: Path):
    articles = build_portal(tmp_path / "site", ARTICLES)
    database = tmp_path / "archive.db"
    with serve_counting(tmp_path / "site") as (base, _):
        config = write_config(tmp_path / "config.yaml", [site_config(base, max_list_pages=20)],
                              database=database)
        run_cli("status", config=config)  # a new, empty archive
        cap = page_count(database) + 60  # room for a part of the 34 articles only
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        full = subprocess.run([sys.executable, "-m", "tests.capped_cli", str(cap), "--config", str(config),
                               "crawl"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
        _check_one_clear_line(full, database, articles[0]["paragraphs"][1][:40])
        stored = archive_facts(database)
        # the cap struck while storing (the schema was made before it): some of the 34 are not
        # stored. SQLite may roll a full disk's whole batch back, so it can be none of them
        assert stored["articles"] < ARTICLES, stored
        assert stored["integrity"] == "ok"
        assert stored["indexed"] == stored["articles"]

        run_cli("crawl", config=config)  # the cap is lifted
        facts = archive_facts(database)
        assert facts["articles"] == facts["distinct_urls"] == facts["indexed"] == ARTICLES
        assert facts["events"] == ARTICLES and facts["integrity"] == "ok"


def _tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_full_filesystem_mid_crawl_then_more_space(tmp_path: Path) -> None:
    """The same on a real full filesystem: a tiny tmpfs (needs root; skipped otherwise)."""
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "600k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        articles = build_portal(tmp_path / "site", ARTICLES)
        database = disk / "archive.db"
        with serve_counting(tmp_path / "site") as (base, _):
            config = write_config(tmp_path / "config.yaml", [site_config(base, max_list_pages=20)],
                                  database=database)
            full = run_cli("crawl", config=config, check=False)
            _check_one_clear_line(full, database, articles[0]["paragraphs"][1][:40])
            assert archive_facts(database)["integrity"] == "ok"
            subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
            run_cli("crawl", config=config)
            facts = archive_facts(database)
            assert facts["articles"] == facts["indexed"] == ARTICLES and facts["integrity"] == "ok"
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_four_crawls_at_once_on_a_new_archive_all_succeed(tmp_path: Path) -> None:
    root = tmp_path / "sites"
    from talentwatch.cli.demo_portal.portal import build_site

    for n in range(4):
        build_site(root / f"s{n}", make_articles(4, seed=n, first_id=7001 + 100 * n))
    with serve_counting(root) as (base, _):
        sites = [site_config(f"{base}s{n}/", name=f"s{n}") for n in range(4)]
        config = write_config(tmp_path / "config.yaml", sites)
        procs = [launch(["--config", str(config), "crawl", "--site", f"s{n}"], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE) for n in range(4)]
        outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for code, stderr in outcomes:
        assert code == 0 and "locked" not in stderr, stderr
    facts = archive_facts(tmp_path / "archive.db")
    assert facts["articles"] == 16 and facts["integrity"] == "ok"


def _corrupt_index(database: Path) -> None:
    conn = sqlite3.connect(database)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'articles_fts_data'").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(database, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xa5" * size)


def test_damaged_index_gives_one_line_and_reindex_restores_search(tmp_path: Path, portal) -> None:
    base_url, _ = portal
    config = write_config(tmp_path / "config.yaml",
                          [{"name": "qinghe", "start_urls": [base_url + "rcgz/index.html"],
                            "article_pattern": r"/rcgz/content/post_\d+\.html$", "delay": 0}])
    run_cli("crawl", config=config)
    before = run_cli("search", "人才", config=config).stdout
    assert before
    database = tmp_path / "archive.db"
    _corrupt_index(database)

    broken = run_cli("search", "人才", config=config, check=False)
    assert broken.returncode != 0
    assert "Traceback" not in broken.stderr
    lines = broken.stderr.strip().splitlines()
    assert len(lines) == 1 and str(database) in lines[0] and "talentwatch reindex" in lines[0], broken.stderr

    fixed = run_cli("reindex", config=config)
    assert "search index rebuilt" in fixed.stdout
    assert run_cli("search", "人才", config=config).stdout == before
    assert archive_facts(database)["integrity"] == "ok"
