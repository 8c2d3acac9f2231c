"""Shared test helpers: a real portal on 127.0.0.1 and the real CLI, in this process or its own."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
import yaml
from talentwatch.cli.demo_portal.portal import build_site, serve
from talentwatch.storage.schema import open_archive

from tests.cli_runner import invoke
from tests.test_alerts_support import Mailbox, Receiver
from tests.zygote import start_shared

ROOT = Path(__file__).resolve().parent.parent


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: three test processes for every two cores. Some modules spend their time
    waiting (on a broker's timeout, a worker's restart), so one process per core would leave
    a core idle; each process more collects the whole suite (≈ 6 CPU-s) and starts its own
    extraction fork server. The whole suite on 2 cores, measured side by side: 2 processes
    135 s, 3 processes 112–115 s, 4 processes 120–129 s."""
    return max(2, 3 * (os.cpu_count() or 1) // 2)


@pytest.hookimpl(trylast=True)  # after xdist's own, which decides whether to distribute
def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.has_plugin("dsession"):  # the controller, before its test processes start
        start_shared()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow modules first, the longest first: `--dist loadfile` hands modules out in
    this order, and a one-minute module handed out last would be the suite's whole tail."""
    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("slow")
        return mark.kwargs.get("seconds", 0) if mark else 0

    items.sort(key=seconds, reverse=True)  # stable: a module's tests keep their order


def run_cli(*args: str, config: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `talentwatch [--config X] ARGS…` in this process (crawls included)."""
    argv = (["--config", str(config)] if config is not None else []) + list(args)
    result = invoke(argv, env={"COLUMNS": "200"})
    if check and result.returncode != 0:
        raise AssertionError(f"{argv} exited {result.returncode}\n"
                             f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def run_cli_process(*args: str, config: Path | None = None, check: bool = True,
                    timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `talentwatch [--config X] ARGS…` as a user would, in its own process (the
    README's demo)."""
    cmd = [sys.executable, "-m", "talentwatch"]
    if config is not None:
        cmd += ["--config", str(config)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    result = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout,
                            env=env, cwd=ROOT)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd + list(args)} exited {result.returncode}\n"
                             f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def run_on_terminal(args: list[str], timeout: float = 120) -> tuple[int, bytes, bytes]:
    """Run a command with stderr on a pseudo-terminal, as a user at a shell would.

    Returns (exit code, stdout, what the terminal showed).
    """
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                          cwd=ROOT, env=env, timeout=timeout)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal's other end is closed: all read
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.returncode, proc.stdout, shown


# the crawl settings of the tests' configs: fast failures, one worker, no throttle
CRAWL = {"autothrottle": False, "extract_workers": 1, "timeout": 5, "retries": 0}


def write_config(path: Path, sites: list[dict], **extra) -> Path:
    data = {"database": str(path.parent / "archive.db"), "crawl": CRAWL, "sites": sites, **extra}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def export_jsonl(config: Path) -> list[dict]:
    out = run_cli("export", "--format", "jsonl", config=config).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    """A fresh archive: a real SQLite file, WAL, the full schema."""
    database = open_archive(tmp_path / "archive.db")
    yield database
    database.close()


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[tuple[str, list[dict]]]:
    """The demo county portal (UTF-8, one GBK article page), served on 127.0.0.1."""
    site = tmp_path / "site"
    articles = build_site(site)
    with serve(site) as base_url:
        yield base_url, articles


@pytest.fixture
def gbk_portal(tmp_path: Path) -> Iterator[tuple[str, list[dict]]]:
    """The same portal with every page, list pages included, in GBK under a gb2312 label."""
    site = tmp_path / "gbk-site"
    articles = build_site(site, encoding="gbk")
    with serve(site) as base_url:
        yield base_url, articles


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, started."""
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that records the JSON posted to it."""
    r = Receiver()
    yield r
    r.close()
