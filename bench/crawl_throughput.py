"""Crawl throughput: talentwatch against bare Scrapy and a naive Scrapy+trafilatura
build, side by side on the same served portal, in one invocation.

    python bench/crawl_throughput.py [--articles 2000] [--rounds 3] [--tools ../shared/tools]

Generates the portal with ../shared/tools/make_portal.py (same seed, same
bytes, so figures compare across machines) and serves it on 127.0.0.1 from a
separate process with a big listen backlog. Each round then crawls it three
times, each in its own process:

- bare Scrapy: the list pages and the article pages, nothing else done with them
  (the framework's own cost);
- naive: the same spider calling `trafilatura.extract(with_metadata=True)` in its
  article callback, the obvious build a user would compare with;
- talentwatch: `talentwatch crawl` into a fresh archive.

It prints, per build, articles/s and CPU per article (the crawl process and
every process it started, from RUSAGE_CHILDREN: the bench adopts their orphans),
CPU time / wall time (how busy the cores were), the ratio talentwatch / naive,
and talentwatch's CPU per article split by stage.
With --rounds N each figure is the median over the rounds.

The stage split comes from the crawl itself: with the environment variable
TALENTWATCH_STAGE_TIMES=1, `talentwatch crawl` accumulates cheap timers per
stage (time.process_time in the worker processes, thread_time of the reactor
thread in the main process) and prints them as one `stage-times: {json}` line on stderr when it
ends. Stages: start-up (main process until the first request, workers' imports
and set-up), transfer to workers (pickling pages and results both ways),
extraction, relevance, normalise + MinHash, store + index + events (the archive
writes), and fetch + reactor (the rest of the main process: Scrapy, Twisted,
decoding, the spider). What no timer saw (the workers' fork server importing
what they share, the resource tracker) is printed as untimed.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


SERVER = """
import functools, sys
from talentwatch.cli.demo_portal.portal import PortalServer, QuietHandler
handler = functools.partial(QuietHandler, directory=sys.argv[2])
PortalServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""

# bare Scrapy and the naive build: the same spider, the same settings as our crawl
# (concurrency, no throttle, no retries); `naive` extracts with trafilatura in parse
SCRAPY_SPIDER = r"""
import re, sys
import scrapy
from scrapy.crawler import CrawlerProcess

port, mode = int(sys.argv[1]), sys.argv[2]
ARTICLE = re.compile(r"/gzdt/content/post_\d+\.html$")
done = [0]
if mode == "naive":
    import trafilatura

class Bench(scrapy.Spider):
    name = "bench"
    start_urls = [f"http://127.0.0.1:{port}/gzdt/index.html"]

    def parse(self, response):
        for a in response.css("a"):
            href = a.attrib.get("href")
            if not href:
                continue
            url = response.urljoin(href)
            if ARTICLE.search(url):
                yield scrapy.Request(url, callback=self.parse_article)
            elif "".join(a.css("::text").getall()).strip() == "下一页":
                yield scrapy.Request(url, callback=self.parse, priority=10)

    def parse_article(self, response):
        if mode == "naive":
            trafilatura.extract(response.text, url=response.url, with_metadata=True)
        done[0] += 1

process = CrawlerProcess({
    "LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": False, "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "DOWNLOAD_DELAY": 0,
    "RETRY_TIMES": 0, "COOKIES_ENABLED": False, "TELNETCONSOLE_ENABLED": False,
    "WARN_ON_GENERATOR_RETURN_VALUE": False,
})
process.crawl(Bench)
process.start()
print(done[0])
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("portal server did not start")


PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> None:
    """Make this process the reaper of its descendants' orphans (Linux). A crawl's fork
    server outlives the crawl by a moment and is nobody's child then: adopted and waited
    for here, its CPU counts in RUSAGE_CHILDREN like the rest of the crawl's."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed: CPU would go uncounted")


def reap_orphans(keep: set[int]) -> None:
    """Wait for every child of this process but `keep` (adopted orphans included)."""
    while True:
        children = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                    and _parent_of(p) == os.getpid()} - keep
        if not children:
            return
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _parent_of(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


# children that are not the crawls': the portal server
KEEP: set[int] = set()


def timed_child(cmd: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a child process; returns it with its wall time and its CPU time (with all its
    descendants: its children, and orphans it left, adopted by this process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True, **kwargs)
    reap_orphans(KEEP)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return done, seconds, cpu


def scrapy_run(port: int, mode: str) -> dict:
    done, seconds, cpu = timed_child([sys.executable, "-c", SCRAPY_SPIDER, str(port), mode])
    return {"articles": int(done.stdout.split()[-1]), "seconds": seconds, "cpu": cpu}


def talentwatch_run(portal: Path, port: int, workdir: Path, workers: int) -> dict:
    """Crawl the served portal into a fresh archive, with the stage timers on."""
    n_lists = len(list((portal / "gzdt").glob("index*.html")))
    db_path = workdir / "bench.db"
    for stale in workdir.glob("bench.db*"):
        stale.unlink()
    config = {
        "database": str(db_path),
        "crawl": {"autothrottle": False, "extract_workers": workers, "concurrency_per_domain": 16,
                  "retries": 0},
        "sites": [{
            "name": "bench-county",
            "start_urls": [f"http://127.0.0.1:{port}/gzdt/index.html"],
            "article_pattern": r"/gzdt/content/post_\d+\.html$",
            "max_list_pages": n_lists + 1,
            "delay": 0,
        }],
    }
    path = workdir / "config.json.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TALENTWATCH_STAGE_TIMES": "1"}
    done, seconds, cpu = timed_child(
        [sys.executable, "-m", "talentwatch", "--config", str(path), "crawl"], env=env)
    with sqlite3.connect(db_path) as db:
        stored = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    stages = {}
    for line in done.stderr.splitlines():
        if line.startswith("stage-times: "):
            stages = json.loads(line.removeprefix("stage-times: "))
    return {"articles": stored, "seconds": seconds, "cpu": cpu, "stages": stages}


def median(runs: list[dict], key) -> float:
    return statistics.median(key(r) for r in runs)


STAGE_ORDER = ["fetch+reactor", "transfer to workers", "extraction", "relevance",
               "normalise+MinHash", "store+index+events", "start-up"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=1, help="rounds; figures are the median")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--encoding", default="gbk", choices=["gbk", "utf-8"])
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: one per CPU)")
    parser.add_argument("--tools", type=Path, default=ROOT.parent / "shared" / "tools")
    args = parser.parse_args()

    adopt_orphans()
    results: dict[str, list[dict]] = {"bare": [], "naive": [], "talentwatch": []}
    with tempfile.TemporaryDirectory(prefix="tw-bench-") as tmp:
        tmp_path = Path(tmp)
        portal = tmp_path / "portal"
        subprocess.run([sys.executable, str(args.tools / "make_portal.py"), str(portal),
                        "--articles", str(args.articles), "--seed", str(args.seed),
                        "--encoding", args.encoding], check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        # a static server with a listen backlog that a concurrent crawler cannot overflow
        # (http.server's default of 5 drops connections, each costing a 1 s SYN retry)
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port), str(portal)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        KEEP.add(server.pid)
        try:
            wait_for(port)
            for round_no in range(1, args.rounds + 1):
                results["bare"].append(scrapy_run(port, "bare"))
                results["naive"].append(scrapy_run(port, "naive"))
                results["talentwatch"].append(talentwatch_run(portal, port, tmp_path, args.workers))
                line = ", ".join(f"{name} {r[-1]['articles'] / r[-1]['seconds']:.1f}/s"
                                 for name, r in results.items())
                print(f"round {round_no}: {line}", file=sys.stderr)
        finally:
            server.terminate()
            server.wait()

    rate = {name: median(runs, lambda r: r["articles"] / r["seconds"]) for name, runs in results.items()}
    print(f"portal: {args.articles} articles ({args.encoding}), {os.cpu_count()} CPUs, "
          f"median of {args.rounds} round(s); load average {os.getloadavg()[0]:.2f}")
    print(f"{'build':<13}{'articles':>9}{'articles/s':>12}{'CPU/article':>13}{'CPU/wall':>10}")
    for name, runs in results.items():
        cpu_per = median(runs, lambda r: r["cpu"] / max(r["articles"], 1)) * 1000
        busy = median(runs, lambda r: r["cpu"] / r["seconds"])
        print(f"{name:<13}{runs[0]['articles']:>9}{rate[name]:>12.1f}{cpu_per:>10.1f} ms{busy:>10.2f}")
    print(f"ratio talentwatch / naive: {rate['talentwatch'] / rate['naive']:.2f}")

    staged = [r for r in results["talentwatch"] if r["stages"]]
    if staged:
        print("talentwatch CPU per article by stage (median):")
        for stage in STAGE_ORDER:
            ms = median(staged, lambda r, s=stage: r["stages"]["seconds"].get(s, 0.0)
                        / max(r["articles"], 1)) * 1000
            print(f"  {stage:<22}{ms:>7.2f} ms")
        total = median(staged, lambda r: sum(r["stages"]["seconds"].values()) / max(r["articles"], 1))
        print(f"  {'total (timers)':<22}{total * 1000:>7.2f} ms")
        # the rest of the measured CPU: the fork server's imports, the resource tracker,
        # what a worker does between its timed calls
        rest = median(staged, lambda r: (r["cpu"] - sum(r["stages"]["seconds"].values()))
                      / max(r["articles"], 1))
        print(f"  {'untimed (fork server…)':<22}{rest * 1000:>7.2f} ms")
    else:
        print("talentwatch printed no stage times (this build has no stage timers)")


if __name__ == "__main__":
    main()
