"""Alert items and messages made safe to send (core.safety applied to their fields).

Two points on the way out: `safe_item` before rendering (render.render), so no template
ever sees a control character or a non-http(s) URL, and `safe_message` at the dispatcher
(channels.send), so every kind gets one-line subjects, clean text and a clean payload
whatever rendered them. Both read the fields generically: a field added to Item later
is cleaned too (a URL field by its name).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from talentwatch.core.safety import clean_data, clean_text, one_line, safe_url

T = TypeVar("T")

# item fields shown on one line (titles, names, dates); other text keeps its line breaks
ONE_LINE_FIELDS = frozenset({"title", "site", "source", "published", "deadline", "kind"})
SUBJECT_CHARS = 200


def _safe_field(name: str, value: Any) -> Any:
    if name == "url":
        return safe_url(value) or ""  # the item's own page: a string, empty when unsafe
    if name.endswith("url") or name in ("link", "href"):
        return safe_url(value)
    if isinstance(value, str):
        return one_line(value) if name in ONE_LINE_FIELDS else clean_text(value)
    return clean_data(value)


def safe_item(item: T) -> T:
    """An alert item (a dataclass) with its text cleaned and only http(s) URLs kept."""
    assert dataclasses.is_dataclass(item) and not isinstance(item, type)
    changes = {f.name: _safe_field(f.name, getattr(item, f.name)) for f in dataclasses.fields(item)}
    return dataclasses.replace(item, **changes)


def safe_message(message: T) -> T:
    """A rendered message with a one-line subject, clean text parts and a clean payload."""
    assert dataclasses.is_dataclass(message) and not isinstance(message, type)
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(message):
        value = getattr(message, f.name)
        if f.name == "subject":
            changes[f.name] = one_line(value, SUBJECT_CHARS)
        elif f.name == "payload":
            changes[f.name] = clean_data(value)
        elif isinstance(value, str):
            changes[f.name] = clean_text(value)
    return dataclasses.replace(message, **changes)
