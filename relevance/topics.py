"""Topic scores from weighted terms, counted on jieba tokens.

Counting whole tokens, not substrings, keeps 引才 out of 吸引才能 and 选调 out
of 选调生 counting twice; the shipped talent dictionary and every configured
term are added to a private jieba tokenizer so that terms come out whole.
Repeats are damped (1 + ln n) so that a long article cannot talk itself into a
topic with one word; a term in the title counts `title_weight` times more.

Segmenting a whole article is the costly part, and most of it is wasted: jieba
cuts each run of Han letters and digits (a "block", between punctuation and
spaces) on its own, so a term can only come out of a block that contains it.
A compiled automaton of the terms (and of 人才) finds those blocks in one pass,
and only they are segmented: the counts of every term are exactly those of the
whole text.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import math
import os
import sys
import tempfile
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import ahocorasick_rs
from talentwatch.core.relevance_config import RelevanceConfig

# jieba finds its data files through pkg_resources when setuptools is installed: a quarter
# second of import in every extraction worker, for nothing. When pkg_resources cannot be
# imported, jieba opens the same files beside its own module (as on Pythons whose venvs
# have no setuptools), so it is made unimportable while jieba is imported.
_HIDE_PKG_RESOURCES = "pkg_resources" not in sys.modules and "jieba" not in sys.modules
if _HIDE_PKG_RESOURCES:
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # import fails: ImportError
try:
    import jieba
finally:
    if _HIDE_PKG_RESOURCES:
        del sys.modules["pkg_resources"]

NEGATIVE_KEY = "negative"
GENERIC = "人才"
_DICT_FILE = "talent_dict.txt"

jieba.setLogLevel(logging.WARNING)
log = logging.getLogger(__name__)

# what jieba segments as one block (a run of Han letters and digits): a term only ever
# comes out of a block that contains it
_BLOCK = jieba.re_han_default
# blocks whose tokens a scorer remembers: the same blocks come back across a site's articles
# (titles repeated in the body, every notice's stock phrases); a block is ~15 characters
BLOCK_CACHE = 50_000


def dictionary_cache() -> Path:
    """Where the merged dictionary is kept between processes. Its name changes with jieba's
    version and the talent dictionary's text, so a stale copy is never read."""
    from platformdirs import user_cache_dir

    talent = resources.files("talentwatch.relevance.data").joinpath(_DICT_FILE).read_bytes()
    key = hashlib.sha256(jieba.__version__.encode() + b"\0" + talent).hexdigest()[:16]
    return Path(user_cache_dir("talentwatch")) / f"jieba-dictionary-{key}.marshal"


def _read_cached(path: Path) -> tuple[dict[str, int], int] | None:
    try:
        freq, total = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):  # none yet, unreadable, or damaged
        return None
    if not isinstance(freq, dict) or not isinstance(total, int):
        return None
    return freq, total


def _write_cached(path: Path, freq: dict[str, int], total: int) -> None:
    """Written whole under another name, then renamed: a reader never sees half a file."""
    partial: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, delete=False) as out:
            partial = out.name
            out.write(marshal.dumps((freq, total)))
        os.replace(partial, path)
    except OSError as exc:  # a read-only home: every process builds its own, as before
        log.debug("jieba dictionary not cached at %s: %s", path, exc)
        if partial is not None:  # a full disk: not 9 MB of half a file left at every start
            Path(partial).unlink(missing_ok=True)


@lru_cache(maxsize=1)
def shipped_dictionary() -> tuple[dict[str, int], int]:
    """jieba's dictionary with the shipped talent dictionary added, once per process.

    jieba builds it from its own cache with marshal.load on the open file, which reads
    piece by piece: about 1.5 s of CPU for every extraction worker that starts. The merged
    result is kept in the user's cache directory and read whole, in about a third of that."""
    cache = dictionary_cache()
    cached = _read_cached(cache)
    if cached is not None:
        return cached
    tokenizer = jieba.Tokenizer()
    with resources.as_file(resources.files("talentwatch.relevance.data").joinpath(_DICT_FILE)) as path:
        tokenizer.load_userdict(str(path))
    _write_cached(cache, tokenizer.FREQ, tokenizer.total)
    return tokenizer.FREQ, tokenizer.total


def _private_tokenizer() -> jieba.Tokenizer:
    """A tokenizer of its own (a scorer adds its terms to it), on a copy of the shipped one."""
    freq, total = shipped_dictionary()
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = dict(freq), total
    tokenizer.initialized = True  # its dictionary is the copy: nothing to load
    return tokenizer


@dataclass
class TopicResult:
    score: float
    topics: list[str]
    matched_terms: dict[str, list[str]]
    topic_scores: dict[str, float] = field(default_factory=dict)


def _weight_of(count: int) -> float:
    return 1.0 + math.log(count) if count > 0 else 0.0


class TopicScorer:
    def __init__(self, config: RelevanceConfig) -> None:
        self.config = config
        self.tokenizer = _private_tokenizer()
        terms = {t for topic in config.topics for t in (*topic.terms, *topic.negative)}
        terms |= set(config.negative)
        self.known = terms
        for term in sorted(terms):
            # a frequency high enough that the term is never split
            self.tokenizer.add_word(term, freq=max(self.tokenizer.FREQ.get(term, 0), 2000))
        self.automaton = self._automaton(terms)
        # jieba cuts each block on its own (the same tokens wherever the block stands)
        self._block_tokens = lru_cache(maxsize=BLOCK_CACHE)(self._cut_block)

    def _cut_block(self, block: str) -> tuple[str, ...]:
        return tuple(self.tokenizer.cut(block, HMM=False))

    @staticmethod
    def _automaton(terms: set[str]) -> ahocorasick_rs.AhoCorasick | None:
        """The terms (and 人才) as one automaton, or None when a term could span blocks
        (punctuation, spaces): then whole texts are segmented, as before."""
        if not all(_BLOCK.fullmatch(term) for term in terms):
            return None
        return ahocorasick_rs.AhoCorasick(sorted({*terms, GENERIC}))

    def _term_blocks(self, text: str) -> list[str]:
        """The blocks of `text` that contain a term or 人才, in order."""
        assert self.automaton is not None
        blocks = [m.span() for m in _BLOCK.finditer(text)]
        starts = [start for start, _ in blocks]
        keep: set[int] = set()
        for _, start, _ in self.automaton.find_matches_as_indexes(text, overlapping=True):
            # a hit is letters only, so it lies inside one block: the last one starting at or before it
            keep.add(bisect_right(starts, start) - 1)
        return [text[blocks[i][0]:blocks[i][1]] for i in sorted(keep)]

    def tokens(self, text: str) -> Counter[str]:
        text = text or ""
        if self.automaton is None:
            counts = Counter(self.tokenizer.cut(text, HMM=False))
        else:
            counts = Counter()
            for block in self._term_blocks(text):
                counts.update(self._block_tokens(block))
        # 专业人才, 卫生人才 …: a kind of 人才 the terms do not list still counts as 人才
        for token, n in list(counts.items()):
            if len(token) > 2 and token.endswith(GENERIC) and token not in self.known:
                counts[GENERIC] += n
        return counts

    def _part(self, terms: dict[str, float], body: Counter[str], title: Counter[str],
              title_weight: float) -> tuple[float, list[tuple[float, str]]]:
        total, hits = 0.0, []
        for term, weight in terms.items():
            count, in_title = body.get(term, 0), title.get(term)
            if not count and not in_title:
                continue  # adds nothing: most terms of most topics
            value = weight * _weight_of(count)
            if in_title:
                value += weight * title_weight
            if value:
                total += value
                hits.append((value, term))
        hits.sort(key=lambda h: (-h[0], h[1]))
        return total, hits

    def score(self, title: str, text: str) -> TopicResult:
        body, head = self.tokens(text), self.tokens(title)
        total = 0.0
        topic_scores: dict[str, float] = {}
        matched: dict[str, list[str]] = {}
        for topic in self.config.topics:
            plus, hits = self._part(topic.terms, body, head, topic.title_weight)
            minus, _ = self._part(topic.negative, body, head, topic.title_weight)
            value = plus - minus
            topic_scores[topic.name] = round(value, 2)
            if hits and value > 0:
                matched[topic.name] = [term for _, term in hits]
                total += value
        minus, neg_hits = self._part(self.config.negative, body, head, 2.0)
        if neg_hits:
            matched[NEGATIVE_KEY] = [term for _, term in neg_hits]
        total -= minus
        topics = sorted((name for name, v in topic_scores.items() if v >= self.config.topic_threshold),
                        key=lambda name: -topic_scores[name])
        return TopicResult(round(total, 2), topics, matched, topic_scores)
