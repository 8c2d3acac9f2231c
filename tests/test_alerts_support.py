"""Real parts for the alert and daemon tests: a portal, an SMTP server, an HTTP receiver.

No test lives here; the other test_alerts*/test_daemon* modules import these.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from aiosmtpd.controller import Controller
from talentwatch.cli.demo_portal.portal import build_site, load_articles, serve

from tests.cli_runner import invoke
from tests.zygote import Launched, launch

TALENT_IDS = (3101, 3102, 3104)  # talent-policy items of the demo portal
OTHER_ID = 3105  # cadre evaluation: not talent policy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_articles(ids: tuple[int, ...]) -> list[dict]:
    by_id = {a["id"]: a for a in load_articles()}
    return [dict(by_id[i]) for i in ids]


@contextmanager
def portal(tmp: Path, ids: tuple[int, ...] = (*TALENT_IDS, OTHER_ID)) -> Iterator[tuple[str, Path]]:
    """The demo portal with the given articles, served on 127.0.0.1: (base URL, site dir)."""
    site = tmp / "portal"
    build_site(site, demo_articles(ids))
    with serve(site) as base:
        yield base, site


# -- SMTP -------------------------------------------------------------------------

class Mailbox:
    """A real SMTP server (aiosmtpd) on a fixed port that can be stopped and started."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[email.message.EmailMessage] = []
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from=talentwatch@example.org&to=analyst@example.org"

    def parts(self, message) -> tuple[str, str]:
        """(plain text, html) of a received message."""
        text = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        return text, html


# -- HTTP receiver ------------------------------------------------------------------

class Receiver:
    """A real HTTP server on 127.0.0.1 recording POSTed JSON; answers from a script.

    `replies` is a list of (status, body dict) used in order (the last one repeats).
    `hold` (an Event), when set up, makes the first request wait until released.
    """

    def __init__(self, replies: list[tuple[int, dict]] | None = None) -> None:
        self.replies = list(replies or [(200, {"ok": True})])
        self.requests: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        self.release: threading.Event | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                split = urlsplit(self.path)
                receiver.requests.append({"path": split.path, "query": parse_qs(split.query),
                                          "json": json.loads(body or b"null")})
                receiver.arrived.set()
                if receiver.release is not None:
                    receiver.release.wait(30)
                status, reply = receiver.replies[0]
                if len(receiver.replies) > 1:
                    receiver.replies.pop(0)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass  # the sender died while we held the reply (the kill -9 test)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        if self.release is not None:
            self.release.set()
        self.server.shutdown()
        self.server.server_close()


# -- config, CLI, archive ------------------------------------------------------------

def site_config(base: str, **extra: Any) -> dict:
    return {"name": "青禾组工网", "start_urls": [base + "rcgz/index.html"],
            "article_pattern": r"/rcgz/content/post_\d+\.html$", "delay": 0, **extra}


def write_config(tmp: Path, sites: list[dict], subscriptions: list[dict], **daemon: Any) -> Path:
    data = {
        "database": str(tmp / "archive.db"),
        "crawl": {"autothrottle": False, "extract_workers": 1, "obey_robots": False, "retries": 0,
                  "timeout": 10},
        # the demo portal's items are weeks old: no first-crawl baseline unless a test asks
        "daemon": {"jitter": 0, "retry_initial": 0, "deliver_every": "1s", "baseline_window": None,
                   **daemon},
        "sites": sites,
        "subscriptions": subscriptions,
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def cli(config: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`talentwatch --config CONFIG ARGS…` in this process (crawls and `run --once` included:
    the reactor runs on a thread kept for the process); `spawn` starts a process of its own."""
    return invoke(["--config", str(config), *args], env=env)


def spawn(config: Path, *args: str, env: dict | None = None) -> Launched:
    return launch(["--config", str(config), "-v", *args], env=env, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)


def rows(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(predicate: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
