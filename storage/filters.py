"""The filters shared by search, export and feeds (--site, --since, --until, --topic, …).

The model lives in talentwatch.core.filters, because the alert matcher (scheduler)
uses it too; storage's modules import it from here. It renders as SQL over the
`articles` table, so `talentwatch search` and `talentwatch export` select exactly
the same articles for the same options, and alerts the same for the same values.
"""

from __future__ import annotations

from talentwatch.core.filters import FilterError, Filters, first_day, last_day

__all__ = ["FilterError", "Filters", "first_day", "last_day"]
