"""The outbox: events in, messages out, nothing lost, one failing channel holds back no other."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from urllib.parse import unquote

import yaml
from click.testing import CliRunner
from talentwatch.cli.app import main
from talentwatch.core.config import parse_config
from talentwatch.core.records import Article
from talentwatch.scheduler.alerts.collect import collect
from talentwatch.scheduler.alerts.delivery import configured_pairs, deliver_due, release
from talentwatch.scheduler.alerts.digest import preview
from talentwatch.storage.articles import save_article
from talentwatch.storage.outbox import counts, iso, utcnow

from tests.test_alerts_support import Mailbox, free_port


def article(n: int, talent: bool = True, site: str = "青禾组工网", **kw) -> Article:
    return Article(url=f"http://127.0.0.1/rcgz/content/post_{n}.html", site=site,
                   title=kw.pop("title", f"青禾县人才政策第{n}号"), text=kw.pop("text", "人才引进补贴"),
                   published=kw.pop("published", "2026-11-18T09:30:00+08:00"), talent=talent,
                   score=kw.pop("score", 0.8), topics=kw.pop("topics", ["人才引进"]), **kw)


def config(*subs: dict, **daemon):
    return parse_config({"daemon": {"retry_initial": 0, **daemon}, "subscriptions": list(subs)})



def test_collect_marks_events_read_and_queues_once(db, receiver):
    cfg = config({"name": "s", "channels": [f"json://{receiver.base}/"]})
    for n in (1, 2):
        save_article(db, article(n))
    save_article(db, article(3, talent=False))
    assert collect(db, cfg) == 2
    assert collect(db, cfg) == 0  # read already: nothing twice
    save_article(db, article(1, text="人才引进补贴，修订后"))  # a change: not in the default filter
    assert collect(db, cfg) == 0
    report = deliver_due(db, cfg)
    assert report.sent == 1 and len(receiver.requests) == 1
    assert {i["title"] for i in receiver.requests[0]["json"]["items"]} == {"青禾县人才政策第1号",
                                                                          "青禾县人才政策第2号"}
    assert deliver_due(db, cfg).sent == 0


STORY = ("青禾县近日出台高层次人才引进十条措施，对全职引进的博士研究生给予每人每月3000元生活补贴，"
         "连续发放三年；对新建博士后科研工作站的企业给予一次性建站补助30万元。县委组织部表示，"
         "将建立人才服务专员制度，为每名高层次人才配备联络员，做到一人一档、一事一办。")


def test_repost_cluster_alerts_once_listing_where_it_appeared(db, receiver):
    cfg = config({"name": "s", "channels": [f"json://{receiver.base}/"]})
    save_article(db, article(1, text=STORY))
    # an aggregator's copy with its own header and footer: the archive's dedupe clusters it
    copy = "政讯通中心 当前位置：首页 > 人才 > 正文\n" + STORY + "\n免责声明：本文转自网络。"
    save_article(db, article(2, site="转载网", title="【转载】青禾县人才政策第1号", text=copy))
    assert collect(db, cfg) == 1
    deliver_due(db, cfg)
    (item,) = receiver.requests[0]["json"]["items"]
    assert {p["site"] for p in item["appeared_in"]} == {"青禾组工网", "转载网"}
    # a later repost of the same cluster does not alert again
    save_article(db, article(3, site="另一转载网", text=STORY + "（来源：青禾县委组织部）"))
    assert collect(db, cfg) == 0
    assert deliver_due(db, cfg).sent == 0


def test_failing_channel_keeps_its_rows_and_holds_back_no_other(db, mailbox, receiver):
    down = Mailbox()  # never started: connection refused
    cfg = config({"name": "s", "channels": [down.url, f"json://{receiver.base}/", mailbox.url]},
                 retry_initial=60)
    save_article(db, article(1))
    collect(db, cfg)
    report = deliver_due(db, cfg)
    assert (report.sent, report.failed) == (2, 1)
    assert len(mailbox.messages) == 1 and len(receiver.requests) == 1
    failing = list(db.query("SELECT * FROM outbox WHERE status = 'queued'"))
    assert len(failing) == 1 and failing[0]["attempts"] == 1
    assert "SMTP" in failing[0]["last_error"]
    assert counts(db)["failing"] == 1
    # backoff: not retried before its time, retried after
    assert deliver_due(db, cfg).failed == 0
    later = utcnow() + timedelta(seconds=61)
    assert deliver_due(db, cfg, now=later).failed == 1
    row = next(db.query("SELECT attempts, next_attempt FROM outbox WHERE status = 'queued'"))
    assert row["attempts"] == 2 and row["next_attempt"] > (later + timedelta(seconds=110)).isoformat()


def test_dingtalk_errcode_in_200_reply_is_a_failure_and_retried(db, receiver):
    secret = "SEC0123456789abcdef"
    receiver.replies = [(200, {"errcode": 310000, "errmsg": "sign not match"}), (200, {"errcode": 0})]
    url = f"dingtalk://{secret}@tok123456/?endpoint=http://{receiver.base}/robot/send"
    cfg = config({"name": "钉钉群", "channels": [url]})
    save_article(db, article(1, title="青禾县<b>人才</b>补贴 [详情](http://evil.example/)"))
    collect(db, cfg)
    first = deliver_due(db, cfg)
    assert (first.sent, first.failed) == (0, 1)
    assert "310000" in first.errors[0] and "tok123456" not in first.errors[0]
    second = deliver_due(db, cfg)
    assert (second.sent, second.failed) == (1, 0)
    assert len(receiver.requests) == 2
    req = receiver.requests[-1]
    assert req["query"]["access_token"] == ["tok123456"]
    stamp = req["query"]["timestamp"][0]
    expected = base64.b64encode(hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert unquote(req["query"]["sign"][0]) == expected
    text = req["json"]["markdown"]["text"]
    # scraped text stays text: its markdown link syntax is escaped, the real link is ours
    assert "\\[详情\\]\\(http://evil\\.example/\\)" in text
    assert "(http://127.0.0.1/rcgz/content/post_1.html)" in text


def test_wecom_and_feishu_replies_are_read(db, receiver):
    receiver.replies = [(200, {"errcode": 93000, "errmsg": "invalid webhook url"}),
                        (200, {"code": 19021, "msg": "sign match fail"})]
    cfg = config({"name": "s", "channels": [f"wecombot://k1234567/?endpoint=http://{receiver.base}/w",
                                            f"feishu://t1234567/?endpoint=http://{receiver.base}/f"]})
    save_article(db, article(1))
    collect(db, cfg)
    report = deliver_due(db, cfg)
    assert report.failed == 2 and "93000" in report.errors[0] and "19021" in report.errors[1]
    assert receiver.requests[0]["json"]["msgtype"] == "markdown"
    assert receiver.requests[1]["path"] == "/f/t1234567"


def test_html_mail_escapes_scraped_text(db, mailbox):
    cfg = config({"name": "s", "channels": [mailbox.url]})
    save_article(db, article(1, title='补贴<script>alert(1)</script>&"通知"'))
    collect(db, cfg)
    deliver_due(db, cfg)
    text, html = mailbox.parts(mailbox.messages[0])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '补贴<script>alert(1)</script>&"通知"' in text


def test_digest_groups_a_days_items_into_one_message(db, mailbox):
    cfg = config({"name": "早报", "mode": "digest", "cron": "0 8 * * *", "channels": [mailbox.url],
                  "group_by": "topic"})
    save_article(db, article(1, topics=["人才引进"], published="2026-11-18T09:00:00+08:00"))
    collect(db, cfg)
    save_article(db, article(2, topics=["住房补贴"], published="2026-11-18T15:00:00+08:00"))
    save_article(db, article(3, topics=["人才引进"], published="2026-11-18T17:00:00+08:00"))
    collect(db, cfg)
    assert deliver_due(db, cfg).sent == 0  # held until the digest's time
    assert counts(db)["held"] == 3
    shown = preview(db, cfg, cfg.subscriptions[0])
    assert len(shown.items) == 3 and "== 人才引进（2）" in shown.text and "== 住房补贴（1）" in shown.text
    release(db, "早报")
    assert deliver_due(db, cfg).sent == 1
    (mail,) = mailbox.messages
    text, _ = mailbox.parts(mail)
    assert "摘要" in mail["Subject"] and "3 条" in mail["Subject"]
    assert text.index("人才引进（2）") < text.index("住房补贴（1）")
    assert all(f"第{n}号" in text for n in (1, 2, 3))
    assert preview(db, cfg, cfg.subscriptions[0]) is None


def test_filters_pick_topics_regions_keywords_sites_scores_and_kinds(db, receiver):
    def only(**rule):
        return {"name": "n" + str(len(subs)), "channels": [f"json://{receiver.base}/"], "filter": rule}

    subs = []
    subs.append(only(topics=["住房补贴"]))
    subs.append(only(keywords=["博士"]))
    subs.append(only(sites=["转载网"]))
    subs.append(only(min_score=0.85))
    subs.append(only(regions=["深圳"]))
    subs.append(only(events=["changed"], talent_only=False))
    cfg = config(*subs)
    save_article(db, article(1, topics=["住房补贴"], score=0.9, region={"province": "广东", "city": "深圳"}))
    save_article(db, article(2, text="引进博士研究生", site="转载网", score=0.5))
    save_article(db, article(3, talent=False, text="博士"))
    collect(db, cfg)
    save_article(db, article(3, talent=False, text="博士，修订"))
    collect(db, cfg)
    got = {r["subscription"]: r["article_id"] for r in db.query("SELECT * FROM outbox")}
    by_url = {r["id"]: int(r["url"].split("_")[1].split(".")[0]) for r in db.query("SELECT * FROM articles")}
    assert {k: by_url[v] for k, v in got.items()} == {"n0": 1, "n1": 2, "n2": 2, "n3": 1, "n4": 1, "n5": 3}


def test_a_dead_channels_long_queue_holds_back_no_other_and_removed_channels_are_kept(db, receiver, tmp_path):
    dead = {"name": "dead", "channels": [f"json://127.0.0.1:{free_port()}/"]}  # connection refused
    live = {"name": "live", "channels": [f"json://{receiver.base}/"]}
    for n in range(150):  # a long outage: one message per round piles up for the dead channel
        save_article(db, article(n))
        collect(db, config(dead))
    cfg = config(dead, live, retry_initial=60)
    save_article(db, article(150))
    collect(db, cfg)
    assert counts(db)["queued"] == 151 + 151
    first = deliver_due(db, cfg)
    assert (first.sent, first.failed) == (1, 1)
    # one message, listing the 50 newest of its 151 stories and counting the rest
    payload = receiver.requests[0]["json"]
    assert len(receiver.requests) == 1 and payload["total"] == 151 and len(payload["items"]) == 50
    # the whole dead queue waits for the retry, not just the message that failed
    assert db.execute("SELECT count(*) FROM outbox WHERE subscription = 'dead' AND next_attempt <= ?",
                      [iso(utcnow())]).fetchone()[0] == 0
    save_article(db, article(151))
    collect(db, cfg)
    second = deliver_due(db, cfg)
    assert (second.sent, second.failed) == (1, 0) and len(receiver.requests) == 2
    assert deliver_due(db, cfg, now=utcnow() + timedelta(seconds=61)).failed == 1  # retried after backoff
    # the dead subscription renamed: its rows are kept, counted as orphaned, and clog nothing
    renamed = config({**dead, "name": "renamed"}, live)
    assert counts(db, configured_pairs(renamed))["orphaned"] == 152
    save_article(db, article(152))
    collect(db, renamed)
    later = deliver_due(db, renamed, now=utcnow() + timedelta(days=1))
    assert (later.sent, later.failed) == (1, 1)  # live's news, and renamed's first (same dead URL)
    assert db.execute("SELECT count(*) FROM outbox WHERE subscription = 'dead' AND status = 'queued'"
                      ).fetchone()[0] == 152
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database": str(tmp_path / "archive.db"),
                                    "subscriptions": [{**dead, "name": "renamed"}, live]}), encoding="utf-8")
    status = CliRunner().invoke(main, ["--config", str(path), "status"])
    assert "orphaned: 152 row(s)" in status.output, status.output


def test_digest_preview_right_after_a_crawl_shows_events_not_yet_collected(db, mailbox, tmp_path):
    sub = {"name": "早报", "mode": "digest", "cron": "0 8 * * *", "channels": [mailbox.url]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database": str(tmp_path / "archive.db"), "subscriptions": [sub]},
                                   allow_unicode=True), encoding="utf-8")
    cfg = config(sub)
    save_article(db, article(1))
    collect(db, cfg)  # one item already held for the digest
    save_article(db, article(2))  # a crawl's news the outbox has not read yet
    save_article(db, article(3, talent=False))
    shown = CliRunner().invoke(main, ["--config", str(path), "digest", "--preview", "早报"])
    assert shown.exit_code == 0, shown.output
    assert "第1号" in shown.output and "第2号" in shown.output and "第3号" not in shown.output
    assert "nothing waiting" not in shown.output
    previewed = preview(db, cfg, cfg.subscriptions[0])
    # the preview read nothing: the events are still collected, then sent as the digest it showed
    assert collect(db, cfg) == 1
    release(db, "早报")
    assert deliver_due(db, cfg).sent == 1
    (mail,) = mailbox.messages
    assert mail["Message-ID"] == f"<{previewed.id}@talentwatch>"
    text, _ = mailbox.parts(mail)
    assert "第1号" in text and "第2号" in text
