"""Reading the archive's JSON columns back (topics, region, incentives, …)."""

from __future__ import annotations

import json
from typing import Any


def json_cell(value: Any, default: Any) -> Any:
    """A JSON column's value: decoded, or `default` when empty or unreadable.

    One bad cell must not stop an export, a search or an alert.
    """
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        return value  # already decoded
    try:
        return json.loads(value)
    except ValueError:
        return default
