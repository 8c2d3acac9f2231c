"""Reading articles back out: one record per article, in the export's field names.

Export formats are kinds that register themselves: each is one subclass of
`ExportFormat` with a `name` (the --format value), a media type, a file
extension and a `write`. JSON Lines and CSV are here, Atom in storage.feeds;
storage.formats imports both, so `FORMATS` there holds every format.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from talentwatch.core.safety import clean_data
from talentwatch.storage.cells import json_cell
from talentwatch.storage.filters import Filters
from talentwatch.storage.query import to_match
from talentwatch.storage.search import search_subquery

if TYPE_CHECKING:  # the archive's modules load sqlite-utils only when a command opens it
    import sqlite_utils

# the names users script against; later fields are appended, these stay
EXPORT_FIELDS = [
    "url", "site", "title", "published", "source", "author", "editor", "original_url",
    "text", "attachments", "parent_url", "flags", "first_seen", "last_seen",
    "duplicate_of", "version", "status",
    "talent", "score", "topics", "region", "incentives", "deadline",
]
_JSON_FIELDS = {"attachments", "flags", "topics", "region", "incentives"}


def _selection(where: str | None, params: Iterable[Any], filters: Filters | None, query: str | None,
               one_per_cluster: bool) -> tuple[str, list[Any]]:
    """`FROM … WHERE …` choosing the articles; the same filters as storage.search."""
    clauses = [f"({where})"] if where else []
    values = list(params)
    if filters:
        more, more_values = filters.sql("a")
        clauses += more
        values += more_values
    if query:
        clauses.append(f"a.id IN ({search_subquery()})")
        values.append(to_match(query))
    condition = " AND ".join(clauses) or "1"
    if not one_per_cluster:
        return f"FROM articles a WHERE {condition}", values
    # one article per repost cluster: its original when selected, else its earliest member
    return (
        "FROM articles a JOIN (SELECT id, row_number() OVER (PARTITION BY coalesce(a.duplicate_of, a.id)"
        " ORDER BY a.duplicate_of IS NOT NULL, a.published, a.id) AS nth"
        f" FROM articles a WHERE {condition}) c ON c.id = a.id AND c.nth = 1"
    ), values


def count_records(db: sqlite_utils.Database, where: str | None = None, params: Iterable[Any] = (), *,
                  filters: Filters | None = None, query: str | None = None,
                  one_per_cluster: bool = False) -> int:
    selection, values = _selection(where, params, filters, query, one_per_cluster)
    return db.execute(f"SELECT count(*) {selection}", values).fetchone()[0]


def export_records(db: sqlite_utils.Database, where: str | None = None,
                   params: Iterable[Any] = (), *, filters: Filters | None = None,
                   query: str | None = None, one_per_cluster: bool = False,
                   limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Records (EXPORT_FIELDS) newest first. `where` is SQL over `articles a`; `filters`
    and `query` select like `talentwatch search`; one_per_cluster keeps each repost
    cluster's original. A malformed query raises storage.query.QueryError."""
    selection, values = _selection(where, params, filters, query, one_per_cluster)
    sql = (
        "SELECT a.*, (SELECT o.url FROM articles o WHERE o.id = a.duplicate_of) AS original_of_cluster "
        + selection + " ORDER BY a.published DESC, a.id DESC" + (" LIMIT ?" if limit else "")
    )
    for row in db.query(sql, values + ([limit] if limit else [])):
        record = {}
        for name in EXPORT_FIELDS:
            value = row.get(name)
            if name in _JSON_FIELDS:
                value = json_cell(value, {} if name == "region" else [])
            elif name == "duplicate_of":
                value = row.get("original_of_cluster")
            elif name == "talent" and value is not None:
                value = bool(value)
            record[name] = value
        yield record


# Exports are data: every field's text loses its control characters, URLs stay as archived
# (nothing in a JSON Lines or CSV file is a link).

def write_jsonl(records: Iterable[dict[str, Any]], out: io.TextIOBase | TextIO) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(clean_data(record, urls=False), ensure_ascii=False) + "\n")
        count += 1
    return count


# A spreadsheet (Excel, LibreOffice, WPS) opens a cell that starts with one of these as a
# formula: a scraped title "=HYPERLINK(…)" or "@SUM(…)" would run when the file is opened.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: Any) -> Any:
    """A text cell a spreadsheet shows as text: a leading apostrophe before a formula start
    (the spreadsheets' own way to say "this is text"; it is not shown). Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(records: Iterable[dict[str, Any]], out: io.TextIOBase | TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow({k: spreadsheet_text(json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict)
                                             else v)
                         for k, v in clean_data(record, urls=False).items()})
        count += 1
    return count


# name -> format; filled by ExportFormat.__init_subclass__
FORMATS: dict[str, type[ExportFormat]] = {}


class ExportFormat:
    """One export format. Defining a subclass with a `name` registers it."""

    name: ClassVar[str] = ""
    media_type: ClassVar[str] = ""
    extension: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # a format that shows stories, not copies: only each repost cluster's original
    one_per_cluster: ClassVar[bool] = False
    default_limit: ClassVar[int | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            FORMATS[cls.name] = cls

    def write(self, db: sqlite_utils.Database, records: Iterable[dict[str, Any]], out: TextIO, *,
              title: str) -> int:
        """Write `records` (export records, newest first) to `out`; returns how many."""
        raise NotImplementedError


class JsonLines(ExportFormat):
    name = "jsonl"
    media_type = "application/x-ndjson"
    extension = ".jsonl"
    description = "one JSON object per line"

    def write(self, db: sqlite_utils.Database, records: Iterable[dict[str, Any]], out: TextIO, *,
              title: str) -> int:
        return write_jsonl(records, out)


class Csv(ExportFormat):
    name = "csv"
    media_type = "text/csv"
    extension = ".csv"
    description = ("a header row, then one row per article (lists and objects as JSON; a text cell"
                   " starting with = + - @ gets a leading ')")

    def write(self, db: sqlite_utils.Database, records: Iterable[dict[str, Any]], out: TextIO, *,
              title: str) -> int:
        return write_csv(records, out)
