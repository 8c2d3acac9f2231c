"""Crawl throughput against a local replica portal, side by side with a plain
single-process trafilatura loop over the same pages.

    python bench/crawl_throughput.py [--articles 2000] [--tools ../shared/tools]

Generates the portal with ../shared/tools/make_portal.py (same seed, same
bytes, so figures compare across machines), serves it on 127.0.0.1 from a
separate process, crawls it with `talentwatch crawl` into a fresh archive,
then times `trafilatura.extract` over the same pages decoded as Scrapy would.
Prints articles/s for both, their ratio and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import sqlite3
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


def crawl(portal: Path, port: int, workdir: Path, workers: int) -> tuple[float, int, float]:
    """Crawl the served portal; returns (seconds, articles stored, CPU seconds incl. workers)."""
    n_lists = len(list((portal / "gzdt").glob("index*.html")))
    config = {
        "database": str(workdir / "bench.db"),
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
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "talentwatch", "--config", str(path), "crawl"],
                   check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    with sqlite3.connect(workdir / "bench.db") as db:
        stored = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    return seconds, stored, cpu


def extraction_loop(portal: Path) -> tuple[float, int]:
    """Single-process trafilatura.extract over every article page, decoded as Scrapy does."""
    import trafilatura
    from w3lib.encoding import html_to_unicode

    pages = sorted((portal / "gzdt" / "content").glob("post_*.html"))
    texts = [html_to_unicode(None, p.read_bytes())[1] for p in pages]
    start = time.perf_counter()
    for text in texts:
        trafilatura.extract(text)
    return time.perf_counter() - start, len(texts)


def pipeline_loop(portal: Path) -> tuple[float, float, int]:
    """Our own per-article work in one process: extraction, then relevance scoring."""
    from talentwatch.core.records import Page
    from talentwatch.crawler.extract import extract
    from talentwatch.relevance import Classifier
    from w3lib.encoding import html_to_unicode

    classifier = Classifier()
    pages = sorted((portal / "gzdt" / "content").glob("post_*.html"))
    docs = [Page(url=f"http://127.0.0.1/gzdt/content/{p.name}", site="bench",
                 html=html_to_unicode(None, p.read_bytes())[1]) for p in pages]
    start = time.perf_counter()
    articles = [extract(doc) for doc in docs]
    extracted = time.perf_counter()
    for article in articles:
        classifier.classify(article)
    return extracted - start, time.perf_counter() - extracted, len(docs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--encoding", default="gbk", choices=["gbk", "utf-8"])
    parser.add_argument("--workers", type=int, default=0, help="extraction processes (0: one per CPU)")
    parser.add_argument("--tools", type=Path, default=ROOT.parent / "shared" / "tools")
    args = parser.parse_args()

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
        try:
            wait_for(port)
            crawl_s, stored, crawl_cpu = crawl(portal, port, tmp_path, args.workers)
        finally:
            server.terminate()
            server.wait()
        loop_s, pages = extraction_loop(portal)
        ours_extract_s, ours_classify_s, _ = pipeline_loop(portal)

    crawl_rate = stored / crawl_s
    loop_rate = pages / loop_s
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"portal: {args.articles} articles ({args.encoding}), {os.cpu_count()} CPUs")
    print(f"talentwatch crawl:      {stored} articles in {crawl_s:.1f} s = {crawl_rate:.1f} articles/s "
          f"(CPU {crawl_cpu:.1f} s incl. extraction workers)")
    print(f"trafilatura.extract loop: {pages} pages in {loop_s:.1f} s = {loop_rate:.1f} pages/s")
    print(f"ratio crawl / loop:     {crawl_rate / loop_rate:.2f}")
    print(f"our per-article work, one process: extract {ours_extract_s / pages * 1000:.1f} ms, "
          f"relevance {ours_classify_s / pages * 1000:.1f} ms "
          f"= {pages / (ours_extract_s + ours_classify_s):.1f} articles/s")
    print(f"peak RSS: largest crawl process {peak_child:.0f} MiB; bench process {peak_self:.0f} MiB")


if __name__ == "__main__":
    main()
