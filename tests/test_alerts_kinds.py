"""Channel kinds register themselves: a new kind is one class, picked by its URL scheme."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

import pytest
import requests
from talentwatch.scheduler.alerts.channels import Channel, ChannelError, DeliveryError, send
from talentwatch.scheduler.alerts.kinds import KINDS, ChannelKind, Limit, kind_for
from talentwatch.scheduler.alerts.render import Message

from tests.test_alerts_support import Receiver


def message(text: str) -> Message:
    return Message(id="m-1", subscription="测试订阅", mode="test", subject="人才政策提醒", text=text,
                   html=f"<p>{text}</p>", markdown=text, payload={}, items=[])


@pytest.fixture
def bell():
    """A tiny kind defined here: bell://name:token@host:port/path posts {"text": …} over HTTP."""

    class Bell(ChannelKind):
        schemes: ClassVar[tuple[str, ...]] = ("bell", "bells")
        limit = Limit(45, "chars")  # the sample text: 49 characters, 121 bytes
        secret_parts = ("password",)

        def send(self, message: Message) -> None:
            parts = urlsplit(self.url)
            reply = requests.post(f"http://{parts.hostname}:{parts.port}{parts.path}",
                                  json={"text": self.fit(message.text)}, timeout=10)
            if reply.status_code != 200:
                raise DeliveryError(f"bell refused {self.url}: HTTP {reply.status_code}")

    yield Bell
    for scheme in Bell.schemes:
        KINDS.pop(scheme, None)


def test_a_kind_defined_in_a_test_is_picked_by_its_scheme(bell, receiver, monkeypatch):
    assert kind_for("BELLS") is bell  # schemes are case-insensitive
    monkeypatch.setenv("BELL_TOKEN", "tok-9f8e7d6c")
    text = "关于申报2024年度高层次人才安家补贴的通知\n申报截止时间为2024年4月30日。\n联系人：人事科"
    send(Channel(f"bell://duty:${{BELL_TOKEN}}@{receiver.base}/ring"), message(text))
    [got] = receiver.requests
    assert got["path"] == "/ring"
    # the kind's limit is in characters: cut at a line boundary, with the note saying so
    assert got["json"]["text"].startswith("关于申报2024年度高层次人才安家补贴的通知")
    assert "超出长度限制" in got["json"]["text"] and "联系人" not in got["json"]["text"]


def test_a_kinds_failure_is_reported_without_the_secret_parts_it_names(bell, monkeypatch):
    refusing = Receiver(replies=[(503, {"error": "busy"})])
    try:
        monkeypatch.setenv("BELL_TOKEN", "tok-9f8e7d6c")
        with pytest.raises(DeliveryError) as failed:
            send(Channel(f"bell://duty:${{BELL_TOKEN}}@{refusing.base}/ring"), message("人才公寓配租"))
    finally:
        refusing.close()
    assert "HTTP 503" in str(failed.value) and "tok-9f8e7d6c" not in str(failed.value)


def test_an_unknown_scheme_is_a_clear_error_naming_the_channel():
    channel = Channel("carrierpigeon://loft/7")
    with pytest.raises(ChannelError) as failed:
        send(channel, message("人才工作会议"))
    assert str(failed.value).startswith(f"channel {channel.label}: no channel kind sends carrierpigeon://")


def test_the_built_in_kinds_carry_their_limits_and_secret_parts():
    assert {s: kind_for(s).__name__ for s in ("mailto", "mailtos", "json", "jsons", "dingtalk",
                                               "wecombot", "feishu")} == {
        "mailto": "Email", "mailtos": "Email", "json": "JsonWebhook", "jsons": "JsonWebhook",
        "dingtalk": "DingTalk", "wecombot": "WeComBot", "feishu": "Feishu"}
    assert kind_for("wecombot").limit == Limit(4000, "bytes")
    assert kind_for("mailto").limit is None and kind_for("json").limit is None
    assert "hostname" in kind_for("feishu").secret_parts
    # any other Apprise service goes to the generic Apprise kind
    assert kind_for("tgram").__name__ == "AppriseService"
