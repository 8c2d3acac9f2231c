"""Does an event match a subscription's filter? Pure functions over archive rows."""

from __future__ import annotations

from typing import Any

from talentwatch.core.config import AlertFilter
from talentwatch.storage.cells import json_cell


def _region_text(region: Any) -> str:
    region = json_cell(region, {})
    if isinstance(region, dict):
        return " ".join(str(v) for v in region.values() if v)
    if isinstance(region, list):
        return " ".join(str(v) for v in region if v)
    return str(region)


def matches(rule: AlertFilter, event: dict[str, Any]) -> bool:
    """`event` is an events row joined with its article (kind, talent, score, topics …).

    Every key the filter gives must match; lists match when any entry does.
    """
    if event["kind"] not in rule.events:
        return False
    if rule.talent_only and not event.get("talent"):
        return False
    if rule.sites and event.get("site") not in rule.sites:
        return False
    if rule.min_score is not None and (event.get("score") is None or event["score"] < rule.min_score):
        return False
    if rule.topics:
        topics = set(json_cell(event.get("topics"), []))
        if not topics.intersection(rule.topics):
            return False
    if rule.regions:
        where = _region_text(event.get("region"))
        if not any(r in where for r in rule.regions):
            return False
    if rule.keywords:
        haystack = f"{event.get('title') or ''}\n{event.get('text') or ''}".lower()
        if not any(k.lower() in haystack for k in rule.keywords):
            return False
    return True
