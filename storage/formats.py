"""Every export format, by name: importing this module imports each format's module,
and each format registers itself on definition (storage.export.ExportFormat)."""

from __future__ import annotations

from talentwatch.storage import feeds  # noqa: F401 - registers Atom
from talentwatch.storage.export import FORMATS, Csv, ExportFormat, JsonLines

__all__ = ["FORMATS", "Csv", "ExportFormat", "JsonLines", "feeds"]
