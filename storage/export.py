"""Reading articles back out: one record per article, in the export's field names."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

import sqlite_utils

# the names users script against; later fields are appended, these stay
EXPORT_FIELDS = [
    "url", "site", "title", "published", "source", "author", "editor", "original_url",
    "text", "attachments", "parent_url", "flags", "first_seen", "last_seen",
    "duplicate_of", "version", "status",
    "talent", "score", "topics", "region", "incentives", "deadline",
]
_JSON_FIELDS = {"attachments", "flags", "topics", "region", "incentives"}


def export_records(db: sqlite_utils.Database, where: str | None = None,
                   params: Iterable[Any] = ()) -> Iterator[dict[str, Any]]:
    sql = (
        "SELECT a.*, o.url AS original_of_cluster FROM articles a"
        " LEFT JOIN articles o ON o.id = a.duplicate_of"
        + (f" WHERE {where}" if where else "")
        + " ORDER BY a.published DESC, a.id DESC"
    )
    for row in db.query(sql, list(params)):
        record = {}
        for name in EXPORT_FIELDS:
            value = row.get(name)
            if name in _JSON_FIELDS:
                value = json.loads(value) if value else ([] if name != "region" else {})
            elif name == "duplicate_of":
                value = row.get("original_of_cluster")
            elif name == "talent" and value is not None:
                value = bool(value)
            record[name] = value
        yield record


def write_jsonl(records: Iterable[dict[str, Any]], out: io.TextIOBase) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(records: Iterable[dict[str, Any]], out: io.TextIOBase) -> int:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
                         for k, v in record.items()})
        count += 1
    return count
