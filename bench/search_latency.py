"""Search latency on a synthetic archive (default 100k articles).

    python bench/search_latency.py [--articles 100000] [--db /tmp/tw-bench-100000.db]
                                   [--rebuild] [--repeat 5] [--compare]

Builds (once; reused while the article count and seed match) an archive of
generated county/city talent-policy news — titles, bodies of ~0.6–1.6k
characters, sites, dates over ten years, repost clusters, talent flags, topics
and regions — through storage.search.index_article, the function save_article
calls. Then prints p50/p95 of storage.search.search (top 20, one hit per
cluster, snippets included) for one-, two- and four-character queries and a
filtered query. --compare also builds the two alternatives the design weighed
(one token per Han character with phrase queries; trigram with a LIKE fallback
for shorter words) in side tables and times how long each takes to find every
match of the same words.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from talentwatch.storage.filters import Filters  # noqa: E402
from talentwatch.storage.schema import open_archive  # noqa: E402
from talentwatch.storage.search import article_body, index_article, search  # noqa: E402

PROVINCES = {
    "广东省": {"广州市": ["天河区", "番禺区", "从化区"], "深圳市": ["南山区", "龙岗区", "宝安区"],
             "潮州市": ["湘桥区", "潮安区", "饶平县"], "韶关市": ["乐昌市", "南雄市", "仁化县"],
             "梅州市": ["梅县区", "兴宁市", "大埔县"]},
    "浙江省": {"杭州市": ["西湖区", "余杭区", "桐庐县"], "宁波市": ["鄞州区", "慈溪市", "象山县"]},
    "江苏省": {"南京市": ["江宁区", "浦口区"], "苏州市": ["昆山市", "常熟市", "吴江区"]},
    "四川省": {"成都市": ["武侯区", "郫都区", "金堂县"], "绵阳市": ["涪城区", "江油市"]},
    "湖南省": {"长沙市": ["岳麓区", "浏阳市"], "湘潭市": ["湘乡市", "韶山市"]},
}
PROGRAMS = ["珠江人才计划", "扬帆计划", "青年拔尖人才支持计划", "高层次人才引进工程", "乡村振兴人才驿站",
            "博士后创新实践基地", "技能人才培养工程", "海外高层次人才引进计划", "卫生健康人才强基工程",
            "名师名校长培养工程", "产业领军人才计划", "大学生返乡创业行动"]
TALENT_KINDS = ["高层次人才", "博士研究生", "硕士研究生", "高校毕业生", "技能人才", "医疗卫生人才",
                "教育人才", "青年科技人才", "乡村工匠", "退役军人", "海外留学人员", "博士后研究人员"]
INCENTIVES = [("安家补贴", "万元"), ("购房补贴", "万元"), ("生活补贴", "元/月"), ("科研启动经费", "万元"),
              ("租房补贴", "元/月"), ("一次性奖励", "万元"), ("创业扶持资金", "万元"), ("人才公寓", "套")]
ORGS = ["县委组织部", "市委人才工作领导小组办公室", "人力资源和社会保障局", "区委组织部", "科技局",
        "教育局", "卫生健康局", "工业和信息化局", "团市委", "市场监督管理局"]
GENERAL = [
    "会议强调，要坚持党管人才原则，完善人才工作体制机制，营造识才爱才敬才用才的良好环境。",
    "近年来，该区深入实施人才强区战略，人才总量稳步增长，结构持续优化。",
    "会议传达学习了上级有关文件精神，研究部署下一阶段重点工作。",
    "各级党组织要切实扛起主体责任，推动党建工作与业务工作深度融合。",
    "活动现场气氛热烈，参会人员纷纷表示收获很大，将把所学所悟运用到实际工作中。",
    "下一步，将持续优化营商环境，推动产业链、创新链、人才链深度融合。",
    "据统计，全年共举办招聘活动三十余场，提供就业岗位一万余个。",
    "该项目已完成可行性研究，预计明年上半年开工建设，总投资约十二亿元。",
    "与会人员围绕基层治理、乡村振兴、生态保护等议题开展交流讨论。",
    "县委常委、组织部部长出席会议并讲话，对做好干部教育培训工作提出明确要求。",
    "本次培训采取专题讲座、现场教学、分组研讨相结合的方式进行。",
    "他指出，要以更大力度推进科技创新平台建设，打造区域创新高地。",
    "此次座谈会邀请了企业代表、专家学者和基层干部共同参与。",
    "通过“线上+线下”相结合的方式，进一步扩大政策宣传覆盖面。",
    "全体党员干部要增强“四个意识”、坚定“四个自信”、做到“两个维护”。",
    "严格落实意识形态工作责任制，加强网络舆情监测和处置。",
    "今年以来，累计走访企业二百余家，帮助解决实际困难和问题八十余个。",
    "该镇积极探索“党建+”模式，推动特色农业、文化旅游融合发展。",
]
TALENT_SENTENCES = [
    "对新引进的{kind}，给予最高{amount}{unit}{incentive}，分{years}年发放。",
    "入选{program}的人才，可申请{incentive}，标准为每人{amount}{unit}。",
    "{org}负责{kind}的认定和{incentive}的审核发放工作。",
    "申报截止时间为{year}年{month}月{day}日，逾期不予受理。",
    "符合条件的{kind}可享受子女入学、配偶就业、医疗保障等配套服务。",
    "{city}{county}计划{years}年内引进{kind}{count}名以上，打造人才集聚高地。",
    "对在{city}全职工作的{kind}，按照每月{amount}{unit}的标准发放{incentive}。",
    "经个人申报、单位推荐、专家评审等程序，确定{count}名人选为{program}支持对象。",
]
TOPICS = ["引才", "补贴", "住房", "创业", "博士后", "技能", "医疗卫生", "教育", "乡村振兴", "评审"]
SITES = [f"site{i:02d}.gov.cn" for i in range(24)]


def make_article(rng: random.Random, n: int) -> dict:
    province = rng.choice(list(PROVINCES))
    city = rng.choice(list(PROVINCES[province]))
    county = rng.choice(PROVINCES[province][city])
    talent = rng.random() < 0.45
    year = rng.choice(range(2015, 2026))
    published = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    slots = dict(kind=rng.choice(TALENT_KINDS), program=rng.choice(PROGRAMS), org=rng.choice(ORGS),
                 city=city, county=county, year=year + 1, month=rng.randint(1, 12), day=rng.randint(1, 28),
                 years=rng.choice([2, 3, 5]), count=rng.choice([10, 20, 50, 100, 300]))
    incentive, unit = rng.choice(INCENTIVES)
    slots.update(incentive=incentive, unit=unit, amount=rng.choice([1, 2, 5, 10, 20, 50, 100, 1500, 3000]))
    if talent:
        title = rng.choice([
            "{city}{county}出台{kind}{incentive}实施办法", "关于申报{year}年度{program}的通知",
            "{county}召开人才工作会议 部署{kind}引进工作", "{city}发布{kind}{incentive}政策解读",
            "{org}关于开展{kind}认定工作的公告"]).format(**slots)
    else:
        title = rng.choice([
            "{county}召开党建工作推进会", "{city}开展基层干部教育培训", "{county}举行重点项目集中开工仪式",
            "{org}深入开展调查研究", "{city}{county}推进乡村振兴示范带建设"]).format(**slots)
    sentences = []
    target = rng.randint(600, 1600)
    length = 0
    while length < target:
        if talent and rng.random() < 0.45:
            template = rng.choice(TALENT_SENTENCES)
            sentence = template.format(**slots)
            incentive, unit = rng.choice(INCENTIVES)
            slots.update(kind=rng.choice(TALENT_KINDS), incentive=incentive, unit=unit)
        else:
            sentence = rng.choice(GENERAL)
        sentences.append(sentence)
        length += len(sentence)
    paragraphs = ["".join(sentences[i:i + 4]) for i in range(0, len(sentences), 4)]
    topics = sorted(rng.sample(TOPICS, rng.randint(1, 3))) if talent else []
    return {
        "url": f"https://{rng.choice(SITES)}/art/{n}.html", "title": title, "published": published,
        "text": "\n".join(paragraphs), "talent": int(talent), "topics": topics,
        "region": {"province": province, "city": city, "county": county},
    }


def build(path: Path, count: int, seed: int) -> None:
    import json

    from talentwatch.storage.db import transaction

    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    db = open_archive(path)
    rng = random.Random(seed)
    started = time.perf_counter()
    index_time = 0.0
    batch = 2000
    for first in range(0, count, batch):
        with transaction(db):
            for n in range(first, min(count, first + batch)):
                art = make_article(rng, n)
                # ~10% are reposts of an earlier article: same text, another site
                repost_of = rng.randrange(1, n + 1) if n > 10 and rng.random() < 0.10 else None
                if repost_of:
                    orig = db.execute("SELECT title, text, published, talent, topics, region FROM articles"
                                      " WHERE id = ?", [repost_of]).fetchone()
                    art.update(title=orig[0], text=orig[1], published=orig[2], talent=orig[3],
                               topics=json.loads(orig[4]), region=json.loads(orig[5]))
                cur = db.execute(
                    "INSERT INTO articles (url, canonical_url, site, title, published, text, attachments,"
                    " flags, first_seen, last_seen, version, status, duplicate_of, talent, topics, region)"
                    " VALUES (?, ?, ?, ?, ?, ?, '[]', '[]', ?, ?, 1, 'active', ?, ?, ?, ?)",
                    [art["url"], art["url"], art["url"].split("/")[2], art["title"], art["published"],
                     art["text"], art["published"], art["published"], repost_of, art["talent"],
                     json.dumps(art["topics"], ensure_ascii=False),
                     json.dumps(art["region"], ensure_ascii=False)])
                t0 = time.perf_counter()
                index_article(db, cur.lastrowid, art["title"], article_body(art["text"], "[]"))
                index_time += time.perf_counter() - t0
        print(f"\r  built {min(count, first + batch):,}/{count:,}", end="", file=sys.stderr, flush=True)
    db.execute("CREATE TABLE IF NOT EXISTS bench_meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT OR REPLACE INTO bench_meta VALUES ('spec', ?)", [f"{count}:{seed}"])
    db.conn.commit()
    print(f"\n  built in {time.perf_counter() - started:.0f} s; index_article {index_time / count * 1000:.2f}"
          f" ms per article", file=sys.stderr)


ONE = ["人", "才", "补", "博", "县", "镇", "贴", "岗", "创", "医"]
TWO = ["人才", "补贴", "租房", "博士", "引进", "创业", "乡村", "医疗", "公寓", "申报",
       "党建", "韶山", "饶平", "奖励", "驿站", "工匠", "评审", "舆情", "入学", "开工"]
FOUR = ["人才引进", "购房补贴", "安家补贴", "乡村振兴", "高校毕业", "博士后研", "技能人才", "创新平台",
        "子女入学", "人才公寓", "珠江人才", "基层治理", "逾期不予", "扬帆计划", "生活补贴", "海外留学"]
FILTERED = [("补贴", Filters(sites=("site03.gov.cn",), since="2022", talent_only=True)),
            ("人才引进", Filters(regions=("广东",), since="2020-01", until="2024-12")),
            ("博士", Filters(topics=("补贴",), talent_only=True)),
            ("公寓", Filters(sites=("site07.gov.cn", "site11.gov.cn"), regions=("深圳",)))]


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return f"p50 {statistics.median(samples) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   (n={len(samples)})"


def time_queries(fn, queries, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for q in queries:
            t0 = time.perf_counter()
            fn(q)
            out.append(time.perf_counter() - t0)
    return out


def compare(db, repeat: int) -> None:
    """The alternatives, timed on the same words: top-20 by bm25, like search's core."""
    from talentwatch.storage.query import normalize

    tables = db.table_names()
    if "bench_fts_uni" not in tables or "bench_fts_tri" not in tables:
        print("  building comparison indexes (one token per Han character; trigram)…", file=sys.stderr)
        import re
        han = re.compile(r"([\u3400-\u9fff])")
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS bench_fts_uni USING fts5(title, body,"
                   " tokenize='unicode61 remove_diacritics 2')")
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS bench_fts_tri USING fts5(title, body,"
                   " tokenize='trigram')")
        db.conn.execute("BEGIN")
        for rid, title, text in db.execute("SELECT id, title, text FROM articles").fetchall():
            db.execute("INSERT INTO bench_fts_uni (rowid, title, body) VALUES (?, ?, ?)",
                       [rid, han.sub(r" \1 ", title), han.sub(r" \1 ", text)])
            db.execute("INSERT INTO bench_fts_tri (rowid, title, body) VALUES (?, ?, ?)",
                       [rid, normalize(title), normalize(text)])
        db.conn.execute("COMMIT")

    # each design finds every match of the word (count(*)): the work any ranking,
    # filter or cluster step starts from
    def uni(q: str) -> None:
        phrase = '"' + " ".join(q) + '"'
        db.execute("SELECT count(*) FROM bench_fts_uni WHERE bench_fts_uni MATCH ?", [phrase]).fetchall()

    def tri(q: str) -> None:
        if len(q) >= 3:
            db.execute("SELECT count(*) FROM bench_fts_tri WHERE bench_fts_tri MATCH ?",
                       ['"' + q + '"']).fetchall()
        else:  # the trigram index cannot answer: scan
            db.execute("SELECT count(*) FROM bench_fts_tri WHERE title LIKE ? OR body LIKE ?",
                       [f"%{q}%"] * 2).fetchall()

    def pairs(q: str) -> None:
        from talentwatch.storage.query import to_match
        db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", [to_match(q)]).fetchall()

    for name, fn in (("character pairs (chosen)", pairs), ("one token per Han char", uni),
                     ("trigram + LIKE fallback", tri)):
        print(f"  {name}:")
        for label, queries in (("1 char", ONE), ("2 chars", TWO), ("4 chars", FOUR)):
            print(f"    {label:8} {percentiles(time_queries(fn, queries, max(1, repeat // 2)))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, default=None, help="archive to build or reuse")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each query")
    parser.add_argument("--compare", action="store_true", help="also time the rejected index designs")
    args = parser.parse_args()
    path = args.db or Path(f"/tmp/tw-bench-{args.articles}-{args.seed}.db")
    spec = f"{args.articles}:{args.seed}"
    db = open_archive(path) if path.exists() and not args.rebuild else None
    if db is None or "bench_meta" not in db.table_names() or \
            db.execute("SELECT value FROM bench_meta WHERE key = 'spec'").fetchone()[0] != spec:
        print(f"building {args.articles:,} articles in {path}", file=sys.stderr)
        build(path, args.articles, args.seed)
        db = open_archive(path)
    count = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    print(f"archive: {path} ({count:,} articles, {size:,.0f} MiB)")
    for q in ONE + TWO + FOUR:  # warm the page cache, as a running server would be
        search(db, q)
    print("search() top 20, one hit per cluster, with snippets:")
    for label, queries in (("1 char", ONE), ("2 chars", TWO), ("4 chars", FOUR)):
        print(f"  {label:9} {percentiles(time_queries(lambda q: search(db, q), queries, args.repeat))}")
    filtered = time_queries(lambda qf: search(db, qf[0], filters=qf[1]), FILTERED, args.repeat * 3)
    print(f"  {'filtered':9} {percentiles(filtered)}")
    if args.compare:
        print("index designs compared (finding every match: count(*)):")
        compare(db, args.repeat)


if __name__ == "__main__":
    main()
