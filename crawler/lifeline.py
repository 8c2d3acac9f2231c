"""Worker processes die with the crawl that started them.

A crawl killed with SIGKILL cannot shut its extraction pool down, and its
workers would live on as orphans. A worker is the crawl's child (spawned) or
its grandchild (forked by the fork server, crawler/pipelines.py), so it
watches the crawl's pid itself: on Linux through a pidfd, which wakes it the
moment the crawl ends; elsewhere by looking every half second. A spawned
worker also asks the kernel to kill it with its parent (PR_SET_PDEATHSIG).
The fork server ends by itself once the crawl and every worker are gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_EVERY = 0.5  # seconds, where there is no pidfd


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this process when process `parent_pid` is gone."""
    if sys.platform.startswith("linux") and os.getppid() == parent_pid:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:
            pass  # the watcher below still works
    try:
        pidfd = os.pidfd_open(parent_pid)
    except ProcessLookupError:
        os._exit(1)  # the crawl died before we could watch it
    except (AttributeError, OSError):  # no pidfds here: look now and then
        if not _alive(parent_pid):
            os._exit(1)
        watch = threading.Thread(target=_poll, args=(parent_pid,))
    else:
        watch = threading.Thread(target=_wait, args=(pidfd,))
    watch.name, watch.daemon = "parent-watch", True
    watch.start()


def _wait(pidfd: int) -> None:
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)  # readable once the process has ended
    while not poller.poll():
        pass
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone's process: the pid was reused, ours is gone
        return False
    return True


def _poll(pid: int) -> None:
    while _alive(pid):
        time.sleep(WATCH_EVERY)
    os._exit(1)
