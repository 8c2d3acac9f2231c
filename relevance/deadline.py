"""The application deadline of a recruitment notice (报名截止 …), as an ISO date.

Only a date tied to applying counts: 报名/申报/投递/提交 … 时间 or 截止, and
"请于3月15日前报名/报送". A range (报名时间：3月1日至3月15日) ends on its second
date. A date without a year takes the year of the date before it in the same
window, else the year the article was published. News statistics such as
"截至2023年底，全市已引进…" are not deadlines.
"""

from __future__ import annotations

import re
from datetime import date

from talentwatch.core.text import nfkc

_DATE = re.compile(
    r"(?:(?P<y>\d{4})\s*[年.\-/])?\s*(?P<m>\d{1,2})\s*[月.\-/]\s*(?P<d>\d{1,2})\s*[日号]?"
)
# words that open a window in which the (last) date is when applying ends
_KEY = re.compile(
    r"(?:报名|申报|申请|投递|提交|受理|征集|报送|网上报名|现场报名)[^。；;\n，,]{0,8}?"
    r"(?:时间|日期|期限|截止|截至)"
    r"|截止(?:时间|日期)"
    r"|(?:报名|申报|投递|提交|受理)[^。；;\n，,]{0,4}?于"
)
# "请于2024年3月15日前报名" / "于3月15日（含）前将材料报送"
_BEFORE = re.compile(
    rf"于\s*(?P<date>{_DATE.pattern})[^。；;\n，,]{{0,6}}?(?:前|之前|以前)[^。；;\n]{{0,20}}?"
    r"(?:报名|申报|报送|提交|投递|发送|递交)"
)
_WINDOW = 60
_STOP = re.compile(r"[。；;\n]")


def _make(y: int | None, m: int, d: int) -> date | None:
    if y is None:
        return None
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _year_of(published: str | None) -> int | None:
    if published and re.match(r"\d{4}", published):
        return int(published[:4])
    return None


def _dates(window: str, default_year: int | None) -> list[date]:
    out: list[date] = []
    year = default_year
    for m in _DATE.finditer(window):
        if m.group("y") is None and "年" not in window[m.start():m.end()] and "月" not in m.group(0):
            continue  # 3.15 alone is too loose to be a date
        if m.group("y"):
            year = int(m.group("y"))
        value = _make(year, int(m.group("m")), int(m.group("d")))
        if value:
            out.append(value)
    return out


def find_deadline(text: str, published: str | None = None) -> str | None:
    """ISO date by which one must apply, or None when the text names none."""
    if not text:
        return None
    text = nfkc(text)
    year = _year_of(published)
    candidates: list[tuple[int, date]] = []
    for key in _KEY.finditer(text):
        rest = text[key.end():key.end() + _WINDOW]
        stop = _STOP.search(rest)
        window = rest[:stop.start()] if stop else rest
        dates = _dates(window, year)
        if dates:
            # 报名 is what readers act on: it ranks before 资格审查 or 提交材料
            rank = 0 if "报名" in key.group(0) else 1
            candidates.append((rank, dates[-1]))
    for m in _BEFORE.finditer(text):
        dates = _dates(m.group("date"), year)
        if dates:
            candidates.append((0 if "报名" in m.group(0) else 1, dates[-1]))
    if not candidates:
        return None
    best_rank = min(rank for rank, _ in candidates)
    return max(d for rank, d in candidates if rank == best_rank).isoformat()
