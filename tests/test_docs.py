"""Every command a user can run is documented: `talentwatch NAME` in README.md or docs/*.md."""

from __future__ import annotations

from pathlib import Path

import click
from talentwatch.cli import main

ROOT = Path(__file__).resolve().parent.parent


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[str]:
    """'crawl', 'notify test', …: every command and subcommand the group offers."""
    paths = []
    for name, command in group.commands.items():
        if command.hidden:
            continue
        path = (*prefix, name)
        if isinstance(command, click.Group):
            paths += command_paths(command, path)
        else:
            paths.append(" ".join(path))
    return paths


def test_every_cli_command_is_documented() -> None:
    docs = "\n".join(p.read_text(encoding="utf-8")
                     for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    paths = command_paths(main)
    assert {"validate", "crawl", "search", "notify test"} <= set(paths)  # the walk found the commands
    missing = [path for path in paths if f"talentwatch {path}" not in docs]
    assert missing == [], f"not in README.md or docs/*.md: {', '.join(missing)}"
