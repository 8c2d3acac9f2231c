"""CLI processes forked from one that has already imported the CLI and the crawl.

`python -m talentwatch crawl` spends about 1.8 s of CPU importing Python, Scrapy, Twisted,
pydantic and the CLI before it reads its config: most of the cost of the tests that need
a crawl in a process of its own (killed at random moments, four at once, a daemon stopped
by a signal). Those start it here instead: forked from a zygote, a process that has done
the imports once, it is still a real process of its own (its own pid, session, file
descriptors, environment and exit code) running the same entry point as
`python -m talentwatch` (runpy), only without the imports. The tests of start-up itself
(test_startup.py, test_demo.py) still start a fresh interpreter.

    proc = launch(["--config", str(config), "crawl"], stderr=subprocess.PIPE)
    proc.wait(timeout=60)

pytest-xdist's controller starts one zygote for all its test processes (tests/conftest.py);
a test process without xdist (-n0) starts its own with its first launch. Either ends with
the process that started it. It forks only while it has one thread, so a child never
inherits a lock held by another.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import runpy
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent

# what `talentwatch crawl` and `talentwatch run` import before their first request; none of
# them starts a thread or installs a reactor at import (Scrapy's download handlers for http
# and https are the ones it loads at start; the others, when a URL asks for them)
IMPORTS = [
    "talentwatch.cli", "talentwatch.cli.crawl", "talentwatch.cli.daemon", "talentwatch.crawler.run",
    "talentwatch.crawler.spider", "talentwatch.crawler.pipelines", "talentwatch.scheduler.daemon",
    "scrapy.crawler", "scrapy.core.engine", "scrapy.core.scheduler",
    "scrapy.core.downloader.handlers.http11", "twisted.internet.asyncioreactor",
]
# the settings whose values name the Scrapy components a crawl imports as it starts
COMPONENT_SETTINGS = ["DOWNLOADER_MIDDLEWARES_BASE", "DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES_BASE",
                      "SPIDER_MIDDLEWARES", "EXTENSIONS_BASE", "EXTENSIONS", "ITEM_PIPELINES"]
MAX_MESSAGE = 1 << 20


# --- the zygote (`python -m tests.zygote SOCKET`) ---------------------------------------

def _import_all() -> None:
    for name in IMPORTS:
        importlib.import_module(name)
    from talentwatch.core.config import CrawlSettings
    from talentwatch.core.relevance_config import default_config
    from talentwatch.crawler.spider import spider_settings

    # the components the crawl's own settings name, and no others: those it leaves out
    # (spider.OFF) would import what a crawl never loads
    settings = spider_settings([], CrawlSettings(), default_config())
    for path in {path for name in COMPONENT_SETTINGS for path in settings[name]}:
        importlib.import_module(path.rsplit(".", 1)[0])


def _child(request: dict[str, Any], fds: list[int], zygote_files: list[Any]) -> None:
    """Become `python -m MODULE ARGV…` with the request's cwd, environment and stdio.
    Never returns: the process exits as the module's run ends, through Python's own exit
    (atexit handlers, multiprocessing's finalizers), as a fresh process would."""
    for thing in zygote_files:  # the zygote's sockets: closed through their objects, which
        thing.close()          # would otherwise close the numbers again, later, at exit
    os.setsid()
    for fd, target in zip(fds, (0, 1, 2), strict=True):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [request["module"], *request["argv"]]
    runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    sys.exit(0)


def _serve(path: str) -> None:
    _import_all()
    assert threading.active_count() == 1, "a fork would copy another thread's locks"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    running: dict[int, socket.socket] = {}  # child pid -> the connection that asked for it
    parent = os.getppid()
    while os.getppid() == parent:  # a test process that is gone (even by SIGKILL) takes it along
        for key, _ in selector.select(timeout=0.02):
            if key.fileobj is listener:
                conn, _ = listener.accept()
                message, fds, _, _ = socket.recv_fds(conn, MAX_MESSAGE, 3)
                if not message:
                    conn.close()
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(json.loads(message), fds, [selector, listener, conn, *running.values()])
                for fd in fds:
                    os.close(fd)
                conn.sendall(f"{pid}\n".encode())
                running[pid] = conn
        while running:  # report every child that has ended, with its exit code
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = running.pop(pid)
            try:
                conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:  # its test has stopped listening
                pass
            conn.close()


# --- the test side -----------------------------------------------------------------------

# the socket of the zygote that pytest-xdist's controller started for all its test processes
SHARED = "TALENTWATCH_TEST_ZYGOTE"


class _Zygote:
    """A zygote started by this process, stopped at its exit."""

    def __init__(self) -> None:
        self.home = tempfile.mkdtemp(prefix="zygote-")
        self.path = os.path.join(self.home, "socket")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(os.path.join(self.home, "log"), "w") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.zygote", self.path], cwd=ROOT, env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        atexit.register(self.stop)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)


def start_shared() -> None:
    """One zygote for every test process the xdist controller is about to start (they
    inherit its environment): each would otherwise spend ~2 CPU-s importing for its own."""
    os.environ[SHARED] = _Zygote().path


_zygote: _Zygote | None = None
_zygote_lock = threading.Lock()


def _connect(timeout: float = 60) -> socket.socket:
    """A connection to the shared zygote or to this process's own (started on first use),
    once it listens: it imports first."""
    global _zygote
    started = None
    if SHARED in os.environ:
        path = os.environ[SHARED]
    else:
        with _zygote_lock:
            if _zygote is None or _zygote.proc.poll() is not None:
                _zygote = _Zygote()
            path, started = _zygote.path, _zygote.proc
    deadline = time.monotonic() + timeout
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(path)
            return conn
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
            if (started is not None and started.poll() is not None) or time.monotonic() > deadline:
                log = Path(path).with_name("log")
                raise RuntimeError(f"the zygote at {path} does not answer:\n"
                                   + (log.read_text(errors="replace") if log.exists() else "")) from None
            time.sleep(0.02)


class Launched:
    """The Popen calls the tests use, for a process forked by the zygote."""

    def __init__(self, conn: socket.socket, pid: int, stdout: IO[str] | None, stderr: IO[str] | None) -> None:
        self._conn = conn
        self._rest = b""
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None

    def _read_code(self, timeout: float | None) -> int | None:
        self._conn.settimeout(timeout)
        try:
            while b"\n" not in self._rest:
                chunk = self._conn.recv(64)
                if not chunk:
                    raise RuntimeError(f"the zygote stopped before process {self.pid} ended")
                self._rest += chunk
        except (TimeoutError, BlockingIOError):
            return None
        self.returncode = int(self._rest.split(b"\n", 1)[0])
        self._conn.close()
        return self.returncode

    def poll(self) -> int | None:
        return self.returncode if self.returncode is not None else self._read_code(0)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self._read_code(timeout) is None:
            raise subprocess.TimeoutExpired(f"talentwatch (pid {self.pid})", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def launch(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT,
           stdout: int | IO = subprocess.DEVNULL, stderr: int | IO = subprocess.DEVNULL,
           module: str = "talentwatch") -> Launched:
    """`python -m MODULE ARGV…` in a process of its own session, forked from the zygote.
    stdout and stderr: DEVNULL, PIPE (read as text) or an open file."""
    ours: list[IO[str] | None] = []
    theirs: list[int] = [os.open(os.devnull, os.O_RDONLY)]
    for wanted in (stdout, stderr):
        if wanted == subprocess.PIPE:
            read, write = os.pipe()
            ours.append(open(read, encoding="utf-8", errors="replace"))  # noqa: SIM115  (the caller reads it)
            theirs.append(write)
        elif wanted == subprocess.DEVNULL:
            ours.append(None)
            theirs.append(os.open(os.devnull, os.O_WRONLY))
        else:
            ours.append(None)
            theirs.append(os.dup(wanted.fileno()))  # type: ignore[union-attr]
    request = {"argv": list(argv), "module": module, "cwd": str(cwd),
               "env": {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}}
    conn = _connect()
    try:
        socket.send_fds(conn, [json.dumps(request).encode()], theirs)
    finally:
        for fd in theirs:
            os.close(fd)
    pid = b""
    while not pid.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            raise RuntimeError("the zygote stopped before it started the process")
        pid += chunk
    return Launched(conn, int(pid), ours[0], ours[1])


if __name__ == "__main__":
    _serve(sys.argv[1])
