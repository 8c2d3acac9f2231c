"""Crawl workers under a fault, with a real Redis broker and real `talentwatch worker`
processes: a killed worker's site is crawled by the other (issue 18). A file of its own so
that the test processes share the slow cases; the broker restart runs on test_workers.py's
shared pair."""

from __future__ import annotations

import os
import signal

import pytest

from tests.portal_server import serve_counting
from tests.redis_broker import broker  # noqa: F401  (the fixture)
from tests.test_workers import (
    embedded_snapshot,
    in_background,
    snapshot,
    start_worker,
    talentwatch,
    workers,
    write_config,
)
from tests.worker_portals import build_portals, portal_sites

pytestmark = pytest.mark.slow(seconds=32)


def test_a_worker_killed_mid_task_leaves_its_site_to_the_other(tmp_path, broker):  # noqa: F811
    names = build_portals(tmp_path / "portals", 4, articles=5)
    with serve_counting(tmp_path / "portals") as (base, traffic):
        expected = embedded_snapshot(tmp_path, base, names)
        # a short visibility timeout: the dead worker's task is handed out again after 14 s
        config = write_config(tmp_path / "distributed" / "config.yaml",
                              portal_sites(base, names, delay=0.5), broker.url,
                              task_timeout=12, visibility_timeout=14)
        first = start_worker(config, tmp_path / "first.log")
        try:
            mark = traffic.mark()
            run = in_background(talentwatch, config, "run", "--once")
            # the first worker is mid-site: a list page and more
            traffic.wait_for(mark, 2, "the first worker never started crawling")
            with workers(config, 1, tmp_path):
                os.killpg(first.pid, signal.SIGKILL)  # the worker and its extraction process
                first.wait(10)
                result = run.result(timeout=150)
                assert result.returncode == 0, result.stderr
        finally:
            if first.poll() is None:
                first.kill()
    got = snapshot(tmp_path / "distributed" / "archive.db")
    assert got == expected  # nothing lost, nothing twice: one version and one `new` event each
    assert all(n == 1 for n in got["events"].values())
