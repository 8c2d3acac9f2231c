"""What an idle site check costs the daemon: CPU per check and RSS over many cycles.

    python bench/daemon_cost.py [--sites 500] [--cycles 100]

A separate process serves N small portals on 127.0.0.1 (a list page linking a
few articles each). The warm-up cycle archives them; after it every check finds
nothing new: the list answers 304 to the conditional request (or, with
--no-304, lists only known articles). That is the idle case. The real daemon
(scheduler.daemon.Daemon: APScheduler jobs on Scrapy's asyncio reactor, one
long-lived crawler, run tracking in SQLite, an outbox round per cycle) runs in
this process; each cycle sets every site job's next run to now and waits for
all N runs to finish. CPU is this process's user+system time (the server's is
not counted); cycle 0 (warm-up: imports, first connections) is left out.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from talentwatch.scheduler.daemon import Daemon  # noqa: E402  (after the path above)

SERVER = textwrap.dedent("""
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ITEMS = int(sys.argv[1])
    CONDITIONAL = sys.argv[2] == "1"
    STAMP = "Wed, 18 Nov 2026 01:30:00 GMT"
    PARA = "为进一步优化人才发展环境，县委组织部会同有关部门研究制定人才引进与培养若干措施。" * 6

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            site = self.path.split("/")[1]
            if CONDITIONAL and self.headers.get("If-Modified-Since") == STAMP:
                self.send_response(304)
                self.end_headers()
                return
            if "/content/" in self.path:
                n = int(self.path.rsplit("_", 1)[1].split(".")[0]) % 1000
                body = (f'<html><head><meta charset="utf-8"><title>{site}第{n}号通知</title></head>'
                        f'<body><h1>{site}关于人才工作的第{n}号通知</h1>'
                        f'<div class="info">发布时间：2026-11-{int(n):02d}</div>'
                        f'<div class="TRS_Editor"><p>{site}{n}{PARA}</p></div></body></html>')
            else:
                # post ids are unique per host, as a CMS numbers them
                base = int(site[1:]) * 1000
                rows = "".join(f'<li><a href="/{site}/content/post_{base + n}.html">{site}第{n}号通知</a>'
                               f'<span>2026-11-{n:02d}</span></li>' for n in range(1, ITEMS + 1))
                body = (f'<html><head><meta charset="utf-8"><title>{site} 人才工作</title></head>'
                        f'<body><ul class="newsList">{rows}</ul></body></html>')
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if CONDITIONAL:
                self.send_header("Last-Modified", STAMP)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # the bench's webhook: take the alert, say ok
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024  # the default backlog of 5 drops SYNs under concurrency

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
""")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CycleDaemon(Daemon):
    """The daemon driven in cycles by a bench: each cycle makes every site due at once,
    and the next starts when all of them have run (a subclass counts its runs and calls
    _next_cycle). `sample()` is taken at the start of each cycle, so samples[k] is taken
    when cycle k-1 finished; after `cycles` cycles (and the warm-up), `finish()`."""

    def __init__(self, config: Any, cycles: int) -> None:
        super().__init__(config)
        self.cycles = cycles

    def _start_scheduler(self) -> None:
        super()._start_scheduler()
        self.cycle = -1
        self.done_in_cycle = 0
        self.samples: list[Any] = []
        self.loop.call_later(0.5, self._next_cycle)

    def sample(self) -> Any:
        raise NotImplementedError

    def finish(self) -> None:
        self.stop()

    def _next_cycle(self) -> None:
        if self.stopping:
            return
        self.samples.append(self.sample())
        self.cycle += 1
        if self.cycle > self.cycles:
            self.finish()
            return
        self.done_in_cycle = 0
        now = datetime.now(UTC)
        for name in self.sites:
            self.scheduler.modify_job(f"site:{name}", next_run_time=now)
        self.scheduler.wakeup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--items", type=int, default=3,
                        help="articles listed per site (crawled once, in the warm-up cycle)")
    parser.add_argument("--no-304", action="store_true",
                        help="the server ignores If-Modified-Since: each check reads the list page")
    args = parser.parse_args()

    # an idle list page lists nothing new; keep the per-page "no article links" notice quiet
    logging.basicConfig(level=logging.ERROR)
    from talentwatch.core.config import parse_config

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.items), "0" if args.no_304 else "1"],
        stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline())
    workdir = Path(tempfile.mkdtemp(prefix="tw-bench-"))
    config = parse_config({
        "database": str(workdir / "bench.db"),
        "crawl": {"autothrottle": False, "obey_robots": False, "retries": 0, "extract_workers": 1,
                  "concurrency_per_domain": 16},
        # the schedule is driven by the bench; jobs exist but would not fire on their own
        "daemon": {"every": "1d", "jitter": 0, "deliver_every": "1d"},
        # each list links its articles; the warm-up cycle archives them, after which
        # every check finds only known articles (or a 304): the idle case
        "sites": [{"name": f"site{i:03d}", "start_urls": [f"http://127.0.0.1:{port}/s{i}/index.html"],
                   "article_pattern": r"/content/post_\d+\.html$", "revisit": None,
                   "max_list_pages": 1, "delay": 0} for i in range(args.sites)],
        "subscriptions": [{"name": "bench", "channels": [f"json://127.0.0.1:{port}/hook"]}],
    })

    class BenchDaemon(CycleDaemon):
        def _start_scheduler(self) -> None:
            super()._start_scheduler()
            self.tracker.listeners.append(self._counted)

        def sample(self) -> tuple[int, float, float, float]:  # cycle, cpu, rss, wall
            return (self.cycle, cpu_seconds(), rss_mb(), time.monotonic())

        def _counted(self, run) -> None:
            self.done_in_cycle += 1
            if self.done_in_cycle == len(self.sites):
                # the outbox round of the cycle (collect finds nothing: the idle case)
                future = self.outbox.submit()
                future.add_done_callback(lambda _: self.loop.call_soon_threadsafe(self._next_cycle))

    daemon = BenchDaemon(config, args.cycles)
    try:
        daemon.run()
    finally:
        server.terminate()
    samples = daemon.samples
    # samples[k] is taken when cycle k-1 finished; cycle 0 is warm-up
    measured = samples[2:]
    start = samples[1]
    checks = args.sites * (len(measured))
    cpu = measured[-1][1] - start[1]
    wall = measured[-1][3] - start[3]
    rss = [s[2] for s in samples[1:]]
    print(f"daemon idle-check cost: {args.sites} sites on 127.0.0.1, {len(measured)} measured cycles "
          f"(+1 warm-up), {checks} checks")
    print(f"  CPU per idle site check: {cpu / checks * 1000:.2f} ms  (target ≤ 4 ms)")
    print(f"  wall per cycle: {wall / len(measured):.2f} s; checks per second: {checks / wall:.0f}")
    marks = sorted({1, 10, 25, 50, 75, len(rss) - 1} & set(range(len(rss))))
    trajectory = ", ".join(f"{k}: {rss[k]:.1f}" for k in marks)
    print(f"  RSS (MB) after cycle {trajectory}; max {max(rss):.1f}")
    half = len(rss) // 2
    if half:
        print(f"  RSS growth over the second half: {rss[-1] - rss[half]:+.1f} MB "
              f"({(rss[-1] - rss[half]) / (len(rss) - 1 - half) * 1024:+.1f} KB per cycle)")
    import sqlite3

    with sqlite3.connect(workdir / "bench.db") as db:
        stored = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        not_modified = db.execute("SELECT coalesce(sum(not_modified), 0) FROM crawl_runs").fetchone()[0]
    print(f"  articles archived in warm-up: {stored}; list answers 304 over the run: {not_modified}")
    print(f"  (archive {workdir / 'bench.db'}, pid {os.getpid()})")


if __name__ == "__main__":
    main()
