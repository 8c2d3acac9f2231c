"""Versions of one article: what changed between two fetches, as a readable diff.

Chinese paragraphs are long lines; a line diff says which paragraphs moved,
and each changed pair is refined to the characters that differ, so a figure
changed from 20万元 to 30万元 reads as exactly that.
"""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a crawl's workers import this module but store nothing: no sqlite-utils
    import sqlite_utils


def _lines(title: str | None, text: str | None) -> list[str]:
    lines = [f"标题：{title or ''}"]
    lines += [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines


def unified_diff(old_title: str | None, old_text: str | None, new_title: str | None,
                 new_text: str | None, old_label: str = "v1", new_label: str = "v2") -> str:
    """A unified diff of the two versions, one paragraph per line."""
    return "\n".join(difflib.unified_diff(
        _lines(old_title, old_text), _lines(new_title, new_text),
        fromfile=old_label, tofile=new_label, lineterm="", n=1))


def changed_spans(old: str, new: str, context: int = 8) -> list[dict[str, str]]:
    """The character spans that differ, with a little context: [{old, new, at}]."""
    spans = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        spans.append({"op": op, "old": old[i1:i2], "new": new[j1:j2],
                      "at": old[max(0, i1 - context):i1]})
    return spans


def diff_summary(old_title: str | None, old_text: str | None, new_title: str | None,
                 new_text: str | None, limit: int = 20) -> dict[str, Any]:
    """What an alert needs to say about an edit: title change, changed spans, sizes."""
    old_text, new_text = old_text or "", new_text or ""
    spans = changed_spans(old_text, new_text) if len(old_text) + len(new_text) < 200_000 else []
    return {
        "title_changed": (old_title or "") != (new_title or ""),
        "old_title": old_title if (old_title or "") != (new_title or "") else None,
        "chars_before": len(old_text),
        "chars_after": len(new_text),
        "spans": spans[:limit],
        "more_spans": max(0, len(spans) - limit),
    }


def history(db: sqlite_utils.Database, article_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in db.query(
        "SELECT version, title, text, fetched_at, diff, content_hash FROM versions"
        " WHERE article_id = ? ORDER BY version", [article_id])]


def diff_between(db: sqlite_utils.Database, article_id: int, old: int, new: int) -> str:
    rows = {r["version"]: r for r in history(db, article_id)}
    if old not in rows or new not in rows:
        raise KeyError(f"article {article_id} has no version {old if old not in rows else new}")
    a, b = rows[old], rows[new]
    return unified_diff(a["title"], a["text"], b["title"], b["text"], f"v{old}", f"v{new}")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
