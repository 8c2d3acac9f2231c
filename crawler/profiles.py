"""Site profiles: the selectors that describe a portal, kept as data.

A profile is plain data (CSS/XPath strings); config.yaml refers to one by name
(`profile: gdzz`) and may override single selectors per site.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Profile:
    name: str = "generic"
    # list pages
    list_item: str | None = None  # CSS for one item of the list
    list_link: str | None = None  # CSS for the link inside an item
    list_date: str | None = None  # CSS for the date inside an item
    next_page: str | None = None  # CSS for the pagination "next" link
    # article pages
    title: str | None = None
    body: str | None = None
    date: str | None = None
    source: str | None = None

    def override(self, selectors: dict[str, Any] | None) -> Profile:
        if not selectors:
            return self
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in selectors.items() if k in known and v})


PROFILES: dict[str, Profile] = {
    "generic": Profile(),
}


def get_profile(name: str | None, selectors: dict[str, Any] | None = None) -> Profile:
    base = PROFILES.get(name or "generic")
    if base is None:
        raise KeyError(f"unknown site profile {name!r}; known: {', '.join(sorted(PROFILES))}")
    return base.override(selectors)
