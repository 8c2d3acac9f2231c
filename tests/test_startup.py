"""Commands that need no crawl start fast: `validate` loads none of the heavy libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, write_config

# the libraries only crawling, extraction, scoring or the archive need (seconds of start-up)
HEAVY = ("scrapy", "twisted", "trafilatura", "jieba", "datasketch", "scipy", "numpy", "sqlite_utils",
         "lxml", "apprise", "datasette")

PROBE = """
import sys
from talentwatch.cli import main
try:
    main(["--config", sys.argv[1], "validate"])
except SystemExit as exit:
    assert not exit.code, exit.code
print(" ".join(m for m in sys.argv[2:] if m in sys.modules))
"""


def test_validate_loads_no_heavy_library(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yaml", [
        {"name": "rsj", "start_urls": ["http://127.0.0.1:9/list.html"], "article_pattern": r"/art/\d+"}])
    result = subprocess.run([sys.executable, "-c", PROBE, str(config), *HEAVY], capture_output=True,
                            text=True, cwd=ROOT, check=True)
    assert "ok" in result.stdout
    assert result.stdout.splitlines()[-1] == "", f"validate loaded: {result.stdout.splitlines()[-1]}"
