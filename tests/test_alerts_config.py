"""Config for the daemon and alerts: schedules, subscriptions, clear errors, no echoed secrets."""

from __future__ import annotations

import pytest
from talentwatch.core.config import ConfigError, parse_config
from talentwatch.scheduler.alerts.channels import Channel, ChannelError

SITE = {"name": "a", "start_urls": ["http://127.0.0.1/x/"], "article_pattern": "post_"}


def test_schedules_and_durations_read_as_people_write_them():
    cfg = parse_config({"sites": [SITE | {"every": "1h30m", "timeout": "90s"},
                                  SITE | {"name": "b", "cron": "0 */2 * * *"}],
                        "daemon": {"every": "15m", "retry_max": "1d"}})
    assert (cfg.sites[0].every, cfg.sites[0].timeout, cfg.sites[1].cron) == (5400, 90, "0 */2 * * *")
    assert (cfg.daemon.every, cfg.daemon.retry_max) == (900, 86400)


def test_bad_schedule_and_subscription_are_named_precisely():
    with pytest.raises(ConfigError) as err:
        parse_config({"sites": [SITE | {"every": "often", "cron": "0 8 * *"}],
                      "subscriptions": [
                          {"name": "s", "channels": ["smtp-password-hunter2"], "mode": "weekly"},
                          {"name": "s", "channels": ["json://x/"], "filter": {"events": ["deleted"]}}]})
    text = str(err.value)
    assert "sites[0] (a).every: expected a duration" in text
    assert "sites[0] (a).cron: expected a crontab expression" in text
    assert "subscriptions[0] (s).channels: channel 1: expected an Apprise URL" in text
    assert "subscriptions[0] (s).mode" in text and "subscriptions[1] (s).filter.events" in text
    assert "hunter2" not in text  # a malformed channel may be a secret: never echoed
    with pytest.raises(ConfigError, match="subscription names must be unique"):
        parse_config({"subscriptions": [{"name": "s", "channels": ["json://x/"]}] * 2})


def test_default_filter_is_new_talent_items():
    (sub,) = parse_config({"subscriptions": [{"name": "s", "channels": ["json://x/"]}]}).subscriptions
    assert sub.mode == "instant" and sub.filter.events == ["new"] and sub.filter.talent_only


def test_channel_secrets_come_from_environment_and_are_redacted(monkeypatch):
    channel = Channel("mailtos://bot:${TW_PASS}@smtp.example.org?to=a@example.org")
    with pytest.raises(ChannelError, match="TW_PASS is not set") as err:
        channel.url()
    assert "smtp.example.org" not in str(err.value)
    monkeypatch.setenv("TW_PASS", "s3cr3t-pass")
    assert "s3cr3t-pass" in channel.url()
    assert channel.redact("login failed for bot:s3cr3t-pass") == "login failed for bot:****"
    assert "s3cr3t" not in channel.label and channel.label.startswith("mailtos#")
    assert Channel("${WHOLE_URL}").label.startswith("env#")
