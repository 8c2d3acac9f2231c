"""Run the talentwatch CLI with its archive capped at a number of pages, as a full disk.

    python -m tests.capped_cli PAGES [talentwatch arguments…]

Every SQLite connection the process opens gets `PRAGMA max_page_count = PAGES`, so a
write past that size fails exactly as on a full filesystem (SQLITE_FULL, "database or
disk is full"). Nothing in talentwatch knows about it: this is the test's disk, not a
setting of the tool.
"""

from __future__ import annotations

import sqlite3
import sys


def main() -> None:
    pages = int(sys.argv[1])

    class CappedConnection(sqlite3.Connection):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.execute(f"PRAGMA max_page_count = {pages}")

    connect = sqlite3.connect

    def capped(*args, **kwargs):
        kwargs.setdefault("factory", CappedConnection)
        return connect(*args, **kwargs)

    sqlite3.connect = capped
    from talentwatch.cli import main as talentwatch

    talentwatch(sys.argv[2:], prog_name="talentwatch")


if __name__ == "__main__":
    main()
