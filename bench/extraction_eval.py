"""Extraction benchmark: talentwatch's extractor against trafilatura alone, side by side.

    python bench/extraction_eval.py [EVAL_DIR] [--pages] [--json]

EVAL_DIR defaults to ../shared/eval-data relative to the repo root. It reads:
- cwced/: 69 raw pages with hand gold (body, date, author). Metric (see its
  README): character 4-grams of the body, whitespace removed, as multisets ->
  precision, recall, F1 per page, averaged over all pages (no output scores 0);
  publication day right on the pages whose gold date has a day; author right
  (whitespace-insensitive exact match) on the pages with a gold author.
- gdzz-list/: a real NFCMS list page and its expected parse (title, url, date).
- trafilatura-zh/: snippets that must / must not appear.

Both extractors get the same text: raw bytes decoded by crawler.decode (the
crawler's decoding). The URL given to both is the page's own URL where the
dataset records it (a crawler always knows it), else a placeholder.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
from talentwatch.core.profiles import get_profile  # noqa: E402
from talentwatch.core.records import Page  # noqa: E402
from talentwatch.crawler.decode import decode_html  # noqa: E402
from talentwatch.crawler.extract import extract  # noqa: E402
from talentwatch.crawler.listing import parse_list  # noqa: E402

_WS = re.compile(r"\s+")
_URL_WRAPPER = re.compile(r'^\s*<text id="(https?://[^"]+)"')
_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def grams(text: str, n: int = 4) -> Counter[str]:
    flat = _WS.sub("", text or "")
    return Counter(flat[i:i + n] for i in range(len(flat) - n + 1))


def prf(pred: str, gold: str) -> tuple[float, float, float]:
    p_grams, g_grams = grams(pred), grams(gold)
    if not p_grams or not g_grams:
        return 0.0, 0.0, 0.0
    overlap = sum((p_grams & g_grams).values())
    p = overlap / sum(p_grams.values())
    r = overlap / sum(g_grams.values())
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def day(value: str | None) -> str | None:
    if value and (m := _DAY.search(value)):
        return f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}"
    return None


def norm_author(value: str | None) -> str:
    return _WS.sub("", value or "")


def ours(html: str, url: str) -> dict:
    article = extract(Page(url=url, site="eval", html=html))
    return {"text": article.text, "date": article.published, "author": article.author}


def baseline(html: str, url: str) -> dict:
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if doc is None:
        return {"text": "", "date": None, "author": None}
    return {"text": doc.text or "", "date": doc.date, "author": doc.author}


SYSTEMS = {"talentwatch": ours, "trafilatura": baseline}


def eval_cwced(base: Path, show_pages: bool) -> dict:
    gold_text = json.loads((base / "eval/cleaned_ground.json").read_text("utf-8"))
    gold_date = json.loads((base / "eval/date_ground.json").read_text("utf-8"))
    gold_author = json.loads((base / "eval/author_ground.json").read_text("utf-8"))
    with open(base / "INDEX.tsv", encoding="utf-8") as fh:
        ids = [row["id"] for row in csv.DictReader(fh, delimiter="\t")]
    pages = []
    for pid in ids:
        raw = (base / "original" / f"{pid}.html").read_bytes()
        _, html = decode_html(raw)
        m = _URL_WRAPPER.match(html[:2000])
        pages.append((pid, html, m[1] if m else f"http://eval.invalid/{pid}.html"))

    results = {}
    for name, fn in SYSTEMS.items():
        totals = [0.0, 0.0, 0.0]
        dates_ok = dates_n = authors_ok = authors_n = 0
        elapsed = 0.0
        rows = []
        for pid, html, url in pages:
            start = time.perf_counter()
            out = fn(html, url)
            elapsed += time.perf_counter() - start
            p, r, f = prf(out["text"], gold_text[pid]["articleBody"])
            totals = [totals[0] + p, totals[1] + r, totals[2] + f]
            gd = day(gold_date[pid]["articleBody"])
            date_ok = None
            if gd:
                dates_n += 1
                date_ok = day(out["date"]) == gd
                dates_ok += date_ok
            ga = gold_author[pid]["articleBody"].strip()
            author_ok = None
            if ga and ga != "UNKNOWN":
                authors_n += 1
                author_ok = norm_author(out["author"]) == norm_author(ga)
                authors_ok += author_ok
            rows.append((pid, p, r, f, gd, out["date"], date_ok, ga, out["author"], author_ok))
        n = len(pages)
        results[name] = {
            "precision": totals[0] / n, "recall": totals[1] / n, "f1": totals[2] / n,
            "dates": f"{dates_ok}/{dates_n}", "authors": f"{authors_ok}/{authors_n}",
            "seconds_per_page": elapsed / n,
        }
        if show_pages:
            print(f"\n# {name}: per page (id P R F1 | gold date, got | gold author, got)")
            for pid, p, r, f, gd, od, dok, ga, oa, aok in rows:
                print(f"{pid[:8]} {p:.3f} {r:.3f} {f:.3f} | {gd} {od} {'' if dok is None else dok}"
                      f" | {ga} {oa} {'' if aok is None else aok}")
    return results


def eval_gdzz_list(base: Path) -> dict:
    results = {}
    for html_path in sorted(base.glob("*.html")):
        expected = json.loads(html_path.with_name(html_path.stem + ".expected.json").read_text("utf-8"))
        html = html_path.read_text("utf-8")
        article_re = re.compile(r"/content/post_\d+\.html$")
        for name, profile in (("talentwatch gdzz", get_profile("gdzz")),
                              ("talentwatch generic", get_profile("generic"))):
            parsed = parse_list(html, expected["source_url"], article_re, profile)
            got = {(i.url, i.title, i.date) for i in parsed.items}
            want = [(i["url"], i["title"], i["date"]) for i in expected["items"]]
            ok = sum(1 for w in want if w in got)
            results[name] = {"items_right": f"{ok}/{len(want)}", "items_parsed": len(parsed.items),
                             "next_pages": parsed.next_pages}
    return results


def eval_trafilatura_zh(base: Path) -> dict:
    expectations = json.loads((base / "expectations.json").read_text("utf-8"))
    results = {}
    for name, fn in SYSTEMS.items():
        ok = total = dates_ok = 0
        for url, exp in expectations.items():
            path = base / exp["file"]
            if not path.exists():
                continue
            _, html = decode_html(path.read_bytes())
            out = fn(html, url)
            for snippet in exp.get("with", []):
                total += 1
                ok += snippet in out["text"]
            for snippet in exp.get("without", []):
                total += 1
                ok += snippet not in out["text"]
            dates_ok += day(out["date"]) == day(exp.get("date"))
        results[name] = f"{ok}/{total} snippets, dates {dates_ok}/{len(expectations)}"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", nargs="?", default=str(ROOT.parent / "shared" / "eval-data"))
    parser.add_argument("--pages", action="store_true", help="print per-page figures")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    base = Path(args.eval_dir)
    if not (base / "cwced").is_dir():
        parser.error(f"{base}: no cwced/ here; pass the eval-data directory")
    figures = {"cwced": eval_cwced(base / "cwced", args.pages)}
    if (base / "gdzz-list").is_dir():
        figures["gdzz_list"] = eval_gdzz_list(base / "gdzz-list")
    if (base / "trafilatura-zh").is_dir():
        figures["trafilatura_zh_snippets"] = eval_trafilatura_zh(base / "trafilatura-zh")
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=1))
        return
    print("\ncwced (69 pages)            P      R      F1     dates   authors  s/page")
    for name, r in figures["cwced"].items():
        print(f"  {name:<22} {r['precision']:.3f}  {r['recall']:.3f}  {r['f1']:.3f}  {r['dates']:>6}"
              f"  {r['authors']:>7}  {r['seconds_per_page']:.3f}")
    for name, r in figures.get("gdzz_list", {}).items():
        print(f"gdzz list, {name}: {r['items_right']} items right ({r['items_parsed']} parsed), "
              f"next pages {r['next_pages']}")
    for name, r in figures.get("trafilatura_zh_snippets", {}).items():
        print(f"trafilatura-zh snippets, {name}: {r}")


if __name__ == "__main__":
    main()
