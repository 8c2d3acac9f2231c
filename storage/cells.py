"""Reading the archive's cells back: JSON columns (topics, region, incentives, …) and times."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

# archive times without a zone (a bare published date) are China time
CHINA = timezone(timedelta(hours=8))


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


def time_cell(value: str | None) -> datetime | None:
    """An archive date or datetime as an aware datetime (no zone: China time); None if unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)
