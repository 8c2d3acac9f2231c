"""What a place offers: each incentive as {type, amount_min, amount_max, unit, period, target, text}.

Sentence by sentence: every amount in yuan (元 / 千元 / 万元 / 亿元, ranges such as
1000至3000元 or 1万-3万元, bounds such as 最高 / 不超过 / 以上) is tied to the nearest
incentive word (生活补贴, 购房补贴, 安家费 …), preferring the one right after it
("2万元生活补贴") over one before it ("购房补贴最高20万元"). Its period (每月 / 每年 /
一次性) and target (博士, 硕士, 顶尖人才 …) are the nearest ones before it in the same
clause. An amount with no incentive word (总投资62亿元), or a running total
(累计兑现奖励3000万元), is not an offer. Housing and allowance offers without an
amount ("给予购房补贴", "提供人才公寓") are kept with empty amounts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from talentwatch.core.text import nfkc


def _words_re(words: list[tuple[str, str]], prefix: str) -> re.Pattern[str]:
    """One pattern for a list of (pattern, name), each a named group (`prefix` + its index).

    Every word starts with a literal character; a look-ahead for those characters lets a
    scan pass over the rest of a sentence at once, where `re` would otherwise try each
    alternative at every position (four to seven times slower)."""
    firsts = {alternative[:1] for pattern, _ in words for alternative in pattern.split("|")}
    if not all(first and first not in "\\()[]{}.*+?^$|" for first in firsts):
        raise ValueError(f"{prefix}: every word must start with a literal character")
    body = "|".join(f"(?P<{prefix}{i}>{pattern})" for i, (pattern, _) in enumerate(words))
    return re.compile(f"(?=[{''.join(map(re.escape, sorted(firsts)))}])(?:{body})")


# (pattern, type); longer words first so 科研启动经费 wins over 启动经费
TYPE_WORDS: list[tuple[str, str]] = [
    (r"生活补贴|生活补助|生活津贴|生活费补贴|薪酬补贴|工资补贴", "生活补贴"),
    (r"购房补贴|购房补助|购房资助|购房款补贴|购房券", "购房补贴"),
    (r"租房补贴|租房补助|租赁补贴|房租补贴|租金补贴", "租房补贴"),
    (r"住房补贴|住房补助|安居补贴", "住房补贴"),
    (r"安家费|安家补贴|安家补助|安家资助", "安家费"),
    (r"科研启动经费|科研经费|启动经费|研发经费|科研补助|研发补助|科研资助|工作经费|科研项目经费"
     r"|支持经费|培养经费", "科研经费"),
    (r"项目资助|项目扶持资金|项目扶持|创业资助|创业扶持资金|创业补贴|资金资助|资助经费", "项目资助"),
    (r"人才公寓|人才住房|人才房|周转房|周转公寓|免费租住|免租金?入住", "人才公寓"),
    (r"特殊津贴|岗位津贴|政府津贴|津贴", "津贴"),
    (r"一次性奖励|资金奖励|奖励资金|奖补资金|奖补|奖励|奖金", "奖励"),
    (r"补贴|补助|资助", "补贴"),
]
_TYPE_RE = _words_re(TYPE_WORDS, "t")
# offers that users compare even when no sum is named
NO_AMOUNT_TYPES = {"生活补贴", "购房补贴", "租房补贴", "住房补贴", "安家费", "人才公寓"}
_OFFER_VERB = re.compile(r"给予|提供|发放|享受|享有|予以|安排|免费|免租|配租|配售|入住|租住")
# "给予奖励": a verb right before the word makes any type an offer, sum or not
_OFFER_RIGHT_BEFORE = re.compile(r"(?:给予|予以|发放|享受)[^，,、；;]{0,4}$")
# "对不需要提供人才公寓的人才": the offer is what they get instead
_NEGATED = re.compile(r"不|无|未|没有")
# a sum that is a condition of the offer, not the offer (年薪50万元以上的人才)
_CONDITION_BEFORE = re.compile(
    r"(?:年薪|薪酬|工资|收入|营收|营业收入|销售额|产值|投资额?|纳税|税收)[^，,]{0,3}$"
    # a rate per square metre is how a subsidy is computed, not its amount
    r"|每平方?米[^，,]{0,3}$|每㎡[^，,]{0,3}$")

TARGET_WORDS: list[tuple[str, str]] = [
    (r"顶尖人才", "顶尖人才"), (r"领军人才", "领军人才"), (r"高层次人才", "高层次人才"),
    (r"高端人才", "高端人才"), (r"急需紧缺人才|紧缺人才", "紧缺人才"), (r"青年人才", "青年人才"),
    (r"高技能人才", "高技能人才"), (r"技能人才", "技能人才"), (r"首席技师", "首席技师"),
    (r"院士", "院士"), (r"博士后", "博士后"), (r"博士(?:研究生)?", "博士"), (r"硕士(?:研究生)?", "硕士"),
    (r"研究生", "研究生"), (r"本科", "本科"), (r"大专|专科", "大专"),
    (r"高校毕业生|大学毕业生|大学生", "高校毕业生"), (r"技师", "技师"), (r"团队", "团队"),
]
_TARGET_RE = _words_re(TARGET_WORDS, "g")

_PERIOD_RE = re.compile(r"每人每月|每月|按月|月均|/月|每人每年|每年|按年|年均|/年|一次性")
_PERIOD_OF = {"每人每月": "每月", "每月": "每月", "按月": "每月", "月均": "每月", "/月": "每月",
              "每人每年": "每年", "每年": "每年", "按年": "每年", "年均": "每年", "/年": "每年",
              "一次性": "一次性"}

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUM = r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千]+)"
_UNIT = r"(?:亿元|万元|千元|元|亿|万|千)"
_AMOUNT_RE = re.compile(
    rf"(?P<a>{_NUM})\s*(?P<ua>{_UNIT})?"
    rf"(?:\s*(?:至|到|-|—|–|~|～|－)\s*(?P<b>{_NUM})\s*(?P<ub>{_UNIT}))?"
)
_SCALE = {"元": 1, "千": 1000, "千元": 1000, "万": 10_000, "万元": 10_000, "亿": 10**8, "亿元": 10**8}
_UPPER_BEFORE = re.compile(r"(?:最高|不超过|最多|至多|上限为?|封顶|不高于|最高不超过)\s*$")
_LOWER_BEFORE = re.compile(r"(?:最低|不低于|不少于|至少)\s*$")
_UPPER_AFTER = re.compile(r"^\s*(?:以内|以下|封顶)")
_LOWER_AFTER = re.compile(r"^\s*以上")
# a running total or a budget, not what one person is offered
# (投入 before a percentage is the base of a share — 按研发投入20% — not a budget)
_TALLY = re.compile(r"累计|共计|合计|总计|总额|兑现|已发放|共发放|惠及|总投资|筹集|设立"
                    r"|投入(?!\s*\d+(?:\.\d+)?\s*[%％])")
_SENTENCE_END = re.compile(r"[。；;！!？?\n]+")
_CLAUSE_BREAK = re.compile(r"[，,：:]")


def _cn_number(text: str) -> float | None:
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
        else:
            return None
    return float(total + current)


def _number(text: str) -> float | None:
    if text[0].isdigit():
        return float(text)
    return _cn_number(text)


def _yuan(value: float) -> int | float:
    value = round(value, 2)
    return int(value) if float(value).is_integer() else value


@dataclass
class _Amount:
    start: int
    end: int
    low: float | None
    high: float | None


def _amounts(sentence: str) -> list[_Amount]:
    found = []
    for m in _AMOUNT_RE.finditer(sentence):
        ua, ub = m.group("ua"), m.group("ub")
        if m.group("b") is not None:
            if "元" not in (ub or "") and "元" not in (ua or ""):
                continue
            a, b = _number(m.group("a")), _number(m.group("b"))
            if a is None or b is None:
                continue
            a_yuan, b_yuan = a * _SCALE[ua or ub], b * _SCALE[ub]
            found.append(_Amount(m.start(), m.end(), min(a_yuan, b_yuan), max(a_yuan, b_yuan)))
            continue
        if not ua or "元" not in ua:
            continue
        value = _number(m.group("a"))
        if value is None or value == 0:
            continue
        value *= _SCALE[ua]
        before, after = sentence[max(0, m.start() - 6):m.start()], sentence[m.end():m.end() + 3]
        low: float | None = value
        high: float | None = value
        if _UPPER_BEFORE.search(before) or _UPPER_AFTER.match(after):
            low = None
        elif _LOWER_BEFORE.search(before) or _LOWER_AFTER.match(after):
            high = None
        found.append(_Amount(m.start(), m.end(), low, high))
    return found


def _labelled(regex: re.Pattern[str], words: list[tuple[str, str]], sentence: str,
              prefix: str) -> list[tuple[int, int, str]]:
    out = []
    for m in regex.finditer(sentence):
        index = next(int(k[len(prefix):]) for k, v in m.groupdict().items() if v is not None)
        out.append((m.start(), m.end(), words[index][1]))
    return out


def _breaks(text: str) -> int:
    return len(_CLAUSE_BREAK.findall(text))


def _type_for(sentence: str, amount: _Amount,
              types: list[tuple[int, int, str]]) -> tuple[str, int] | None:
    """The incentive word an amount belongs to, and where it starts."""
    best: tuple[float, str, int] | None = None
    for start, end, name in types:
        if start >= amount.end:
            gap = sentence[amount.end:start]
            cost = len(gap) + 30 * _breaks(gap)
        elif end <= amount.start:
            gap = sentence[end:amount.start]
            cost = len(gap) + 30 * _breaks(gap) + 4  # a word after the sum is the usual order
        else:
            continue
        if best is None or cost < best[0]:
            best = (cost, name, start)
    return None if best is None or best[0] > 80 else (best[1], best[2])


def _clause_start(sentence: str, pos: int, floor: int) -> int:
    cut = max((m.end() for m in _CLAUSE_BREAK.finditer(sentence, 0, pos)), default=0)
    return max(cut, floor)


def _period(sentence: str, amount: _Amount, floor: int, type_start: int | None) -> str | None:
    after = sentence[amount.end:amount.end + 3]
    if type_start is not None and type_start >= amount.end \
            and "一次性" in sentence[amount.end:type_start + 3]:
        return "一次性"  # 5万元一次性奖励
    if after.startswith(("/月", "每月")):
        return "每月"
    if after.startswith(("/年", "每年")):
        return "每年"
    window = sentence[_clause_start(sentence, amount.start, floor):amount.start]
    hits = _PERIOD_RE.findall(window)
    return _PERIOD_OF[hits[-1]] if hits else None


def _target(targets: list[tuple[int, int, str]], sentence: str, pos: int, floor: int) -> str | None:
    # the nearest target since the previous amount, else the nearest before that
    before = [t for t in targets if t[1] <= pos]
    if not before:
        return None
    recent = [t for t in before if t[0] >= floor]
    return (recent or before)[-1][2]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def extract_sentence(raw: str) -> list[dict[str, Any]]:
    """The offers in one sentence."""
    sentence = nfkc(raw)
    types = _labelled(_TYPE_RE, TYPE_WORDS, sentence, "t")
    if not types:
        return []
    targets = _labelled(_TARGET_RE, TARGET_WORDS, sentence, "g")
    offers: list[dict[str, Any]] = []
    previous: _Amount | None = None
    previous_period: str | None = None
    covered: set[str] = set()
    for amount in _amounts(sentence):
        floor = previous.end if previous else 0
        found = _type_for(sentence, amount, types)
        clause = sentence[_clause_start(sentence, amount.start, 0):amount.start]
        if found is None or _TALLY.search(clause) \
                or _CONDITION_BEFORE.search(sentence[max(0, amount.start - 8):amount.start]):
            previous = amount
            continue
        kind, type_start = found
        period = _period(sentence, amount, floor, type_start)
        if period is None and previous is not None and previous_period \
                and not _CLAUSE_BREAK.search(sentence[previous.end:amount.start]):
            period = previous_period  # 每月3000元、2000元: the list shares its period
        offers.append({
            "type": kind,
            "amount_min": None if amount.low is None else _yuan(amount.low),
            "amount_max": None if amount.high is None else _yuan(amount.high),
            "unit": "元",
            "period": period,
            "target": _target(targets, sentence, amount.start, floor),
            "text": raw.strip(),
        })
        covered.add(kind)
        previous, previous_period = amount, period
    for start, _end, kind in types:
        if kind in covered or kind == "补贴":  # a bare 补贴 with no sum tells a reader nothing
            continue
        clause = sentence[_clause_start(sentence, start, 0):start]
        offered = _OFFER_RIGHT_BEFORE.search(clause) \
            or (kind in NO_AMOUNT_TYPES and _OFFER_VERB.search(clause))
        if not offered or _TALLY.search(clause) or _NEGATED.search(clause[-8:]):
            continue
        hits = _PERIOD_RE.findall(clause)
        offers.append({
            "type": kind, "amount_min": None, "amount_max": None, "unit": "元",
            "period": _PERIOD_OF[hits[-1]] if hits else None,
            "target": _target(targets, sentence, start, 0),
            "text": raw.strip(),
        })
        covered.add(kind)
    return offers


def extract_incentives(text: str) -> list[dict[str, Any]]:
    """Every offer in `text`, in order; an empty list when it names none."""
    offers: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    for sentence in sentences(text):
        for offer in extract_sentence(sentence):
            key = tuple(offer[k] for k in ("type", "amount_min", "amount_max", "period", "target", "text"))
            if key not in seen:
                seen.add(key)
                offers.append(offer)
    return offers
