"""`talentwatch notify test`: a test message through each channel, the verdict per channel."""

from __future__ import annotations

import logging

from click.testing import CliRunner
from talentwatch.cli.app import main
from talentwatch.scheduler.alerts.channels import Channel, redacting

from tests.test_alerts_support import Mailbox, Receiver, cli, write_config


def test_notify_test_reports_each_channel(tmp_path):
    receiver = Receiver()
    down = Mailbox()  # never started
    try:
        channels = [f"json://{receiver.base}/", down.url]
        config = write_config(tmp_path, [], [{"name": "s", "channels": channels}])
        result = CliRunner().invoke(main, ["--config", str(config), "notify", "test", "s"])
        unknown = CliRunner().invoke(main, ["--config", str(config), "notify", "test", "nope"])
    finally:
        receiver.close()
    assert result.exit_code == 1
    lines = result.stdout.splitlines()  # the verdicts; log lines go to stderr
    assert lines[0].startswith("json#") and lines[0].endswith(": ok")
    assert lines[1].startswith("mailto#") and "FAILED" in lines[1] and "Connection refused" in lines[1]
    (request,) = receiver.requests
    assert request["json"]["mode"] == "test"
    assert request["json"]["items"][0]["title"].startswith("talentwatch 测试")
    assert unknown.exit_code == 2 and "no subscription named 'nope'" in unknown.output


def test_notify_test_at_debug_level_logs_no_channel_secret(tmp_path, receiver):
    receiver.replies = [(200, {"errcode": 0, "errmsg": "ok"})]
    env = {"DT_TOKEN": "tokSECRET4242", "DT_SECRET": "SECsign777777", "HOOK_PASS": "pwHOOK31337"}
    channels = [f"dingtalk://${{DT_SECRET}}@${{DT_TOKEN}}/?endpoint=http://{receiver.base}/robot/send",
                f"json://hook:${{HOOK_PASS}}@{receiver.base}/hook"]
    config = write_config(tmp_path, [], [{"name": "ding", "channels": channels}])
    result = cli(config, "-vv", "notify", "test", "ding", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INFO talentwatch.scheduler.alerts.delivery: ding → dingtalk#" in result.stderr  # logging was on
    # the secrets did go out to the receiver …
    assert receiver.requests[0]["query"]["access_token"] == ["tokSECRET4242"]
    assert len(receiver.requests) == 2
    # … and appear nowhere in what the command printed or logged
    for secret in env.values():
        assert secret not in result.stdout + result.stderr


def test_a_library_logging_a_secret_while_a_channel_sends_is_redacted(caplog, monkeypatch):
    monkeypatch.setenv("TW_BOT_KEY", "key0123456789")
    channel = Channel("wecombot://${TW_BOT_KEY}/")
    with caplog.at_level(logging.DEBUG), redacting(channel):
        logging.getLogger("urllib3.connectionpool").warning("POST /send?key=%s 200", "key0123456789")
    logging.getLogger("urllib3.connectionpool").warning("after: key0123456789")
    assert "POST /send?key=**** 200" in caplog.text
    assert caplog.text.count("key0123456789") == 1  # only outside the send
