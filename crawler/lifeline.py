"""Worker processes die with the process that started them.

A crawl killed with SIGKILL cannot shut its extraction pool down, and spawned
workers would live on as orphans. Each worker asks the kernel to kill it when
its parent dies (Linux: prctl PR_SET_PDEATHSIG), and also watches its parent's
pid from a thread, which covers other systems and a parent that died before
the prctl call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_EVERY = 0.5  # seconds


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this process when `parent_pid` is gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:
            pass  # the watcher below still works
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent died before we could ask to follow it
    threading.Thread(target=_watch, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_EVERY)
    os._exit(1)
