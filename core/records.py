"""The records that flow from the crawler through storage to alerts.

`Page` is what the spider yields: a fetched, already decoded article page.
`NotModified` and `Gone` are its answers to re-checks of archived articles
(304; 404/410), which the archive pipeline records.
`Article` is what extraction makes of it and what every later stage reads and
enriches (relevance fills its fields, storage adds identity and versioning).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Page:
    """An article page as fetched: decoded text, never raw bytes."""

    url: str
    site: str
    html: str = field(repr=False)  # never in a log line (item errors print the record)
    status: int = 200
    # hints gathered on the list page: title and date shown next to the link
    list_title: str | None = None
    list_date: str | None = None
    profile: str | None = None
    fetched_at: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # attachments (PDF, DOC, DOCX) the spider fetched for this page
    files: list[FetchedFile] = field(default_factory=list, repr=False)
    # what fetching and decoding noticed, carried into Article.flags ("charset_mismatch")
    flags: list[str] = field(default_factory=list)


@dataclass
class NotModified:
    """A conditional re-check of an archived article answered 304: it is as archived."""

    url: str  # as asked (before any redirect)
    site: str


@dataclass
class Gone:
    """A re-check of an archived article answered 404/410: the page was withdrawn."""

    url: str  # as asked (before any redirect)
    site: str
    http_status: int


@dataclass
class FetchedFile:
    url: str
    name: str = ""
    body: bytes = field(default=b"", repr=False)
    content_type: str | None = None
    skipped: str | None = None  # why it was not fetched (too large, failed …)


@dataclass
class Attachment:
    url: str
    name: str = ""
    text: str = field(default="", repr=False)
    skipped: str | None = None  # reason, when the file was not read


@dataclass
class Article:
    url: str
    site: str
    title: str = ""
    published: str | None = None  # ISO 8601: date, or datetime with +08:00
    source: str | None = None  # 来源
    author: str | None = None  # 作者
    editor: str | None = None  # 责任编辑 / 编辑: never the author
    original_url: str | None = None  # 原文链接
    text: str = field(default="", repr=False)
    attachments: list[Attachment] = field(default_factory=list, repr=False)
    parent_url: str | None = None  # a bulletin item points back at its issue
    # items split out of a bulletin; each is archived as an article of its own
    parts: list[Article] = field(default_factory=list, repr=False)
    flags: list[str] = field(default_factory=list)  # e.g. "no_body", "charset_mismatch"
    fetched_at: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # filled by relevance
    talent: bool | None = None
    score: float | None = None
    topics: list[str] = field(default_factory=list)
    matched_terms: dict[str, list[str]] = field(default_factory=dict)
    region: dict[str, str] = field(default_factory=dict)
    incentives: list[dict[str, Any]] = field(default_factory=list)
    deadline: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["attachments"] = [
            a if isinstance(a, Attachment) else Attachment(**a)
            for a in known.get("attachments") or []
        ]
        known["parts"] = [p if isinstance(p, Article) else cls.from_dict(p)
                          for p in known.get("parts") or []]
        return cls(**known)
