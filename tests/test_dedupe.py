"""One article, one record: URL spellings, column moves, reposts, mirrors, and
which copy is the original."""

from __future__ import annotations

import json
import random
import unicodedata

import numpy as np
import pytest
from talentwatch.core.records import Article
from talentwatch.core.text import nfkc
from talentwatch.storage import dedupe
from talentwatch.storage.articles import archived_urls, find_article, save_article
from talentwatch.storage.identity import canonical_url, stable_key
from talentwatch.storage.normalize import normalize
from talentwatch.storage.schema import open_archive

from tests.dedupe_texts import (
    ORIGINAL,
    ORIGINAL_TITLE,
    OTHER,
    OTHER_TITLE,
    SIBLING,
    SIBLING_TITLE,
    mirror,
    repost_text,
)

GOV = "https://www.baishi.gov.cn/rcgz/gzdt/content/post_18406.html"
AGG = "https://news.example.org/difang/2026/0302/8812.html"
MIRROR = "https://mirror.example.net/tw/20260303_77.html"



def art(url: str, text: list[str] | str, title: str = ORIGINAL_TITLE, published: str = "2026-03-01",
        **kw) -> Article:
    body = text if isinstance(text, str) else "\n".join(text)
    return Article(url=url, site=url.split("/")[2], title=title, text=body, published=published, **kw)


def row(db, article_id: int) -> dict:
    return next(db.query("SELECT * FROM articles WHERE id = ?", [article_id]))


def test_url_spellings_are_one_record(db):
    first, kind = save_article(db, art("http://www.baishi.gov.cn/rcgz/index.html", ORIGINAL))
    assert kind == "new"
    for spelling in ("https://baishi.gov.cn/rcgz/", "https://www.baishi.gov.cn/rcgz/index.html#top",
                     "https://www.baishi.gov.cn/rcgz/?utm_source=wechat&spm=a.b"):
        assert save_article(db, art(spelling, ORIGINAL)) == (first, None)
    assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 1
    assert canonical_url("https://a.gov.cn/x/?b=2&utm_medium=x&a=1") == "https://a.gov.cn/x/?a=1&b=2"


def test_a_post_moved_to_another_column_is_the_same_record(db):
    first, _ = save_article(db, art(GOV, ORIGINAL))
    moved = "https://www.baishi.gov.cn/zxzx/content/post_18406.html"
    assert stable_key(moved) == stable_key(GOV) == "baishi.gov.cn/post:18406"
    assert save_article(db, art(moved, ORIGINAL)) == (first, None)
    assert stable_key("https://www.12371.cn/2021/06/01/ARTI1622512345678901.shtml") == \
        "12371.cn/arti:ARTI1622512345678901"


def test_a_list_pages_links_are_known_under_the_same_spellings_as_one_by_one(db):
    """The crawl looks a list page's links up together; it must find exactly those that
    find_article finds, or a known article is fetched again (or a new one skipped)."""
    save_article(db, art(GOV, ORIGINAL))
    save_article(db, art("http://www.baishi.gov.cn/rcgz/index.html", OTHER, title=OTHER_TITLE))
    links = [GOV, "https://www.baishi.gov.cn/zxzx/content/post_18406.html",  # moved column
             "https://baishi.gov.cn/rcgz/?utm_source=wechat", "https://www.baishi.gov.cn/rcgz/#top",
             "https://www.baishi.gov.cn/rcgz/content/post_18407.html", AGG, MIRROR]
    links += [f"https://www.baishi.gov.cn/rcgz/content/post_{n}.html" for n in range(20000, 20700)]
    assert archived_urls(db, links) == {url for url in links if find_article(db, url) is not None}
    assert len(archived_urls(db, links)) == 4


def test_new_articles_number_on_and_their_events_carry_their_cluster(db):
    first, _ = save_article(db, art(GOV, ORIGINAL))
    second, _ = save_article(db, art(MIRROR, mirror(ORIGINAL), published="2026-03-02"))
    third, _ = save_article(db, art(AGG, OTHER, title=OTHER_TITLE))
    assert (first, second, third) == (1, 2, 3)
    events = {e["article_id"]: e for e in db.query("SELECT * FROM events")}
    assert (events[1]["cluster_id"], events[1]["duplicate_of"]) == (1, None)
    assert (events[2]["cluster_id"], events[2]["duplicate_of"]) == (1, 1)
    assert (events[3]["cluster_id"], events[3]["duplicate_of"]) == (3, None)
    assert [row(db, n)["cluster_id"] for n in (1, 2, 3)] == [1, 1, 3]


def test_normalised_text_folds_mirror_damage():
    assert normalize("打造人才“強(qiáng)引擎” 奮勇爭(zhēng)先") == normalize("打造人才“强引擎”，奋勇争先")
    assert normalize("ＡＢＣ１２３　人才") == "abc123人才"
    # a lost character's marker and its orphaned pinyin go too
    assert normalize("沖百?gòu)?qiáng)") == "冲百"


# full-width forms, with a combining mark after one; a compatibility ideograph; symbols
# NFKC spells out; text already normal
@pytest.mark.parametrize("text", ["ＡＢＣ１２３　人才", "Ａ\u0301ｃｃｅｎｔ", "年薪５０万元（税前）以上",
                                  "\uf90a奖励", "每㎡补贴①㈱", "人才 plain", ""])
def test_nfkc_is_unicodedatas_nfkc(text):
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


def test_aggregator_repost_points_at_the_page_its_原文链接_names(db):
    original, kind = save_article(db, art(GOV, ORIGINAL))
    assert kind == "new"
    repost, kind = save_article(db, art(AGG, repost_text(GOV), published="2026-03-02"))
    assert kind == "duplicate"
    assert row(db, repost)["duplicate_of"] == original
    assert row(db, original)["duplicate_of"] is None


def test_repost_seen_before_its_original_hands_the_story_over(db):
    repost, kind = save_article(db, art(AGG, repost_text(GOV), published="2026-03-02"))
    assert kind == "new"  # the story is news the first time, wherever it is seen
    original, kind = save_article(db, art(GOV, ORIGINAL))
    assert kind == "duplicate"  # … and not news again when the official page turns up
    assert row(db, repost)["duplicate_of"] == original
    assert row(db, original)["duplicate_of"] is None
    assert row(db, original)["cluster_id"] == row(db, repost)["cluster_id"] == repost
    event = next(db.query("SELECT * FROM events WHERE article_id = ?", [original]))
    assert event["cluster_id"] == repost and json.loads(event["details"])["became_original"] is True


def test_traditional_pinyin_mirror_with_lost_characters_joins(db):
    original, _ = save_article(db, art(GOV, ORIGINAL))
    damaged = mirror([ORIGINAL_TITLE] + ORIGINAL, lose_every=40)
    assert "?" in "".join(damaged) and "(qiáng)" in "".join(damaged)
    copy, kind = save_article(db, art(MIRROR, damaged[1:], title=damaged[0], published="2026-03-03"))
    assert kind == "duplicate" and row(db, copy)["duplicate_of"] == original
    details = json.loads(next(db.query("SELECT details FROM events WHERE article_id = ?", [copy]))["details"])
    assert details["matched"][str(original)]["how"] == "near"


def test_different_stories_stay_apart(db):
    ids = [save_article(db, art(f"https://www.baishi.gov.cn/rcgz/content/post_{n}.html", text, title=t))
           for n, (t, text) in enumerate([(ORIGINAL_TITLE, ORIGINAL), (SIBLING_TITLE, SIBLING),
                                          (OTHER_TITLE, OTHER)])]
    assert [kind for _, kind in ids] == ["new", "new", "new"]
    assert {row(db, i)["cluster_id"] for i, _ in ids} == {i for i, _ in ids}


def test_official_domain_then_earliest_published_is_the_original(db):
    copy, _ = save_article(db, art(AGG, ORIGINAL, published="2026-03-01"))
    official, kind = save_article(db, art(GOV, ORIGINAL, published="2026-03-01"))
    assert kind == "duplicate" and row(db, copy)["duplicate_of"] == official
    later, _ = save_article(db, art("https://x.example.com/b.html", ORIGINAL, published="2026-03-05"))
    earliest, _ = save_article(db, art("https://y.example.com/a.html", ORIGINAL, published="2026-02-27"))
    # the official page stays the original; among the others nothing moves
    assert {row(db, i)["duplicate_of"] for i in (copy, later, earliest)} == {official}


def test_earliest_published_wins_without_official_page(db):
    late, _ = save_article(db, art("https://x.example.com/b.html", ORIGINAL, published="2026-03-05"))
    early, _ = save_article(db, art("https://y.example.com/a.html", ORIGINAL, published="2026-02-27"))
    assert row(db, late)["duplicate_of"] == early and row(db, early)["duplicate_of"] is None


def test_empty_or_tiny_pages_never_become_an_original(db):
    tiny_gov, _ = save_article(db, art(GOV, "详见附件。", published="2026-02-01"))
    other_tiny, kind = save_article(db, art("https://www.baishi.gov.cn/a/post_2.html", "详见附件。"))
    assert kind == "new"  # equal tiny texts are not duplicates of each other
    empty, kind = save_article(db, art("https://www.baishi.gov.cn/a/post_3.html", ""))
    assert kind == "new"
    # a full repost names the tiny page as its source: it does not join it
    repost, kind = save_article(db, art(AGG, repost_text(GOV), published="2026-03-02"))
    assert kind == "new"
    copy, kind = save_article(db, art(MIRROR, mirror(ORIGINAL), published="2026-03-03"))
    assert kind == "duplicate" and row(db, copy)["duplicate_of"] == repost
    assert row(db, tiny_gov)["cluster_id"] != row(db, repost)["cluster_id"]
    assert row(db, other_tiny)["duplicate_of"] is None and row(db, empty)["duplicate_of"] is None


def test_the_index_survives_a_restart(tmp_path):
    path = tmp_path / "archive.db"
    first = open_archive(path)
    original, _ = save_article(first, art(GOV, ORIGINAL))
    first.close()
    again = open_archive(path)  # nothing is rebuilt on open: bands are rows of the archive
    copy, kind = save_article(again, art(MIRROR, mirror(ORIGINAL), published="2026-03-03"))
    assert kind == "duplicate" and row(again, copy)["duplicate_of"] == original
    bands = again.execute("SELECT COUNT(*) FROM lsh_bands").fetchone()[0]
    assert bands == 2 * len(dedupe.band_keys(dedupe.signature(normalize("\n".join(ORIGINAL)))))


def test_exact_copy_on_another_site(db):
    original, _ = save_article(db, art(GOV, ORIGINAL))
    copy, kind = save_article(db, art("https://rencai.example.com/n/1.html", ORIGINAL,
                                      published="2026-03-04"))
    assert kind == "duplicate"
    details = json.loads(next(db.query("SELECT details FROM events WHERE article_id = ?", [copy]))["details"])
    assert details["matched"][str(original)]["how"] == "exact"


def test_bulletin_items_are_records_of_their_own(db):
    issue = "https://www.baishi.gov.cn/zgxx/content/post_900.html"
    stories = [(ORIGINAL_TITLE, ORIGINAL), (SIBLING_TITLE, SIBLING)]
    parts = [art(f"{issue}#item-{n}", text, title=title, parent_url=issue)
             for n, (title, text) in enumerate(stories, 1)]
    whole = "组工信息第3期\n" + "\n".join(p.text for p in parts)
    parent, _ = save_article(db, art(issue, whole, title="组工信息第3期", parts=parts))
    items = [save_article(db, part) for part in parts]
    assert len({parent, *(i for i, _ in items)}) == 3
    assert [kind for _, kind in items] == ["new", "new"]  # not copies of their own issue
    assert row(db, parent)["version"] == 1
    # the item reposted on its own elsewhere is a copy of the item, not of the issue
    repost, kind = save_article(db, art(AGG, ORIGINAL, published="2026-03-05"))
    assert kind == "duplicate" and row(db, repost)["duplicate_of"] == items[0][0]


def test_a_short_item_quoted_in_a_long_roundup_is_not_its_copy(db):
    short, _ = save_article(db, art(GOV, SIBLING, title=SIBLING_TITLE))
    roundup = SIBLING + ORIGINAL + OTHER + ORIGINAL[::-1] + OTHER[::-1]
    _, kind = save_article(db, art(AGG, roundup, title="一周人才政策汇总"))
    assert kind == "new" and row(db, short)["duplicate_of"] is None


def test_the_written_down_lsh_shape_is_datasketchs_choice():
    """Bands × rows are fixed in the code (no start-up integration): they must stay the
    ones datasketch picks for the threshold, or stored band keys would stop matching."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=dedupe.LSH_THRESHOLD, num_perm=dedupe.NUM_PERM)
    assert (lsh.b, lsh.r) == (dedupe.LSH_BANDS, dedupe.LSH_ROWS)
    assert dedupe._lsh_shape() == (lsh.b, lsh.hashranges)


def test_shingle_codes_are_the_shingles():
    text = normalize("近日，县委组织部出台人才引进办法（试行）2026年版")
    assert len(dedupe.shingle_codes(text)) == len(dedupe.shingles(text))
    other = text[5:] + "补贴"
    expected = len(dedupe.shingles(text) & dedupe.shingles(other)) / min(
        len(dedupe.shingles(text)), len(dedupe.shingles(other)))
    assert dedupe.overlap(text, other) == expected
    # a story's candidates are verified together: each gets the overlap it has alone
    others = [other, text, normalize("博士后出站留县工作的，给予安家补贴"), "", text[:3], text[::-1]]
    assert dedupe.codes_overlaps(dedupe.shingle_codes(text), [dedupe.shingle_codes(o) for o in others]) \
        == [dedupe.overlap(text, o) for o in others]


def test_signatures_are_datasketchs_minhash():
    """The numpy MinHash gives datasketch's values, or the signatures and band keys stored
    in an archive would stop matching new ones."""
    from datasketch import MinHash

    draw = random.Random(7)
    texts = [normalize("\n".join(ORIGINAL)), normalize(OTHER_TITLE + "".join(OTHER)),
             # more hashes than one step of the numpy MinHash takes
             normalize("".join(chr(0x4E00 + draw.randrange(3000)) for _ in range(6000)))]
    assert len(dedupe.shingle_hashes(texts[-1])) > dedupe._HASHES_PER_STEP
    for text in texts:
        expected = MinHash(num_perm=dedupe.NUM_PERM, seed=1, hashfunc=int)  # hashed already
        expected.update_batch(dedupe.shingle_hashes(text).tolist())
        assert np.array_equal(dedupe.signature(text), expected.hashvalues)


def test_signatures_are_stored_in_datasketchs_own_type():
    from datasketch import MinHash

    assert MinHash(num_perm=dedupe.NUM_PERM, seed=1).hashvalues.dtype == dedupe._SIG_DTYPE
