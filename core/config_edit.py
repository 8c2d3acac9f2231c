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


def _file_indent(data: Any, text: str) -> tuple[int, int, int]:
    """(mapping, sequence, dash offset) with which the file dumps back to itself unchanged.

    ruamel keeps comments and order but writes one indentation everywhere; the one
    the file was written with is found by trying the usual ones."""
    yaml = _yaml()
    for mapping in (2, 4, 3):
        for sequence, offset in ((mapping + 2, mapping), (mapping, 0), (4, 2), (2, 0), (4, 0), (3, 1),
                                 (mapping + 2, 2), (6, 4)):
            if offset >= sequence:
                continue
            yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
            out = io.StringIO()
            yaml.dump(data, out)
            if out.getvalue() == text:
                return mapping, sequence, offset
    return 2, 4, 2


def _last_comment_slot(node: Any) -> tuple[Any, Any, int] | None:
    """Where ruamel keeps the comment after a node's last line: (holder, key, position)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    found = None
    while isinstance(node, CommentedMap | CommentedSeq) and len(node):
        key = len(node) - 1 if isinstance(node, CommentedSeq) else list(node.keys())[-1]
        position = 0 if isinstance(node, CommentedSeq) else 2
        slot = node.ca.items.get(key)
        if slot and len(slot) > position and slot[position] is not None:
            found = (node, key, position)
        node = node[key]
    return found


def _move_trailing_comments(previous: Any, entry: Any) -> None:
    """Comments after the last site that belong to what follows the list (a block at the
    margin, above the next top-level key) go after the new site, where they were."""
    import copy

    slot = _last_comment_slot(previous)
    if slot is None:
        return
    holder, key, position = slot
    token = holder.ca.items[key][position]
    head, newline, rest = token.value.partition("\n")
    lines = rest.split("\n")
    cut = len(lines)
    while cut > 0 and (lines[cut - 1].strip() == "" or lines[cut - 1].startswith("#")):
        cut -= 1
    kept, moved = "\n".join(lines[:cut]), "\n".join(lines[cut:])
    if not moved.strip():
        return
    token.value = head + newline + (kept + "\n\n" if kept.strip() else "")
    moved_token = copy.copy(token)
    moved_token.value = "\n" + moved
    last_key = list(entry.keys())[-1]
    entry.ca.items[last_key] = [None, None, moved_token, None]


def _entry(site: dict[str, Any]) -> Any:
    """The site as round-trip YAML: lists in block style, regexes in single quotes (no escapes)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    entry = CommentedMap()
    for key, value in site.items():
        if isinstance(value, list):
            value = CommentedSeq(value)
        elif key == "article_pattern":
            value = SingleQuotedScalarString(value)
        entry[key] = value
    return entry


def site_snippet(site: dict[str, Any]) -> str:
    """The site as the YAML lines `add` appends (for showing the user)."""
    yaml = _yaml()
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    yaml.dump([_entry(site)], out)
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
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    mapping, sequence, offset = _file_indent(data, text) if text.strip() else (2, 4, 2)
    sites = data.get("sites")
    if sites is None or (isinstance(sites, CommentedSeq) and not sites and sites.fa.flow_style()):
        sites = CommentedSeq()
        data["sites"] = sites
    if not isinstance(sites, CommentedSeq):
        raise ConfigError(f"{path}: expected `sites` to be a list")
    entry = _entry(site)
    if len(sites):
        _move_trailing_comments(sites[-1], entry)
    sites.append(entry)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
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
