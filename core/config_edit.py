"""Appending a site to config.yaml the way a person would: every comment, key order,
quote and indentation already in the file stays as it is (ruamel.yaml's round trip),
and the result is validated before it replaces the file."""

from __future__ import annotations

import difflib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from talentwatch.core.config import ConfigError, load_config

# the one line that may change: an empty `sites: []` becomes a block list
_EMPTY_SITES = re.compile(r"^\s*sites\s*:\s*(\[\s*\])?\s*(#.*)?$")


def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: comments, key order and flow/block style survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line of the user's
    return yaml


def _guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset) of the file's block sequences, as written in it."""
    from ruamel.yaml.util import load_yaml_guess_indent

    _, indent, dash = load_yaml_guess_indent(text)
    return indent or 2, dash or 0


def site_snippet(site: dict[str, Any]) -> str:
    """The site as the YAML lines `add` appends (for showing the user)."""
    yaml = _yaml()
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump([site], out)
    return out.getvalue()


def append_site(path: Path, site: dict[str, Any]) -> str:
    """Append `site` under `sites:` in the config at `path`; returns the new text.

    Raises ConfigError when the file cannot be read, the result would change a line
    already in the file, or the result does not validate; the file is then unchanged."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import YAMLError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    yaml = _yaml()
    try:
        data = yaml.load(text)
        indent, dash = _guess_indent(text) if text.strip() else (2, 0)
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    sites = data.get("sites")
    if sites is None or (isinstance(sites, CommentedSeq) and not sites and sites.fa.flow_style()):
        sites = CommentedSeq()
        data["sites"] = sites
    if not isinstance(sites, CommentedSeq):
        raise ConfigError(f"{path}: expected `sites` to be a list")
    entry = CommentedMap(site)
    for key, value in site.items():
        if isinstance(value, list):
            entry[key] = CommentedSeq(value)
    sites.append(entry)
    yaml.indent(mapping=indent, sequence=indent + dash, offset=dash)
    out = io.StringIO()
    yaml.dump(data, out)
    new_text = out.getvalue()

    removed = [line[1:] for line in difflib.ndiff(text.splitlines(), new_text.splitlines())
               if line.startswith("- ")]
    if any(not _EMPTY_SITES.match(line) for line in removed):
        raise ConfigError(f"{path}: appending the site would rewrite lines already in the file "
                          f"({removed[0].strip()!r}); add it by hand:\n{site_snippet(site)}")
    _replace_validated(path, new_text)
    return new_text


def _replace_validated(path: Path, text: str) -> None:
    """Write `text` next to `path`, validate it as a config, then move it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            load_config(tmp)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(tmp, str(path))) from None
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
