"""Cheap per-stage timers for a crawl, for bench/crawl_throughput.py (in core: the
crawler and storage both add to them).

Off unless the environment variable TALENTWATCH_STAGE_TIMES is set (to
anything but empty or 0); then the crawl adds up, per stage, CPU seconds: in
the worker processes time.process_time, in the main process time.thread_time
(the reactor's thread alone: the executor's helper threads pickle nothing,
since we pickle by hand, and wall time would count the waits of a loaded
machine), and prints one `stage-times: {json}` line on stderr when it ends.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

ENV = "TALENTWATCH_STAGE_TIMES"

STARTUP = "start-up"
TRANSFER = "transfer to workers"
EXTRACTION = "extraction"
RELEVANCE = "relevance"
NORMALISE = "normalise+MinHash"
STORE = "store+index+events"
FETCH = "fetch+reactor"


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


class StageTimes:
    """Seconds per stage, added up; a worker's own times travel back with its results."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds

    def merge(self, other: dict[str, float]) -> None:
        for stage, seconds in other.items():
            self.seconds[stage] += seconds

    @contextmanager
    def main(self, stage: str) -> Iterator[None]:
        """Time a block of the main process (its reactor thread's CPU)."""
        start = time.thread_time()
        try:
            yield
        finally:
            self.seconds[stage] += time.thread_time() - start

    @contextmanager
    def cpu(self, stage: str) -> Iterator[None]:
        """Time a block of a worker process."""
        start = time.process_time()
        try:
            yield
        finally:
            self.seconds[stage] += time.process_time() - start

    def take(self) -> dict[str, float]:
        """The times so far, and start again from zero (a worker's share of one job)."""
        taken = dict(self.seconds)
        self.seconds.clear()
        return taken


# this process's own timers (the main process's, or a worker's until its next result)
TIMES = StageTimes()
# the workers' timers, as their results brought them back to the main process
WORKERS = StageTimes()


def report(main_startup: float) -> None:
    """Print the crawl's stage times: `main_startup` is the main process's CPU before
    its first request; fetch + reactor is the rest of the main process's CPU."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    main_cpu = own.ru_utime + own.ru_stime
    seconds: defaultdict[str, float] = defaultdict(float)
    for times in (TIMES.seconds, WORKERS.seconds):
        for stage, value in times.items():
            seconds[stage] += value
    seconds[STARTUP] += main_startup
    seconds[FETCH] = max(main_cpu - main_startup - sum(TIMES.seconds.values()), 0.0)
    print("stage-times: " + json.dumps({
        "seconds": seconds, "main_cpu": main_cpu,
        "workers_cpu": children.ru_utime + children.ru_stime}), file=sys.stderr)
