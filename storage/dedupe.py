"""Near-duplicate detection: MinHash LSH over character shingles, kept in SQLite.

Each article's MinHash signature and its LSH band keys are rows of the
archive, written in the article's own transaction; a lookup is one indexed
`IN (…)` query over the band keys. So the index survives restarts with
nothing to rebuild, and it never disagrees with the articles it points at.

Candidates from the bands are verified on the pair: the share of the shorter
text's shingles found in the other one (reposts add headers and footers,
mirrors lose characters, so containment, not equality, is what matters).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # a crawl's workers import this module but store nothing: no sqlite-utils
    import sqlite_utils

SHINGLE = 3  # characters per shingle: Chinese words are 1–4 characters
NUM_PERM = 192
LSH_THRESHOLD = 0.35  # Jaccard around which the bands make two texts candidates
VERIFY_OVERLAP = 0.7  # verified duplicate: ≥70% of the shorter text's shingles in the other
MIN_CHARS = 60  # normalised characters below which a text takes no part in matching
MAX_VERIFY = 20  # candidates verified per lookup, best estimated Jaccard first
# Below this estimated Jaccard a pair cannot reach VERIFY_OVERLAP within
# MIN_LENGTH_RATIO (worst case ≈ 0.7·0.3 / (1 + 0.3 − 0.21) ≈ 0.19), less MinHash noise
MIN_ESTIMATE = 0.12
# a short item quoted inside a long roundup is not a copy of it: lengths must be comparable
MIN_LENGTH_RATIO = 0.3


# datasketch's choice of bands × rows for LSH_THRESHOLD and NUM_PERM (minimising FP+FN
# weight), written down: working it out integrates numerically, half a second of CPU at
# every crawl's start. tests/test_dedupe.py checks that datasketch still agrees.
LSH_BANDS, LSH_ROWS = 48, 4


@lru_cache(maxsize=1)
def _lsh_shape() -> tuple[int, list[tuple[int, int]]]:
    return LSH_BANDS, [(i * LSH_ROWS, (i + 1) * LSH_ROWS) for i in range(LSH_BANDS)]


_SIG_DTYPE = np.dtype(np.uint32)  # datasketch's hash values, as stored

# The signature is datasketch's MinHash(num_perm=NUM_PERM, seed=1) of the shingles' 32-bit
# hashes (its default "affine32" scheme: each value mixed by the MurmurHash3 finalizer,
# then a·h + b modulo 2**32 for each permutation, the smallest kept), computed here in
# numpy: importing datasketch costs each worker process a second of CPU (it loads scipy),
# and it feeds every value through a Python call. tests/test_dedupe.py checks that
# datasketch gives the same values; stored signatures and band keys depend on them.
_FINALIZER = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
_HASHES_PER_STEP = 4096  # bounds the (hashes × NUM_PERM) array of one step to 3 MB


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    # datasketch's draw for a seed: odd multipliers first, then the offsets, from one RandomState
    draw = np.random.RandomState(1)
    a = draw.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = draw.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _minhash(hashes: np.ndarray) -> np.ndarray:
    """The MinHash signature (NUM_PERM uint32 values) of a set of 32-bit hashes."""
    a, b = _permutations()
    s1, m1, s2, m2, s3 = _FINALIZER
    sig = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    with np.errstate(over="ignore"):  # arithmetic modulo 2**32 is the point
        for start in range(0, len(hashes), _HASHES_PER_STEP):
            h = hashes[start:start + _HASHES_PER_STEP].astype(np.uint32)
            h = (h ^ (h >> s1)) * m1
            h = (h ^ (h >> s2)) * m2
            h = h ^ (h >> s3)
            np.minimum(sig, (h[:, None] * a + b).min(axis=0), out=sig)
    return sig


def shingles(normalized: str) -> set[str]:
    k = SHINGLE
    return {normalized[i:i + k] for i in range(max(len(normalized) - k + 1, 0))}


def _packed(normalized: str) -> np.ndarray:
    """Each shingle as one number: its code points (< 2**21) side by side in 63 bits."""
    cps = np.frombuffer(normalized.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(cps) < SHINGLE:
        return np.empty(0, dtype=np.uint64)
    packed = np.zeros(len(cps) - SHINGLE + 1, dtype=np.uint64)
    for offset in range(SHINGLE):
        packed = (packed << np.uint64(21)) | cps[offset:len(cps) - SHINGLE + 1 + offset]
    return packed


def shingle_codes(normalized: str) -> np.ndarray:
    """The text's distinct shingles, losslessly packed and sorted: the same set as
    `shingles`, compared in numpy (verifying a candidate is then no Python loop)."""
    return np.unique(_packed(normalized))


@lru_cache(maxsize=256)
def _codes_of(normalized: str) -> np.ndarray:
    # the candidates of a crawl are mostly the same few recent texts: pack each once
    return shingle_codes(normalized)


def _hashes_of_codes(codes: np.ndarray) -> np.ndarray:
    # a fixed multiply-xorshift spreads each packed shingle to 32 bits, the same in every process
    if not len(codes):
        return codes
    with np.errstate(over="ignore"):
        mixed = codes * np.uint64(0x9E3779B97F4A7C15)
    return (mixed ^ (mixed >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def shingle_hashes(normalized: str) -> np.ndarray:
    """The text's distinct character shingles as 32-bit hashes, computed in numpy.

    Code points (< 2**21) pack losslessly into one 63-bit number per shingle; a
    fixed multiply-xorshift then spreads it to 32 bits, the same in every process.
    """
    return _hashes_of_codes(shingle_codes(normalized))


def signature(normalized: str, codes: np.ndarray | None = None) -> np.ndarray | None:
    """MinHash of a normalised text, or None when it is too short to compare.

    `codes`: shingle_codes(normalized), when the caller has them already."""
    if len(normalized) < MIN_CHARS:
        return None
    return _minhash(_hashes_of_codes(codes if codes is not None else shingle_codes(normalized)))


@lru_cache(maxsize=1)
def _band_mixers() -> tuple[np.ndarray, np.ndarray]:
    # fixed odd 64-bit multipliers: the keys must be the same in every process, forever
    rng = np.random.Generator(np.random.PCG64(20240424))
    b, ranges = _lsh_shape()
    r = ranges[0][1] - ranges[0][0]
    rows = rng.integers(1, 2**63, size=r, dtype=np.uint64) | np.uint64(1)
    bands = rng.integers(1, 2**63, size=b, dtype=np.uint64)
    return rows, bands


def band_keys(sig: np.ndarray) -> list[int]:
    """One signed 64-bit key per LSH band: the band's values mixed with its number."""
    b, ranges = _lsh_shape()
    r = ranges[0][1] - ranges[0][0]
    rows, bands = _band_mixers()
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the point
        keys = (sig[: b * r].astype(np.uint64).reshape(b, r) * rows).sum(axis=1, dtype=np.uint64) + bands
        keys ^= keys >> np.uint64(31)
        keys *= np.uint64(0x9E3779B97F4A7C15)
        keys ^= keys >> np.uint64(29)
    return keys.view(np.int64).tolist()


def ensure_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS minhash (article_id INTEGER PRIMARY KEY, signature BLOB NOT NULL)")
    # WITHOUT ROWID: the (key, article_id) primary key is the table, one B-tree lookup per band
    db.execute(
        "CREATE TABLE IF NOT EXISTS lsh_bands (key INTEGER NOT NULL, article_id INTEGER NOT NULL,"
        " PRIMARY KEY (key, article_id)) WITHOUT ROWID")


def _load(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=_SIG_DTYPE)


def remove(db: sqlite_utils.Database, article_id: int) -> None:
    row = db.execute("SELECT signature FROM minhash WHERE article_id = ?", [article_id]).fetchone()
    if row is None:
        return
    db.conn.executemany("DELETE FROM lsh_bands WHERE key = ? AND article_id = ?",
                        [(k, article_id) for k in band_keys(_load(row[0]))])
    db.execute("DELETE FROM minhash WHERE article_id = ?", [article_id])


def add(db: sqlite_utils.Database, article_id: int, sig: np.ndarray | None, new: bool = False,
        bands: list[int] | None = None) -> None:
    """Index (or re-index) one article; call inside its transaction. `new`: the article's row
    was just inserted (articles are never deleted, so it has no entry to remove). `bands`:
    band_keys(sig), when computed already."""
    if not new:
        remove(db, article_id)
    if sig is None:
        return
    db.execute("INSERT INTO minhash (article_id, signature) VALUES (?, ?)", [article_id, sig.tobytes()])
    db.conn.executemany("INSERT OR IGNORE INTO lsh_bands (key, article_id) VALUES (?, ?)",
                        [(k, article_id) for k in (band_keys(sig) if bands is None else bands)])


def candidates(db: sqlite_utils.Database, sig: np.ndarray | None,
               exclude: int | None = None) -> list[tuple[int, float]]:
    """Articles sharing a band with `sig`: [(id, estimated Jaccard)], best first."""
    return [(aid, est) for aid, est, _ in candidates_with_keys(db, sig, exclude)]


# the articles sharing a band, with their signatures (the minhash table alone: an article's
# text hash sits after its text, so reading it for every candidate walks the text's overflow
# pages; it is read only for the few that are verified)
_CANDIDATES = (
    "SELECT article_id, signature FROM minhash"
    " WHERE article_id IN (SELECT DISTINCT article_id FROM lsh_bands WHERE key IN ({marks}))")


def candidates_with_keys(db: sqlite_utils.Database, sig: np.ndarray | None,
                         exclude: int | None = None,
                         bands: list[int] | None = None) -> list[tuple[int, float, str | None]]:
    """Articles sharing a band with `sig`: [(id, estimated Jaccard, text hash)], best first
    (the text hash names the candidate's current text, for a cache of its shingles).
    `bands`: band_keys(sig), when computed already."""
    if sig is None:
        return []
    keys = band_keys(sig) if bands is None else bands
    rows = db.execute(_CANDIDATES.format(marks=",".join("?" * len(keys))), keys).fetchall()
    if not rows:
        return []
    # texts that share stock phrases collide in some band (hundreds of candidates on a site
    # of templated notices): estimate, filter and rank them all at once, and verify only
    # the best of those whose estimate could still pass (see MIN_ESTIMATE)
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    sigs = np.frombuffer(b"".join([row[1] for row in rows]), dtype=_SIG_DTYPE).reshape(len(rows), -1)
    estimates = (sigs == sig).mean(axis=1)
    passing = estimates >= MIN_ESTIMATE
    if exclude is not None:
        passing &= ids != exclude
    order = np.lexsort((ids, -estimates))  # best estimate first; ties: the oldest first
    best = order[passing[order]][:MAX_VERIFY]
    if not len(best):
        return []
    chosen: list[int] = ids[best].tolist()
    hashes = dict(db.execute(
        f"SELECT id, text_hash FROM articles WHERE id IN ({','.join('?' * len(chosen))})", chosen).fetchall())
    return [(aid, est, hashes.get(aid)) for aid, est in zip(chosen, estimates[best].tolist(), strict=True)]


def overlap(a: str, b: str, a_codes: np.ndarray | None = None) -> float:
    """Share of the shorter text's shingles that occur in the other."""
    sa = a_codes if a_codes is not None else shingle_codes(a)
    sb = _codes_of(b)
    if not len(sa) or not len(sb):
        return 0.0
    common = len(np.intersect1d(sa, sb, assume_unique=True))
    return common / min(len(sa), len(sb))


@dataclass
class Match:
    article_id: int
    similarity: float
    how: str  # exact | near


def verify(normalized: str, other_normalized: str,
           own_shingles: np.ndarray | None = None) -> float | None:
    """The pair's similarity if it is a duplicate, else None.

    `own_shingles` (shingle_codes(normalized)) saves recomputing them when one
    text is checked against several candidates.
    """
    if not comparable_lengths(len(normalized), len(other_normalized)):
        return None
    score = overlap(normalized, other_normalized, own_shingles)
    return score if score >= VERIFY_OVERLAP else None


def comparable_lengths(a: int, b: int) -> bool:
    """Whether two normalised texts of these lengths may be verified as copies at all."""
    shorter, longer = sorted((a, b))
    return shorter >= MIN_CHARS and shorter >= MIN_LENGTH_RATIO * longer


def codes_overlaps(codes: np.ndarray, others: list[np.ndarray]) -> list[float]:
    """`overlap` of a text (its shingle_codes) with each of `others` (theirs), in one pass:
    every candidate's codes are looked up in the text's own sorted codes at once."""
    if not others:
        return []
    joined = np.concatenate(others)
    if not len(codes) or not len(joined):
        return [0.0] * len(others)
    at = np.minimum(np.searchsorted(codes, joined), len(codes) - 1)
    hits = np.concatenate(([0], np.cumsum(codes[at] == joined)))  # running count of shared codes
    lengths = np.array([len(other) for other in others])
    ends = np.cumsum(lengths)
    common = hits[ends] - hits[ends - lengths]
    return [int(n) / min(len(codes), int(size)) if size else 0.0
            for n, size in zip(common.tolist(), lengths.tolist(), strict=True)]
