"""Measure relevance on the labelled set: precision, recall, confusions, regions,
deadlines, and incentive extraction on labelled offer sentences.

    python bench/relevance_eval.py [--data tests/data/relevance] [--config config.yaml]
                                   [--eval-data ../shared/eval-data]

With eval-data present it also counts how many of the 69 general Chinese web pages
of cwced (forums, blogs, news; none of them talent policy) would be flagged.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from talentwatch.core.records import Article  # noqa: E402
from talentwatch.relevance import Classifier, RelevanceConfig  # noqa: E402
from talentwatch.relevance.incentives import extract_sentence  # noqa: E402

FIELDS = ("type", "amount_min", "amount_max", "period")


def load_items(data: Path) -> list[dict]:
    return yaml.safe_load((data / "items.yaml").read_text(encoding="utf-8"))


def load_offers(data: Path) -> list[dict]:
    return yaml.safe_load((data / "offers.yaml").read_text(encoding="utf-8"))


def to_article(item: dict) -> Article:
    return Article(url=f"labelled:{item['id']}", site=item.get("site", "labelled"),
                   title=item.get("title", ""), source=item.get("source"), text=item.get("text", ""),
                   published=item.get("published"))


def offer_key(offer: dict) -> tuple:
    return tuple(offer.get(f) for f in FIELDS)


def evaluate_items(classifier: Classifier, items: list[dict]) -> dict:
    tp = fp = fn = tn = 0
    wrong: list[str] = []
    region_ok = region_n = deadline_ok = deadline_n = 0
    region_wrong: list[str] = []
    started = time.perf_counter()
    for item in items:
        article = to_article(item)
        classifier.classify(article)
        gold = bool(item["talent"])
        if article.talent and gold:
            tp += 1
        elif article.talent:
            fp += 1
        elif gold:
            fn += 1
        else:
            tn += 1
        if article.talent != gold:
            why = "; ".join(f"{k}: {', '.join(v[:5])}" for k, v in article.matched_terms.items())
            why = why or "no terms"
            kind = "false positive" if article.talent else "false negative"
            wrong.append(f"  {item['id']} {kind} score {article.score}: {item['title']}\n      {why}")
        if "region" in item:
            region_n += 1
            if article.region == (item["region"] or {}):
                region_ok += 1
            else:
                region_wrong.append(f"  {item['id']} expected {item['region']} got {article.region}")
        if "deadline" in item:
            deadline_n += 1
            deadline_ok += article.deadline == item["deadline"]
    elapsed = time.perf_counter() - started
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return dict(tp=tp, fp=fp, fn=fn, tn=tn, precision=precision, recall=recall, wrong=wrong,
                region_ok=region_ok, region_n=region_n, region_wrong=region_wrong,
                deadline_ok=deadline_ok, deadline_n=deadline_n, seconds=elapsed)


def evaluate_offers(offers: list[dict]) -> dict:
    right = target_right = target_n = 0
    wrong: list[str] = []
    for case in offers:
        got = extract_sentence(case["text"])
        gold = case.get("offers") or []
        if sorted(map(offer_key, got), key=str) == sorted(map(offer_key, gold), key=str):
            right += 1
            for g, o in zip(sorted(gold, key=lambda x: str(offer_key(x))),
                            sorted(got, key=lambda x: str(offer_key(x))), strict=True):
                if "target" in g:
                    target_n += 1
                    target_right += g["target"] == o["target"]
        else:
            wrong.append(f"  {case['text']}\n      expected {[offer_key(g) for g in gold]}\n"
                         f"      got      {[offer_key(o) for o in got]}")
    return dict(right=right, n=len(offers), wrong=wrong, target_right=target_right, target_n=target_n)


def flagged_web_pages(classifier: Classifier, eval_data: Path) -> tuple[int, int, list[str]] | None:
    gold = eval_data / "cwced" / "eval" / "cleaned_ground.json"
    if not gold.exists():
        return None
    pages = json.loads(gold.read_text(encoding="utf-8"))
    flagged = []
    for page_id, body in pages.items():
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        article = Article(url=page_id, site="cwced", text=text)
        classifier.classify(article)
        if article.talent:
            flagged.append(f"  {page_id} score {article.score}: {article.matched_terms}")
    return len(flagged), len(pages), flagged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "relevance")
    parser.add_argument("--config", type=Path, help="config.yaml whose relevance section to use")
    parser.add_argument("--eval-data", type=Path, default=ROOT.parent / "shared" / "eval-data")
    args = parser.parse_args()
    config = None
    if args.config:
        from talentwatch.core.config import load_config
        config = load_config(args.config).relevance
    classifier = Classifier(config if isinstance(config, RelevanceConfig) else None)
    items = load_items(args.data)
    r = evaluate_items(classifier, items)
    print(f"labelled items: {len(items)} ({r['tp'] + r['fn']} talent, {r['fp'] + r['tn']} not)")
    print(f"precision {r['precision']:.3f}  recall {r['recall']:.3f}  "
          f"(tp {r['tp']}, fp {r['fp']}, fn {r['fn']}, tn {r['tn']})")
    print(f"classified in {r['seconds']:.2f} s ({1000 * r['seconds'] / len(items):.1f} ms/item)")
    print("confusions:" if r["wrong"] else "confusions: none")
    print("\n".join(r["wrong"]))
    print(f"regions right: {r['region_ok']}/{r['region_n']}")
    if r["region_wrong"]:
        print("\n".join(r["region_wrong"]))
    print(f"deadlines right: {r['deadline_ok']}/{r['deadline_n']}")
    o = evaluate_offers(load_offers(args.data))
    print(f"incentive sentences right (type, amounts, period): {o['right']}/{o['n']} = "
          f"{o['right'] / o['n']:.3f}")
    if o["target_n"]:
        print(f"targets right where labelled: {o['target_right']}/{o['target_n']}")
    if o["wrong"]:
        print("incentive misses:")
        print("\n".join(o["wrong"]))
    web = flagged_web_pages(classifier, args.eval_data)
    if web is not None:
        print(f"general web pages (cwced) flagged as talent policy: {web[0]}/{web[1]}")
        if web[2]:
            print("\n".join(web[2]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
