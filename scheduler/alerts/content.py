"""What an alert says about one story, as a reader wants it: pure functions on archive values.

    offer_phrase   {type, amount_min, amount_max, period, target} -> 最高50万元购房补贴（博士）
    region_text    {province, city, county} -> 安徽省安庆市宿松县
    snippet        the sentence with the offer, else the opening, at most two sentences
    deadline_note  the deadline, marked when near or past
    changed_sentences  the sentences an edit changed, with the differing words marked
    clean_title    a mirror's traditional + pinyin title, simplified and without the pinyin
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

_SENTENCE_END = re.compile(r"[。；;！!？?\n]+")


def sentences(text: str) -> list[str]:
    """A text's sentences, without their end marks (as the incentive extractor splits them)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


NEAR_DAYS = 7  # a deadline this close is marked 即将截止
SNIPPET_CHARS = 140
MAX_OFFERS = 6
MAX_CHANGES = 5
CONTEXT_CHARS = 24  # unchanged text kept either side of a change


# -- offers -------------------------------------------------------------------------

def yuan_text(value: float | int) -> str:
    """80000 -> 8万元, 3000 -> 3000元, 150000000 -> 1.5亿元."""
    if value >= 10**8 and value % 10**6 == 0:
        return f"{value / 10**8:g}亿元"
    if value >= 10_000 and value % 100 == 0:
        return f"{value / 10_000:g}万元"
    return f"{value:g}元"


def amount_text(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return ""
    if low is None:
        return f"最高{yuan_text(high)}"  # type: ignore[arg-type]  # high is set here
    if high is None:
        return f"{yuan_text(low)}以上"
    if low == high:
        return yuan_text(low)
    return f"{yuan_text(low).removesuffix('元').removesuffix('万').removesuffix('亿')}至{yuan_text(high)}" \
        if yuan_text(low)[-2:] == yuan_text(high)[-2:] else f"{yuan_text(low)}至{yuan_text(high)}"


def offer_phrase(offer: dict[str, Any]) -> str:
    """One offer as a person would write it: 最高50万元购房补贴（博士）, 每月3000元租房补贴,
    一次性安家费8万元, 人才公寓（博士）."""
    kind = str(offer.get("type") or "补贴")
    amount = amount_text(offer.get("amount_min"), offer.get("amount_max"))
    period = offer.get("period") or ""
    if period == "一次性" and amount:
        phrase = f"一次性{kind}{amount}"
    else:
        phrase = f"{period}{amount}{kind}"
    target = offer.get("target")
    return f"{phrase}（{target}）" if target else phrase


def offer_phrases(offers: list[Any] | None) -> list[str]:
    """The distinct phrases of an article's offers, amounts first, at most MAX_OFFERS."""
    valid = [o for o in offers or [] if isinstance(o, dict)]
    valid.sort(key=lambda o: o.get("amount_min") is None and o.get("amount_max") is None)
    return list(dict.fromkeys(offer_phrase(o) for o in valid))[:MAX_OFFERS]


# -- region, deadline, snippet ------------------------------------------------------------

def region_text(region: Any) -> str:
    if not isinstance(region, dict):
        return ""
    parts = [str(region[k]) for k in ("province", "city", "county") if region.get(k)]
    return "".join(dict.fromkeys(parts))  # 北京市北京市 -> 北京市


@dataclass(frozen=True)
class Deadline:
    day: str  # 2026-12-05
    state: str  # "" | near | past

    @property
    def label(self) -> str:
        return {"near": "即将截止", "past": "已截止"}.get(self.state, "")


def deadline_note(value: str | None, today: date) -> Deadline | None:
    if not value:
        return None
    day = value[:10]
    try:
        when = date.fromisoformat(day)
    except ValueError:
        return Deadline(value, "")
    state = "past" if when < today else "near" if when <= today + timedelta(days=NEAR_DAYS) else ""
    return Deadline(day, state)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def snippet(text: str | None, offers: list[Any] | None) -> str:
    """One or two sentences: the one naming the first offer, else the opening."""
    found = sentences(text or "")
    if not found:
        return ""
    offer_texts = [str(o["text"]) for o in offers or [] if isinstance(o, dict) and o.get("text")]
    for wanted in offer_texts:
        for s in found:
            if s in wanted or wanted.strip("。；; ") in s:
                return _cut(s + "。", SNIPPET_CHARS)
    first = found[0] + "。"
    if len(first) < 40 and len(found) > 1:
        first += found[1] + "。"
    return _cut(first, SNIPPET_CHARS)


# -- what an edit changed -----------------------------------------------------------------

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*\s*(?:亿元|万元|千元|元|亿|万|千|%|％|年|月|日|周岁|岁|名|人|个|项)?"
                    r"|[A-Za-z]+|\s+|.", re.S)


def tokens(sentence: str) -> list[str]:
    """Words for a diff: a number with its unit is one word (6万元), every other
    CJK character one word."""
    return _TOKEN.findall(sentence)


@dataclass(frozen=True)
class Segment:
    same: str = ""  # unchanged text, or…
    old: str = ""  # …a change: what was there, what is there now
    new: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.old or self.new)


def _trim(text: str, where: str) -> str:
    """Unchanged text shortened to the context a reader needs."""
    if len(text) <= 2 * CONTEXT_CHARS:
        return text
    if where == "start":
        return "…" + text[-CONTEXT_CHARS:]
    if where == "end":
        return text[:CONTEXT_CHARS] + "…"
    return text[:CONTEXT_CHARS] + "…" + text[-CONTEXT_CHARS:]


def word_diff(old: str, new: str) -> list[Segment]:
    """`new` as segments, the words that differ from `old` paired with what they replaced."""
    a, b = tokens(old), tokens(new)
    out: list[Segment] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(Segment(same="".join(a[i1:i2])))
        else:
            out.append(Segment(old="".join(a[i1:i2]), new="".join(b[j1:j2])))
    for i, seg in enumerate(out):
        if not seg.changed:
            where = "start" if i == 0 else "end" if i == len(out) - 1 else "middle"
            out[i] = Segment(same=_trim(seg.same, where))
    return out


def changed_sentences(old_text: str | None, new_text: str | None) -> list[list[Segment]]:
    """The sentences an edit changed, added or removed, each as marked segments."""
    old, new = sentences(old_text or ""), sentences(new_text or "")
    out: list[list[Segment]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        before, after = old[i1:i2], new[j1:j2]
        for k in range(max(len(before), len(after))):
            if k < len(before) and k < len(after):
                out.append(word_diff(before[k], after[k]))
            elif k < len(after):
                out.append([Segment(old="", new=_cut(after[k], 2 * SNIPPET_CHARS))])
            else:
                out.append([Segment(old=_cut(before[k], 2 * SNIPPET_CHARS), new="")])
    return out[:MAX_CHANGES]


# -- titles --------------------------------------------------------------------------------

_PINYIN = re.compile(r"\((?:[a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\s*)+\)")


@lru_cache(maxsize=1)
def _to_simplified() -> Any:
    import opencc  # loaded only when a title needs it

    return opencc.OpenCC("t2s.json")


def clean_title(title: str | None) -> str:
    """A title without a mirror's pinyin in brackets, in simplified characters."""
    text = _PINYIN.sub("", title or "").strip()
    return _to_simplified().convert(text) if text else ""


def local_day(moment: datetime) -> date:
    from zoneinfo import ZoneInfo

    from talentwatch.core.config import TIMEZONE

    return moment.astimezone(ZoneInfo(TIMEZONE)).date()
