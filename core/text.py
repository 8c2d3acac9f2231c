"""NFKC for Chinese text, the form every comparison and pattern of talentwatch reads."""

from __future__ import annotations

import unicodedata

# full-width ASCII (！ to ～) and the ideographic space, mapped as NFKC maps them
_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def nfkc(text: str) -> str:
    """unicodedata.normalize("NFKC", text), in half the time on Chinese text.

    Its full-width punctuation (，：（）) makes nearly every text need NFKC; mapped first
    by a translation, most texts then pass NFKC's quick check and are left as they are."""
    text = text.translate(_FULL_WIDTH)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)
