"""Export with search filters (jsonl, csv) and the Atom feed, read back by feedparser."""

from __future__ import annotations

import csv
import io
import json
import os
import sys

import feedparser
import pytest
from talentwatch.storage.export import EXPORT_FIELDS, count_records, export_records
from talentwatch.storage.feeds import atom_feed
from talentwatch.storage.filters import Filters
from talentwatch.storage.search import search

from tests.conftest import run_on_terminal
from tests.test_search import ARTICLES, build_archive, run_cli


@pytest.fixture
def config(tmp_path):
    build_archive(tmp_path / "archive.db")
    # one article withdrawn, one edited: both must show as such in the feed
    from talentwatch.storage.schema import open_archive

    db = open_archive(tmp_path / "archive.db")
    db.execute("UPDATE articles SET status = 'withdrawn' WHERE url = ?", [ARTICLES[7]["url"]])
    db.conn.commit()
    path = tmp_path / "config.yaml"
    path.write_text("database: archive.db\nsites: []\n", encoding="utf-8")
    return path


def test_export_with_the_search_filters_selects_what_search_finds(tmp_path):
    db, _ = build_archive(tmp_path / "a.db")
    filters = Filters(regions=("广东",), since="2023", talent_only=True)
    exported = {r["url"] for r in export_records(db, filters=filters, query="补贴")}
    found = {h["url"] for h in search(db, "补贴", filters=filters, all_reposts=True, limit=100)}
    assert exported == found and exported
    assert count_records(db, filters=filters, query="补贴") == len(exported)
    # one per cluster keeps the original of the reposted notice
    clustered = [r["url"] for r in export_records(db, query="安家补贴", one_per_cluster=True)]
    assert clustered == [ARTICLES[0]["url"]]
    repost = [r for r in export_records(db, query="安家补贴") if r["url"] == ARTICLES[2]["url"]][0]
    assert repost["duplicate_of"] == ARTICLES[0]["url"]


def test_cli_export_jsonl_and_csv_keep_the_field_names(config):
    result = run_cli(config, "export", "--format", "jsonl", "--site", "rsj")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["url"] for r in records} == {a["url"] for a in ARTICLES if a["site"] == "rsj"}
    assert all(list(r) == EXPORT_FIELDS for r in records)
    assert [r["published"] for r in records] == sorted((r["published"] for r in records), reverse=True)
    result = run_cli(config, "export", "--format", "csv", "--topic", "住房")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == EXPORT_FIELDS
    assert [r["url"] for r in rows] == [ARTICLES[7]["url"]]
    assert json.loads(rows[0]["region"]) == {"province": "广东省", "city": "深圳市"}


def test_atom_feed_has_one_valid_entry_per_cluster(config, tmp_path):
    out = tmp_path / "feed.xml"
    result = run_cli(config, "export", "--format", "atom", "--talent-only", "-o", str(out))
    assert result.returncode == 0, result.stderr
    feed = feedparser.parse(out.read_bytes())
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    talent = [a for a in ARTICLES if a.get("talent") == 1]
    originals = [a for a in talent if "repost_of" not in a]
    assert sorted(e.id for e in feed.entries) == sorted(a["url"] for a in originals)
    # newest first, dated in China time
    newest_first = sorted((a["published"] for a in originals), reverse=True)
    assert [e.published[:10] for e in feed.entries] == newest_first
    assert feed.entries[0].published.endswith("+08:00")
    notice = next(e for e in feed.entries if e.id == ARTICLES[0]["url"])
    assert notice.title == ARTICLES[0]["title"]
    assert notice.link == ARTICLES[0]["url"]
    assert ARTICLES[2]["url"] in notice.content[0].value  # where it was reposted
    assert "安家补贴 30万元" in notice.content[0].value  # the incentive found
    assert {t.term for t in notice.tags} == {"补贴", "引才"}
    withdrawn = next(e for e in feed.entries if e.id == ARTICLES[7]["url"])
    assert withdrawn.title.startswith("[已撤回]")


def test_atom_feed_follows_the_query_and_escapes_text(tmp_path):
    db, _ = build_archive(tmp_path / "a.db", [dict(ARTICLES[0], text="补贴<30万元> & “安家” 费用")])
    xml = atom_feed(db, export_records(db, query="补贴", one_per_cluster=True), title="补贴 <feed>")
    feed = feedparser.parse(xml)
    assert feed.bozo == 0
    assert feed.feed.title == "补贴 <feed>"
    assert "补贴<30万元> & “安家”" in feed.entries[0].summary
    empty = feedparser.parse(atom_feed(db, export_records(db, query="院士"), title="nothing"))
    assert empty.bozo == 0 and empty.entries == []


def test_export_draws_a_progress_bar_only_on_a_terminal(config):
    args = [sys.executable, "-m", "talentwatch", "--config", str(config), "export", "-o", os.devnull]
    returncode, _, seen = run_on_terminal(args)
    assert returncode == 0
    assert b"exporting jsonl" in seen
    quiet = run_cli(config, "export", "-o", os.devnull)
    assert "exporting" not in quiet.stderr
    assert quiet.stderr.strip() == f"{len(ARTICLES)} records written to {os.devnull}"


def _read_jsonl(data: bytes) -> list[str]:
    return [json.loads(line)["url"] for line in data.decode("utf-8").splitlines()]


def _read_csv(data: bytes) -> list[str]:
    return [row["url"] for row in csv.DictReader(io.StringIO(data.decode("utf-8")))]


def _read_atom(data: bytes) -> list[str]:
    feed = feedparser.parse(data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return [entry.id for entry in feed.entries]


# how a user's tools read each media type back; a new format needs its reader here
READERS = {"application/x-ndjson": _read_jsonl, "text/csv": _read_csv, "application/atom+xml": _read_atom}


def test_export_formats_come_from_the_registry_and_each_writes_parseable_output(config, tmp_path):
    from click.testing import CliRunner
    from talentwatch.cli.app import main
    from talentwatch.storage.formats import FORMATS

    fmt = next(p for p in main.commands["export"].params if p.name == "fmt")
    assert list(fmt.type.choices) == list(FORMATS) == ["jsonl", "csv", "atom"]
    rsj = {a["url"] for a in ARTICLES if a["site"] == "rsj"}
    for name, kind in FORMATS.items():
        out = tmp_path / f"rsj{kind.extension}"
        result = CliRunner().invoke(main, ["--config", str(config), "export", "--format", name,
                                           "--site", "rsj", "-o", str(out)])
        assert result.exit_code == 0, result.output
        urls = READERS[kind.media_type](out.read_bytes())
        assert set(urls) == rsj and len(urls) == len(rsj), name  # rsj has no reposts
        assert result.stderr.strip() == f"{len(rsj)} records written to {out}"
    unknown = CliRunner().invoke(main, ["--config", str(config), "export", "--format", "xlsx"])
    assert unknown.exit_code == 2 and "'xlsx' is not one of 'jsonl', 'csv', 'atom'" in unknown.output
