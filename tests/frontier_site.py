"""A county portal of many distinct articles for the frontier tests, built with the demo
portal's templates (4 articles per list page, newest first) and served on 127.0.0.1.

Each article is our own short notice: a fixed opening naming its number, then
policy phrases drawn at random, so no two are near-duplicates of each other.
"""

from __future__ import annotations

import random
from pathlib import Path

import yaml
from talentwatch.cli.demo_portal.portal import PER_PAGE, build_site

PATTERN = r"/rcgz/content/post_\d+\.html$"

_PLACES = ["东城街道", "西湖镇", "南岭乡", "北山村", "青禾新区", "高新园区", "临江镇", "石门乡"]
_PHRASES = [
    "人才公寓免租入住三年", "一次性发放安家费", "博士后科研工作站", "急需紧缺专业人才", "乡村振兴人才驿站",
    "高层次人才服务专员", "青年科技人才托举", "技能人才评价改革", "柔性引才项目补助", "院士工作站建设",
    "创新创业大赛奖励", "人才子女入学保障", "医疗保健绿色通道", "职称评审直通车", "产业人才联盟",
    "校地合作实习基地", "银发人才再就业", "返乡创业贷款贴息", "人才飞地孵化", "研发投入后补助",
    "首台套产品奖励", "专家服务基层行动", "人才工作目标考核", "引才伯乐奖", "技能大师工作室",
    "企业家素质提升", "大学生见习补贴", "紧缺岗位薪酬激励", "人才档案一站式", "外国专家工作许可",
]


def make_articles(count: int, seed: int = 11, first_id: int = 7001) -> list[dict]:
    """`count` distinct notices, newest first (one a day, going back from 2026-11-20)."""
    rng = random.Random(seed)
    articles = []
    for n in range(count):
        place = _PLACES[n % len(_PLACES)]
        number = first_id + n
        phrases = [rng.choice(_PHRASES) for _ in range(24)]
        body = "，".join(phrases)
        day = 20 - (n % 20)
        month = 11 - n // 20
        articles.append({
            "id": number, "column": "rcgz",
            "title": f"{place}第{number}号人才工作通知（{rng.choice(_PHRASES)}）",
            "date": f"2026-{month:02d}-{day:02d} 09:{n % 60:02d}",
            "source": "青禾县委组织部", "author": "程远",
            "paragraphs": [
                f"为做好{place}第{number}号事项，经研究决定，现将有关安排通知如下。",
                f"{body}。",
                f"本通知自印发之日起施行，编号{number}，由{place}人才工作办公室负责解释。",
            ],
        })
    return articles


def build_portal(outdir: Path, count: int, seed: int = 11) -> list[dict]:
    """Write the portal under `outdir`; returns its articles (with their paths), newest first."""
    return build_site(outdir, make_articles(count, seed))


def list_pages_for(count: int) -> int:
    return -(-count // PER_PAGE)


def site_config(base_url: str, name: str = "qinghe", **extra) -> dict:
    return {"name": name, "start_urls": [base_url + "rcgz/index.html"], "article_pattern": PATTERN,
            "delay": 0, "revisit": None, **extra}


def write_config(path: Path, sites: list[dict], database: Path | None = None, **crawl) -> Path:
    data = {"database": str(database or path.parent / "archive.db"),
            "crawl": {"autothrottle": False, "extract_workers": 1, "timeout": 5, "retries": 0,
                      "obey_robots": False, "concurrency_per_domain": 4, **crawl},
            "sites": sites}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path
