"""`talentwatch notify test`: a test message through each channel, the verdict per channel."""

from __future__ import annotations

from click.testing import CliRunner

from scheduler.cli import main
from tests.test_alerts_support import Mailbox, Receiver, write_config


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
    lines = result.output.splitlines()
    assert lines[0].startswith("json#") and lines[0].endswith(": ok")
    assert lines[1].startswith("mailto#") and "FAILED" in lines[1] and "Connection refused" in lines[1]
    (request,) = receiver.requests
    assert request["json"]["mode"] == "test"
    assert request["json"]["items"][0]["title"].startswith("talentwatch 测试")
    assert unknown.exit_code == 2 and "no subscription named 'nope'" in unknown.output
