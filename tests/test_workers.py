"""Crawl workers on Celery with a real Redis broker and real `talentwatch worker` processes:
the archive they build is the embedded crawl's; bad settings stop before anything starts
(issue 18); the pair's broker restarted mid-run loses nothing (the module's last test). A killed
worker: test_workers_faults.py."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_cli
from tests.portal_server import serve_counting
from tests.redis_broker import running_broker
from tests.worker_portals import build_portals, portal_sites
from tests.zygote import Launched, launch

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow(seconds=38)]


def write_config(path: Path, sites: list[dict], broker_url: str | None = None, **workers) -> Path:
    data = {
        "database": str(path.parent / "archive.db"),
        "crawl": {"autothrottle": False, "extract_workers": 1, "obey_robots": False, "retries": 0,
                  "timeout": 5, "concurrency_per_domain": 4},
        "daemon": {"jitter": 0},
        "sites": sites,
    }
    if broker_url:
        data["workers"] = {"broker": broker_url, "task_timeout": 40, "visibility_timeout": 45, **workers}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def talentwatch(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The archive host's command, in this process (the workers are processes of their own)."""
    return run_cli(*args, config=config, check=False)


@contextmanager
def workers(config: Path, count: int, log_dir: Path):
    """`count` worker processes (concurrency 1 each), stopped with SIGTERM at the end."""
    procs = [start_worker(config, log_dir / f"worker{i}.log") for i in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def worker_pair(tmp_path_factory: pytest.TempPathFactory):
    """A broker and two workers serving this module's runs one after another, as long-lived
    workers serve a deployment's successive runs (each run has an archive of its own)."""
    home = tmp_path_factory.mktemp("worker-pair")
    with running_broker(home / "redis") as redis:
        config = write_config(home / "config.yaml", [], redis.url)
        with workers(config, 2, home):
            yield redis


def start_worker(config: Path, log: Path) -> Launched:
    """`talentwatch worker` in a process and session of its own, its log in `log`."""
    with log.open("w") as out:
        return launch(["--config", str(config), "-v", "worker", "--concurrency", "1"], stderr=out)


def snapshot(database: Path) -> dict:
    """What a reader of the archive sees: articles, versions, events, clusters (by URL)."""
    conn = sqlite3.connect(database)
    articles = sorted(conn.execute(
        "SELECT url, site, title, published, source, author, text, talent, score, topics, region,"
        " incentives, deadline, version, status FROM articles"))
    versions = sorted(conn.execute(
        "SELECT a.url, v.version, v.title, v.text, v.norm_hash FROM versions v JOIN articles a"
        " ON a.id = v.article_id"))
    events = Counter(conn.execute(
        "SELECT a.url, e.kind, e.version FROM events e JOIN articles a ON a.id = e.article_id"))
    groups: dict[int, set[str]] = {}
    for url, cluster in conn.execute("SELECT url, COALESCE(cluster_id, id) FROM articles"):
        groups.setdefault(cluster, set()).add(url)
    conn.close()
    return {"articles": articles, "versions": versions, "events": events,
            "clusters": sorted(sorted(g) for g in groups.values())}


def embedded_snapshot(tmp: Path, base: str, names: list[str], **site_extra) -> dict:
    config = write_config(tmp / "embedded" / "config.yaml", portal_sites(base, names, **site_extra))
    result = talentwatch(config, "run", "--once")
    assert result.returncode == 0, result.stderr
    return snapshot(tmp / "embedded" / "archive.db")


def in_background(fn: Callable[..., Any], *args: Any) -> Future:
    """`fn(*args)` on a thread of its own: the archive host's `run --once` goes on in this
    process while the test kills a worker or restarts the broker."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(fn, *args)
    finally:
        pool.shutdown(wait=False)


def test_twenty_portals_through_two_workers_give_the_embedded_archive(tmp_path, worker_pair):
    names = build_portals(tmp_path / "portals", 20, articles=3)
    with serve_counting(tmp_path / "portals") as (base, _):
        expected = embedded_snapshot(tmp_path, base, names)
        config = write_config(tmp_path / "distributed" / "config.yaml", portal_sites(base, names),
                              worker_pair.url)
        result = talentwatch(config, "run", "--once")
        assert result.returncode == 0, result.stderr
        got = snapshot(tmp_path / "distributed" / "archive.db")
        status = json.loads(talentwatch(config, "status", "--json").stdout)
    assert len(expected["articles"]) == 60
    assert got == expected
    assert Counter(kind for (_, kind, _) in got["events"]) == {"new": 60}
    # both workers took part and said so; no task is left; no site is still out
    assert len(status["workers"]["workers"]) == 2
    assert all(w["runs"] >= 1 for w in status["workers"]["workers"])
    assert sum(w["runs"] for w in status["workers"]["workers"]) == 20
    assert status["workers"]["queues"]["talentwatch.crawl"] == 0
    assert status["workers"]["queues"]["talentwatch.archive"] <= 2  # heartbeats since `run` exited
    assert status["workers"]["leases"] == []
    assert all(s["status"] == "ok" and s["new"] == 3 for s in status["sites"])


def test_a_bad_broker_url_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": str(tmp_path / "a.db"),
                                      "workers": {"broker": "http://example.org/"}}), encoding="utf-8")
    result = talentwatch(config, "worker")
    assert result.returncode == 2
    assert "workers.broker" in result.stderr and "Traceback" not in result.stderr
    config.write_text(yaml.safe_dump({"database": str(tmp_path / "a.db"),
                                      "workers": {"broker": "${TW_TEST_NO_SUCH_BROKER}"}}), encoding="utf-8")
    result = talentwatch(config, "run", "--once")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "TW_TEST_NO_SUCH_BROKER" in result.stderr


def test_workers_settings_are_checked_before_anything_starts():
    from talentwatch.core.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as bad_url:
        parse_config({"workers": {"broker": "redis//:secret@host"}}, "c.yaml")
    assert "workers.broker" in str(bad_url.value) and "secret" not in str(bad_url.value)
    with pytest.raises(ConfigError) as short:
        parse_config({"workers": {"broker": "redis://h:6379/0", "task_timeout": "30m",
                                  "visibility_timeout": "20m"}}, "c.yaml")
    assert "visibility_timeout must be longer than task_timeout" in str(short.value)
    config = parse_config({"workers": {"broker": "amqp://tw@mq//", "task_timeout": "10m"}})
    assert config.workers is not None and config.workers.task_timeout == 600
    assert parse_config({}).workers is None  # the embedded default: no broker


def test_the_embedded_default_imports_no_celery():
    code = ("import sys; from talentwatch.cli import main; import talentwatch.scheduler.daemon;"
            " print(sorted(m for m in ('celery', 'kombu') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def frontier_rows(database: Path) -> list[tuple]:
    conn = sqlite3.connect(database)
    rows = sorted(conn.execute("SELECT url, site, state, attempts, last_error FROM frontier"))
    conn.close()
    return rows


def runs_by_site(database: Path) -> Counter:
    conn = sqlite3.connect(database)
    runs = Counter(conn.execute("SELECT site, status FROM crawl_runs"))
    conn.close()
    return runs


def test_failures_and_changed_lists_end_as_in_the_embedded_crawl(tmp_path, worker_pair):
    """A notice that fails to load stays in the frontier with its error, as the embedded crawl
    keeps it, and is stored on the next check; a list page that changed after an idle check
    (sent without the site's known articles) gives the new notice only, in one run."""
    names = build_portals(tmp_path / "portals", 3, articles=3)
    embedded = write_config(tmp_path / "embedded" / "config.yaml", [])
    with serve_counting(tmp_path / "portals") as (base, traffic):
        sites = portal_sites(base, names)
        write_config(embedded, sites)
        distributed = write_config(tmp_path / "distributed" / "config.yaml", sites, worker_pair.url)
        broken = f"/{names[0]}/rcgz/content/post_{6000 + 100 + 1}.html"
        traffic.forced[broken] = 503
        rounds = []
        for step in ("failure", "recovered", "idle", "changed"):
            if step == "recovered":
                traffic.forced.clear()
            if step == "changed":
                time.sleep(1.1)  # a new mtime: the list pages' ETags change
                build_portals(tmp_path / "portals", 3, articles=4)
            for config in (embedded, distributed):
                result = talentwatch(config, "run", "--once")
                assert result.returncode == 0, result.stderr
            rounds.append((step, [(frontier_rows(c.parent / "archive.db"),
                                   snapshot(c.parent / "archive.db")) for c in (embedded, distributed)]))
    for step, (want, got) in rounds:
        assert got == want, step
    failure = rounds[0][1][1][0]
    assert [(url.endswith(broken), state, attempts, "503" in error)
            for url, _, state, attempts, error in failure] == [(True, "pending", 1, True)]
    assert rounds[1][1][1][0] == []  # stored on the next check: gone from the frontier
    assert len(rounds[3][1][1][1]["articles"]) == 12
    # one run per site and check, none failed, through the workers as embedded
    runs = runs_by_site(tmp_path / "distributed" / "archive.db")
    assert runs == runs_by_site(tmp_path / "embedded" / "archive.db")
    assert set(runs.values()) == {4} and {status for _, status in runs} == {"ok"}


def test_a_broker_restart_mid_run_loses_nothing(tmp_path, worker_pair):
    """The module's last test: the pair's broker is stopped and started again mid-run, and
    the same two workers carry the run to its end."""
    broker = worker_pair
    names = build_portals(tmp_path / "portals", 8, articles=4)
    with serve_counting(tmp_path / "portals") as (base, traffic):
        expected = embedded_snapshot(tmp_path, base, names)
        config = write_config(tmp_path / "distributed" / "config.yaml",
                              portal_sites(base, names, delay=0.3), broker.url)
        mark = traffic.mark()
        run = in_background(talentwatch, config, "run", "--once")
        traffic.wait_for(mark, 3, "no worker started crawling")
        broker.stop()
        time.sleep(2)
        broker.start()
        result = run.result(timeout=180)
        assert result.returncode == 0, result.stderr
    assert snapshot(tmp_path / "distributed" / "archive.db") == expected
