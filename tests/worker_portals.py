"""Many small county portals on one local server, for the crawl-worker tests: each site
its own folder (/s01/, /s02/ …) with a paginated list and a few notices whose texts
are composed from our own sentence patterns around a roster of named people (as a 公示
notice has), so that no two articles are near-duplicates (which one of two copies counts as
the original depends on storing order)."""

from __future__ import annotations

import random
from pathlib import Path

from talentwatch.cli.demo_portal.portal import build_site

COUNTIES = ["青禾", "云岭", "白石", "临溪", "松阳", "望川", "枫桥", "南屏", "石门", "长汀",
            "清河", "梅溪", "乌沙", "桂林坪", "平湖", "西岗", "北塘", "东坝", "鹿鸣", "凤台"]
PLANS = ["英才计划", "育才工程", "聚才行动", "引凤工程", "金蓝领计划", "乡村振兴人才支持计划",
         "青年人才托举工程", "柔性引才办法", "人才安居工程", "科技特派员制度"]
WHO = ["全职引进的博士研究生", "新引进的硕士研究生", "高层次创新创业团队", "返乡创业青年",
       "高技能人才", "乡村医生", "中小学骨干教师", "农业技术推广人员", "企业首席技师", "留学回国人员"]
KINDS = ["生活补贴", "安家费", "购房补贴", "科研启动经费", "岗位津贴", "租房补贴", "一次性奖励"]
SENTENCES = [
    "{county}县近日印发《{county}县{plan}实施细则》，对{who}给予每人{amount}万元{kind}，分{years}年发放。",
    "{county}县委组织部有关负责同志介绍，今年全县已累计引进{who}{count}名，签约人才项目{projects}个。",
    "细则明确，{who}在县内工作满{years}年、考核合格的，另行发放{kind}{amount}万元，并优先推荐评选县级人才荣誉。",
    "为做好服务保障，{county}县设立人才服务窗口{count}个，为{who}提供落户、子女入学、医疗保健等“一站式”服务。",
    "{month}月{day}日，{county}县召开{plan}推进会，通报{count}家用人单位的引才成效，部署下一阶段重点任务。",
    "报名时间为2026年{month}月{day}日至2026年{month2}月{day}日，{who}可通过{county}县人才网在线提交申请材料。",
    "县财政每年安排专项资金{amount}00万元，支持{who}开展技术攻关，对取得重大成果的团队给予最高{amount}0万元奖励。",
    "{county}县将建立人才联络员制度，为每名{who}明确一名县级领导联系服务，做到一人一档、一事一办。",
]


SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢"
            "宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚")
GIVEN = "思远嘉怡子涵浩然雨桐梓萱俊杰欣悦明轩诗琪博文一诺若曦宇航晨阳佳琪志强海燕文静建华丽娟晓东秀英国栋慧敏"
MAJORS = ["新材料", "智能制造", "临床医学", "现代农业", "电子信息", "生物医药", "环境工程", "数字经济",
          "城乡规划", "食品科学", "水利工程", "中医学", "机械工程", "应用化学", "会计学", "学前教育"]


def _roster(rng: random.Random, people: int) -> str:
    """A list of named people, as a 公示 notice has: it makes each notice's text its own."""
    entries = []
    for _ in range(people):
        name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))
        entries.append(f"{name}（{rng.randint(1985, 1999)}年{rng.randint(1, 12)}月生，"
                       f"{rng.choice(MAJORS)}，拟聘{rng.randint(1, 9)}级岗位）")
    return "现将拟引进人员名单公示如下：" + "；".join(entries) + "。"


def _text(rng: random.Random, county: str) -> list[str]:
    picks = rng.sample(SENTENCES, 2)
    return [s.format(county=county, plan=rng.choice(PLANS), who=rng.choice(WHO), kind=rng.choice(KINDS),
                     amount=rng.randint(2, 98), years=rng.randint(2, 6), count=rng.randint(11, 480),
                     projects=rng.randint(3, 60), month=rng.randint(1, 9), month2=rng.randint(10, 12),
                     day=rng.randint(1, 28))
            for s in picks] + [
        _roster(rng, 30),
        f"公示期为5个工作日。公示期间如有异议，请向{county}县委组织部人才工作科反映，"
        f"联系电话：0{rng.randint(100, 999)}-{rng.randint(1000000, 9999999)}。",
    ]


def build_portals(root: Path, sites: int, articles: int = 5) -> list[str]:
    """Write `sites` portals under `root`; returns their folder names (s01, s02 …)."""
    names = []
    for i in range(1, sites + 1):
        rng = random.Random(1800 + i)
        county = COUNTIES[(i - 1) % len(COUNTIES)] + ("" if i <= len(COUNTIES) else str(i))
        items = []
        for j in range(articles):
            plan = rng.choice(PLANS)
            items.append({
                "id": 6000 + i * 100 + j,  # unique over all sites: an article's stable key is its id
                "column": "rcgz",
                "title": f"{county}县{plan}第{j + 1}号公告：{rng.choice(WHO)}{rng.choice(KINDS)}申报工作启动",
                "date": f"2026-{10 + j % 2:02d}-{(i + 3 * j) % 27 + 1:02d} 09:{j:02d}",
                "source": f"{county}县委组织部",
                "author": rng.choice(["林晓舟", "赵一帆", "周雨桐", "陈默", "许嘉言"]),
                "paragraphs": _text(rng, county),
            })
        name = f"s{i:02d}"
        build_site(root / name, items)
        names.append(name)
    return names


def portal_sites(base: str, names: list[str], **extra) -> list[dict]:
    """Site entries of config.yaml for the portals at `base` (the server's root URL)."""
    return [{"name": f"portal-{name}", "start_urls": [f"{base}{name}/rcgz/index.html"],
             "article_pattern": rf"/{name}/rcgz/content/post_\d+\.html$", "delay": 0, **extra}
            for name in names]
