"""Extraction workers that die are replaced: one lost worker never stops a long crawl."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from talentwatch.crawler.pipelines import WorkerPool

pytestmark = pytest.mark.slow(seconds=23)


def die_once(marker: str) -> str:
    """Kill this worker the first time (as an OOM kill would), work the second."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os._exit(9)
    return "extracted"


def always_die(_: str) -> str:
    os._exit(9)


def test_a_dead_worker_is_replaced_and_the_page_retried(tmp_path: Path) -> None:
    pool = WorkerPool(1)
    try:
        result = asyncio.run(pool.run(die_once, str(tmp_path / "marker")))
        assert result == "extracted"
        # and the pool goes on working for later pages
        assert asyncio.run(pool.run(str.upper, "ok")) == "OK"
    finally:
        pool.shutdown()


def test_a_page_that_kills_every_worker_fails_alone(tmp_path: Path) -> None:
    pool = WorkerPool(1)
    try:
        with pytest.raises(BrokenProcessPool):
            asyncio.run(pool.run(always_die, "x"))
        assert asyncio.run(pool.run(str.upper, "next page")) == "NEXT PAGE"
    finally:
        pool.shutdown()


def test_workers_take_a_lower_cpu_priority_than_the_crawl_that_feeds_them() -> None:
    """The crawl process alone fetches and stores: on busy cores it must not get only an equal
    share against its own workers, or the workers wait for pages."""
    own = os.nice(0)
    pool = WorkerPool(1)
    try:
        worker = asyncio.run(pool.run(os.nice, 0))  # the worker's niceness
    finally:
        pool.shutdown()
    assert worker >= min(own + 10, 19), (own, worker)
