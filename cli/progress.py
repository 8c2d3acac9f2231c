"""Progress bars for long loops: shown on a terminal, silent in cron, pipes and logs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(iterable: Iterable[T], total: int | None = None, description: str = "Working",
             size: Callable[[T], int] | None = None) -> Iterator[T]:
    """Yield from `iterable`, drawing a rich progress bar on stderr when it is a terminal.

    `total` (when the iterable has no len()) lets the bar show a percentage and ETA.
    `size` counts an item as that many steps (a batch as its rows); the bar moves once
    the caller is done with an item. With stderr redirected (daemon, cron, tests) this
    is a plain pass-through.
    """
    if not sys.stderr.isatty():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import Progress

    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with Progress(*Progress.get_default_columns(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in iterable:
            yield item
            bar.advance(task, size(item) if size else 1)
