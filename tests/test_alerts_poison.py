"""A message its receiver refuses is parked as dead and holds back nothing; `outbox retry`
puts it back. Real HTTP receivers on 127.0.0.1, a real archive."""

from __future__ import annotations

import json
from datetime import timedelta

import yaml
from click.testing import CliRunner
from talentwatch.cli import main
from talentwatch.core.config import parse_config
from talentwatch.scheduler.alerts.collect import collect
from talentwatch.scheduler.alerts.delivery import deliver_due
from talentwatch.storage.articles import save_article
from talentwatch.storage.outbox import counts, utcnow

from tests.test_outbox import article

OK = (200, {"errcode": 0, "errmsg": "ok"})
REFUSED = (400, {"error": "payload rejected"})


def status(config, *args):
    return CliRunner().invoke(main, ["--config", str(config), "status", *args])


def retry(config, *args):
    return CliRunner().invoke(main, ["--config", str(config), "outbox", "retry", *args])


def titles(request) -> set[str]:
    return {i["title"] for i in request["json"]["items"]}


def test_a_refused_message_is_parked_and_the_next_on_its_channel_goes_out(db, receiver, tmp_path):
    sub = {"name": "人才政策", "channels": [f"json://{receiver.base}/hook"]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database": str(tmp_path / "archive.db"), "subscriptions": [sub],
                                    "daemon": {"retry_initial": 60}}, allow_unicode=True), encoding="utf-8")
    cfg = parse_config({"daemon": {"retry_initial": 60}, "subscriptions": [sub]})
    # the receiver refuses the first message every time it sees it, takes every other one
    receiver.replies = [REFUSED, OK, OK, REFUSED, REFUSED, OK]
    t0 = utcnow()
    save_article(db, article(1))
    collect(db, cfg, now=t0)
    save_article(db, article(2))
    collect(db, cfg, now=t0)

    first = deliver_due(db, cfg, now=t0)
    assert (first.sent, first.failed, first.dead) == (1, 1, 0)
    assert "error=400" in first.errors[0]
    assert [titles(r) for r in receiver.requests] == [{"青禾县人才政策第1号"}, {"青禾县人才政策第2号"}]
    poison_id = receiver.requests[0]["json"]["id"]

    # news after the refusal is not queued behind the refused message: it goes at once
    save_article(db, article(3))
    collect(db, cfg, now=t0)
    assert deliver_due(db, cfg, now=t0).sent == 1
    assert titles(receiver.requests[-1]) == {"青禾县人才政策第3号"}

    # the refused message alone is retried with backoff, then parked at its third attempt
    assert deliver_due(db, cfg, now=t0 + timedelta(seconds=30)).failed == 0  # not yet due
    second = deliver_due(db, cfg, now=t0 + timedelta(seconds=61))
    assert (second.failed, second.dead) == (1, 0)
    third = deliver_due(db, cfg, now=t0 + timedelta(hours=1))
    assert (third.failed, third.dead) == (1, 1) and "parked as dead" in third.errors[0]
    assert len(receiver.requests) == 5
    assert deliver_due(db, cfg, now=t0 + timedelta(days=2)).failed == 0  # dead: never tried again
    assert counts(db)["dead"] == 1 and counts(db)["queued"] == 0

    shown = status(path)
    assert shown.exit_code == 0, shown.output
    (line,) = [ln for ln in shown.output.splitlines() if "dead #" in ln]
    assert "人才政策 → json#" in line and "3 attempt(s)" in line and "error=400" in line
    assert "0 queued (0 failing), 0 held for digests, 2 sent, 1 dead" in shown.output
    (dead,) = json.loads(status(path, "--json").output)["dead"]
    assert dead["message_id"] == poison_id and dead["attempts"] == 3 and dead["rows"] == 1

    # bad ids: one line, exit 2, nothing changed
    nothing = retry(path)
    assert nothing.exit_code == 2 and "--id N" in nothing.output
    unknown = retry(path, "--id", "999999")
    assert unknown.exit_code == 2 and "no dead message 999999" in unknown.output
    assert counts(db)["dead"] == 1

    again = retry(path, "--id", str(dead["id"]))
    assert again.exit_code == 0 and "1 message(s) re-queued" in again.output
    assert counts(db)["dead"] == 0 and counts(db)["queued"] == 1
    later = deliver_due(db, cfg, now=utcnow())
    assert later.sent == 1 and receiver.requests[-1]["json"]["id"] == poison_id  # the same id
    assert "dead #" not in status(path).output


def test_channel_outages_are_retried_never_parked(db, receiver):
    """A 503, a 429 or a refused connection says the channel is down, not that the message is bad."""
    receiver.replies = [(503, {}), (429, {}), (503, {}), (429, {}), OK]
    cfg = parse_config({"daemon": {"retry_initial": 0},
                        "subscriptions": [{"name": "s", "channels": [f"json://{receiver.base}/"]}]})
    save_article(db, article(1))
    collect(db, cfg)
    save_article(db, article(2))
    collect(db, cfg)
    for _ in range(4):
        report = deliver_due(db, cfg)
        # the channel is down: its second message is not tried behind the first
        assert (report.sent, report.failed, report.dead) == (0, 1, 0)
    assert counts(db)["dead"] == 0 and counts(db)["failing"] == 1
    assert deliver_due(db, cfg).sent == 2


def test_a_bot_that_refuses_one_message_holds_back_nothing(db, receiver):
    too_big = (413, {"errcode": 40058})
    receiver.replies = [too_big, OK, too_big, too_big]
    cfg = parse_config({"daemon": {"retry_initial": 0}, "subscriptions": [{"name": "s", "channels": [
        f"wecombot://k1234567/?endpoint=http://{receiver.base}/w"]}]})
    save_article(db, article(1))
    collect(db, cfg)
    save_article(db, article(2))
    collect(db, cfg)
    report = deliver_due(db, cfg)
    assert (report.sent, report.failed) == (1, 1) and "HTTP 413" in report.errors[0]
    assert "第2号" in receiver.requests[1]["json"]["markdown"]["content"]
    assert [deliver_due(db, cfg).dead for _ in range(2)] == [0, 1]
    assert counts(db)["dead"] == 1 and counts(db)["sent"] == 1
