"""Repost clusters: copies of one story on several sites, joined under their original.

Copies are separate records joined into a cluster whose `duplicate_of` names
the original (see `choose_original`). A copy is found by the link it names
(原文链接), by the link naming it, by the same normalised text, or by a
near-duplicate text (MinHash candidates, verified on the texts).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
from talentwatch.storage import dedupe
from talentwatch.storage.identity import is_official, stable_key
from talentwatch.storage.normalize import normalize

if TYPE_CHECKING:  # a crawl's workers import this module but store nothing: no sqlite-utils
    import sqlite_utils


def choose_original(members: list[dict[str, Any]]) -> dict[str, Any]:
    """The original of a cluster.

    The page a member's 原文链接 names; else an official publisher's page
    (.gov.cn, 12371.cn) before others; then the earliest published; then the
    first archived. A page too short to compare (empty or tiny text) is never
    chosen while the cluster has a real text.
    """
    named = {m["original_canonical"] for m in members if m["original_canonical"]}
    eligible = [m for m in members if m["text_hash"]] or members
    return min(eligible, key=lambda m: (
        m["canonical_url"] not in named,
        not is_official(m["url"]),
        (m["published"] or "9999")[:10],
        m["first_seen"] or "",
        m["id"],
    ))


# Stored texts as verifying a candidate reads them, (normalised length, shingle codes), by
# text hash (the sha256 of the normalised text: the same hash, the same codes, whatever the
# article or archive). A crawl's new articles are the next ones' candidates, and their codes
# come from the workers, so most candidates are verified without reading, normalising and
# packing their texts again. Bounded by the codes held (8 bytes each), not by entries:
# texts vary a hundredfold in length.
_SHINGLES: OrderedDict[str, tuple[int, np.ndarray]] = OrderedDict()
_SHINGLES_MAX_CODES = 2_000_000  # 16 MB
_held = [0]  # codes in _SHINGLES


def remember_shingles(text_hash: str | None, length: int, codes: np.ndarray) -> None:
    """Keep a stored text's normalised length and shingle codes for later verifications."""
    if text_hash is None:
        return
    old = _SHINGLES.pop(text_hash, None)
    if old is not None:
        _held[0] -= len(old[1])
    _SHINGLES[text_hash] = (length, codes)
    _held[0] += len(codes)
    while _held[0] > _SHINGLES_MAX_CODES and len(_SHINGLES) > 1:
        _, (_, dropped) = _SHINGLES.popitem(last=False)
        _held[0] -= len(dropped)


def _stored_shingles(db: sqlite_utils.Database, article_id: int,
                     text_hash: str | None) -> tuple[int, np.ndarray]:
    if text_hash is not None and (found := _SHINGLES.get(text_hash)) is not None:
        _SHINGLES.move_to_end(text_hash)
        return found
    (text,) = db.execute("SELECT text FROM articles WHERE id = ?", [article_id]).fetchone()
    normalized = normalize(text)
    found = (len(normalized), dedupe.shingle_codes(normalized))
    remember_shingles(text_hash, *found)
    return found


def find_matches(db: sqlite_utils.Database, article_id: int, *, canonical: str,
                 original_url: str | None, original_canonical: str | None,
                 normalized: str, text_hash: str | None,
                 signature: np.ndarray | None,
                 shingles: np.ndarray | None = None,
                 bands: list[int] | None = None) -> dict[int, dict[str, Any]]:
    """Archived articles this one is a copy of (or that are copies of it), with how.

    The keys are the article's as storage.articles.prepare computes them; a
    text_hash of None (a text too short to compare) matches by links only.
    `shingles` and `bands`: dedupe.shingle_codes(normalized) and the signature's band keys,
    when computed beforehand."""
    found: dict[int, dict[str, Any]] = {}
    if original_canonical:
        row = db.execute(
            "SELECT id FROM articles WHERE (canonical_url = ? OR (stable_key IS NOT NULL AND"
            " stable_key = ?)) AND id != ? AND text_hash IS NOT NULL LIMIT 1",
            [original_canonical, stable_key(original_url or ""), article_id]).fetchone()
        if row:
            found[row[0]] = {"how": "original_link"}
    for (other,) in db.execute(
            "SELECT id FROM articles WHERE original_canonical = ? AND id != ?",
            [canonical, article_id]).fetchall():
        found.setdefault(other, {"how": "named_by_repost"})
    if text_hash is None:
        return found
    for (other,) in db.execute("SELECT id FROM articles WHERE text_hash = ? AND id != ? LIMIT 20",
                               [text_hash, article_id]).fetchall():
        found.setdefault(other, {"how": "exact", "similarity": 1.0})
    # dedupe.verify on each candidate: the lengths first, then the overlaps of all at once
    comparable: list[tuple[int, float, np.ndarray]] = []
    for other, estimate, other_hash in dedupe.candidates_with_keys(db, signature, article_id, bands):
        if other in found:
            continue
        length, codes = _stored_shingles(db, other, other_hash)
        if dedupe.comparable_lengths(len(normalized), length):
            comparable.append((other, estimate, codes))
    if not comparable:
        return found
    own = shingles if shingles is not None else dedupe.shingle_codes(normalized)
    scores = dedupe.codes_overlaps(own, [codes for _, _, codes in comparable])
    for (other, estimate, _), score in zip(comparable, scores, strict=True):
        if score >= dedupe.VERIFY_OVERLAP:
            found[other] = {"how": "near", "similarity": round(score, 3),
                            "estimated_jaccard": round(estimate, 3)}
    return found


_MEMBER_COLS = "id, url, canonical_url, original_canonical, published, first_seen, text_hash, cluster_id"


def join_cluster(db: sqlite_utils.Database, article_id: int,
                 matches: dict[int, dict[str, Any]]) -> tuple[int, int]:
    """Merge the article with its matches' clusters; returns (cluster id, original id)."""
    marks = ",".join("?" * len(matches))
    clusters = {r[0] for r in db.execute(
        f"SELECT DISTINCT COALESCE(cluster_id, id) FROM articles WHERE id IN ({marks})",
        list(matches)).fetchall()}
    cluster_id = min(clusters)  # the oldest story keeps its id
    cmarks = ",".join("?" * len(clusters))
    cur = db.execute(
        f"SELECT {_MEMBER_COLS} FROM articles WHERE cluster_id IN ({cmarks}) OR id IN ({marks})"
        " OR id = ?", [*clusters, *matches, article_id])
    names = [d[0] for d in cur.description]
    members = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    original = choose_original(members)["id"]
    ids = [m["id"] for m in members]
    db.execute(
        f"UPDATE articles SET cluster_id = ?, duplicate_of = CASE WHEN id = ? THEN NULL ELSE ? END"
        f" WHERE id IN ({','.join('?' * len(ids))})", [cluster_id, original, original, *ids])
    return cluster_id, original


# -- reading clusters ---------------------------------------------------------------

def cluster_members(db: sqlite_utils.Database, cluster_id: int) -> list[dict[str, Any]]:
    """A story's copies, its original first, then by publication."""
    return list(db.query(
        "SELECT id, url, site, title, published, first_seen, status, duplicate_of FROM articles"
        " WHERE cluster_id = ? ORDER BY duplicate_of IS NOT NULL, published, id", [cluster_id]))


def stories_with_copies(db: sqlite_utils.Database, limit: int,
                        site: str | None = None) -> list[dict[str, Any]]:
    """Clusters of more than one article (cluster_id, copies, latest), latest copy first;
    with `site`, only those with a copy on that site."""
    sql = ("SELECT cluster_id, COUNT(*) AS copies, MAX(first_seen) AS latest FROM articles"
           " WHERE cluster_id IS NOT NULL GROUP BY cluster_id HAVING COUNT(*) > 1")
    params: list[Any] = []
    if site:
        sql += " AND SUM(site = ?) > 0"
        params.append(site)
    return list(db.query(sql + " ORDER BY latest DESC LIMIT ?", [*params, limit]))
