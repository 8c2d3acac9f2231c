"""One filter model for search, export, feeds and alerts.

`Filters` says which articles to consider; it renders itself as SQL over the
`articles` table (search, export) and as a Python predicate over an article row
(the alert matcher), both built from the same definitions below, so the same
values select the same articles everywhere. Each key means one thing:

- sites: the article's site is one of them.
- since / until: the publication date, inclusive; a year or month means all of it
  (2024-03 = the whole of March). An article without a date never matches a date.
- topics: the article has at least one of them.
- regions: the article's region names (province, city, county) include one that
  equals the value, or equals it after dropping one administrative suffix
  (省 市 县 区 旗 盟 地区 自治州 自治县 …): 广东 matches 广东省, 深圳 matches 深圳市,
  广西 matches 广西壮族自治区. Never a bare prefix or substring: 京 matches neither
  北京市 nor 南京市, 山 not 佛山市.
- talent_only: the classifier marked it as talent policy.

Several values of one key mean "any of them"; the keys are AND-ed.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

# a date prefix: 2024, 2024-03 or 2024-03-05
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")

# the suffixes of Chinese administrative division names, as the region detector's gazetteer
# writes them; a region value matches a name that is the value plus one of these
REGION_SUFFIXES = (
    "省", "市", "县", "区", "旗", "盟", "地区", "特区", "林区", "自治州", "自治县", "自治旗",
    "自治区", "特别行政区", "壮族自治区", "回族自治区", "维吾尔自治区",
)
REGION_KEYS = ("province", "city", "county")


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


def check_date(option: str, value: str | None) -> str | None:
    """`value` stripped, or FilterError naming `option` when it is no date prefix of a real day."""
    if value is None:
        return None
    value = str(value).strip()
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


def region_names(value: str) -> tuple[str, ...]:
    """Every region name that `value` matches: itself and itself plus one suffix."""
    value = value.strip()
    return (value, *(value + suffix for suffix in REGION_SUFFIXES)) if value else ()


def region_values(cell: Any) -> list[str]:
    """The names in an article's region cell (a JSON object or list, decoded or not)."""
    if isinstance(cell, str):
        try:
            cell = json.loads(cell) if cell else {}
        except ValueError:
            return []
    if isinstance(cell, str):  # a bare JSON string: json_each gives it as its one value
        return [cell] if cell else []
    if isinstance(cell, Mapping):
        cell = list(cell.values())
    if not isinstance(cell, list):
        return []
    return [v for v in cell if isinstance(v, str) and v]


def _list_cell(cell: Any) -> list[Any]:
    if isinstance(cell, str):
        try:
            cell = json.loads(cell) if cell else []
        except ValueError:
            return []
    if isinstance(cell, str):  # a bare JSON string: json_each gives it as its one value
        return [cell]
    return cell if isinstance(cell, list) else []


@dataclass(frozen=True)
class Filters:
    """Which articles to consider (see the module docstring for each key's meaning)."""

    sites: tuple[str, ...] = ()
    since: str | None = None  # inclusive; a year or month means its first day
    until: str | None = None  # inclusive; a year or month means up to its last day
    topics: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # a region name, with or without its suffix: 广东 ~ 广东省
    talent_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "sites", tuple(self.sites))
        object.__setattr__(self, "topics", tuple(self.topics))
        object.__setattr__(self, "regions", tuple(r.strip() for r in self.regions if r.strip()))
        object.__setattr__(self, "since", check_date("--since", self.since))
        object.__setattr__(self, "until", check_date("--until", self.until))
        if self.since and self.until and self.since[:len(self.until)] > self.until:
            raise FilterError(f"--since {self.since} is after --until {self.until}")

    def _region_names(self) -> list[str]:
        return sorted({name for value in self.regions for name in region_names(value)})

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
            names = self._region_names()
            marks = ", ".join("?" for _ in names)
            clauses.append(f"EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid({alias}.region)"
                           f" THEN {alias}.region ELSE '{{}}' END) WHERE value IN ({marks}))")
            params.extend(names)
        return clauses, params

    def where(self, alias: str = "a") -> tuple[str, list[Any]]:
        clauses, params = self.sql(alias)
        return " AND ".join(clauses) or "1", params

    def matches(self, row: Mapping[str, Any]) -> bool:
        """The same test as `sql`, over one article row (columns site, published, talent,
        topics, region; JSON cells decoded or not)."""
        if self.sites and row.get("site") not in self.sites:
            return False
        published = row.get("published")
        if self.since and (not published or str(published)[:len(self.since)] < self.since):
            return False
        if self.until and (not published or str(published)[:len(self.until)] > self.until):
            return False
        if self.talent_only and row.get("talent") != 1:  # True == 1, like SQL's talent = 1
            return False
        if self.topics and not set(self.topics).intersection(
                t for t in _list_cell(row.get("topics")) if isinstance(t, str)):
            return False
        if self.regions and not set(self._region_names()).intersection(region_values(row.get("region"))):
            return False
        return True
