"""What a receiver's answer means for an alert: a refusal that will be the same next time
is retried alone and parked with the receiver's words; a temporary one (a rate limit, a
4xx SMTP answer, a refused connection) keeps the channel's queue waiting and is retried.

Real receivers on 127.0.0.1: an aiosmtpd server that refuses recipients or messages as
told, and the HTTP receiver answering HTTP 200 with a chat bot's error body."""

from __future__ import annotations

import logging

import pytest
from talentwatch.scheduler.alerts.collect import collect
from talentwatch.scheduler.alerts.delivery import deliver_due
from talentwatch.storage.articles import save_article
from talentwatch.storage.outbox import counts, dead_messages

from tests.test_alerts_support import Mailbox
from tests.test_outbox import article, config


class StrictMailbox(Mailbox):
    """A real SMTP server that refuses the recipients in `refuse` (address -> answer) and
    answers DATA from `data_answers` while it holds any (then takes the message)."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: dict[str, str] = {}
        self.data_answers: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data_answers:
            return self.data_answers.pop(0)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def strict_mailbox():
    box = StrictMailbox()
    box.start()
    yield box
    box.stop()


def two_messages(db, cfg) -> None:
    """Two messages on each channel: articles 1 and 2 collected in separate rounds."""
    for n in (1, 2):
        save_article(db, article(n))
        collect(db, cfg)


def rounds(db, cfg, n: int) -> list[tuple[int, int, int]]:
    """(sent, failed, parked) of `n` delivery rounds (retry_initial 0: each finds its rows due)."""
    return [(r.sent, r.failed, r.dead) for r in (deliver_due(db, cfg) for _ in range(n))]


# ---- SMTP ---------------------------------------------------------------------------

def test_every_recipient_refused_is_parked_with_the_servers_words(db, strict_mailbox) -> None:
    strict_mailbox.refuse["analyst@example.org"] = "550 5.1.1 <analyst@example.org>: no such user"
    cfg = config({"name": "s", "channels": [strict_mailbox.url]})
    two_messages(db, cfg)
    # both messages are tried each round (a refusal holds back nothing), parked at the third
    assert rounds(db, cfg, 4) == [(0, 2, 0), (0, 2, 0), (0, 2, 2), (0, 0, 0)]
    dead = dead_messages(db)
    assert len(dead) == 2 and dead[0]["attempts"] == 3
    assert "every recipient refused: analyst@example.org: 550 5.1.1 <analyst@example.org>: no such user" \
        in dead[0]["error"]
    assert strict_mailbox.messages == []


def test_a_message_the_server_rejects_with_5xx_is_parked(db, strict_mailbox) -> None:
    strict_mailbox.data_answers = ["554 5.7.1 message rejected as spam"] * 3
    cfg = config({"name": "s", "channels": [strict_mailbox.url]})
    save_article(db, article(1))
    collect(db, cfg)
    assert rounds(db, cfg, 3) == [(0, 1, 0), (0, 1, 0), (0, 1, 1)]
    [dead] = dead_messages(db)
    assert "SMTPDataError: 554 5.7.1 message rejected as spam" in dead["error"]


def test_a_4xx_answer_keeps_the_message_queued_and_the_channel_waiting(db, strict_mailbox) -> None:
    strict_mailbox.data_answers = ["451 4.7.1 greylisted, try again later"] * 4
    cfg = config({"name": "s", "channels": [strict_mailbox.url]})
    two_messages(db, cfg)
    # temporary: the first message is retried, never parked; the second waits behind it
    assert rounds(db, cfg, 4) == [(0, 1, 0)] * 4
    assert counts(db)["dead"] == 0 and counts(db)["queued"] == 2
    assert rounds(db, cfg, 1) == [(2, 0, 0)]
    assert len(strict_mailbox.messages) == 2


def test_a_refused_connection_is_temporary(db) -> None:
    down = Mailbox()  # never started
    cfg = config({"name": "s", "channels": [down.url]})
    save_article(db, article(1))
    collect(db, cfg)
    assert rounds(db, cfg, 4) == [(0, 1, 0)] * 4
    assert counts(db)["dead"] == 0


def test_some_recipients_refused_counts_as_sent_and_names_them(db, strict_mailbox, caplog) -> None:
    strict_mailbox.refuse["gone@example.org"] = "550 5.1.1 <gone@example.org>: no such user"
    url = strict_mailbox.url.replace("to=analyst@example.org", "to=analyst@example.org,gone@example.org")
    cfg = config({"name": "s", "channels": [url]})
    save_article(db, article(1))
    collect(db, cfg)
    with caplog.at_level(logging.WARNING):
        assert rounds(db, cfg, 1) == [(1, 0, 0)]
    assert len(strict_mailbox.messages) == 1  # the analyst has it: re-sending would duplicate it
    assert "sent, but refused for gone@example.org: 550 5.1.1" in caplog.text


# ---- chat bots: HTTP 200 with an error body ----------------------------------------------

def dingtalk(receiver) -> str:
    return f"dingtalk://SEC0123456789abcdef@tok123456/?endpoint=http://{receiver.base}/robot/send"


def wecom(receiver) -> str:
    return f"wecombot://k1234567/?endpoint=http://{receiver.base}/w"


def feishu(receiver) -> str:
    return f"feishu://t1234567/?endpoint=http://{receiver.base}/f"


@pytest.mark.parametrize(("bot", "reply", "reason"), [
    (dingtalk, {"errcode": 310000, "errmsg": "keywords not in content"},
     "dingtalk: rejected with code 310000: keywords not in content"),
    (dingtalk, {"errcode": 300001, "errmsg": "token is not exist"}, "code 300001: token is not exist"),
    (wecom, {"errcode": 93000, "errmsg": "invalid webhook url, hint: [1700000000_1]"},
     "wecombot: rejected with code 93000: invalid webhook url"),
    (feishu, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": {}},
     "feishu: rejected with code 19001: param invalid"),
    (feishu, {"StatusCode": 19021, "StatusMessage": "sign match fail or timestamp is not within one hour"},
     "feishu: rejected with code 19021: sign match fail"),
    (feishu, {"code": "19024", "msg": "Key Words Not Found"}, "code 19024: Key Words Not Found"),
])
def test_a_bot_that_refuses_for_good_gets_each_message_parked(db, receiver, bot, reply, reason) -> None:
    receiver.replies = [(200, reply)]
    cfg = config({"name": "s", "channels": [bot(receiver)]})
    two_messages(db, cfg)
    assert rounds(db, cfg, 4) == [(0, 2, 0), (0, 2, 0), (0, 2, 2), (0, 0, 0)]
    assert len(receiver.requests) == 6
    assert all(reason in d["error"] for d in dead_messages(db)), dead_messages(db)
    assert "tok123456" not in str(dead_messages(db)) and "SEC0123456789" not in str(dead_messages(db))


@pytest.mark.parametrize(("bot", "busy"), [
    (dingtalk, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}),
    (wecom, {"errcode": 45009, "errmsg": "api freq out of limit"}),
    (feishu, {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"}),
    (dingtalk, {"ok": True}),  # a 200 without a verdict (a proxy's answer, say) is not trusted
])
def test_a_bot_that_is_busy_keeps_the_queue_waiting(db, receiver, bot, busy) -> None:
    ok = {"errcode": 0, "errmsg": "ok", "code": 0, "StatusCode": 0}
    receiver.replies = [(200, busy)] * 4 + [(200, ok)]
    cfg = config({"name": "s", "channels": [bot(receiver)]})
    two_messages(db, cfg)
    assert rounds(db, cfg, 4) == [(0, 1, 0)] * 4  # never parked; the second waits
    assert counts(db)["dead"] == 0 and counts(db)["failing"] == 1
    assert rounds(db, cfg, 1) == [(2, 0, 0)]


def test_a_feishu_success_in_both_of_its_reply_forms_is_delivered(db, receiver) -> None:
    receiver.replies = [(200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "msg": "success",
                               "data": {}}), (200, {"code": 0, "msg": "success", "data": {}})]
    cfg = config({"name": "s", "channels": [feishu(receiver)]})
    two_messages(db, cfg)
    assert rounds(db, cfg, 1) == [(2, 0, 0)]
