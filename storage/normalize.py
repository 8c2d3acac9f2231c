"""Text as compared, not as shown: one form for every copy of the same article.

NFKC (full-width letters, digits and punctuation), pinyin annotations removed
(`強(qiáng)`), traditional to simplified (native OpenCC), cosmetic page furniture
dropped (view counters, page-render stamps), then everything that is not a
letter or digit folded away: reposts differ most in spacing and punctuation.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import opencc
from talentwatch.core.text import nfkc

_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿê"
# a pinyin annotation after a Han character: 強(qiáng); a mirror that lost the character
# and the bracket leaves `?gòu)`. Plain syllables (de, men) count only after Han text.
_PINYIN = re.compile(
    rf"(?:(?<=[\u3400-\u9fff])\(|\?)[a-z{_TONED}]{{1,6}}\)"
)

# page furniture that changes on every render without the article changing
COSMETIC_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?:浏览|阅读|点击|访问|查看)(?:次数|量|数)?\s*[:：]?\s*\d+\s*次?"),
    re.compile(r"(?:页面生成|生成|打印|访问|当前|更新)时间\s*[:：]\s*[\d\-/年月日: ]{8,20}"),
    re.compile(r"今天是\s*\d{4}年\d{1,2}月\d{1,2}日\s*(?:星期.)?"),
    re.compile(r"收听本文\s*\d{2}:\d{2}\s*/\s*\d{2}:\d{2}"),
)

# letters and digits survive; punctuation, symbols, whitespace and `?`/U+FFFD
# (characters a mirror lost) are folded away
_FOLD = re.compile(r"[^\w]|_", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s.json")


def strip_pinyin(text: str) -> str:
    return _PINYIN.sub("", text)


def strip_cosmetic(text: str) -> str:
    for pattern in COSMETIC_PATTERNS:
        text = pattern.sub("", text)
    return text


def normalize(text: str | None) -> str:
    """The comparison form of a text: no spaces, no punctuation, simplified, lower case."""
    if not text:
        return ""
    text = nfkc(text)
    text = strip_pinyin(text)
    text = strip_cosmetic(text)
    text = _t2s().convert(text)
    return _FOLD.sub("", text).lower()


def fingerprint(title: str | None, text: str | None) -> str:
    """Hash of the normalised title and text: equal for cosmetic-only differences."""
    return fingerprint_of(normalize(title), normalize(text))


def fingerprint_of(normalized_title: str, normalized_text: str) -> str:
    """`fingerprint` of a title and text normalised already."""
    return hashlib.sha256(f"{normalized_title}\n{normalized_text}".encode()).hexdigest()


def text_hash(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()
