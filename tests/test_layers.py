"""The import-linter contracts in pyproject.toml bite: lint-imports passes on a copy of the package
and fails, naming the import, once that copy gains an upward import or a cycle inside a room."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CONTRACTS = {c["id"]: c for c in PYPROJECT["tool"]["importlinter"]["contracts"]}


def _lint_imports() -> str:
    # the one installed beside this interpreter (the venv's), else the one on PATH
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports")
    assert found, "lint-imports is not installed (pip install '.[test]')"
    return found


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The package as it installs (pyproject's package-dir mapping), copied under tmp_path,
    with the real pyproject.toml beside it so lint-imports reads the real contracts."""
    for name, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items():
        target = tmp_path.joinpath(*name.split("."))
        shutil.copytree(ROOT / folder, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint(tree: Path) -> tuple[int, str]:
    """lint-imports' exit status and its report, with line wrapping undone."""
    # the copy comes first on the path, so grimp reads it and not the installed package
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "400"}
    result = subprocess.run([_lint_imports(), "--no-cache", str(tree / "pyproject.toml")],
                            cwd=tree, env=env, capture_output=True, text=True, timeout=120)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def add_import(tree: Path, module: str, line: str) -> None:
    path = tree.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_real_tree_keeps_every_contract(tree: Path) -> None:
    status, report = lint(tree)
    assert status == 0, report
    for contract in CONTRACTS.values():
        assert f"{contract['name']} KEPT" in report


def test_upward_import_breaks_the_layers(tree: Path) -> None:
    bottom, upper = CONTRACTS["layers"]["layers"][-1], "talentwatch.crawler"
    assert bottom == "talentwatch.core"
    add_import(tree, "talentwatch.core.records", f"import {upper}  # deliberately upward")
    status, report = lint(tree)
    assert status == 1, report
    assert f"{CONTRACTS['layers']['name']} BROKEN" in report
    assert f"talentwatch.core.records -> {upper}" in report


def test_cycle_inside_a_room_breaks_no_cycles(tree: Path) -> None:
    # core.config already imports core.relevance_config; the reverse import closes a cycle
    add_import(tree, "talentwatch.core.relevance_config",
               "import talentwatch.core.config  # deliberately circular")
    status, report = lint(tree)
    assert status == 1, report
    assert f"{CONTRACTS['no-cycles']['name']} BROKEN" in report
    assert "in talentwatch.core" in report and ".relevance_config -> .config" in report
    assert f"{CONTRACTS['layers']['name']} KEPT" in report
