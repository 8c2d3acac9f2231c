"""What a recrawl costs, and what near-duplicate lookup costs at 100k articles.

Part 1 — a 2,000-article portal (../shared/tools/make_portal.py, seed 1) served
on 127.0.0.1 by a static server that answers conditional requests (ETag and
If-Modified-Since). Crawl 1 archives everything; crawl 2, with nothing
changed, should send only conditional list requests and no article request;
crawl 3 (`--recheck`) re-checks every article conditionally. For each: the
requests the server saw by kind and answer, and the crawl process's CPU seconds.

Part 2 — near-duplicate index (storage.dedupe, MinHash LSH in SQLite) filled with
synthetic documents up to --docs (default 100,000): ms per article for
normalise + signature + candidate query + verification + insert, measured over
the last --tail articles; then recall on copies of indexed documents (new
header/footer; 10% trimmed from each end; 25% trimmed plus edits; traditional +
pinyin + lost characters) and false candidates for fresh documents.

Usage (from the repository root):
    python bench/recrawl_cost.py [--articles 2000] [--docs 100000] [--skip-crawl] [--skip-dedupe]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from talentwatch.storage import dedupe  # noqa: E402
from talentwatch.storage.normalize import normalize  # noqa: E402
from talentwatch.storage.schema import open_archive  # noqa: E402

from tests.dedupe_texts import AGGREGATOR_FOOTER, AGGREGATOR_HEADER, mirror  # noqa: E402
from tests.portal_server import serve_counting  # noqa: E402


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def kind_of(path: str) -> str:
    if "/content/" in path:
        return "article"
    if path.endswith(".html") and "/index" in path:
        return "list"
    return "other"


def crawl_step(config: Path, label: str, traffic, *args: str) -> dict:
    mark = traffic.mark()
    cpu, wall = child_cpu(), time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "talentwatch", "--config", str(config), "crawl", *args],
                            cwd=ROOT, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - wall, child_cpu() - cpu
    if result.returncode != 0:
        sys.exit(f"{label} failed:\n{result.stderr[-2000:]}")
    hits = traffic.since(mark)
    by_kind = Counter(kind_of(h.path) for h in hits)
    return {
        "step": label, "requests": len(hits), "list": by_kind["list"], "article": by_kind["article"],
        "other": by_kind["other"], "304": sum(h.status == 304 for h in hits),
        "conditional": sum(h.conditional for h in hits), "cpu_s": cpu, "wall_s": wall,
    }


def bench_crawl(articles: int, tools: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="tw-recrawl-") as tmp:
        site = Path(tmp) / "portal"
        subprocess.run([sys.executable, str(tools / "make_portal.py"), str(site), "--articles", str(articles),
                        "--seed", "1"], check=True, capture_output=True)
        with serve_counting(site) as (base, traffic):
            config = Path(tmp) / "config.yaml"
            config.write_text(yaml.safe_dump({
                "database": str(Path(tmp) / "archive.db"),
                "crawl": {"autothrottle": False, "obey_robots": False, "concurrency_per_domain": 8,
                          "retries": 1},
                "sites": [{"name": "portal", "start_urls": [base + "gzdt/index.html"],
                           "article_pattern": r"/gzdt/content/post_\d+\.html$", "delay": 0,
                           "max_list_pages": articles // 20 + 5}],
            }), encoding="utf-8")
            rows = [crawl_step(config, "1 first crawl", traffic),
                    crawl_step(config, "2 unchanged", traffic),
                    crawl_step(config, "3 --recheck", traffic, "--recheck")]
        db = open_archive(Path(tmp) / "archive.db")
        stored = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    print(f"\n== recrawl cost: {articles}-article portal (make_portal.py --seed 1), {stored} archived ==")
    print(f"{'step':<16}{'requests':>9}{'list':>6}{'article':>8}{'304':>6}{'cond.':>6}{'CPU s':>8}"
          f"{'wall s':>8}{'CPU ms/req':>11}")
    for r in rows:
        print(f"{r['step']:<16}{r['requests']:>9}{r['list']:>6}{r['article']:>8}{r['304']:>6}"
              f"{r['conditional']:>6}{r['cpu_s']:>8.2f}{r['wall_s']:>8.2f}"
              f"{1000 * r['cpu_s'] / max(r['requests'], 1):>11.1f}")
    unchanged = rows[1]
    ok = unchanged["article"] == 0 and unchanged["conditional"] == unchanged["requests"] == unchanged["304"]
    print(f"target (unchanged crawl: 0 article requests, only conditional list requests): "
          f"{'met' if ok else 'NOT met'}")


# -- near duplicates ----------------------------------------------------------------

def vocabulary(seed: int) -> list[str]:
    """Words in the register of the portals, recombined into synthetic documents."""
    import jieba
    from talentwatch.cli.demo_portal.portal import load_articles

    from tests import dedupe_texts as t

    texts = [p for a in load_articles() for p in a["paragraphs"]]
    texts += t.ORIGINAL + t.OTHER + t.SIBLING
    words = sorted({w for text in texts for w in jieba.lcut(text) if len(w) >= 2})
    rng = random.Random(seed)
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 3500)]
    # plus invented words so that the vocabulary is not tiny
    words += ["".join(rng.choices(han, k=rng.randint(2, 4))) for _ in range(20000)]
    return words


def synthetic_doc(rng: random.Random, words: list[str]) -> str:
    sentences = []
    for _ in range(rng.randint(20, 60)):
        sentences.append("".join(rng.choices(words, k=rng.randint(6, 16))) + "。")
    return "\n".join("".join(sentences[i:i + 4]) for i in range(0, len(sentences), 4))


def variants(rng: random.Random, text: str) -> dict[str, str]:
    n = len(text)
    cut10, cut25 = n // 10, n // 4
    middle = list(text[cut25:n - cut25])
    for _ in range(max(1, len(middle) // 100)):  # ~1% of characters edited
        middle[rng.randrange(len(middle))] = rng.choice("政策人才补贴创新")
    return {
        "header/footer": "\n".join(AGGREGATOR_HEADER) + "\n" + text + "\n" + "\n".join(AGGREGATOR_FOOTER),
        "10% trimmed each end": text[cut10:n - cut10],
        "25% trimmed + edits": "".join(middle),
        "traditional+pinyin+?": "\n".join(mirror(text.splitlines(), lose_every=50)),
    }


def lookup_and_add(db, article_id: int, text: str, clock: Counter | None = None) -> list[int]:
    """What save_article does for near duplicates: normalise, sign, query, verify, index."""
    t0 = time.perf_counter()
    normalized = normalize(text)
    sig = dedupe.signature(normalized)
    t1 = time.perf_counter()
    found = []
    for other, _ in dedupe.candidates(db, sig):
        if dedupe.verify(normalized, normalize(texts[other])) is not None:
            found.append(other)
    dedupe.add(db, article_id, sig)
    if clock is not None:
        clock["compute"] += t1 - t0
        clock["index"] += time.perf_counter() - t1
    return found


texts: dict[int, str] = {}


def bench_dedupe(docs: int, tail: int, probes: int, seed: int) -> None:
    rng = random.Random(seed)
    words = vocabulary(seed)
    with tempfile.TemporaryDirectory(prefix="tw-dedupe-") as tmp:
        path = Path(tmp) / "index.db"
        db = open_archive(path)
        start = time.perf_counter()
        false_matches = 0
        batch = 1000
        # the bulk of the fill in batches; the last `tail` articles one transaction each, as
        # save_article stores them, timed by part
        for first in range(1, docs - tail + 1, batch):
            db.execute("BEGIN")
            for article_id in range(first, min(first + batch, docs - tail + 1)):
                text = texts[article_id] = synthetic_doc(rng, words)
                false_matches += len(lookup_and_add(db, article_id, text))
            db.execute("COMMIT")
        clock: Counter[str] = Counter()
        for article_id in range(docs - tail + 1, docs + 1):
            text = texts[article_id] = synthetic_doc(rng, words)
            db.execute("BEGIN IMMEDIATE")
            false_matches += len(lookup_and_add(db, article_id, text, clock))
            t0 = time.perf_counter()
            db.execute("COMMIT")
            clock["commit"] += time.perf_counter() - t0
        fill = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        db.close()

        db = open_archive(path)  # a restart: nothing to rebuild, first lookup is immediate
        t0 = time.perf_counter()
        probe_ids = rng.sample(range(1, docs + 1), probes)
        recall: Counter[str] = Counter()
        candidates_seen: Counter[str] = Counter()
        query_time = 0.0
        for pid in probe_ids:
            for name, text in variants(rng, texts[pid]).items():
                normalized = normalize(text)
                q0 = time.perf_counter()
                cands = dedupe.candidates(db, dedupe.signature(normalized))
                hits = [c for c, _ in cands if dedupe.verify(normalized, normalize(texts[c])) is not None]
                query_time += time.perf_counter() - q0
                candidates_seen[name] += len(cands)
                recall[name] += pid in hits
        first_query = time.perf_counter() - t0
        db.close()

    print(f"\n== near-duplicate index: {docs:,} synthetic documents (seed {seed}),"
          f" SQLite {size_mb:.0f} MB ==")
    print(f"fill: {fill:.1f} s ({1000 * fill / docs:.2f} ms/article on average)")
    per = {k: 1000 * v / tail for k, v in clock.items()}
    print(f"insert+query at {docs - tail:,}–{docs:,} articles: "
          f"{per['compute'] + per['index']:.2f} ms/article (target ≤ 2 ms)")
    print(f"  normalise+MinHash {per['compute']:.2f} ms, band query+verify+insert {per['index']:.2f} ms;"
          f" the commit of a one-article transaction adds {per['commit']:.2f} ms")
    print(f"verified duplicates among {docs:,} fresh random documents (false positives): {false_matches}")
    print(f"after reopening: {probes} probes × 4 kinds of copy in {first_query:.1f} s "
          f"({1000 * query_time / (4 * probes):.2f} ms/query)")
    for name in recall:
        print(f"  recall {name:<24} {100 * recall[name] / probes:6.1f}%  "
              f"(candidates per query {candidates_seen[name] / probes:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--tools", type=Path, default=ROOT / ".." / "shared" / "tools")
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--tail", type=int, default=5000, help="articles timed at the end of the fill")
    parser.add_argument("--probes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-crawl", action="store_true")
    parser.add_argument("--skip-dedupe", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    if not args.skip_crawl:
        bench_crawl(args.articles, args.tools.resolve())
    if not args.skip_dedupe:
        bench_dedupe(args.docs, min(args.tail, args.docs), min(args.probes, args.docs), args.seed)


if __name__ == "__main__":
    main()
