"""Progress bars for long loops: shown on a terminal, silent in cron, pipes and logs."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(iterable: Iterable[T], total: int | None = None, description: str = "Working") -> Iterator[T]:
    """Yield from `iterable`, drawing a rich progress bar on stderr when it is a terminal.

    `total` (when the iterable has no len()) lets the bar show a percentage and ETA.
    With stderr redirected (daemon, cron, tests) this is a plain pass-through.
    """
    if not sys.stderr.isatty():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import track

    yield from track(iterable, description=description, total=total,
                     console=Console(stderr=True), transient=True)
