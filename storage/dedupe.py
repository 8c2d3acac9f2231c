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

import hashlib
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sqlite_utils
from datasketch import MinHash, MinHashLSH

SHINGLE = 3  # characters per shingle: Chinese words are 1–4 characters
NUM_PERM = 128
LSH_THRESHOLD = 0.4  # Jaccard around which the bands make two texts candidates
VERIFY_OVERLAP = 0.7  # verified duplicate: ≥70% of the shorter text's shingles in the other
MIN_CHARS = 60  # normalised characters below which a text takes no part in matching
MAX_VERIFY = 20  # candidates verified per lookup, best estimated Jaccard first


@lru_cache(maxsize=1)
def _lsh_shape() -> tuple[int, list[tuple[int, int]]]:
    # datasketch chooses bands × rows for the threshold (minimising FP+FN weight)
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    return lsh.b, lsh.hashranges


@lru_cache(maxsize=1)
def _template() -> MinHash:
    return MinHash(num_perm=NUM_PERM, seed=1)


def _crc(shingle: str) -> int:
    # stable across processes (str hash is salted) and fast; MinHash permutes it
    return zlib.crc32(shingle.encode("utf-8"))


def shingles(normalized: str) -> set[str]:
    k = SHINGLE
    return {normalized[i:i + k] for i in range(max(len(normalized) - k + 1, 0))}


def signature(normalized: str) -> np.ndarray | None:
    """MinHash of a normalised text, or None when it is too short to compare."""
    if len(normalized) < MIN_CHARS:
        return None
    template = _template()
    m = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=_crc, permutations=template.permutations,
                scheme=template.scheme)
    m.update_batch(list(shingles(normalized)))
    return m.hashvalues


def band_keys(sig: np.ndarray) -> list[int]:
    """One signed 64-bit key per LSH band (band number mixed in)."""
    _, ranges = _lsh_shape()
    keys = []
    for i, (start, end) in enumerate(ranges):
        digest = hashlib.blake2b(sig[start:end].tobytes(), digest_size=8, salt=i.to_bytes(2, "big"))
        keys.append(int.from_bytes(digest.digest(), "big", signed=True))
    return keys


def ensure_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS minhash (article_id INTEGER PRIMARY KEY, signature BLOB NOT NULL)")
    # WITHOUT ROWID: the (key, article_id) primary key is the table, one B-tree lookup per band
    db.execute(
        "CREATE TABLE IF NOT EXISTS lsh_bands (key INTEGER NOT NULL, article_id INTEGER NOT NULL,"
        " PRIMARY KEY (key, article_id)) WITHOUT ROWID")


def _load(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=_template().hashvalues.dtype)


def remove(db: sqlite_utils.Database, article_id: int) -> None:
    row = db.execute("SELECT signature FROM minhash WHERE article_id = ?", [article_id]).fetchone()
    if row is None:
        return
    db.conn.executemany("DELETE FROM lsh_bands WHERE key = ? AND article_id = ?",
                        [(k, article_id) for k in band_keys(_load(row[0]))])
    db.execute("DELETE FROM minhash WHERE article_id = ?", [article_id])


def add(db: sqlite_utils.Database, article_id: int, sig: np.ndarray | None) -> None:
    """Index (or re-index) one article; call inside its transaction."""
    remove(db, article_id)
    if sig is None:
        return
    db.execute("INSERT INTO minhash (article_id, signature) VALUES (?, ?)", [article_id, sig.tobytes()])
    db.conn.executemany("INSERT OR IGNORE INTO lsh_bands (key, article_id) VALUES (?, ?)",
                        [(k, article_id) for k in band_keys(sig)])


def candidates(db: sqlite_utils.Database, sig: np.ndarray | None,
               exclude: int | None = None) -> list[tuple[int, float]]:
    """Articles sharing a band with `sig`: [(id, estimated Jaccard)], best first."""
    if sig is None:
        return []
    keys = band_keys(sig)
    marks = ",".join("?" * len(keys))
    rows = db.execute(
        f"SELECT m.article_id, m.signature FROM minhash m WHERE m.article_id IN"
        f" (SELECT DISTINCT article_id FROM lsh_bands WHERE key IN ({marks}))", keys).fetchall()
    found = [(aid, float(np.mean(_load(blob) == sig))) for aid, blob in rows if aid != exclude]
    found.sort(key=lambda pair: -pair[1])
    return found[:MAX_VERIFY]


def overlap(a: str, b: str) -> float:
    """Share of the shorter text's shingles that occur in the other."""
    sa, sb = shingles(a), shingles(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))


@dataclass
class Match:
    article_id: int
    similarity: float
    how: str  # exact | near


def verify(normalized: str, other_normalized: str) -> float | None:
    """The pair's similarity if it is a duplicate, else None."""
    if len(other_normalized) < MIN_CHARS:
        return None
    score = overlap(normalized, other_normalized)
    return score if score >= VERIFY_OVERLAP else None
