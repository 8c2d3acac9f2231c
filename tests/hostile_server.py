"""Loopback servers that behave as hostile sites: huge, endless and compressed bodies,
redirects to other hosts, throttling answers; each logs what it was asked and when."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# a route writes the whole answer itself (status, headers, body)
Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Log:
    requests: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, path)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self) -> list[str]:
        with self.lock:
            return [path for _, path in self.requests]

    def times(self, path: str) -> list[float]:
        with self.lock:
            return [t for t, p in self.requests if p == path]


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, Route]
    log: Log
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib's name
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        with self.log.lock:
            self.log.requests.append((time.monotonic(), path))
        route = self.routes.get(path)
        if route is None:
            send(self, 404, b"not here", "text/plain")
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler hung up on a body it did not want: that is the point


def send(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes,
         content_type: str = "text/html; charset=utf-8", headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def page(body: bytes, content_type: str = "text/html; charset=utf-8", **headers: str) -> Route:
    return lambda h: send(h, 200, body, content_type, {k.replace("_", "-"): v for k, v in headers.items()})


def redirect(location: str) -> Route:
    return lambda h: send(h, 302, b"", headers={"Location": location})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address) -> None:
        pass  # a crawler hanging up mid-answer is expected here, not a server fault


@contextmanager
def serve_routes(routes: dict[str, Route], host: str = "127.0.0.1",
                 port: int = 0) -> Iterator[tuple[str, Log]]:
    """Serve `routes` on `port` (default: a free one) of `host` (any 127.x.y.z); yields
    (base URL, request log)."""
    log = Log()
    handler = type("Handler", (_Handler,), {"routes": routes, "log": log})
    server = _Server((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
