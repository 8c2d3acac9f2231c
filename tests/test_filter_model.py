"""One filter model: search, export and the alert matcher select the same articles."""

from __future__ import annotations

from typing import Any

import pytest
from talentwatch.core.config import ConfigError, parse_config
from talentwatch.core.filters import FilterError, Filters
from talentwatch.scheduler.alerts.collect import unread
from talentwatch.storage.export import export_records
from talentwatch.storage.search import search

from tests.test_search import ARTICLES, build_archive

# places where the old rules disagreed: search took a region value as a prefix of a
# name (山 ~ 山东省), alerts as a substring of all names joined (京 ~ 南京市, 山 ~ 佛山市)
MORE: list[dict[str, Any]] = [
    dict(url="https://rsj.nanjing.example.gov.cn/n/1.html", site="njrsj",
         title="南京市高校毕业生就业创业补贴申领指南",
         published="2024-05-08", text="在宁就业创业的高校毕业生可申领租房补贴，人才驿站提供免费住宿。",
         talent=1, topics=["补贴", "住房"],
         region={"province": "江苏省", "city": "南京市", "county": "鼓楼区"}),
    dict(url="https://rsj.beijing.example.gov.cn/n/2.html", site="bjrsj",
         title="海淀区发布高精尖产业人才支持政策",
         published="2023-09-14", text="对新引进的高精尖产业人才，按贡献给予奖励，子女入学予以统筹安排。",
         talent=1, topics=["引才"], region={"province": "北京市", "city": "北京市", "county": "海淀区"}),
    dict(url="https://rsj.foshan.example.gov.cn/n/3.html", site="fsrsj", title="佛山市制造业技能人才培养计划",
         published="2024-08-30",
         text="围绕先进制造业，每年培养高技能人才一千名，给予培训补贴和技能等级认定补助。",
         talent=1, topics=["技能", "补贴"], region={"province": "广东省", "city": "佛山市"}),
    dict(url="https://rsj.jinan.example.gov.cn/n/4.html", site="jnrsj", title="济南市青年人才引进公告",
         published="2025-02-17", text="面向全国引进青年人才二百名，博士研究生一次性发放生活补贴十万元。",
         talent=1, topics=["引才", "补贴"], region={"province": "山东省", "city": "济南市"}),
    dict(url="https://rsj.nanning.example.gov.cn/n/5.html", site="nnrsj", title="南宁市人才公寓配租办法",
         published="2024-11-11", text="人才公寓优先配租给引进的高层次人才，租期三年，可续租一次。",
         talent=1, topics=["住房"], region={"province": "广西壮族自治区", "city": "南宁市"}),
]
# the repost (index 2) is left out: it raises a `duplicate` event, not `new`
ARCHIVE = [a for i, a in enumerate(ARTICLES) if i != 2] + MORE


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    db, ids = build_archive(tmp_path_factory.mktemp("filters") / "archive.db", ARCHIVE)
    return db, {i: a["url"] for i, a in zip(ids, ARCHIVE, strict=True)}


def exported(db, filters: Filters) -> set[str]:
    return {r["url"] for r in export_records(db, filters=filters)}


def alerted(db, urls: dict[int, str], filters: Filters) -> set[str]:
    """What a subscription with the same values in its config `filter:` would be sent."""
    rule: dict[str, Any] = {"sites": list(filters.sites), "topics": list(filters.topics),
                            "regions": list(filters.regions), "talent_only": filters.talent_only}
    rule.update({k: v for k, v in (("since", filters.since), ("until", filters.until)) if v})
    config = parse_config({"sites": [], "subscriptions": [
        {"name": "同一筛选", "channels": ["json://127.0.0.1:9/hook"], "filter": rule}]})
    return {urls[a.article_id] for a in unread(db, config, config.subscriptions[0])}


def urls_where(test) -> set[str]:
    return {a["url"] for a in ARCHIVE if test(a)}


def in_region(*names: str):
    return lambda a: any(n in (a.get("region") or {}).values() for n in names)


CASES = [
    (Filters(regions=("广东",)), urls_where(in_region("广东省"))),
    (Filters(regions=("京",)), set()),  # was 北京 and 南京 for alerts, nothing for search
    (Filters(regions=("山",)), set()),  # was 山东 for search; 山东 and 佛山 for alerts
    (Filters(regions=("广西",)), urls_where(in_region("广西壮族自治区"))),
    (Filters(regions=("南京", "深圳市", "海淀")), urls_where(in_region("南京市", "深圳市", "海淀区"))),
    (Filters(regions=("广东省",), topics=("技能",)), urls_where(
        lambda a: in_region("广东省")(a) and "技能" in a["topics"])),
    (Filters(sites=("rsj", "jnrsj"), talent_only=True), urls_where(
        lambda a: a["site"] in ("rsj", "jnrsj") and a["talent"] == 1)),
    (Filters(since="2024-05", until="2024", topics=("补贴", "住房")), urls_where(
        lambda a: "2024-05" <= a["published"][:7] <= "2024-12" and {"补贴", "住房"} & set(a["topics"]))),
]


@pytest.mark.parametrize(("filters", "expected"), CASES)
def test_search_export_and_alerts_select_the_same_articles(archive, filters, expected):
    db, urls = archive
    assert exported(db, filters) == expected
    assert alerted(db, urls, filters) == expected
    found = {h["url"] for h in search(db, "人才", filters=filters, all_reposts=True, limit=1000)}
    assert found == {u for u in expected if "人才" in next(a["title"] + a["text"] for a in ARCHIVE
                                                          if a["url"] == u)}


def test_region_values_match_whole_names_not_fragments():
    row = {"region": '{"province": "广东省", "city": "佛山市"}'}
    assert Filters(regions=("佛山",)).matches(row) and Filters(regions=("佛山市",)).matches(row)
    assert not Filters(regions=("佛",)).matches(row) and not Filters(regions=("山",)).matches(row)


def test_alert_filter_dates_are_checked_like_the_search_options():
    with pytest.raises(FilterError, match="--since expects a date"):
        Filters(since="2024-13")
    with pytest.raises(ConfigError, match="since"):
        parse_config({"sites": [], "subscriptions": [
            {"name": "错日期", "channels": ["json://127.0.0.1:9/"], "filter": {"since": "2024-02-30"}}]})
    with pytest.raises(ConfigError, match="since 2025 is after until 2024-06"):
        parse_config({"sites": [], "subscriptions": [
            {"name": "倒序", "channels": ["json://127.0.0.1:9/"],
             "filter": {"since": 2025, "until": "2024-06"}}]})
