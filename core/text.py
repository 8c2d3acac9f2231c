"""NFKC for Chinese text, the form every comparison and pattern of talentwatch reads."""

from __future__ import annotations

import re
import unicodedata

# full-width ASCII (！ to ～) and the ideographic space, which NFKC maps to ASCII
_HALF_WIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
_FULL_WIDTH = re.compile(f"[{''.join(map(re.escape, _HALF_WIDTH))}]")


def nfkc(text: str) -> str:
    """unicodedata.normalize("NFKC", text), in half the time on Chinese text.

    Its full-width punctuation (，：（）) makes nearly every text need NFKC. Mapped first
    (a text holds a few kinds of them, each replaced throughout at once: faster than
    translating every character), most texts then pass NFKC's quick check and are left
    as they are."""
    for char in set(_FULL_WIDTH.findall(text)):
        text = text.replace(char, _HALF_WIDTH[char])
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)
