"""What alerts say (issue 13), end to end: local portals crawled by `run --once`, a real SMTP
server and a real HTTP receiver on 127.0.0.1.

One module-wide sequence of runs over three portals (an official site, an aggregator that
reposts with 原文链接, a traditional+pinyin mirror) serves the story, offer, edit, withdrawal
and digest tests; a second one over two big portals serves the baseline and the size cap.
"""

from __future__ import annotations

import os
import random
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from talentwatch.cli.demo_portal.portal import build_site, serve

from tests.browser import CHROMIUM, Browser
from tests.dedupe_texts import ORIGINAL, ORIGINAL_TITLE, mirror, repost_text
from tests.test_alerts_support import Mailbox, Receiver, cli, write_config

pytestmark = pytest.mark.slow(seconds=16)

CN = ZoneInfo("Asia/Shanghai")
NOW = datetime.now(CN)
TODAY = NOW.strftime("%Y-%m-%d")
SOON = NOW + timedelta(days=4)  # a deadline within the week: marked 即将截止

OFFER_TITLE = "宿松县出台引才新政 博士最高50万元购房补贴"
OFFER_TEXT = [
    "近日，安徽省安庆市宿松县印发《宿松县高层次人才引进若干措施》，面向全国引进急需紧缺人才。",
    "对全职引进的博士研究生，给予最高50万元购房补贴。",
    "对新引进的硕士研究生，每月发放3000元租房补贴，连续发放三年。",
    "对新引进的高层次人才，一次性发放安家费8万元。",
    f"报名截止时间为{SOON.year}年{SOON.month}月{SOON.day}日，逾期不予受理。",
]
EDIT_TITLE = "宿松县发布人才安家补贴调整通知"
EDIT_BEFORE = [
    "为吸引更多优秀人才来宿松就业创业，宿松县委人才工作领导小组研究决定调整人才安家补贴标准。",
    "对新引进的全日制硕士研究生，给予最高6万元安家补贴，分三年发放。",
    "本通知自印发之日起施行，由县委组织部负责解释。",
]
EDIT_AFTER = [p.replace("最高6万元", "最高8万元") for p in EDIT_BEFORE]
GONE_TITLE = "宿松县2026年引进博士研究生生活补贴发放公告"
GONE_TEXT = [
    "根据宿松县人才引进政策，对全职引进的博士研究生每月发放5000元生活补贴。",
    "经审核，首批12名博士研究生符合发放条件，现予以公告，公告期为五个工作日。",
]


def _article(aid: int, title: str, paragraphs: list[str], when: datetime, source: str) -> dict:
    return {"id": aid, "column": "rcgz", "title": title, "date": when.strftime("%Y-%m-%d %H:%M"),
            "source": source, "author": "宋林", "paragraphs": paragraphs}


def _site(name: str, base: str, **extra) -> dict:
    return {"name": name, "start_urls": [base + "rcgz/index.html"],
            "article_pattern": r"/rcgz/content/post_\d+\.html$", "delay": 0, **extra}


def _touch(path: Path) -> None:
    """A later Last-Modified, so the re-check's conditional request gets the edited page."""
    stamp = datetime.now().timestamp() + 2 * 86400  # the portal's pages carry dates ahead of UTC
    os.utime(path, (stamp, stamp))


RECHECK_HOURS = 0.0002  # 0.72 s: every known article is due again by the next run


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """Run 1 crawls the three portals; run 2 after an edit; run 3 after a withdrawal."""
    tmp = tmp_path_factory.mktemp("story")
    box, hook = Mailbox(), Receiver()
    bots = Receiver(replies=[(200, {"errcode": 0, "errmsg": "ok"})])
    box.start()
    dirs = {k: tmp / k for k in ("gov", "agg", "mirror")}
    for d in dirs.values():
        d.mkdir()
    with serve(dirs["gov"]) as gov, serve(dirs["agg"]) as agg, serve(dirs["mirror"]) as mir:
        hour = NOW.replace(minute=0, second=0, microsecond=0)
        official = [_article(501, ORIGINAL_TITLE, ORIGINAL, hour - timedelta(hours=3), "白石县委组织部"),
                    _article(502, OFFER_TITLE, OFFER_TEXT, hour - timedelta(hours=1), "宿松县委组织部"),
                    _article(503, EDIT_TITLE, EDIT_BEFORE, hour - timedelta(hours=2), "宿松县委组织部"),
                    _article(504, GONE_TITLE, GONE_TEXT, hour - timedelta(hours=4), "宿松县人社局")]
        build_site(dirs["gov"], official)
        original_url = gov + "rcgz/content/post_501.html"
        build_site(dirs["agg"], [_article(601, ORIGINAL_TITLE, repost_text(original_url),
                                          hour - timedelta(hours=2), "政讯汇览网")])
        trad = "白石縣(xiàn)推出“白石英才”十二條 高層(céng)次人才安家補貼最高80萬(wàn)元"
        build_site(dirs["mirror"], [_article(701, trad, mirror(ORIGINAL), hour - timedelta(hours=1),
                                             "白石縣委組織部")])
        recheck = {"revisit": {"max_age_days": 7, "every_hours": RECHECK_HOURS}}
        config = write_config(tmp, [_site("镜像站", mir), _site("政讯汇览", agg),
                                    _site("白石县政府网", gov, **recheck)], [
            {"name": "即时", "channels": [box.url, f"json://{hook.base}/hook"],
             "filter": {"events": ["new", "changed", "removed"]}},
            {"name": "群", "channels": [f"wecombot://k3y?endpoint=http://{bots.base}/wecom",
                                       f"dingtalk://t0ken/?endpoint=http://{bots.base}/ding",
                                       f"feishu://t0ken?endpoint=http://{bots.base}/feishu"]},
            {"name": "早报", "mode": "digest", "channels": [box.url],
             "filter": {"events": ["new", "changed", "removed"]}},
        ], baseline_window="3d")
        runs = [cli(config, "run", "--once")]
        first_mails, first_hooks = len(box.messages), len(hook.requests)
        page = dirs["gov"] / "rcgz" / "content"
        html = (page / "post_503.html").read_text(encoding="utf-8")
        (page / "post_503.html").write_text(html.replace("最高6万元", "最高8万元"), encoding="utf-8")
        _touch(page / "post_503.html")
        time.sleep(RECHECK_HOURS * 3600)  # the known articles are due for their re-check again
        runs.append(cli(config, "run", "--once"))
        edit_mails = len(box.messages)
        (page / "post_504.html").unlink()
        time.sleep(RECHECK_HOURS * 3600)
        runs.append(cli(config, "run", "--once"))
        digest = cli(config, "digest", "--preview", "早报", "--html", str(tmp / "digest.html"))
    box.stop()
    hook.close()
    bots.close()
    if os.environ.get("TW_DUMP"):  # for reading the rendered messages
        for i, m in enumerate(box.messages):
            Path(os.environ["TW_DUMP"], f"story-{i}.txt").write_text(box.parts(m)[0], encoding="utf-8")
            Path(os.environ["TW_DUMP"], f"story-{i}.html").write_text(box.parts(m)[1], encoding="utf-8")
        Path(os.environ["TW_DUMP"], "digest.txt").write_text(digest.stdout, encoding="utf-8")
    yield {"runs": runs, "mails": box.messages, "hooks": hook.requests, "bots": bots.requests,
           "box": box, "gov": gov, "agg": agg, "mirror": mir, "first": (first_mails, first_hooks),
           "edit_mails": edit_mails, "digest": digest, "digest_html": (tmp / "digest.html"), "tmp": tmp}


def _first_mail(story) -> tuple[str, str]:
    n, _ = story["first"]
    assert n == 1, [m["Subject"] for m in story["mails"]]
    return story["box"].parts(story["mails"][0])


def test_runs_succeed(story):
    for run in story["runs"]:
        assert run.returncode == 0, run.stderr


def test_story_found_three_times_is_one_item_headed_by_the_original(story):
    text, html = _first_mail(story)
    original = story["gov"] + "rcgz/content/post_501.html"
    # the headline, and the copies under it (the mirror's title cleaned to the same words)
    assert text.count(ORIGINAL_TITLE) == 3
    headline = text[text.index("[新发布] " + ORIGINAL_TITLE):].splitlines()
    block = "\n".join(headline[:14])
    assert f"链接：{original}" in block
    assert "也见于：" in block
    assert story["agg"] + "rcgz/content/post_601.html" in block
    assert story["mirror"] + "rcgz/content/post_701.html" in block
    assert "縣(xiàn)" not in text and "(xiàn)" not in html  # the mirror's title, cleaned
    payload = story["hooks"][0]["json"]
    items = [i for i in payload["items"] if i["cluster_id"] and "白石" in i["title"]]
    assert len(items) == 1 and items[0]["url"] == original and items[0]["title"] == ORIGINAL_TITLE
    assert {c["url"] for c in items[0]["also_at"]} == {story["agg"] + "rcgz/content/post_601.html",
                                                       story["mirror"] + "rcgz/content/post_701.html"}


def _offer_facts() -> list[str]:
    return ["安徽省安庆市宿松县", "最高50万元购房补贴（博士）", "每月3000元租房补贴", "一次性安家费8万元",
            SOON.strftime("%Y-%m-%d"), "即将截止"]


def test_offers_region_and_deadline_reach_text_html_and_webhook(story):
    text, html = _first_mail(story)
    block = text[text.index(OFFER_TITLE):text.index(OFFER_TITLE) + 600]
    for fact in _offer_facts():
        assert fact in block, fact
        assert fact in html, fact
    assert "最高50万元购房补贴" in block  # the snippet: the sentence with the offer
    assert 'font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif' in html
    assert "北京时间" in text and "北京时间" in html
    payload = story["hooks"][0]["json"]
    assert payload["schema"] == "talentwatch.alert/2"
    item = next(i for i in payload["items"] if i["title"] == OFFER_TITLE)
    assert item["region_text"] == "安徽省安庆市宿松县"
    assert item["offers"] == ["最高50万元购房补贴（博士）", "每月3000元租房补贴（硕士）",
                              "一次性安家费8万元（高层次人才）"]
    assert item["deadline"] == SOON.strftime("%Y-%m-%d") and item["deadline_state"] == "near"
    assert "购房补贴" in item["snippet"]


def test_chat_bots_get_the_offers_within_their_size_limits(story):
    first = {r["path"]: r["json"] for r in reversed(story["bots"])}  # each bot's first message
    wecom = first["/wecom"]["markdown"]["content"]
    ding = first["/ding"]["markdown"]["text"]
    feishu = first["/feishu/t0ken"]["content"]["text"]
    for body, limit in ((wecom, 4096), (ding, 20000), (feishu, 20000)):
        assert len(body.encode()) <= limit
        assert "最高50万元购房补贴（博士）" in body and "安徽省安庆市宿松县" in body
        assert SOON.strftime("%Y-%m-%d") in body.replace("\\", "")


def test_html_part_rendered_by_chromium_shows_the_offer(story):
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (.ci/run installs it)")
    _, html = _first_mail(story)
    page = story["tmp"] / "instant.html"
    page.write_text(html, encoding="utf-8")
    browser = Browser(CHROMIUM, story["tmp"] / "chromium-profile")
    try:
        dom = browser.dom(page.as_uri())
    finally:
        browser.close()
    visible = re.sub(r"<[^>]+>", "", dom)
    for fact in _offer_facts():
        assert fact in visible, fact


def test_an_edit_shows_the_changed_amounts_marked(story):
    first, _ = story["first"]
    assert story["edit_mails"] == first + 1
    text, html = story["box"].parts(story["mails"][first])
    assert "[有更新] " + EDIT_TITLE in text
    assert "〔6万元 → 8万元〕" in text
    assert '<del style="color: #b3261e">6万元</del>' in html and ">8万元</ins>" in html
    # the changed sentence, not the whole text
    assert EDIT_BEFORE[0][:20] not in text and "本通知自印发之日起施行" not in text


def test_a_withdrawal_is_marked_and_the_digest_lists_each_story_once(story):
    withdrawn = story["box"].parts(story["mails"][-1])[0]
    assert "[已撤回] " + GONE_TITLE in withdrawn
    digest = story["digest"].stdout
    assert story["digest"].returncode == 0, story["digest"].stderr
    assert "[已撤回] " + GONE_TITLE in digest and "[新发布] " + GONE_TITLE not in digest
    assert digest.count(GONE_TITLE) == 1
    # new, then edited before the digest: one entry, as new, with the latest text
    assert digest.count(EDIT_TITLE) == 1 and "[新发布] " + EDIT_TITLE in digest
    assert "8万元" in digest[digest.index(EDIT_TITLE):] and "[有更新]" not in digest
    # grouped by region (province and city) by default
    assert "== 安徽省安庆市" in digest


# -- a new site: baseline; many new items: the cap --------------------------------------

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜谢邹喻柏水窦章云苏潘葛范彭"
GIVEN = "明华建国丽娟志强秀英海燕晓东文杰俊峰雪梅子涵宇航思远佳怡欣然浩然子轩梓萱一诺雨桐"


def _names(rng: random.Random, n: int) -> str:
    return "、".join(rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN) for _ in range(n))


def _bulk(first_id: int, n: int, newest: datetime, step: timedelta, seed: int) -> list[dict]:
    """`n` talent notices of distinct texts, newest first, `step` apart."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        when = newest - k * step
        aid = first_id + k
        out.append(_article(aid, f"望江县第{aid}期高层次人才生活补贴发放公示", [
            f"根据望江县高层次人才引进办法，对全职引进的博士研究生每月发放{2000 + k}元生活补贴。",
            f"经审核，以下人员符合第{aid}期发放条件：{_names(rng, 14)}。",
            f"公示期为{when.month}月{when.day}日起五个工作日，联系人：{_names(rng, 2)}。",
        ], when, "望江县委组织部"))
    return out


@pytest.fixture(scope="module")
def floods(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("floods")
    box, hook = Mailbox(), Receiver()
    box.start()
    old_dir, many_dir = tmp / "old", tmp / "many"
    hour = NOW.replace(minute=0, second=0, microsecond=0)
    build_site(old_dir, _bulk(1000, 2, hour - timedelta(hours=1), timedelta(hours=1), 1)
               + _bulk(1100, 100, hour - timedelta(days=30), timedelta(days=1), 2))
    build_site(many_dir, _bulk(2000, 120, hour - timedelta(minutes=5), timedelta(minutes=7), 3))
    with serve(old_dir) as old, serve(many_dir) as many:
        config = write_config(tmp, [_site("新增站点", old, max_list_pages=40),
                                    _site("批量站点", many, max_list_pages=40)], [
            {"name": "新站", "channels": [box.url], "filter": {"sites": ["新增站点"]}},
            {"name": "批量", "channels": [f"json://{hook.base}/hook", box.url],
             "filter": {"sites": ["批量站点"]}},
        ], baseline_window="3d", web_url="http://127.0.0.1:8001/")
        run = cli(config, "run", "--once")
    box.stop()
    hook.close()
    if os.environ.get("TW_DUMP"):  # for reading the rendered messages
        for i, m in enumerate(box.messages):
            Path(os.environ["TW_DUMP"], f"floods-{i}.eml").write_bytes(m.as_bytes())
    yield {"run": run, "mails": box.messages, "hooks": hook.requests, "box": box}


def test_first_crawl_of_a_site_alerts_only_recent_items_and_counts_the_baseline(floods):
    assert floods["run"].returncode == 0, floods["run"].stderr
    mails = [m for m in floods["mails"] if "新站" in m["Subject"]]
    assert len(mails) == 1
    text, html = floods["box"].parts(mails[0])
    assert text.count("[新发布]") == 2
    assert "第1000期" in text and "第1001期" in text and "第1100期" not in text
    assert "新增站点：首次抓取，100 条此前发布的文章已存档为基线" in text
    assert "100 条此前发布的文章已存档为基线" in html


def test_a_big_run_sends_fifty_newest_first_and_says_how_many_more_and_where(floods):
    payload = floods["hooks"][0]["json"]
    assert payload["total"] == 120 and len(payload["items"]) == 50
    published = [i["published"] for i in payload["items"]]
    assert published == sorted(published, reverse=True)
    assert payload["items"][0]["title"].startswith("望江县第2000期")
    assert payload["more"]["count"] == 70 and "http://127.0.0.1:8001/" in payload["more"]["where"]
    mail = next(m for m in floods["mails"] if "批量" in m["Subject"])
    text, _ = floods["box"].parts(mail)
    assert "等 120 条（新发布 120）" in mail["Subject"]
    assert text.count("[新发布]") == 50
    assert "另有 70 条未列出，见http://127.0.0.1:8001/（网页视图）或 Atom 订阅" in text


# -- how single values read (no crawl) ------------------------------------------------------

def test_offers_read_as_a_person_writes_them():
    from talentwatch.scheduler.alerts.content import offer_phrase

    def phrase(kind, low, high, period=None, target=None):
        return offer_phrase({"type": kind, "amount_min": low, "amount_max": high, "unit": "元",
                             "period": period, "target": target})

    assert phrase("购房补贴", None, 500000, target="博士") == "最高50万元购房补贴（博士）"
    assert phrase("租房补贴", 3000, 3000, "每月") == "每月3000元租房补贴"
    assert phrase("安家费", 80000, 80000, "一次性") == "一次性安家费8万元"
    assert phrase("租房补贴", 1000, 3000, "每月") == "每月1000至3000元租房补贴"
    assert phrase("项目资助", 10_000, 30_000) == "1至3万元项目资助"
    assert phrase("科研经费", 1_500_000_00, 1_500_000_00) == "1.5亿元科研经费"
    assert phrase("生活补贴", 2000, None, "每月") == "每月2000元以上生活补贴"
    assert phrase("人才公寓", None, None, target="博士") == "人才公寓（博士）"


def test_deadlines_are_marked_near_within_a_week_and_past_after():
    from datetime import date

    from talentwatch.scheduler.alerts.content import deadline_note

    today = date(2026, 11, 29)
    assert deadline_note("2026-12-06", today).label == "即将截止"
    assert deadline_note("2026-12-07", today).label == ""
    assert deadline_note("2026-11-28", today).label == "已截止"
    assert deadline_note(None, today) is None
