"""A static portal server on 127.0.0.1 that answers conditional requests and
counts what it was asked, for crawl tests and the recrawl benchmark.

SimpleHTTPRequestHandler already answers If-Modified-Since from file mtimes;
this adds ETags (mtime + size, as nginx makes them), forced error statuses per
path (a 500, a 410), and a log of every request with its answer.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Hit:
    path: str
    status: int
    conditional: bool  # carried If-None-Match or If-Modified-Since


@dataclass
class Traffic:
    hits: list[Hit] = field(default_factory=list)
    forced: dict[str, int] = field(default_factory=dict)  # path -> status to answer
    arrivals: list[str] = field(default_factory=list)  # paths in the order requests came in
    arrived_at: list[float] = field(default_factory=list)  # time.monotonic() of each arrival
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self) -> int:
        with self.lock:
            return len(self.hits)

    def since(self, mark: int) -> list[Hit]:
        with self.lock:
            return list(self.hits[mark:])

    def wait_for(self, mark: int, count: int, what: str, timeout: float = 60) -> None:
        """Wait until `count` requests were answered since `mark`; fails, saying `what`
        did not happen, after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.since(mark)) < count:
            assert time.monotonic() < deadline, what
            time.sleep(0.05)


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    traffic: Traffic

    def __init__(self, *args, traffic: Traffic, **kwargs) -> None:
        self.traffic = traffic
        self._etag: str | None = None
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib's name
        pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
        with self.traffic.lock:
            self.traffic.hits.append(Hit(self.path.split("?")[0], int(getattr(code, "value", code)),
                                         conditional))

    def end_headers(self) -> None:
        if self._etag:
            self.send_header("ETag", self._etag)
        super().end_headers()

    def send_head(self):
        path = self.path.split("?")[0]
        with self.traffic.lock:
            self.traffic.arrivals.append(path)
            self.traffic.arrived_at.append(time.monotonic())
        if path in self.traffic.forced:
            self.send_error(self.traffic.forced[path])
            return None
        local = Path(self.translate_path(self.path))
        if local.is_file():
            stat = local.stat()
            self._etag = f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'
            if self.headers.get("If-None-Match") == self._etag:
                self.send_response(304)
                self.end_headers()
                return None
        return super().send_head()


class PortalServer(http.server.ThreadingHTTPServer):
    # the stdlib's backlog of 5 drops connections under a crawler's concurrency, and each
    # dropped SYN costs a second of TCP retransmission: wall times would measure that
    request_queue_size = 128
    daemon_threads = True


@contextmanager
def serve_counting(directory: Path) -> Iterator[tuple[str, Traffic]]:
    """Serve `directory` on a free 127.0.0.1 port; yields (base URL, traffic log)."""
    traffic = Traffic()
    handler = functools.partial(CountingHandler, directory=str(directory), traffic=traffic)
    server = PortalServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", traffic
    finally:
        server.shutdown()
        server.server_close()
