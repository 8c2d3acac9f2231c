"""One headless Chromium for many pages, driven over its DevTools pipe.

`chromium --dump-dom URL` starts a whole browser (a dozen processes, about a
second of CPU) for one page; a test module that reads many pages starts one
browser and asks it for each page's DOM. The DevTools protocol over
--remote-debugging-pipe needs nothing but the standard library: JSON messages,
each ended by a NUL byte, written to the browser's fd 3 and read from its fd 4.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

# Debian's chromium (.ci/run installs it), or another Chromium on the PATH; None: none here
CHROMIUM = (shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
            or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None))

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900"]


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, executable: str, profile: Path, timeout: float = 60) -> None:
        self.timeout = timeout
        to_browser, ours_out = os.pipe()
        ours_in, from_browser = os.pipe()
        # the browser's ends moved above 9, so that bash can put them at 3 and 4 (dash reads
        # one-digit descriptors only)
        theirs_in = fcntl.fcntl(to_browser, fcntl.F_DUPFD_CLOEXEC, 10)
        theirs_out = fcntl.fcntl(from_browser, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser)
        os.close(from_browser)
        script = f'exec "$0" "$@" 3<&{theirs_in} 4>&{theirs_out} {theirs_in}<&- {theirs_out}>&-'
        self.proc = subprocess.Popen(
            ["bash", "-c", script, executable, *FLAGS, f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(theirs_in, theirs_out), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(theirs_in)
        os.close(theirs_out)
        self._out, self._in = ours_out, ours_in
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._last_id = 0

    def dom(self, url: str) -> str:
        """The page's DOM once it has loaded and its scripts ran (what --dump-dom prints)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            self.call("Page.enable", session=session)
            self.call("Page.navigate", {"url": url}, session=session)
            self._wait_for("Page.loadEventFired", session)
            found = self.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                                   "returnByValue": True}, session=session)
            return found["result"]["value"]
        finally:
            self.call("Target.closeTarget", {"targetId": target})

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (BrowserError, OSError):
            pass
        os.close(self._out)
        os.close(self._in)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _wait_for(self, event: str, session: str) -> None:
        while True:
            for i, message in enumerate(self._events):
                if message.get("method") == event and message.get("sessionId") == session:
                    del self._events[: i + 1]
                    return
            self._events.append(self._read())

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise BrowserError(f"no answer from the browser in {self.timeout:.0f} s")
            chunk = os.read(self._in, 65536)
            if not chunk:
                raise BrowserError(f"the browser ended (exit code {self.proc.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)
