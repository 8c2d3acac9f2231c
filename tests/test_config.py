"""A broken config is refused before anything starts, naming file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
from talentwatch.core.config import ConfigError, load_config

from tests.conftest import run_cli

GOOD_SITE = {"name": "county", "start_urls": ["http://127.0.0.1:9/list/index.html"],
             "article_pattern": r"/content/post_\d+\.html$"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_three_keys_are_enough_and_defaults_follow(tmp_path: Path) -> None:
    path = write(tmp_path, """
sites:
  - name: county
    start_urls: [http://zzb.example.gov.cn/rcgz/index.html]
    article_pattern: '/rcgz/content/post_\\d+\\.html$'
""")
    config = load_config(path)
    site = config.sites[0]
    assert site.allowed_domains == ["zzb.example.gov.cn"]
    assert site.max_list_pages == 5
    assert config.database == tmp_path / "data" / "talentwatch.db"


@pytest.mark.parametrize(("text", "expected"), [
    ("sites:\n  - name: county\n    start_urls: [http://a.gov.cn/]\n",
     "sites[0] (county).article_pattern: Field required"),
    ("sites:\n  - name: county\n    start_urls: [http://a.gov.cn/]\n    article_pattern: x\n"
     "    max_list_page: 3\n",
     "sites[0] (county).max_list_page: unknown key"),
    ("sites:\n  - name: county\n    start_urls: [a.gov.cn/list]\n    article_pattern: x\n",
     "sites[0] (county).start_urls: expected an http(s) URL"),
    ("sites:\n  - name: county\n    start_urls: [http://a.gov.cn/]\n    article_pattern: '(post'\n",
     "sites[0] (county).article_pattern: expected a regular expression"),
    ("sites:\n  - name: county\n    start_urls: [http://a.gov.cn/]\n    article_pattern: x\n"
     "    delay: soon\n",
     "sites[0] (county).delay: Input should be a valid number"),
    ("sites:\n  - name: county\n    start_urls: [http://a.gov.cn/]\n    article_pattern: x\n"
     "    profile: gdz\n",
     "sites[0] (county).profile: expected one of the built-in profiles: 12371, gdzz, generic"),
    ("sites: [\n", "not valid YAML"),
])
def test_config_errors_name_file_key_and_expectation(tmp_path: Path, text: str,
                                                     expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_validate_command_reports_and_exits_nonzero(tmp_path: Path) -> None:
    path = write(tmp_path, "sites:\n  - name: county\n    start_url: [http://a.gov.cn/]\n"
                           "    article_pattern: x\n")
    result = run_cli("validate", config=path, check=False)
    assert result.returncode == 2
    assert str(path) in result.stderr
    assert "start_url: unknown key" in result.stderr
    assert "start_urls: Field required" in result.stderr


def test_broken_config_stops_crawl_before_anything_starts(tmp_path: Path) -> None:
    path = write(tmp_path, "database: archive.db\nsites:\n  - name: county\n"
                           "    start_urls: [http://127.0.0.1:9/]\n    article_pattern: '['\n")
    result = run_cli("crawl", config=path, check=False)
    assert result.returncode == 2
    assert "article_pattern" in result.stderr
    assert not (tmp_path / "archive.db").exists()


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    result = run_cli("validate", config=tmp_path / "nope.yaml", check=False)
    assert result.returncode == 2
    assert "nope.yaml: config file not found" in result.stderr


def test_shipped_example_config_is_valid() -> None:
    result = run_cli("validate", config=Path(__file__).parent.parent / "config.yaml")
    assert "ok" in result.stdout


def test_config_saved_in_gbk_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes("# 人才工作网站\nsites: []\n".encode("gbk"))
    result = run_cli("validate", config=path, check=False)
    assert result.returncode == 2
    assert "expected UTF-8 text" in result.stderr and "Traceback" not in result.stderr


def test_archive_that_cannot_be_opened_names_the_database_key(tmp_path: Path) -> None:
    (tmp_path / "archive.db").write_text("this is not an SQLite file\n" * 100)
    path = write(tmp_path, "database: archive.db\nsites:\n  - name: county\n"
                           "    start_urls: [http://127.0.0.1:9/]\n    article_pattern: x\n")
    for command in (["search", "人才"], ["export"], ["crawl"]):
        result = run_cli(*command, config=path, check=False)
        assert result.returncode == 2, command
        assert "cannot open the archive" in result.stderr
        assert f"the `database` key of {path}" in result.stderr
        assert "Traceback" not in result.stderr
