"""The newcomer's first command: `talentwatch demo` works offline and shows the archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from talentwatch.cli.demo_portal.portal import load_articles

from tests.conftest import run_cli, run_cli_process

pytestmark = pytest.mark.slow(seconds=13)


def test_demo_crawls_the_bundled_portal_and_shows_it(tmp_path: Path) -> None:
    result = run_cli_process("demo", "--dir", str(tmp_path / "demo"))
    out = " ".join(result.stdout.split())
    assert "青禾组工网" in out
    for article in load_articles():
        # every article is listed (titles may wrap in the table, so compare a prefix)
        assert article["title"][:6] in out.replace(" ", "")
    assert "talentwatch search 人才 → 4 hits" in out
    assert str(tmp_path / "demo" / "demo.db") in out.replace(" ", "")

    # the archive it leaves behind is a normal one: the printed commands work on it
    config = tmp_path / "demo" / "config.yaml"
    records = [json.loads(line) for line in
               run_cli("export", "--format", "jsonl", config=config).stdout.splitlines()]
    assert len(records) == len(load_articles())
    talent = {r["title"]: r["talent"] for r in records}
    assert talent["青禾县召开2026年度领导班子和领导干部考核工作部署会"] is False
    assert sum(talent.values()) == len(records) - 1
