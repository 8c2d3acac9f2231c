"""Offers (the archive's incentives) in words a reader expects: 最高50万元购房补贴."""

from __future__ import annotations

from typing import Any

# yuan per unit; the extractor writes 元, older archives and fixtures also 万元
UNIT_YUAN = {"元": 1, "千元": 1_000, "万元": 10_000, "亿元": 100_000_000}
MAX_SHOWN = 6  # offers listed in one table cell; the article page lists them all


def _number(value: float) -> str:
    return f"{round(value, 4):g}"


def yuan(amount: Any, unit: str | None) -> float | None:
    """An amount in yuan, or None when it is not a number in a known unit."""
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return None
    return float(amount) * UNIT_YUAN.get(unit or "元", 1)


def money(value: float) -> str:
    """3000 -> 3000元, 500000 -> 50万元."""
    return f"{_number(value / 10_000)}万元" if value >= 10_000 else f"{_number(value)}元"


def _range(low: float, high: float) -> str:
    """10–20万元, 500–2000元, 3000元–2万元: the unit once when both ends share it."""
    if low >= 10_000:
        return f"{_number(low / 10_000)}–{money(high)}"
    if high < 10_000:
        return f"{_number(low)}–{money(high)}"
    return f"{money(low)}–{money(high)}"


def offer_words(offer: dict[str, Any]) -> str:
    """One offer as a phrase: 每月3000元生活补贴, 最高15万元购房补贴（博士）, 人才公寓."""
    unit = offer.get("unit")
    low, high = yuan(offer.get("amount_min"), unit), yuan(offer.get("amount_max"), unit)
    if low is not None and high is not None and low != high:
        amount = _range(low, high)
    elif high is not None:
        amount = money(high) if low is not None else "最高" + money(high)
    elif low is not None:
        amount = money(low) + "起"
    else:
        amount = ""
    period = offer.get("period") or ""
    kind = str(offer.get("type") or "待遇")
    words = f"{period}{amount}{kind}"
    target = offer.get("target")
    return f"{words}（{target}）" if target else words


def offers_words(offers: Any, limit: int = MAX_SHOWN) -> list[str]:
    """Each distinct offer's phrase, at most `limit` (then 等N项)."""
    if not isinstance(offers, list):
        return []
    phrases = list(dict.fromkeys(offer_words(o) for o in offers if isinstance(o, dict)))
    if len(phrases) > limit:
        return phrases[:limit] + [f"等{len(phrases)}项"]
    return phrases
