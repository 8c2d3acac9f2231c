"""`try`, `add`, `sites` and `extract --site` against portals served on 127.0.0.1.

`try` must suggest a pattern that matches exactly the list's article links — all of
them and nothing else — on the demo portal, a make_portal replica, the real gdzz
list page and a page of each CMS family; `add` must append to a commented config
without touching a line of it; `try` and `sites` must never write the archive.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin

import pytest
import yaml
from talentwatch.cli.demo_portal.portal import build_site, serve
from talentwatch.core.config import load_config
from talentwatch.crawler.suggest import NotAListPage, suggest

from tests.cli_runner import invoke
from tests.cms_sites import BODY, FAMILIES, TITLES, nfcms_site
from tests.conftest import CRAWL, ROOT, export_jsonl, run_cli

pytestmark = pytest.mark.slow(seconds=20)

SHARED = ROOT.parent / "shared"
MAKE_PORTAL = SHARED / "tools" / "make_portal.py"
GDZZ_LIST = SHARED / "eval-data" / "gdzz-list"


def talentwatch(config: Path, *args: str) -> tuple[int, str, str]:
    """Run a command in this process; a traceback fails the test."""
    result = invoke(["--config", str(config), *args])
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


def try_json(config: Path, url: str, samples: int = 0) -> dict:
    code, out, err = talentwatch(config, "try", "--json", "--samples", str(samples), url)
    assert code == 0, err
    return json.loads(out)


def quiet_config(path: Path, sites: list[dict] | None = None) -> Path:
    """A config whose archive is beside it: the tests check that file is never made."""
    data = {"database": "archive.db",
            # no politeness wait towards our own test servers (what `add` writes sets no delay)
            "crawl": {**CRAWL, "delay": 0},
            "sites": sites or []}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def matched_urls(result: dict) -> set[str]:
    return {a["url"] for a in result["articles"]}


def test_try_demo_portal_suggests_the_article_pattern_and_reads_three_articles(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles = build_site(site)
    config = quiet_config(tmp_path / "config.yaml")
    with serve(site) as base:
        result = try_json(config, base + "rcgz/index.html", samples=3)
        pattern = re.compile(result["article_pattern"])
        every_link = [base + a["path"] for a in articles]
        assert all(pattern.search(u) for u in every_link)  # later list pages too
        assert not pattern.search(base + "rcgz/index_1.html")
    assert matched_urls(result) == {base + a["path"] for a in articles[:4]}
    assert result["next_page"] == base + "rcgz/index_1.html"
    assert result["unmatched"] == 5  # home, three columns, the next list page
    assert [s["title"] for s in result["samples"]] == [a["title"] for a in articles[:3]]
    assert result["samples"][0]["talent"] is True and result["samples"][0]["incentives"]
    assert not (tmp_path / "archive.db").exists()


def test_try_report_lists_matched_and_left_out_links(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles = build_site(site)
    config = quiet_config(tmp_path / "config.yaml")
    with serve(site) as base:
        code, out, err = talentwatch(config, "try", "--samples", "1", base + "rcgz/index.html")
    assert code == 0, err
    assert "article_pattern: '/rcgz/content/post_\\d+\\.html$'" in out
    assert "matched 4 links:" in out and "left out 5 links:" in out
    assert articles[0]["title"] in out and "talent policy" in out
    assert not (tmp_path / "archive.db").exists()


@pytest.mark.skipif(not MAKE_PORTAL.is_file(), reason=f"{MAKE_PORTAL} not found (../shared is not here)")
def test_try_make_portal_replica(tmp_path: Path) -> None:
    out = tmp_path / "portal"
    subprocess.run([sys.executable, str(MAKE_PORTAL), str(out), "--articles", "30", "--encoding", "gbk"],
                   check=True, capture_output=True, timeout=120)
    gold = [json.loads(line) for line in (out / "gold.jsonl").read_text(encoding="utf-8").splitlines()]
    config = quiet_config(tmp_path / "config.yaml")
    with serve(out) as base:
        result = try_json(config, base + "gzdt/index.html")
    # the first list page holds the 20 newest items
    assert matched_urls(result) == {base + g["path"].lstrip("/") for g in gold[:20]}
    assert result["article_pattern"] == r"/gzdt/content/post_\d+\.html$"
    assert result["next_page"] == base + "gzdt/index_1.html"
    assert [a["title"] for a in result["articles"]] == [g["title"] for g in gold[:20]]


def _gdzz_expected() -> dict:
    return json.loads((GDZZ_LIST / "gwygz_lypytzgg_index.expected.json").read_text(encoding="utf-8"))


@pytest.mark.skipif(not GDZZ_LIST.is_dir(), reason=f"{GDZZ_LIST} not found (../shared is not here)")
def test_try_real_gdzz_list_page(tmp_path: Path) -> None:
    """The real page, its absolute links pointed at our server: its 20 items and no other link."""
    expected = _gdzz_expected()
    html = (GDZZ_LIST / "gwygz_lypytzgg_index.html").read_text(encoding="utf-8")
    config = quiet_config(tmp_path / "config.yaml")
    (tmp_path / "www" / "gwygz" / "lypytzgg").mkdir(parents=True)
    with serve(tmp_path / "www") as base:
        page = tmp_path / "www" / "gwygz" / "lypytzgg" / "index.html"
        page.write_text(html.replace("https://www.gdzz.gov.cn/", base), encoding="utf-8")
        result = try_json(config, base + "gwygz/lypytzgg/index.html")
        # the column's address without index.html: the same list, the same next page
        by_folder = try_json(config, base + "gwygz/lypytzgg/")
    assert by_folder["next_page"] == base + "gwygz/lypytzgg/index_2.html"
    assert by_folder["article_pattern"] == result["article_pattern"]
    want = [i["url"].replace("https://www.gdzz.gov.cn/", base) for i in expected["items"]]
    assert len(want) == 20
    assert [a["url"] for a in result["articles"]] == want
    assert [a["published"] for a in result["articles"]] == [i["date"] for i in expected["items"]]
    assert result["article_pattern"] == r"/gwygz/lypytzgg/content/post_\d+\.html$"
    assert result["family"] == "NFCMS" and result["profile"] == "gdzz"
    assert result["next_page"] == base + "gwygz/lypytzgg/index_2.html"
    assert result["extra_domains"] == []


@pytest.mark.skipif(not GDZZ_LIST.is_dir(), reason=f"{GDZZ_LIST} not found (../shared is not here)")
def test_try_real_gdzz_page_served_elsewhere_names_its_host_as_an_extra_domain(tmp_path: Path) -> None:
    """Served unchanged from 127.0.0.1, every entry lives on www.gdzz.gov.cn: entries still."""
    shutil.copy(GDZZ_LIST / "gwygz_lypytzgg_index.html", tmp_path / "index.html")
    config = quiet_config(tmp_path / "config.yaml")
    with serve(tmp_path) as base:
        result = try_json(config, base + "index.html")  # no samples: nothing leaves 127.0.0.1
    assert [a["url"] for a in result["articles"]] == [i["url"] for i in _gdzz_expected()["items"]]
    assert result["extra_domains"] == ["www.gdzz.gov.cn"]
    assert result["entries_on_other_hosts"] == 20


FAMILY_PROFILES = {"trs": "trs", "hanweb": "hanweb", "nfcms": "gdzz", "intensive": "intensive",
                   "12371": "12371"}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_try_cms_family_page(tmp_path: Path, family: str) -> None:
    cms = FAMILIES[family](tmp_path / "www")
    config = quiet_config(tmp_path / "config.yaml")
    with serve(tmp_path / "www") as base:
        result = try_json(config, base + cms.list_path, samples=1)
    assert matched_urls(result) == {base + a for a in cms.articles}
    assert result["unmatched"] > 0  # navigation, sidebars and footers were there to leave out
    assert result["profile"] == FAMILY_PROFILES[family]
    assert result["family"].startswith(cms.family)
    sample = result["samples"][0]
    assert sample["title"] == TITLES[0] and BODY[:30] in sample["text"], result["sample_errors"]
    print(f"{family}: {result['article_pattern']}")


def test_try_counts_entries_on_other_hosts_and_suggests_their_domains(tmp_path: Path) -> None:
    cms = nfcms_site(tmp_path / "www", other_hosts=True)
    config = quiet_config(tmp_path / "config.yaml")
    with serve(tmp_path / "www") as base:
        result = try_json(config, base + cms.list_path)
        code, out, _ = talentwatch(config, "try", "--samples", "0", base + cms.list_path)
    assert matched_urls(result) == {base + a for a in cms.articles} | set(cms.other_hosts)
    # each host's entries keep their own shape: nothing broader that would take in column pages
    assert result["article_pattern"] == \
        r"(?:/rsj/zpxx/content/post_\d+\.html|/zpxx/\d+/\d+/c\d+a\d+\.html|/info/\d+/\d+\.htm)$"
    assert result["extra_domains"] == ["hr.szxx-example.edu.cn", "www.rmyy-example.gov.cn"]
    assert result["allowed_domains"][0] == "127.0.0.1"
    assert result["entries_on_other_hosts"] == 2
    # the side box of links to other sites is navigation, not entries
    assert "http://www.mohrss.gov.cn/" in result["unmatched_links"]
    assert code == 0 and "entries on other hosts: 2" in out


def test_crawl_follows_list_entries_only_to_allowed_domains(tmp_path: Path) -> None:
    """The pattern `try` suggests matches the entries on other hosts too; a site that does
    not allow those hosts stores its own articles and requests nothing elsewhere."""
    cms = nfcms_site(tmp_path / "www", other_hosts=True)
    with serve(tmp_path / "www") as base:
        pattern = try_json(quiet_config(tmp_path / "probe.yaml"), base + cms.list_path)["article_pattern"]
        config = quiet_config(tmp_path / "config.yaml", [{
            "name": "rsj", "start_urls": [base + cms.list_path], "article_pattern": pattern,
            "max_list_pages": 1, "delay": 0}])
        run_cli("crawl", config=config)
        stored = {r["url"] for r in export_jsonl(config)}
    assert stored == {base + a for a in cms.articles}


def test_try_exits_2_with_one_line_on_a_page_that_is_not_a_list(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles = build_site(site)
    config = quiet_config(tmp_path / "config.yaml")
    with serve(site) as base:
        for url in (base + "index.html", base + articles[0]["path"]):
            code, out, err = talentwatch(config, "try", url)
            assert code == 2 and out == ""
            assert len(err.strip().splitlines()) == 1 and "not a list page" in err, err
        code, _, err = talentwatch(config, "try", "ftp://127.0.0.1/x")
        assert code == 2 and "http(s)" in err
    assert not (tmp_path / "archive.db").exists()


def test_suggest_rejects_an_article_page_with_a_related_list() -> None:
    """An article with a 相关阅读 box of dated links is an article, not a list."""
    related = "".join(f'<li><a href="/a/content/post_{i}.html">相关文章标题第{i}篇人才工作</a>'
                      f"<span>2024-05-0{i}</span></li>" for i in range(1, 6))
    html = (f"<html><body><h1>{TITLES[0]}</h1><div id='zoom'><p>{BODY * 3}</p></div>"
            f"<div class='related'><ul>{related}</ul></div></body></html>")
    with pytest.raises(NotAListPage, match="reads as an article"):
        suggest(html, "http://127.0.0.1/a/content/post_9.html")


@pytest.mark.parametrize("sidebar_items", [4, 8])
def test_suggest_tells_two_lists_of_one_make_apart(sidebar_items: int) -> None:
    """A sidebar built like the main list (another column's items) is a list of its own."""
    def block(column: str, n: int) -> str:
        return "<div class='box'><ul class='list'>" + "".join(
            f"<li><a href='/col/{column}/202405/t202405{10 + i}_{700 + i}.html'>{TITLES[i]}</a>"
            f"<span>2024-05-{10 + i}</span></li>" for i in range(n)) + "</ul></div>"
    html = f"<html><body>{block('rcgz', 8)}{block('gbgz', sidebar_items)}</body></html>"
    s = suggest(html, "http://127.0.0.1/col/rcgz/index.html")
    columns = {m.url.split("/")[4] for m in s.matched}
    assert len(columns) == 1  # one of the two lists, never both merged
    if sidebar_items < 8:
        assert columns == {"rcgz"} and len(s.matched) == 8
        assert s.article_pattern == r"/col/rcgz/\d+/t\d+_\d+\.html$"


def _list_page(hrefs: list[str], nav: str = "") -> str:
    items = "".join(f"<li><a href='{h}'>{TITLES[i % len(TITLES)]}</a><span>2024-05-{10 + i}</span></li>"
                    for i, h in enumerate(hrefs))
    return f"<html><body><ul class='nav'>{nav}</ul><ul class='list'>{items}</ul></body></html>"


@pytest.mark.parametrize(("hrefs", "nav", "pattern"), [
    # a query-string CMS: the next page and the other column are not articles
    ([f"detail.jsp?id={100 + 7 * i}&col=5" for i in range(6)],
     "<li><a href='list.jsp?col=5&page=2'>下一页</a></li><li><a href='list.jsp?col=6'>其他栏目</a></li>",
     r"/news/detail\.jsp\?id=\d+&col=\d+$"),
    # hex ids: the narrowest class that holds them, so index.html and about.html stay out
    (["/news/5f3e2a1b.html", "/news/77aa0c12.html", "/news/c0ffee99.html", "/news/0badf00d.html"],
     "<li><a href='/news/index.html'>首页</a></li><li><a href='/news/about.html'>关于</a></li>",
     r"/news/[0-9a-f]+\.html$"),
    # entries from several sub-columns of one column
    ([f"/news/{c}/content/post_{i}.html" for i, c in enumerate(["gzdt", "cxsj", "gzdt", "zcwj"])],
     "<li><a href='/news/index.html'>首页</a></li><li><a href='/news/index_1.html'>2</a></li>",
     r"/news/[a-z]+/content/post_\d+\.html$"),
], ids=["query", "hex", "sub-columns"])
def test_suggest_generalises_only_as_far_as_the_entries_differ(hrefs: list[str], nav: str,
                                                                pattern: str) -> None:
    url = "http://127.0.0.1/news/list.jsp?col=5"
    s = suggest(_list_page(hrefs, nav), url)
    assert s.article_pattern == pattern
    assert {m.url for m in s.matched} == {urljoin(url, h) for h in hrefs}


COMMENTED_CONFIG = """\
# 我们的监测配置 — comments must survive `add`
database: archive.db   # beside this file

crawl:
  autothrottle: false    # tests: no throttling
  extract_workers: 1
  timeout: 5
  retries: 0
  delay: 0               # tests: our own server, no politeness wait

sites:
  # an existing portal, kept as written
  - name: existing
    start_urls:
      - http://127.0.0.1:9/old/index.html   # nothing listens here
    article_pattern: '/old/content/post_\\d+\\.html$'
    enabled: false
    delay: 0

# the daemon's defaults
daemon:
  every: 30m             # check each site this often
  jitter: 2m
"""

COMPACT_CONFIG = """\
database: archive.db
crawl: {autothrottle: false, extract_workers: 1, timeout: 5, retries: 0, delay: 0}
# sites with the dash at the margin
sites:
- name: existing
  start_urls: [http://127.0.0.1:9/old/index.html]
  article_pattern: "/old/content/post_\\\\d+\\\\.html$"
  enabled: false
subscriptions: []   # none yet
"""


def _only_added(before: str, after: str) -> list[str]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    assert [d for d in diff if d.startswith("- ")] == []
    return [d[2:] for d in diff if d.startswith("+ ")]


@pytest.mark.parametrize("text", [COMMENTED_CONFIG, COMPACT_CONFIG], ids=["commented", "compact"])
def test_add_appends_keeping_every_line_and_the_site_crawls(tmp_path: Path, text: str) -> None:
    site = tmp_path / "site"
    articles = build_site(site)
    config = tmp_path / "config.yaml"
    config.write_text(text, encoding="utf-8")
    with serve(site) as base:
        url = base + "rcgz/index.html"
        code, out, err = talentwatch(config, "add", url, "--name", "qinghe")
        assert code == 0, err
        after = config.read_text(encoding="utf-8")
        added = _only_added(text, after)
        assert added[0].strip() == "- name: qinghe" and any(url in line for line in added)
        assert "qinghe" in out and "article_pattern" in out
        loaded = load_config(config)
        assert [s.name for s in loaded.sites] == ["existing", "qinghe"]
        assert loaded.site("qinghe").article_pattern == r"/rcgz/content/post_\d+\.html$"
        assert not (tmp_path / "archive.db").exists()  # add writes the config only

        # a name or a start URL already present is refused, and the file stays as it is
        for args in (["add", base + "rcgz/index_1.html", "--name", "qinghe"],
                     ["add", url, "--name", "other"]):
            code, _, err = talentwatch(config, *args)
            assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert config.read_text(encoding="utf-8") == after

        if text is COMPACT_CONFIG:
            return  # one crawl of an added site is enough
        run_cli("crawl", "--site", "qinghe", config=config)
        assert {r["url"] for r in export_jsonl(config)} == {base + a["path"] for a in articles}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sites_and_try_never_write_the_archive(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles = build_site(site)
    with serve(site) as base:
        config = quiet_config(tmp_path / "config.yaml", [
            {"name": "qinghe", "start_urls": [base + "rcgz/index.html"],
             "article_pattern": r"/rcgz/content/post_\d+\.html$", "delay": 0, "cron": "0 8 * * *"},
            {"name": "never-run", "start_urls": ["http://127.0.0.1:9/x/index.html"],
             "article_pattern": "/x/", "every": "2h"}])
        archive = tmp_path / "archive.db"

        code, out, err = talentwatch(config, "sites", "--json")
        assert code == 0, err
        assert [(s["site"], s["articles"], s["last_run"]) for s in json.loads(out)] == \
            [("qinghe", 0, None), ("never-run", 0, None)]
        assert not archive.exists()

        run_cli("crawl", "--site", "qinghe", config=config)
        before = _digest(archive)
        code, out, err = talentwatch(config, "sites", "--json")
        assert code == 0, err
        rows = {s["site"]: s for s in json.loads(out)}
        assert rows["qinghe"]["articles"] == len(articles) and rows["qinghe"]["status"] == "ok"
        assert rows["qinghe"]["schedule"] == "cron 0 8 * * *"
        assert rows["never-run"]["schedule"] == "every 7200s"
        code, out, err = talentwatch(config, "sites")
        assert code == 0 and "qinghe" in out and "never" in out
        result = try_json(config, base + "rcgz/index.html", samples=1)
        code, out, err = talentwatch(config, "try", "--site", "qinghe", "--samples", "0")
        assert code == 0 and "matches 4 of the 4 entries" in out, err
        assert _digest(archive) == before
    assert result["samples"][0]["url"] == base + articles[0]["path"]


def test_extract_with_a_sites_profile_and_pattern(tmp_path: Path) -> None:
    cms = FAMILIES["trs"](tmp_path / "www")
    with serve(tmp_path / "www") as base:
        config = quiet_config(tmp_path / "config.yaml", [
            {"name": "trs-site", "profile": "trs", "start_urls": [base + cms.list_path],
             "article_pattern": r"/col/rcgz/\d+/t\d+_\d+\.html$"}])
        code, out, err = talentwatch(config, "extract", "--site", "trs-site", "--list", base + cms.list_path)
        assert code == 0, err
        assert [i["url"] for i in json.loads(out)["items"]] == [base + a for a in cms.articles]
        code, out, err = talentwatch(config, "extract", "--site", "trs-site", "--no-attachments",
                                     base + cms.articles[0])
        assert code == 0, err
        record = json.loads(out)
        assert record["title"] == TITLES[0] and record["text"].startswith(BODY[:20])
        code, _, err = talentwatch(config, "extract", "--site", "nope", base + cms.articles[0])
        assert code == 2 and "no site named" in err


def test_try_obeys_robots_txt(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_site(site)
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /rcgz/\n", encoding="ascii")
    config = quiet_config(tmp_path / "config.yaml")
    with serve(site) as base:
        code, out, err = talentwatch(config, "try", base + "rcgz/index.html")
    assert code == 1 and out == ""
    assert "robots.txt" in err and "disallows" in err and len(err.strip().splitlines()) == 1


def test_added_hanweb_site_crawls_its_datastore_list(tmp_path: Path) -> None:
    """The list lives only in the datastore script: `add` picks profile hanweb and the crawl
    reads the records."""
    cms = FAMILIES["hanweb"](tmp_path / "www")
    config = quiet_config(tmp_path / "config.yaml")
    with serve(tmp_path / "www") as base:
        code, out, err = talentwatch(config, "add", base + cms.list_path, "--name", "hanweb-col")
        assert code == 0, err
        assert load_config(config).site("hanweb-col").profile == "hanweb"
        run_cli("crawl", config=config)
        stored = export_jsonl(config)
    assert {r["url"] for r in stored} == {base + a for a in cms.articles}
    assert all(BODY[:20] in r["text"] for r in stored)
