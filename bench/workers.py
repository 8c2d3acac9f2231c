"""Idle site checks through Celery workers vs the embedded daemon, in one run.

    python bench/workers.py [--sites 1000] [--cycles 3] [--concurrency 8]

The portals are bench/daemon_cost.py's (N small sites on one local server whose
list pages answer 304 once archived: the idle case). First the embedded daemon
(bench/daemon_cost.py, its own process) measures its CPU per idle check. Then
the same sites go through the workers: a Redis broker (redis-server, temporary
directory, append-only as in the tests), 2 `talentwatch worker` processes and
the daemon with `workers:` in this process; each cycle makes every site due and
waits until all N runs are stored. CPU is read from /proc for each process:
this one (the archive host: schedule, leases, payloads, the archive writer),
the workers, and redis-server. Cycle 0 (warm-up: imports, crawler start-up,
the first crawl that archives the articles) is left out.

The queue's added cost per check is (archive host + workers + broker) minus the
embedded daemon's, per check: what spreading the crawl out costs in CPU.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.daemon_cost import SERVER, CycleDaemon  # noqa: E402  (the daemon bench's portals and cycles)

TICK = os.sysconf("SC_CLK_TCK")
IDLE = 10.0  # seconds of nothing due after the last cycle: the idle CPU of each process


def proc_cpu(pid: int) -> float:
    """User+system CPU seconds of `pid` and its reaped children (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICK


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_cost(sites: int, cycles: int) -> float:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "daemon_cost.py"), "--sites", str(sites),
                          "--cycles", str(cycles)], capture_output=True, text=True, check=True).stdout
    match = re.search(r"CPU per idle site check: ([\d.]+) ms", out)
    assert match, out
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8, help="sites at once per worker")
    parser.add_argument("--no-embedded", action="store_true",
                        help="skip the embedded daemon's run (profiling the workers' side)")
    args = parser.parse_args()

    logging.basicConfig(level=logging.ERROR)
    embedded_ms = float("nan") if args.no_embedded else embedded_cost(args.sites, args.cycles)

    from talentwatch.core.config import parse_config

    workdir = Path(tempfile.mkdtemp(prefix="tw-bench-workers-"))
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--dir", str(workdir), "--appendonly", "yes", "--appendfsync", "everysec",
                              "--save", ""],
                             stdout=subprocess.DEVNULL)
    server = subprocess.Popen([sys.executable, "-c", SERVER, "3", "1"], stdout=subprocess.PIPE, text=True)
    web_port = int(server.stdout.readline())
    data = {
        "database": str(workdir / "bench.db"),
        "crawl": {"autothrottle": False, "obey_robots": False, "retries": 0, "extract_workers": 1,
                  "concurrency_per_domain": 16},
        "daemon": {"every": "1d", "jitter": 0, "deliver_every": "1d"},
        "workers": {"broker": f"redis://127.0.0.1:{port}/0"},
        "sites": [{"name": f"site{i:03d}", "start_urls": [f"http://127.0.0.1:{web_port}/s{i}/index.html"],
                   "article_pattern": r"/content/post_\d+\.html$", "revisit": None,
                   "max_list_pages": 1, "delay": 0} for i in range(args.sites)],
    }
    import yaml

    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = parse_config(data)
    workers = [subprocess.Popen([sys.executable, "-m", "talentwatch", "--config", str(config_path), "-v",
                                 "worker", "--concurrency", str(args.concurrency)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=(workdir / f"worker{i}.log").open("w"))
               for i in range(2)]

    class BenchDaemon(CycleDaemon):
        def _start_scheduler(self) -> None:
            self.messages: list[tuple[int, int]] = []  # crawl tasks sent, archive messages stored
            super()._start_scheduler()

        def sample(self) -> tuple[float, float, float, float]:  # host, workers, broker, wall
            link = self.workers
            self.messages.append((link.dispatcher.tasks_sent if link.dispatcher else 0,
                                  link.writer.stored if link.writer else 0))
            if os.environ.get("TW_BENCH_MARKS"):
                print(f"mark cycle {self.cycle} at {time.time():.1f}", flush=True)
            return self._cpu()

        def _cpu(self) -> tuple[float, float, float, float]:
            return (self_cpu(), sum(proc_cpu(w.pid) for w in workers), proc_cpu(redis.pid), time.monotonic())

        def finish(self) -> None:
            # then IDLE seconds with nothing due: what the processes burn doing nothing
            self.loop.call_later(IDLE, self._idle_done)

        def _idle_done(self) -> None:
            self.idle = self._cpu()
            self.stop()

        def _run_finished(self, run) -> None:
            super()._run_finished(run)
            self.done_in_cycle += 1
            if self.done_in_cycle == len(self.sites):
                self.loop.call_soon(self._next_cycle)

    daemon = BenchDaemon(config, args.cycles)
    try:
        daemon.run()
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(30)
        server.terminate()
        redis.terminate()
    samples = daemon.samples
    start, end = samples[1], samples[-1]
    checks = args.sites * (len(samples) - 2)
    host, work, broker = ((end[k] - start[k]) / checks * 1000 for k in range(3))
    wall = end[3] - start[3]
    total = host + work + broker
    print(f"idle site checks: {args.sites} sites, {len(samples) - 2} measured cycles (+1 warm-up), "
          f"{checks} checks; 2 workers x {args.concurrency}")
    print(f"  embedded daemon:      {embedded_ms:.2f} ms CPU per check")
    print(f"  through the workers:  archive host {host:.2f} ms + workers {work:.2f} ms + "
          f"broker {broker:.2f} ms = {total:.2f} ms CPU per check")
    print(f"  the queue's added cost: {total - embedded_ms:+.2f} ms per check (target ≤ 1 ms); "
          f"{checks / wall:.0f} checks per second")
    tasks, messages = (daemon.messages[-1][k] - daemon.messages[1][k] for k in range(2))
    print(f"  messages: {tasks} crawl tasks, {messages} archive messages"
          f" ({checks / max(tasks, 1):.1f} and {checks / max(messages, 1):.1f} checks each)")
    idle = daemon.idle
    rates = [(idle[k] - end[k]) / (idle[3] - end[3]) * 1000 for k in range(3)]
    print(f"  idle (nothing due, {IDLE:.0f} s): archive host {rates[0]:.1f} + workers {rates[1]:.1f}"
          f" + broker {rates[2]:.1f} ms CPU per second;"
          f" {sum(rates) * wall / checks:.2f} ms of the per-check total above")
    startups = [float(m) for i in range(2) for m in re.findall(
        r"crawler ready in ([\d.]+) s", (workdir / f"worker{i}.log").read_text())]
    print("  worker start-up (Scrapy, reactor, extraction process; once per worker process): "
          + ", ".join(f"{s:.2f} s" for s in startups)
          + f" — per task it would be that much more than {total:.2f} ms")
    with __import__("sqlite3").connect(workdir / "bench.db") as db:
        stored = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        runs = db.execute("SELECT count(*), sum(status = 'ok') FROM crawl_runs").fetchone()
    print(f"  articles archived in warm-up: {stored}; runs {runs[0]} ({runs[1]} ok); (work dir {workdir})")


if __name__ == "__main__":
    main()
