"""Attachments (PDF, DOC, DOCX) linked from article pages."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from parsel import Selector

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
_DOC = re.compile(r"\.(pdf|docx?|wps)$", re.IGNORECASE)


def find_attachment_links(html: str, url: str) -> list[tuple[str, str]]:
    """(url, link text) of each document linked from the page, once each."""
    found: dict[str, str] = {}
    for link in Selector(text=html).css("a[href]"):
        target = urljoin(url, link.attrib["href"])
        if _DOC.search(urlsplit(target).path) and target not in found:
            found[target] = link.xpath("string()").get("").strip()
    return list(found.items())
