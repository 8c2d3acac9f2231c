"""Does an event match a subscription's filter? Pure functions over archive rows.

The keys shared with search and export (sites, topics, regions, since, until,
talent_only) are tested by the one filter model, talentwatch.core.filters, so an
alert selects exactly the articles `talentwatch search`/`export` would; only
events, min_score and keywords are tested here.
"""

from __future__ import annotations

from typing import Any

from talentwatch.core.config import AlertFilter
from talentwatch.core.filters import Filters


def matches(rule: AlertFilter, event: dict[str, Any], articles: Filters | None = None) -> bool:
    """`event` is an events row joined with its article (kind, site, published, talent,
    score, topics, region, title, text). `articles` is `rule.articles()`, when the
    caller has built it once for many events.

    Every key the filter gives must match; lists match when any entry does.
    """
    if event["kind"] not in rule.events:
        return False
    if not (articles or rule.articles()).matches(event):
        return False
    if rule.min_score is not None and (event.get("score") is None or event["score"] < rule.min_score):
        return False
    if rule.keywords:
        haystack = f"{event.get('title') or ''}\n{event.get('text') or ''}".lower()
        if not any(k.lower() in haystack for k in rule.keywords):
            return False
    return True
