"""Search: exact for Chinese words of any length (checked against a substring scan),
the query language, filters, clusters, ranking, snippets, and the CLI's messages."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from talentwatch.core.records import Article, Attachment
from talentwatch.storage.articles import save_article
from talentwatch.storage.filters import FilterError, Filters
from talentwatch.storage.query import QueryError, to_match
from talentwatch.storage.schema import open_archive
from talentwatch.storage.search import search

from tests.cli_runner import invoke

# Our own texts in the register of county/city talent-policy news.
GD_CZ = {"province": "广东省", "city": "潮州市", "county": "湘桥区"}
NOTICE = "关于申报2024年度高层次人才安家补贴的通知"
NOTICE_TEXT = ("各有关单位：为加快引进高层次人才，对新引进的博士研究生给予安家补贴30万元，"
               "分三年发放。申报截止时间为2024年4月30日。")
ARTICLES: list[dict[str, Any]] = [
    dict(url="https://rsj.example.gov.cn/a/1.html", site="rsj", title=NOTICE, published="2024-03-05",
         text=NOTICE_TEXT + "\n联系人：人事科", talent=1, topics=["补贴", "引才"], region=GD_CZ,
         incentives=[{"type": "安家补贴", "amount_min": 30, "amount_max": 30, "unit": "万元"}]),
    dict(url="https://zzb.example.gov.cn/b/2.html", site="zzb", title="湘桥区召开人才工作会议",
         published="2023-04-24",
         text="会议指出，要实施人才强区战略，打造八支人才队伍。力争三年内引进医疗卫生人才"
              "300名以上。会议还研究了干部教育培训工作。",
         talent=1, topics=["引才"], region=GD_CZ),
    # a repost of 1 on an aggregator
    dict(url="https://news.example.com/c/3.html", site="aggregator", title=NOTICE, published="2024-03-06",
         text=NOTICE_TEXT, talent=1, topics=["补贴", "引才"],
         region={"province": "广东省", "city": "潮州市"}, repost_of=0),
    dict(url="https://zzb.example.gov.cn/b/4.html", site="zzb", title="县委组织部开展党建工作专题调研",
         published="2024-06-18",
         text="调研组深入乡镇、村（社区），了解基层党组织建设情况。"
              "人、才、物保障到位，确保各项工作落到实处。",
         talent=0, topics=[], region={"province": "浙江省", "city": "宁波市"}),
    dict(url="https://rsj.example.gov.cn/a/5.html", site="rsj", title="5G产业人才专项支持办法解读",
         published="2025-01-10",
         text="对ＡＩ人才和5G人才，按每月3000元标准发放生活补贴；博士后进站给予科研"
              "启动经费。人才\n补贴细则见附件。",
         talent=1, topics=["补贴"], region={"province": "浙江省", "city": "杭州市", "county": "余杭区"},
         attachments=[Attachment(url="https://rsj.example.gov.cn/a/5.pdf", name="细则.pdf",
                                 text="附件：青年拔尖人才购房补贴申请表")]),
    dict(url="https://kjj.example.gov.cn/d/6.html", site="kjj", title="市科技局举行创新平台建设推进会",
         published="2022-11-02",
         text="会议要求加快建设创新平台，集聚青年科技人才，推动人才链与产业链深度融合。",
         talent=None, topics=[], region={}),
    dict(url="https://rsj.example.gov.cn/a/7.html", site="rsj",
         title="关于公布2023年度技能人才补贴名单的公示", published="2023-12-20",
         text="经审核，现将技能人才补贴拟发放名单予以公示，公示期为5个工作日。",
         talent=1, topics=["补贴", "技能"], region={"province": "广东省", "city": "韶关市"}),
    dict(url="https://zzb.example.gov.cn/b/8.html", site="zzb", title="引进人才住房保障实施细则（试行）",
         published="2021-07-01",
         text="人才公寓面向引进人才配租，租金按市场价的50%收取；购房补贴不与租房补贴同时享受。",
         talent=1, topics=["住房", "补贴"], region={"province": "广东省", "city": "深圳市"}),
]


def build_archive(path: Path, articles: list[dict[str, Any]] = ARTICLES):
    """Write `articles` through save_article, then set the columns dedupe and relevance own."""
    db = open_archive(path)
    ids: list[int] = []
    for spec in articles:
        article = Article(url=spec["url"], site=spec["site"], title=spec["title"],
                          published=spec["published"], text=spec["text"],
                          attachments=spec.get("attachments", []))
        article_id, _ = save_article(db, article)
        ids.append(article_id)
        repost_of = spec.get("repost_of")
        db.execute(
            "UPDATE articles SET talent = ?, topics = ?, region = ?, incentives = ?, duplicate_of = ?"
            " WHERE id = ?",
            [spec.get("talent"), json.dumps(spec.get("topics", []), ensure_ascii=False),
             json.dumps(spec.get("region", {}), ensure_ascii=False),
             json.dumps(spec.get("incentives", []), ensure_ascii=False),
             None if repost_of is None else ids[repost_of], article_id])
    db.conn.commit()
    return db, ids


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def oracle(db, *, all_of=(), any_of=(), none_of=()) -> set[int]:
    """Ids whose title + body (text and attachment texts) contain the given substrings."""
    out = set()
    for row in db.query("SELECT id, title, text, attachments FROM articles"):
        body = "\n".join([row["title"] or "", row["text"] or ""]
                         + [a.get("text") or "" for a in json.loads(row["attachments"] or "[]")])
        body = _norm(body)
        if all(_norm(s) in body for s in all_of) and (not any_of or any(_norm(s) in body for s in any_of)) \
                and not any(_norm(s) in body for s in none_of):
            out.add(row["id"])
    return out


def hit_ids(db, query: str, **kw) -> set[int]:
    return {h["id"] for h in search(db, query, limit=10_000, all_reposts=True, **kw)}


@pytest.fixture
def archive(tmp_path):
    db, ids = build_archive(tmp_path / "archive.db")
    return db, ids


# ---- exactness against a substring scan ------------------------------------------------

@pytest.mark.parametrize("word", ["人", "才", "补", "G", "3", "人才", "补贴", "博士", "安家", "住房",
                                  "5g", "ai", "人才补贴", "安家补贴", "高层次人才", "购房补贴",
                                  "2024年", "5G人才",
                                  "ＡＩ人才", "3000元", "拔尖人才", "才补", "公示期为5个"])
def test_words_of_every_length_match_exactly_what_a_substring_scan_finds(archive, word):
    db, _ = archive
    assert hit_ids(db, word) == oracle(db, all_of=[word])


def test_characters_split_by_punctuation_or_lines_do_not_make_a_word(archive):
    db, ids = archive
    # 「人、才、物」 and 「人才\n补贴」 hold the characters but not the words 人才物 / 才补贴
    assert ids[3] not in hit_ids(db, "人才物")
    assert ids[3] in hit_ids(db, "人") and ids[3] in hit_ids(db, "物")
    assert ids[4] not in hit_ids(db, "人才补贴")
    assert ids[6] in hit_ids(db, "人才补贴")  # written as one word there


def test_random_corpus_agrees_with_the_oracle(tmp_path):
    """Dense random text over a few characters: every 1-, 2-, 3- and 4-character query agrees."""
    rng = random.Random(42)
    alphabet = "人才补贴引进房博士ＡaB5，。 \n"
    specs = [dict(url=f"https://r.example.cn/{n}.html", site=f"s{n % 3}",
                  title="".join(rng.choices(alphabet, k=8)), published=f"202{n % 5}-0{1 + n % 9}-1{n % 9}",
                  text="".join(rng.choices(alphabet, k=rng.randint(5, 60))))
             for n in range(120)]
    db, _ = build_archive(tmp_path / "random.db", specs)
    letters = [c for c in alphabet if c.strip() and c not in "，。"]
    queries = set(letters)
    for _ in range(150):
        queries.add("".join(rng.choices(letters, k=rng.choice([2, 3, 4]))))
    for q in sorted(queries):
        assert hit_ids(db, q) == oracle(db, all_of=[q]), q


def test_and_or_not_and_phrases(archive):
    db, _ = archive
    assert hit_ids(db, "人才 补贴") == oracle(db, all_of=["人才", "补贴"])
    assert hit_ids(db, "人才 AND 补贴") == oracle(db, all_of=["人才", "补贴"])
    assert hit_ids(db, "住房 OR 生活补贴") == oracle(db, any_of=["住房", "生活补贴"])
    assert hit_ids(db, "人才 NOT 补贴") == oracle(db, all_of=["人才"], none_of=["补贴"])
    assert hit_ids(db, "人才 -补贴 -会议") == oracle(db, all_of=["人才"], none_of=["补贴", "会议"])
    assert hit_ids(db, "(安家 OR 购房) 补贴") == oracle(db, all_of=["补贴"], any_of=["安家", "购房"])
    assert hit_ids(db, '"安家补贴"') == oracle(db, all_of=["安家补贴"])
    assert hit_ids(db, "“人才公寓”") == oracle(db, all_of=["人才公寓"])
    # a quoted phrase spans punctuation: 博士后进站 is written 博士后进站, 村（社区） as 村 社区
    assert hit_ids(db, '"村 社区"') == oracle(db, all_of=["村（社区）"])


@pytest.mark.parametrize("query, message", [
    ('"人才补贴', "unbalanced quote"),
    ("NOT", "NOT must be followed"),
    ("人才 NOT", "NOT must be followed"),
    ("NOT 人才", "only excludes"),
    ("OR 人才", "OR needs"),
    ("(人才", "never closed"),
    ("(", "unbalanced parenthesis: a '\\(' is never closed"),
    ("人才 (", "unbalanced parenthesis: a '\\(' is never closed"),
    ("人才 OR (", "unbalanced parenthesis"),
    ("人才)", "no matching"),
    ("***", "nothing to search for"),
    ("   ", "empty"),
])
def test_malformed_queries_get_a_clear_message(archive, query, message):
    db, _ = archive
    with pytest.raises(QueryError, match=message):
        search(db, query)


@pytest.mark.parametrize("query, expected", [
    ("人才*", dict(all_of=["人才"])), ("^人才", dict(all_of=["人才"])), ("{人才}", dict(all_of=["人才"])),
    ("人才:", dict(all_of=["人才"])), ("补贴 + 人才", dict(all_of=["人才", "补贴"])),
    ('人才"补贴"', dict(all_of=["人才", "补贴"])), ("人才 - 补贴", dict(all_of=["人才", "补贴"])),
    ("title:补贴", dict(all_of=["title补贴"])), ("人才 NEAR(补贴)", dict(all_of=["人才", "near", "补贴"])),
    ("AND*", dict(all_of=["and"])),
])
def test_fts_syntax_characters_are_searched_as_punctuation_never_passed_to_sqlite(archive, query, expected):
    db, _ = archive
    assert hit_ids(db, query) == oracle(db, **expected)


def test_a_match_in_an_attachment_counts(archive):
    db, ids = archive
    assert hit_ids(db, "青年拔尖人才购房补贴申请表") == {ids[4]}


# ---- filters ----------------------------------------------------------------------------

def _expected(db, word: str, where: str, params=()) -> set[int]:
    chosen = {r[0] for r in db.execute(f"SELECT id FROM articles WHERE {where}", list(params))}
    return oracle(db, all_of=[word]) & chosen


def test_each_filter_selects_what_it_says(archive):
    db, _ = archive
    assert hit_ids(db, "人才", filters=Filters(sites=("rsj",))) == _expected(db, "人才", "site = 'rsj'")
    assert hit_ids(db, "人才", filters=Filters(sites=("rsj", "kjj"))) == \
        _expected(db, "人才", "site IN ('rsj', 'kjj')")
    assert hit_ids(db, "人才", filters=Filters(since="2024-03-06")) == \
        _expected(db, "人才", "published >= '2024-03-06'")
    assert hit_ids(db, "人才", filters=Filters(since="2024")) == _expected(db, "人才", "published >= '2024'")
    assert hit_ids(db, "人才", filters=Filters(until="2023-12")) == \
        _expected(db, "人才", "published <= '2023-12-31'")
    assert hit_ids(db, "人才", filters=Filters(since="2023", until="2023")) == \
        _expected(db, "人才", "published LIKE '2023%'")
    assert hit_ids(db, "人才", filters=Filters(topics=("住房",))) == \
        _expected(db, "人才", "topics LIKE '%住房%'")
    assert hit_ids(db, "人才", filters=Filters(topics=("技能", "住房"))) == \
        _expected(db, "人才", "topics LIKE '%住房%' OR topics LIKE '%技能%'")
    assert hit_ids(db, "人才", filters=Filters(regions=("广东",))) == \
        _expected(db, "人才", "region LIKE '%广东省%'")
    assert hit_ids(db, "人才", filters=Filters(regions=("湘桥区",))) == \
        _expected(db, "人才", "region LIKE '%湘桥%'")
    assert hit_ids(db, "人才", filters=Filters(talent_only=True)) == _expected(db, "人才", "talent = 1")
    combined = Filters(sites=("rsj",), since="2024", regions=("浙江",), talent_only=True)
    assert hit_ids(db, "补贴", filters=combined) == _expected(
        db, "补贴", "site = 'rsj' AND published >= '2024' AND region LIKE '%浙江%' AND talent = 1")
    # every filter narrows something in this archive, so none of the checks above is vacuous
    assert hit_ids(db, "人才", filters=Filters(talent_only=True)) != hit_ids(db, "人才")


@pytest.mark.parametrize("kw, message", [
    (dict(since="March 2024"), "--since expects a date"),
    (dict(until="2024/03/05"), "--until expects a date"),
    (dict(since="2024-05", until="2024-01"), "after --until"),
    (dict(until="2024-02-30"), "--until expects a date .*not a real date"),
    (dict(until="2023-02-29"), "--until expects a date .*not a real date"),
    (dict(since="2024-13"), "--since expects a date .*not a real date"),
    (dict(since="2024-00-10"), "--since expects a date .*not a real date"),
    (dict(since="0000"), "--since expects a date .*not a real date"),
])
def test_bad_filter_values_name_the_option(kw, message):
    with pytest.raises(FilterError, match=message):
        Filters(**kw)


def test_dates_at_the_edges_of_the_calendar_are_searchable(archive):
    db, _ = archive
    assert hit_ids(db, "人才", filters=Filters(since="2024-02-29", until="9999")) == \
        _expected(db, "人才", "published >= '2024-02-29'")
    assert hit_ids(db, "人才", filters=Filters(since="0001", until="2024-02")) == \
        _expected(db, "人才", "published < '2024-03'")


# ---- clusters, ranking, snippets, sync -----------------------------------------------------

def test_one_hit_per_repost_cluster_unless_asked_for_all(archive):
    db, ids = archive
    hits = search(db, "安家补贴")
    assert [h["id"] for h in hits] == [ids[0]]  # the original, not its repost
    assert hits[0]["reposts"] == 1
    assert {h["id"] for h in search(db, "安家补贴", all_reposts=True)} == {ids[0], ids[2]}


def test_a_repost_shows_when_only_it_matches(tmp_path):
    specs = [dict(ARTICLES[0]), dict(ARTICLES[2])]
    specs[1]["text"] += "（转自人社局网站）"
    specs[1]["repost_of"] = 0
    db, ids = build_archive(tmp_path / "a.db", specs)
    assert [h["id"] for h in search(db, "人社局")] == [ids[1]]


def test_title_matches_and_recent_items_rank_first(tmp_path):
    body = "本市进一步完善引才政策，优化服务保障。"
    specs = [
        dict(url="https://x.cn/old.html", site="x", title="人才公寓配租公告", published="2016-05-01",
             text=body),
        dict(url="https://x.cn/body.html", site="x", title="政策问答", published="2025-05-01",
             text=body + "人才公寓配租工作即将开始。"),
        dict(url="https://x.cn/new.html", site="x", title="人才公寓配租公告", published="2025-05-02",
             text=body),
    ]
    db, ids = build_archive(tmp_path / "r.db", specs)
    # a nine-year-old title match ranks below this year's body match
    assert [h["id"] for h in search(db, "人才公寓")] == [ids[2], ids[1], ids[0]]
    assert [h["id"] for h in search(db, "人才公寓", sort="date")] == [ids[2], ids[1], ids[0]]
    scores = {h["id"]: h["score"] for h in search(db, "人才公寓")}
    assert scores[ids[2]] > scores[ids[0]]  # same text and title, nine years newer
    assert scores[ids[2]] > scores[ids[1]]  # same age, title match


def test_snippets_mark_every_match_near_the_first(archive):
    db, ids = archive
    (hit,) = [h for h in search(db, "补贴 博士后") if h["id"] == ids[4]]
    assert "[博士后]" in hit["snippet"] and "[补贴]" in hit["snippet"]
    (hit,) = [h for h in search(db, "ai人才") if h["id"] == ids[4]]
    assert "[ＡＩ人才]" in hit["snippet"]  # found in its full-width form, shown as written


def test_the_index_follows_edits_inside_the_article_transaction(archive):
    db, ids = archive
    edited = Article(url=ARTICLES[6]["url"], site="rsj",
                     title="关于公布2023年度技能人才补贴名单的公示（更正）", published="2023-12-21",
                     text="更正：公示期延长为10个工作日。")
    save_article(db, edited)
    assert ids[6] not in hit_ids(db, "拟发放名单")
    assert ids[6] in hit_ids(db, "延长为10个")
    assert hit_ids(db, "公示") == oracle(db, all_of=["公示"])
    # a write that fails half-way leaves neither the article nor its index entry behind
    db.execute("CREATE TRIGGER fail_events BEFORE INSERT ON events"
               " BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(sqlite3.IntegrityError):
        save_article(db, Article(url="https://x.cn/lost.html", site="x", title="揭榜挂帅项目榜单",
                                 text="榜单发布"))
    assert hit_ids(db, "揭榜挂帅") == set()
    assert db.execute("SELECT count(*) FROM articles WHERE url = 'https://x.cn/lost.html'").fetchone()[0] == 0


def test_an_archive_indexed_in_an_older_format_is_reindexed_on_open(tmp_path):
    db, ids = build_archive(tmp_path / "old.db")
    db.execute("UPDATE search_meta SET value = 'han-unigram' WHERE key = 'format'")
    db.execute("DELETE FROM articles_fts")
    db.conn.commit()
    db.close()
    db = open_archive(tmp_path / "old.db")
    assert hit_ids(db, "安家补贴") == {ids[0], ids[2]}


def test_match_expression_never_contains_user_syntax():
    with pytest.raises(QueryError):
        to_match('title:人才* OR "x')
    assert to_match("人才^ NEAR") == '("人才" AND "ne ea ar")'


# ---- the command line -------------------------------------------------------------------

def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return invoke(["--config", str(config), *args])


@pytest.fixture
def config(tmp_path):
    build_archive(tmp_path / "archive.db")
    path = tmp_path / "config.yaml"
    path.write_text("database: archive.db\nsites: []\n", encoding="utf-8")
    return path


def test_cli_search_with_filters_and_json(config):
    result = run_cli(config, "search", "补贴", "--talent-only", "--site", "rsj", "--since", "2024", "--json")
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert {h["url"] for h in hits} == {ARTICLES[0]["url"], ARTICLES[4]["url"]}
    assert all("[补贴]" in h["snippet"] for h in hits)
    result = run_cli(config, "search", "安家补贴")
    assert "+1 repost(s)" in result.stdout and ARTICLES[0]["url"] in result.stdout
    assert ARTICLES[2]["url"] not in result.stdout
    assert ARTICLES[2]["url"] in run_cli(config, "search", "安家补贴", "--all-reposts").stdout


def test_cli_minus_words_need_no_quotes(config):
    db = open_archive(config.parent / "archive.db")
    wanted = oracle(db, all_of=["人才"], none_of=["补贴"])
    assert wanted and wanted != oracle(db, all_of=["人才"])
    expected = {r["url"] for r in db.query("SELECT id, url FROM articles") if r["id"] in wanted}
    for args in (["人才", "-补贴", "--all-reposts", "--json"],
                 ["--all-reposts", "--json", "--", "人才", "-补贴"],
                 ["人才", "--all-reposts", "-补贴", "--json"],
                 ["人才 -补贴", "--all-reposts", "--json"]):
        result = run_cli(config, "search", *args)
        assert result.returncode == 0, (args, result.stderr)
        assert {json.loads(line)["url"] for line in result.stdout.splitlines()} == expected, args


@pytest.mark.parametrize("args, message", [
    (["search", '"人才'], "unbalanced quote"),
    (["search", "("], "unbalanced parenthesis"),
    (["search", "人才", "--sinse", "2024"], "no such option: --sinse"),
    (["search", "人才 NOT"], "NOT must be followed"),
    (["search", "NOT 人才"], "only excludes"),
    (["search", "人才", "--since", "yesterday"], "--since expects a date"),
    (["export", "-q", "(人才"], "never closed"),
    (["search", "人才", "--until", "2024-02-30"], "--until expects a date like 2024-03-05, 2024-03 or 2024"),
    (["search", "人才", "--since", "2024-13"], "--since expects a date like 2024-03-05, 2024-03 or 2024"),
    (["search", "人才", "--since", "0000"], "not a real date"),
    (["export", "--since", "2024-13"], "--since expects a date"),
    (["export", "--format", "atom", "--until", "2023-02-29"], "--until expects a date"),
])
def test_cli_malformed_input_is_a_message_not_a_traceback(config, args, message):
    result = run_cli(config, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""  # refused before anything was searched or exported
    assert "Traceback" not in result.stderr and "sqlite3" not in result.stderr
