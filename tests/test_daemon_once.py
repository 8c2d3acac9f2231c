"""`talentwatch run --once` end to end: portal -> archive -> outbox -> SMTP and webhook."""

from __future__ import annotations

import pytest

from tests.test_alerts_support import (
    TALENT_IDS,
    Mailbox,
    Receiver,
    classify_by_title,
    cli,
    demo_articles,
    portal,
    rows,
    site_config,
    write_config,
)


@pytest.fixture
def mailbox():
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_three_talent_items_reach_mail_and_webhook_once(tmp_path, mailbox, receiver):
    talent_titles = {a["title"] for a in demo_articles(TALENT_IDS)}
    with portal(tmp_path) as (base, _):
        config = write_config(tmp_path, [site_config(base)], [{
            "name": "人才政策",
            "channels": ["${TW_MAIL}", f"json://{receiver.base}/hook"],
        }])
        classify_by_title(tmp_path / "archive.db")
        env = {"TW_MAIL": mailbox.url}
        first = cli(config, "run", "--once", env=env)
        assert first.returncode == 0, first.stderr

        assert len(mailbox.messages) == 1
        mail = mailbox.messages[0]
        text, html = mailbox.parts(mail)
        for title in talent_titles:
            assert title in text
        assert "考核" not in text and "考核" not in html
        assert text.count("[新发布]") == 3
        for path in ("post_3101.html", "post_3102.html", "post_3104.html"):
            assert f'href="{base}rcgz/content/{path}"' in html
            assert f"{base}rcgz/content/{path}" in text
        assert "3" in mail["Subject"]
        assert mail["Message-ID"].startswith("<tw-")

        assert len(receiver.requests) == 1
        payload = receiver.requests[0]["json"]
        assert payload["schema"] == "talentwatch.alert/1"
        assert payload["id"] == mail["Message-ID"].strip("<>").split("@")[0] or payload["id"].startswith("tw-")
        assert {i["title"] for i in payload["items"]} == talent_titles
        assert all(i["url"].startswith(base) and i["event"] == "new" for i in payload["items"])

        second = cli(config, "run", "--once", env=env)
        assert second.returncode == 0, second.stderr
    assert len(mailbox.messages) == 1
    assert len(receiver.requests) == 1
    assert rows(tmp_path / "archive.db", "SELECT count(*) FROM outbox WHERE status != 'sent'") == [(0,)]


def test_channel_secret_from_environment_never_shown(tmp_path, receiver):
    with portal(tmp_path, ids=TALENT_IDS[:1]) as (base, _):
        config = write_config(tmp_path, [site_config(base)], [{
            "name": "钉钉", "channels": [f"dingtalk://${{DT_SECRET}}@${{DT_TOKEN}}/?endpoint=http://{receiver.base}/robot/send"],
        }])
        classify_by_title(tmp_path / "archive.db")
        receiver.replies = [(200, {"errcode": 300001, "errmsg": "token is not exist"})]
        env = {"DT_SECRET": "SECabcdef123456", "DT_TOKEN": "tok987654321"}
        done = cli(config, "-vv", "run", "--once", env=env)
        status = cli(config, "status", env=env)
    assert done.returncode == 0
    assert len(receiver.requests) == 1
    for output in (done.stdout, done.stderr, status.stdout, status.stderr):
        assert "SECabcdef123456" not in output and "tok987654321" not in output
    assert "300001" in status.stdout  # the reason is shown, the secrets are not
    stored = rows(tmp_path / "archive.db", "SELECT channel, last_error FROM outbox")
    assert stored and all("tok987654321" not in (c + (e or "")) for c, e in stored)
