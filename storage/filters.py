"""The filters shared by search, export and feeds (--site, --since, --until, --topic, …).

One place turns them into SQL over the `articles` table, so `talentwatch search`
and `talentwatch export` select exactly the same articles for the same options.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

# a date prefix: 2024, 2024-03 or 2024-03-05
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


class FilterError(ValueError):
    """A filter value that cannot be used; the message names the option."""


def first_day(value: str) -> date:
    """The first day a date prefix (2024, 2024-03, 2024-03-05) covers; ValueError if none."""
    return date.fromisoformat((value + "-01-01")[:10])


def last_day(value: str) -> date:
    """The last day a date prefix covers; ValueError if it names no real day."""
    if len(value) == 10:
        return date.fromisoformat(value)
    year, month = int(value[:4]), int(value[5:7]) if len(value) == 7 else 12
    return date(year, month, calendar.monthrange(year, month)[1])


def _check_date(option: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    expected = f"{option} expects a date like 2024-03-05, 2024-03 or 2024, got {value!r}"
    if not _DATE.match(value):
        raise FilterError(expected)
    # the pattern lets through 2024-13, 2024-02-30 and year 0000: the calendar decides
    try:
        first_day(value)
        last_day(value)
    except ValueError:
        raise FilterError(f"{expected}, which is not a real date") from None
    return value


@dataclass(frozen=True)
class Filters:
    """Which articles to consider. Several values of one option mean "any of them"."""

    sites: tuple[str, ...] = ()
    since: str | None = None  # inclusive; a year or month means its first day
    until: str | None = None  # inclusive; a year or month means up to its last day
    topics: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # matches province, city or county by prefix: 广东 ~ 广东省
    talent_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", _check_date("--since", self.since))
        object.__setattr__(self, "until", _check_date("--until", self.until))
        if self.since and self.until and self.since[:len(self.until)] > self.until:
            raise FilterError(f"--since {self.since} is after --until {self.until}")

    def sql(self, alias: str = "a") -> tuple[list[str], list[Any]]:
        """WHERE clauses (to be AND-ed) and their parameters, over `articles AS alias`."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.sites:
            clauses.append(f"{alias}.site IN ({', '.join('?' for _ in self.sites)})")
            params.extend(self.sites)
        # comparing the same-length prefix makes 2024-03 mean the whole month
        if self.since:
            clauses.append(f"substr({alias}.published, 1, {len(self.since)}) >= ?")
            params.append(self.since)
        if self.until:
            clauses.append(f"substr({alias}.published, 1, {len(self.until)}) <= ?")
            params.append(self.until)
        if self.talent_only:
            clauses.append(f"{alias}.talent = 1")
        if self.topics:
            marks = ", ".join("?" for _ in self.topics)
            clauses.append(f"EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid({alias}.topics)"
                           f" THEN {alias}.topics ELSE '[]' END) WHERE value IN ({marks}))")
            params.extend(self.topics)
        if self.regions:
            likes = " OR ".join("value LIKE ? ESCAPE '\\'" for _ in self.regions)
            clauses.append(f"EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid({alias}.region)"
                           f" THEN {alias}.region ELSE '{{}}' END) WHERE {likes})")
            params.extend(_like_prefix(r) for r in self.regions)
        return clauses, params

    def where(self, alias: str = "a") -> tuple[str, list[Any]]:
        clauses, params = self.sql(alias)
        return " AND ".join(clauses) or "1", params


def _like_prefix(value: str) -> str:
    escaped = value.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
