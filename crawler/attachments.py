"""Attachments: which links on an article page are documents, and their text.

The spider calls `find_attachment_links` to know what to fetch (each file at
most MAX_ATTACHMENT_BYTES); extraction turns the fetched files into
`Attachment` records with their text (pdfminer.six for PDF, python-docx for
DOCX). A file that is too large, malformed or of an unreadable kind is kept
with `skipped` saying why, never dropped silently.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from urllib.parse import unquote, urljoin, urlsplit

from talentwatch.core.records import Attachment, FetchedFile

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # the spider stops downloading past this
MAX_ATTACHMENT_CHARS = 400_000  # text kept per attachment
MAX_PDF_PAGES = 300
EXTENSIONS = (".pdf", ".doc", ".docx")
_EXT_RE = re.compile(r"\.(pdf|docx?)$", re.IGNORECASE)


def _kind_of_link(href: str, text: str) -> bool:
    path = unquote(urlsplit(href).path)
    return bool(_EXT_RE.search(path) or _EXT_RE.search(text.strip()))


# a page without any of these cannot link a document (an extension, a percent-encoded
# or character-reference dot): the spider then skips parsing it, most pages' case. One
# pattern per leading character, case spelled out: each is then scanned for its first
# character alone, three times faster over a page than one case-blind alternation
_MAYBE_DOCUMENT = (
    re.compile(r"\.(?:[pP][dD][fF]|[dD][oO][cC])"),
    re.compile(r"%2[eE]"),
    re.compile(r"&(?:#0*46|#[xX]0*2[eE]|[pP][eE][rR][iI][oO][dD];)"),
)


def find_attachment_links(html: str, url: str) -> list[tuple[str, str]]:
    """(absolute url, link text) of every PDF/DOC/DOCX link on a page, in page order."""
    from talentwatch.crawler.body import parse, text_content

    if not html or not any(pattern.search(html) for pattern in _MAYBE_DOCUMENT):
        return []
    root = parse(html) if html.strip() else None
    if root is None:
        return []
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for link in root.iter("a"):
        href = (link.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        text = " ".join(text_content(link).split()) or link.get("title") or ""
        if not _kind_of_link(href, text):
            continue
        target = urljoin(url, href).split("#")[0]
        if target not in seen:
            seen.add(target)
            found.append((target, text or unquote(urlsplit(target).path.rsplit("/", 1)[-1])))
    return found


def _pdf_text(body: bytes) -> str:
    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(body), maxpages=MAX_PDF_PAGES)


def _docx_text(body: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(body))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


def file_kind(body: bytes, name: str = "", content_type: str | None = None) -> str | None:
    """'pdf', 'docx', 'doc' by magic bytes first (servers mislabel files), then by name."""
    if body.startswith(b"%PDF") or b"%PDF-" in body[:1024]:
        return "pdf"
    if body.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                if "word/document.xml" in archive.namelist():
                    return "docx"
        except zipfile.BadZipFile:
            return None
        return None
    if body.startswith(b"\xd0\xcf\x11\xe0"):
        return "doc"
    m = _EXT_RE.search(name or "")
    return m[1].lower() if m else None


def read_attachment(file: FetchedFile) -> Attachment:
    att = Attachment(url=file.url, name=file.name or unquote(urlsplit(file.url).path.rsplit("/", 1)[-1]))
    if file.skipped:
        att.skipped = file.skipped
        return att
    if len(file.body) > MAX_ATTACHMENT_BYTES:
        att.skipped = f"too large: {len(file.body)} bytes > {MAX_ATTACHMENT_BYTES}"
        return att
    if not file.body:
        att.skipped = "empty file"
        return att
    kind = file_kind(file.body, att.name or file.url, file.content_type)
    try:
        if kind == "pdf":
            text = _pdf_text(file.body)
        elif kind == "docx":
            text = _docx_text(file.body)
        elif kind == "doc":
            att.skipped = "legacy Word .doc: no text reader for this format"
            return att
        else:
            att.skipped = "not a PDF, DOC or DOCX file"
            return att
    except Exception as exc:  # pdfminer and python-docx raise many kinds on broken files
        att.skipped = f"malformed {kind}: {type(exc).__name__}: {exc}"[:300]
        log.warning("attachment %s skipped: %s", file.url, att.skipped)
        return att
    text = re.sub(r"[ \t\u00a0]+\n", "\n", text.replace("\x0c", "\n")).strip()
    if len(text) > MAX_ATTACHMENT_CHARS:
        text = text[:MAX_ATTACHMENT_CHARS]
    if not text:
        att.skipped = f"no text in {kind} (scanned image?)"
    att.text = text
    return att


def read_attachments(files: list[FetchedFile]) -> list[Attachment]:
    return [read_attachment(f) for f in files]
