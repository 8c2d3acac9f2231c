"""Datasette's CSV downloads made safe to open in a spreadsheet.

Every table and query of the web view has a CSV download (`….csv`, with
`_stream=1` for all rows). Datasette writes the cells as they are, so a scraped
title `=HYPERLINK(…)` would run as a formula in Excel, WPS or LibreOffice. The
same rule as `talentwatch export --format csv` (storage.export.spreadsheet_text)
applies here: a cell that starts with = + - @ tab or CR gets a leading apostrophe;
a number (-0.25) stays a number.

Datasette streams the CSV and knows no hook for its cells, so `CsvCells` reads the
bytes as they pass (the excel dialect Python's csv module writes: `,` between
cells, `"` around cells that need it, `""` inside, CRLF between rows) and adds
the apostrophe where a cell starts; `asgi_wrapper` (web.plugin) runs every CSV
response through it. Its state is a few bytes, whatever the size of the download.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from talentwatch.storage.export import FORMULA_STARTS

_STARTS = frozenset(ord(c) for c in FORMULA_STARTS)
_SIGNS = frozenset(b"+-")
_NUMBER_BYTES = frozenset(b"0123456789.eE+-")
_NUMBER = re.compile(rb"[+-](?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_PLAIN_END = re.compile(rb"[,\r\n]")
_QUOTE, _COMMA, _CR, _LF = ord('"'), ord(","), ord("\r"), ord("\n")
_ENDS = frozenset((_COMMA, _CR, _LF))
_MAX_NUMBER = 64  # a signed cell longer than this is text, whatever it holds

# where the reader is: at a cell's start; just inside its opening quote; inside a quoted
# cell; after a quote inside one (closing, or the first of ""); inside a plain cell; in a
# plain cell that began with + or - (held back until it shows whether it is a number)
START, OPENED, QUOTED, QUOTE_SEEN, PLAIN, SIGNED = range(6)


class CsvCells:
    """Feed a CSV byte stream chunk by chunk; get it back with formula starts neutralised."""

    def __init__(self) -> None:
        self.state = START
        self.held = bytearray()  # a signed cell's bytes so far

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        i, n = 0, len(data)
        while i < n:
            state = self.state
            if state == PLAIN:  # the bulk of a download: jump to the cell's end
                end = _PLAIN_END.search(data, i)
                stop = end.end() if end else n
                out += data[i:stop]
                i = stop
                self.state = START if end else PLAIN
                continue
            if state == QUOTED:
                quote = data.find(b'"', i)
                stop = quote + 1 if quote >= 0 else n
                out += data[i:stop]
                i = stop
                self.state = QUOTE_SEEN if quote >= 0 else QUOTED
                continue
            byte = data[i]
            i += 1
            if state == START:
                if byte == _QUOTE:
                    self.state = OPENED
                elif byte in _SIGNS:
                    self.held = bytearray([byte])
                    self.state = SIGNED
                    continue
                elif byte in _ENDS:
                    pass  # an empty cell, or the row's end: the next cell starts after it
                else:
                    if byte in _STARTS:
                        out += b"'"
                    self.state = PLAIN
                out.append(byte)
            elif state == OPENED:
                if byte == _QUOTE:
                    self.state = QUOTE_SEEN
                else:
                    if byte in _STARTS:
                        out += b"'"
                    self.state = QUOTED
                out.append(byte)
            elif state == QUOTE_SEEN:
                out.append(byte)
                if byte == _QUOTE:
                    self.state = QUOTED  # "" inside a quoted cell
                else:
                    self.state = START if byte in _ENDS else PLAIN
            else:  # SIGNED
                if byte in _NUMBER_BYTES and len(self.held) < _MAX_NUMBER:
                    self.held.append(byte)
                    continue
                # at the cell's end it may be a number; anything else in it makes it text
                out += self._release() if byte in _ENDS else b"'" + self._take()
                i -= 1  # the byte that decided is read again, as part of the cell or its end
                self.state = PLAIN
        return bytes(out)

    def close(self) -> bytes:
        """What is still held at the end of the stream."""
        return self._release() if self.state == SIGNED else b""

    def _take(self) -> bytes:
        cell, self.held = bytes(self.held), bytearray()
        return cell

    def _release(self) -> bytes:
        """The held cell, ended: as it is if it is a number, else as text."""
        cell = self._take()
        return cell if _NUMBER.fullmatch(cell) else b"'" + cell


def is_csv_request(scope: MutableMapping[str, Any]) -> bool:
    """A request for one of Datasette's CSV renderings: its path ends in .csv (tables, rows,
    views, SQL and canned queries alike)."""
    return scope.get("type") == "http" and str(scope.get("path", "")).endswith(".csv")


Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


def safe_csv(app: App) -> App:
    """ASGI middleware: every CSV answer (text/csv, or Datasette's text/plain CSV view)
    passes through CsvCells on its way out."""

    async def wrapped(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if not is_csv_request(scope):
            await app(scope, receive, send)
            return
        cells: CsvCells | None = None

        async def send_safe(message: MutableMapping[str, Any]) -> None:
            nonlocal cells
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if kind.startswith((b"text/csv", b"text/plain")):
                    cells = CsvCells()
                    # the body may grow by an apostrophe a cell: its length is no longer known
                    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                    message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and cells is not None:
                body = cells.feed(bytes(message.get("body") or b""))
                if not message.get("more_body"):
                    body += cells.close()
                message = {**message, "body": body}
            await send(message)

        await app(scope, receive, send_safe)

    return wrapped
