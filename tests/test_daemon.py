"""The daemon as a process: restarts, kill -9, SIGTERM, the lock, timeouts, digests on schedule."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.test_alerts_support import (
    TALENT_IDS,
    Mailbox,
    cli,
    demo_articles,
    portal,
    rows,
    site_config,
    spawn,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.slow(seconds=24)


def test_smtp_down_then_back_delivers_once_and_secrets_stay_hidden(tmp_path, receiver):
    mailbox = Mailbox()  # not started yet: the server is down
    # a DingTalk bot that rejects with HTTP 200 + errcode, its token and secret from the environment
    receiver.replies = [(200, {"errcode": 300001, "errmsg": "token is not exist"})]
    bot = f"dingtalk://${{DT_SECRET}}@${{DT_TOKEN}}/?endpoint=http://{receiver.base}/robot/send"
    env = {"DT_SECRET": "SECabcdef123456", "DT_TOKEN": "tok987654321"}
    with portal(tmp_path, ids=TALENT_IDS) as (base, _):
        config = write_config(tmp_path, [site_config(base)],
                              [{"name": "s", "channels": [mailbox.url]}, {"name": "钉钉", "channels": [bot]}])
        down = cli(config, "-vv", "run", "--once", env=env)
        assert down.returncode == 1, down.stderr  # cron notices: deliveries failed
        assert "2 failed (queued for retry; exit 1)" in down.stderr and "Connection refused" in down.stderr
        status = cli(config, "status", env=env)
        assert "6 queued (6 failing)" in status.stdout, status.stdout
        assert "300001" in status.stdout  # the reason is shown, the secrets are not
        for output in (down.stdout, down.stderr, status.stdout):
            assert "SECabcdef123456" not in output and "tok987654321" not in output
        assert len(receiver.requests) == 1
        mailbox.start()
        try:
            back = cli(config, "run", "--once", env=env)
        finally:
            mailbox.stop()
    assert back.returncode == 1  # the DingTalk bot still rejects its message
    assert len(mailbox.messages) == 1
    text, _ = mailbox.parts(mailbox.messages[0])
    assert all(a["title"] in text for a in demo_articles(TALENT_IDS))
    # delivered once: nothing of the mail channel is left to send again
    assert rows(tmp_path / "archive.db", "SELECT status, count(*) FROM outbox WHERE subscription = 's'"
                " GROUP BY status") == [("sent", 3)]
    stored = rows(tmp_path / "archive.db", "SELECT channel, coalesce(last_error, '') FROM outbox")
    assert all("tok987654321" not in c + e and "SECabcdef" not in c + e for c, e in stored)


def test_sigkill_mid_delivery_loses_nothing(tmp_path, receiver):
    receiver.release = threading.Event()  # the first POST hangs until released
    with portal(tmp_path, ids=TALENT_IDS) as (base, _):
        # outbox rounds only after a run found news, so the run's items form one message
        config = write_config(tmp_path, [site_config(base)],
                              [{"name": "s", "channels": [f"json://{receiver.base}/hook"]}],
                              deliver_every="1h")
        daemon = spawn(config, "run")
        try:
            assert receiver.arrived.wait(120), "the daemon never delivered"  # a loaded machine is slow
            daemon.kill()  # SIGKILL while the message is on the wire
            daemon.wait(10)
        finally:
            if daemon.poll() is None:
                daemon.kill()
        first_id = receiver.requests[0]["json"]["id"]
        receiver.release.set()
        receiver.release = None
        queued = "SELECT count(*), count(DISTINCT message_id) FROM outbox WHERE status = 'queued'"
        assert rows(tmp_path / "archive.db", queued) == [(3, 1)]
        again = cli(config, "run", "--once")
        assert again.returncode == 0, again.stderr
    assert len(receiver.requests) == 2
    resent = receiver.requests[1]["json"]
    assert resent["id"] == first_id  # the receiver can drop the copy by its id
    assert {i["title"] for i in resent["items"]} == {a["title"] for a in demo_articles(TALENT_IDS)}
    by_status = "SELECT status, count(*) FROM outbox GROUP BY status"
    assert rows(tmp_path / "archive.db", by_status) == [("sent", 3)]


class Hanging(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        time.sleep(3)

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass


def test_daemon_cuts_hangs_never_overlaps_holds_its_lock_and_stops_on_sigterm(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hanging)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    db = tmp_path / "archive.db"
    try:
        # checked every second, but each check hangs for 3 s and is cut after 1 s
        hang = {"name": "卡住的站", "start_urls": [f"http://127.0.0.1:{server.server_address[1]}/list.html"],
                "article_pattern": r"post_\d+", "delay": 0, "every": "1s", "timeout": "1s"}
        config = write_config(tmp_path, [hang], [])
        daemon = spawn(config, "run")
        try:
            running_at_once = []

            def three_runs_seen() -> bool:
                try:
                    running = "SELECT count(*) FROM crawl_runs WHERE status = 'running'"
                    running_at_once.append(rows(db, running)[0][0])
                    return rows(db, "SELECT count(*) FROM crawl_runs")[0][0] >= 3
                except sqlite3.OperationalError:
                    return False  # the daemon is still creating the archive

            wait_for(three_runs_seen, what="three checks of the hanging site")
            second = cli(config, "run", "--once")
            assert second.returncode == 3
            assert "another talentwatch daemon" in second.stderr and str(daemon.pid) in second.stderr
            assert f"running (pid {daemon.pid})" in cli(config, "status").stdout
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(20) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
    finally:
        server.shutdown()
        server.server_close()
    assert max(running_at_once) == 1
    runs = rows(db, "SELECT status, error_messages FROM crawl_runs ORDER BY id")
    assert all(status == "failed" for status, _ in runs)
    assert "timed out after 1s" in runs[0][1]
    report = json.loads(cli(config, "status", "--json").stdout)
    assert report["daemon_pid"] is None
    (site,) = report["sites"]
    assert site["status"] == "failed" and site["next_run"]  # the schedule was saved on the way out


def test_digest_is_sent_when_its_time_has_come(tmp_path):
    mailbox = Mailbox()
    mailbox.start()
    try:
        with portal(tmp_path, ids=TALENT_IDS) as (base, _):
            config = write_config(tmp_path, [site_config(base)], [
                {"name": "早报", "mode": "digest", "cron": "0 8 * * *", "channels": [mailbox.url]}])
            first = cli(config, "run", "--once")
            assert first.returncode == 0, first.stderr
            assert mailbox.messages == []  # not 08:00 yet: held
            shown = cli(config, "digest", "--preview", "--html", str(tmp_path / "d.html"))
            assert all(a["title"] in shown.stdout for a in demo_articles(TALENT_IDS))
            assert "<a href=" in (tmp_path / "d.html").read_text(encoding="utf-8")
            # the clock passes 08:00 (the digest's stored next run is now in the past)
            db = tmp_path / "archive.db"
            with sqlite3.connect(db) as conn:
                conn.execute("UPDATE jobs SET next_run = '2000-01-01T00:00:00+00:00'"
                             " WHERE id LIKE 'digest:%'")
            second = cli(config, "run", "--once")
            assert second.returncode == 0, second.stderr
    finally:
        mailbox.stop()
    assert len(mailbox.messages) == 1
    assert "摘要" in mailbox.messages[0]["Subject"]
    (nxt,) = rows(db, "SELECT next_run FROM jobs WHERE id = 'digest:早报'")[0]
    assert nxt > "2001"
