"""An edit as a reader wants it: the changed sentences, the differing words marked.

Input is the unified diff the archive stores for each version (storage.versions:
one paragraph per line), so only changed paragraphs are read. Each hunk's removed
and added paragraphs are cut into sentences; sentences are aligned, and within a
changed pair the differing words (a number as one word, a Han character each) are
marked. Every size is capped, so a huge diff costs bounded time inside a SQL function.
"""

from __future__ import annotations

import difflib
import html
import re

MAX_DIFF_CHARS = 60_000  # beyond this the rest of the diff is not read
MAX_SENTENCES = 200  # changed sentences shown per edit
MAX_WORDS = 400  # a pair longer than this is shown as whole sentences, not word by word
WORD_BUDGET = 8_000  # words compared per edit; later pairs are shown as whole sentences
MAX_SIDE = 400  # sentences aligned per hunk side (the alignment is quadratic at worst)

_SENTENCE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+|$)")
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z]+|\s+|.", re.S)

Segment = tuple[str, str]  # ("=" | "-" | "+", text)


def _sentences(paragraphs: list[str]) -> list[str]:
    return [s.strip() for p in paragraphs for s in _SENTENCE.findall(p) if s.strip()]


def _hunks(diff: str) -> list[tuple[list[str], list[str]]]:
    """(removed paragraphs, added paragraphs) of each run of changed lines."""
    hunks: list[tuple[list[str], list[str]]] = []
    old: list[str] = []
    new: list[str] = []
    for line in diff[:MAX_DIFF_CHARS].splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            old.append(line[1:])
        elif line.startswith("+"):
            new.append(line[1:])
        elif old or new:
            hunks.append((old, new))
            old, new = [], []
    if old or new:
        hunks.append((old, new))
    return hunks


def word_diff(old: str, new: str, max_words: int = MAX_WORDS) -> list[Segment]:
    """`new` with the words `old` had instead marked: [("=", …), ("-", …), ("+", …)]."""
    if len(old) > 4 * max_words or len(new) > 4 * max_words:  # no need to split these
        return [("-", old), ("+", new)]
    a, b = _WORD.findall(old), _WORD.findall(new)
    if len(a) > max_words or len(b) > max_words:
        return [("-", old), ("+", new)]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < 0.4:  # a different sentence, not an edited one: show both whole
        return [("-", old), ("+", new)]
    out: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(("=", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(b[j1:j2])))
    return out


def changed_sentences(diff: str | None) -> list[list[Segment]]:
    """Each changed sentence of an edit as segments (see word_diff)."""
    result: list[list[Segment]] = []
    budget = WORD_BUDGET
    for removed, added in _hunks(diff or ""):
        old, new = _sentences(removed)[:MAX_SIDE], _sentences(added)[:MAX_SIDE]
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                continue
            pairs = list(zip(old[i1:i2], new[j1:j2], strict=False))
            for o, n in pairs:
                result.append(word_diff(o, n, min(MAX_WORDS, budget)))
                budget = max(0, budget - len(o) - len(n))
            result += [[("-", o)] for o in old[i1 + len(pairs):i2]]
            result += [[("+", n)] for n in new[j1 + len(pairs):j2]]
            if len(result) >= MAX_SENTENCES:
                return result[:MAX_SENTENCES]
    return result


_TAGS = {"=": "{}", "-": "<del>{}</del>", "+": "<ins>{}</ins>"}


def sentences_html(sentences: list[list[Segment]]) -> str:
    """One <p class="change"> per sentence; changed words in <del>/<ins>, the sentence in <mark>."""
    return "".join(
        '<p class="change"><mark>'
        + "".join(_TAGS.get(op, "{}").format(html.escape(text)) for op, text in segments)
        + "</mark></p>"
        for segments in sentences)
