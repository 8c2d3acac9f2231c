"""Relevance: talent or not, topics with their terms, regions, incentives, deadlines."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from talentwatch.core.config import ConfigError, parse_config
from talentwatch.core.records import Article
from talentwatch.relevance import Classifier, RelevanceConfig
from talentwatch.relevance.deadline import find_deadline
from talentwatch.relevance.incentives import extract_incentives, extract_sentence
from talentwatch.relevance.region import detect_region

DATA = Path(__file__).parent / "data" / "relevance"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


def offer(sentence: str) -> list[tuple]:
    return [(o["type"], o["amount_min"], o["amount_max"], o["period"], o["target"])
            for o in extract_sentence(sentence)]


# --- incentives: every form the issue names -----------------------------------------

def test_monthly_living_subsidy_in_wan_yuan():
    assert offer("对来本县创新创业的顶尖人才每人每月给予2万元生活补贴") == [
        ("生活补贴", 20000, 20000, "每月", "顶尖人才")]


def test_percentage_cap_is_not_an_amount_but_the_maximum_is():
    assert offer("支持企业与高校开展产学研合作，按不超过20%、最高50万元予以研发经费补助") == [
        ("科研经费", None, 500000, None, None)]


@pytest.mark.parametrize("sentence, low, high", [
    ("对新引进的硕士研究生每人每月给予1000至3000元租房补贴", 1000, 3000),
    ("对新引进的硕士研究生每人每月给予1000-3000元租房补贴", 1000, 3000),
    ("对新引进的硕士研究生每人每月给予1万至3万元租房补贴", 10000, 30000),
    ("对新引进的硕士研究生每人每月给予5千至1万元租房补贴", 5000, 10000),
])
def test_ranges_in_yuan_qian_and_wan(sentence, low, high):
    assert offer(sentence) == [("租房补贴", low, high, "每月", "硕士")]


def test_upper_and_lower_bounds():
    assert offer("博士研究生首次购房的，给予最高15万元购房补贴") == [("购房补贴", None, 150000, None, "博士")]
    assert offer("给予不超过8千元安家费") == [("安家费", None, 8000, None, None)]
    assert offer("享受不低于10万元的安家费") == [("安家费", 100000, None, None, None)]


@pytest.mark.parametrize("sentence, period", [
    ("进站博士后每年给予10万元生活补贴", "每年"),
    ("进站博士后每月给予3000元生活补贴", "每月"),
    ("进站博士后一次性给予5万元生活补贴", "一次性"),
    ("进站博士后给予3000元/月的生活补贴", "每月"),
])
def test_periods(sentence, period):
    assert offer(sentence) == [("生活补贴", *{"每年": (100000, 100000), "每月": (3000, 3000),
                                             "一次性": (50000, 50000)}[period], period, "博士后")]


def test_targets_split_a_shared_offer():
    assert offer("引进的博士每人每月3000元、硕士2000元生活补贴") == [
        ("生活补贴", 3000, 3000, "每月", "博士"), ("生活补贴", 2000, 2000, "每月", "硕士")]
    assert offer("本科毕业生给予2万元生活补贴，硕士研究生3万元") == [
        ("生活补贴", 20000, 20000, None, "本科"), ("生活补贴", 30000, 30000, None, "硕士")]


@pytest.mark.parametrize("sentence, kind", [
    ("给予10万元安家费", "安家费"),
    ("给予100万元科研启动经费", "科研经费"),
    ("一等奖给予5万元奖励", "奖励"),
    ("给予20万元购房补贴", "购房补贴"),
    ("给予1500元租房补贴", "租房补贴"),
])
def test_types(sentence, kind):
    assert [o[0] for o in offer(sentence)] == [kind]


def test_housing_offer_without_a_sum_is_kept():
    assert offer("新引进的博士可免费入住人才公寓三年") == [("人才公寓", None, None, None, "博士")]


def test_totals_and_investments_are_not_offers():
    assert offer("总投资62.23亿元") == []
    assert offer("去年累计兑现人才奖补资金3600万元") == []
    assert offer("对年薪50万元以上的领军人才给予奖励") == [("奖励", None, None, None, "领军人才")]
    assert extract_incentives("全市新引进高层次人才2600余人。") == []


def test_offer_keeps_its_sentence_and_unit():
    found = extract_incentives("县里出台新政。对引进的博士给予安家费20万元。其他内容。")
    assert found == [{"type": "安家费", "amount_min": 200000, "amount_max": 200000, "unit": "元",
                      "period": None, "target": "博士", "text": "对引进的博士给予安家费20万元"}]


def test_labelled_offer_sentences_meet_the_target():
    cases = yaml.safe_load((DATA / "offers.yaml").read_text(encoding="utf-8"))
    assert len(cases) >= 30
    key = ("type", "amount_min", "amount_max", "period")
    right = sum(
        sorted((tuple(o[k] for k in key) for o in extract_sentence(c["text"])), key=str)
        == sorted((tuple(o.get(k) for k in key) for o in c["offers"] or []), key=str)
        for c in cases)
    assert right / len(cases) >= 0.9


# --- deadlines -----------------------------------------------------------------------

def test_deadline_of_a_recruitment_notice():
    assert find_deadline("报名时间：2024年3月1日至3月15日17:00，逾期不予受理。") == "2024-03-15"
    assert find_deadline("报名截止2024年9月20日。") == "2024-09-20"
    assert find_deadline("请于4月30日前将报名表报送至人才办。", "2024-04-02") == "2024-04-30"


def test_statistics_dates_are_not_deadlines():
    assert find_deadline("截至2023年底，全市已引进各类人才1.2万人。") is None
    assert find_deadline("会议于2024年3月13日召开。") is None


# --- talent or not -------------------------------------------------------------------

def test_talent_item_gets_topics_and_the_terms_behind_them(classifier):
    article = Article(url="u1", site="s", title="怀宁县出台促进青年人才集聚十条措施",
                      source="怀宁县委组织部",
                      text="对新引进的硕士研究生每人每月给予1000至3000元租房补贴。博士研究生首次购房的，"
                           "给予最高15万元购房补贴。报名截止2024年3月15日。")
    classifier.classify(article)
    assert article.talent is True
    assert "人才补贴与待遇" in article.topics
    assert {"租房补贴", "购房补贴"} <= set(article.matched_terms["人才补贴与待遇"])
    assert [o["type"] for o in article.incentives] == ["租房补贴", "购房补贴"]
    assert article.deadline == "2024-03-15"
    assert article.region == {"province": "安徽省", "city": "安庆市", "county": "怀宁县"}


def test_cadre_evaluation_item_is_not_talent(classifier):
    article = Article(url="u2", site="s", title="注重一线考核评价 激励干部担当作为",
                      source="中共岳西县委组织部",
                      text="岳西县坚持在斗争一线考察识别干部，组织开展干部政治素质考核测评，测评结果作为"
                           "选拔任用的重要依据，提拔重用干部216人，每年设立100万元关心关爱干部帮扶基金。")
    classifier.classify(article)
    assert article.talent is False
    assert article.topics == []
    assert "考察识别" in article.matched_terms["negative"]
    assert article.incentives == [] and article.deadline is None


def test_party_building_and_discipline_items_are_not_talent(classifier):
    for title, text in [
        ("抓党建促基层治理", "规范三会一课、主题党日等组织生活，整顿软弱涣散基层党组织。"),
        ("县纪委监委通报违反八项规定问题", "某干部违规收受礼金，受到党内警告处分，各级党组织要以案为鉴。"),
    ]:
        article = Article(url=title, site="s", title=title, text=text)
        classifier.classify(article)
        assert article.talent is False, title


def test_bulletin_parts_are_classified_each(classifier):
    talent = Article(url="b#1", site="s", title="望江县以乡情为纽带推动人才回归",
                     text="望江县实施人才回归工程，编印在外人才名录，推动人才回归。（望江县委组织部）")
    cadre = Article(url="b#2", site="s", title="注重一线考核评价 激励干部担当作为",
                    text="考察识别干部，选拔任用，提拔重用干部，晋升职级。（岳西县委组织部）")
    issue = Article(url="b", site="s", title="安庆组工信息第6期", source="中共安庆市委组织部",
                    text="编者按：现将交流材料予以刊发。", parts=[talent, cadre])
    classifier.classify(issue)
    assert talent.talent is True and cadre.talent is False
    assert issue.talent is True  # it carries a talent item
    assert talent.region == {"province": "安徽省", "city": "安庆市", "county": "望江县"}
    assert cadre.region == {"province": "安徽省", "city": "安庆市", "county": "岳西县"}


def test_terms_are_counted_as_segmenting_the_whole_text_counts_them(classifier):
    """Only the runs of text holding a term are segmented: the counts must not change."""
    scorer = classifier.scorer
    text = ("近日，我县出台《高层次人才引进办法》，引才聚才、吸引才能之士；选调生和选调工作"
            "同步推进。专业人才、卫生人才可申请安家补贴（最高50万元）。\n会议强调，"
            "人才是第一资源, 各单位要做好人才工作:招才引智 2026年度计划。")
    counted = scorer.tokens(text)
    automaton, scorer.automaton = scorer.automaton, None  # segment the whole text, as before
    try:
        whole = scorer.tokens(text)
    finally:
        scorer.automaton = automaton
    for term in (*scorer.known, "人才"):
        assert counted.get(term, 0) == whole.get(term, 0), term
    assert counted["人才"] == 3  # 专业人才 … counts as 人才 too
    assert scorer.tokens("吸引才能，出台办法。")["引才"] == 0  # inside a word is no term


def test_traditional_script_mirror_scores_like_the_original(classifier):
    article = Article(url="t", site="s", title="打造人才“強引擎”",
                      text="堅定實施人才強市戰略，持續優化人才政策供給，全市新引進各類高層次人才2600餘人。")
    classifier.classify(article)
    assert article.talent is True


def test_labelled_set_precision_and_recall(classifier):
    items = yaml.safe_load((DATA / "items.yaml").read_text(encoding="utf-8"))
    assert len(items) >= 80
    tp = fp = fn = 0
    for item in items:
        article = Article(url=item["id"], site="labelled", title=item["title"],
                          source=item.get("source"), text=item["text"])
        classifier.classify(article)
        tp += article.talent and item["talent"]
        fp += article.talent and not item["talent"]
        fn += item["talent"] and not article.talent
    assert tp / (tp + fp) >= 0.9 and tp / (tp + fn) >= 0.9


# --- regions ------------------------------------------------------------------------

def test_region_from_the_source_alone():
    assert detect_region(source="望江县委组织部", text="健全工作机制，强化服务保障。") == {
        "province": "安徽省", "city": "安庆市", "county": "望江县"}


def test_region_from_the_text_when_the_source_names_none():
    assert detect_region(source="《党建研究》2021年第4期",
                         text="阳谷县地处山东省西部。阳谷县围绕主导产业搭建平台。") == {
        "province": "山东省", "city": "聊城市", "county": "阳谷县"}


def test_source_outweighs_places_named_in_passing():
    region = detect_region(source="望江县委组织部",
                           text="赴上海、青岛等地开展年会，与安徽农业大学合作。")
    assert region == {"province": "安徽省", "city": "安庆市", "county": "望江县"}


def test_short_county_after_its_parent():
    assert detect_region(title="潮州湘桥：引才工作法") == {"province": "广东省", "city": "潮州市",
                                                     "county": "湘桥区"}
    assert detect_region(title="山东高密：实施技能人才工程") == {"province": "山东省", "city": "潍坊市",
                                                        "county": "高密市"}


def test_no_region_is_no_guess():
    # 合作 (合作市), 中山路 and 北京大学 are not places of the news; one passing mention is too little
    assert detect_region(text="深化产学研合作，在中山路设立人才驿站，邀请北京大学教授授课。") == {}
    assert detect_region(text="学习借鉴浙江经验。") == {}
    assert detect_region(title="朝阳区发布人才新政") == {}  # 朝阳区 is in Beijing and in Changchun


def test_site_region_from_config_when_the_text_names_none():
    config = RelevanceConfig.model_validate({**_defaults(), "site_regions": {"gdzz": "广东省"}})
    article = Article(url="g", site="gdzz", title="人才工作会议召开", text="会议部署人才工作。")
    Classifier(config).classify(article)
    assert article.region == {"province": "广东省"}


# --- config ---------------------------------------------------------------------------

def _defaults() -> dict:
    path = Path(__file__).parent.parent / "core" / "data" / "default_topics.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_shipped_defaults_apply_without_a_relevance_section():
    config = parse_config({})
    assert [t.name for t in config.relevance.topics][:3] == ["人才引进政策", "人才补贴与待遇",
                                                              "人才招聘与选调公告"]


@pytest.mark.parametrize("topic, message", [
    ({"name": "人才补贴", "terms": []}, "topic '人才补贴': the term list is empty"),
    ({"name": "人才补贴", "terms": {"生活补贴": -1}}, "topic '人才补贴': term '生活补贴' needs a weight"),
    ({"name": "人才补贴", "terms": {"生活补贴": "高"}}, "topic '人才补贴': term '生活补贴' needs a weight"),
    ({"name": "人才补贴", "terms": {"生活补贴": 1}, "negative": {"党建": 0}},
     "topic '人才补贴': negative term '党建' needs a weight"),
])
def test_bad_topics_are_config_errors_naming_the_topic(topic, message):
    with pytest.raises(ConfigError) as err:
        parse_config({"relevance": {"topics": [topic]}}, "config.yaml")
    assert "config.yaml" in str(err.value) and "relevance.topics[0]" in str(err.value)
    assert message in str(err.value)


def test_a_list_of_terms_weighs_one_each():
    config = parse_config({"relevance": {"topics": [{"name": "平台", "terms": ["院士工作站"]}]}})
    assert config.relevance.topics[0].terms == {"院士工作站": 1.0}


def test_a_partial_section_keeps_the_shipped_values_it_leaves_out():
    config = parse_config({"relevance": {"threshold": 6}}).relevance
    assert config.threshold == 6
    assert len(config.topics) == 6 and "干部考核" in config.negative


def test_the_cached_jieba_dictionary_is_the_one_jieba_builds(tmp_path, monkeypatch):
    """Extraction workers read the merged dictionary from the user's cache directory: what
    they read back is exactly what jieba builds, and a damaged copy is never used."""
    import jieba
    from talentwatch.relevance import topics

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = topics.dictionary_cache()
    assert tmp_path in cache.parents
    built = jieba.Tokenizer()
    built.load_userdict(str(Path(topics.__file__).parent / "data" / "talent_dict.txt"))
    assert topics._read_cached(cache) is None  # none yet
    topics._write_cached(cache, built.FREQ, built.total)
    assert topics._read_cached(cache) == (built.FREQ, built.total)
    assert "人才公寓" in built.FREQ  # the talent terms are in it
    cache.write_bytes(cache.read_bytes()[:4096])  # cut short, as a full disk might leave it
    assert topics._read_cached(cache) is None
