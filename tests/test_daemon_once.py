"""`talentwatch run --once` end to end: portal -> archive -> outbox -> SMTP and webhook."""

from __future__ import annotations

from tests.test_alerts_support import (
    TALENT_IDS,
    cli,
    demo_articles,
    portal,
    rows,
    site_config,
    write_config,
)


def test_three_talent_items_reach_mail_and_webhook_once(tmp_path, mailbox, receiver):
    talent_titles = {a["title"] for a in demo_articles(TALENT_IDS)}
    with portal(tmp_path) as (base, _):
        config = write_config(tmp_path, [site_config(base)], [{
            "name": "人才政策",
            "channels": ["${TW_MAIL}", f"json://{receiver.base}/hook"],
        }])
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
        assert payload["schema"] == "talentwatch.alert/2"
        # one stable id per (items, subscription, channel): the mail's and the webhook's differ
        assert payload["id"].startswith("tw-") and payload["id"] not in mail["Message-ID"]
        assert {i["title"] for i in payload["items"]} == talent_titles
        assert all(i["url"].startswith(base) and i["event"] == "new" for i in payload["items"])

        second = cli(config, "run", "--once", env=env)
        assert second.returncode == 0, second.stderr
    assert len(mailbox.messages) == 1
    assert len(receiver.requests) == 1
    assert rows(tmp_path / "archive.db", "SELECT count(*) FROM outbox WHERE status != 'sent'") == [(0,)]
