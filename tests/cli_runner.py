"""The real CLI in this process, through click's CliRunner.

A command costs milliseconds this way instead of a Python start-up (about a second);
crawls and `run --once` too, since Scrapy's reactor runs on a thread kept for the process
(crawler/run.py). Kills, signals, locks and terminal behaviour keep a process of their own.
"""

from __future__ import annotations

import subprocess
import traceback
from collections.abc import Mapping

from click.testing import CliRunner
from talentwatch.cli import main


def invoke(args: list[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`talentwatch ARGS…` in this process: its exit code, stdout and stderr as a process gives them."""
    result = CliRunner().invoke(main, args, prog_name="talentwatch", env=env)
    stderr = result.stderr
    if result.exc_info is not None and not isinstance(result.exc_info[1], SystemExit):
        # a process would have died printing the traceback: keep it where tests look for it
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(["talentwatch", *args], result.exit_code, result.stdout, stderr)
