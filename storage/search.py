"""Full-text search over the archive, exact for Chinese words of any length.

How the index works (and why): every run of letters, digits or Han characters
is indexed as its overlapping character pairs, the run's last character on its
own closing it ("人才引进" -> 人才 才引 引进 进). A query word of two or more
characters becomes the phrase of its pairs (人才引进 -> "人才 才引 引进"), a
one-character word the prefix query `"人" *` (every occurrence of a character
starts a pair or is a run's last character). So a word matches exactly where a
substring scan of the (NFKC, case-folded) text finds it — 人才 and 补贴 are one
index lookup each, where a trigram index finds nothing for them and one token per
character has to intersect the huge posting lists of 人 and 才.
bench/search_latency.py measures the three.

Query language: words (all must occur), "quoted phrases", AND, OR, NOT, a
leading `-` for NOT, and parentheses. Punctuation inside a word or phrase is
skipped like spaces ("C++人才" is the phrase c, 人才), so FTS5's own syntax
characters can never reach SQLite. Ranking is bm25 (title counts 3×) damped by
age, and each repost cluster shows once, as its original when the original
matches. The index's rowids run in publication order, so a word found in half
the archive ranks only its newest CANDIDATES matches (all of them when fewer):
that is what keeps 人才 at 100k articles under 10 ms.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlite_utils
from talentwatch.storage.cells import json_cell
from talentwatch.storage.db import transaction
from talentwatch.storage.filters import Filters, first_day, last_day

# runs of what the FTS5 unicode61 tokenizer keeps as token characters (letters, digits)
_RUN = re.compile(r"[^\W_]+")
TITLE_WEIGHT = 3.0
# a hit's bm25 is divided by (1 + age / RECENCY_DAYS): a two-year-old item needs
# twice the relevance of today's to rank level with it
RECENCY_DAYS = 730.0


class QueryError(ValueError):
    """A query that cannot be searched; the message says what to fix."""


_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def normalize(text: str | None) -> str:
    """The form both index and queries use: NFKC (full-width → ASCII) and case-folded."""
    # full-width ASCII first: Chinese punctuation would make nearly every text need NFKC,
    # which is ~100x slower than this translation plus the quick check
    text = (text or "").translate(_FULL_WIDTH)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


def index_tokens(text: str | None) -> str:
    """The text as the index stores it: each run's character pairs, then its last character."""
    out: list[str] = []
    for run in _RUN.findall(normalize(text)):
        out.extend(map(str.__add__, run, run[1:]))
        out.append(run[-1])
    return " ".join(out)


# The FTS rowid is not the article id: it is (day of publication << 32 | article id), so
# the index lists matches newest first and a query that matches half the archive can
# rank its newest CANDIDATES matches without touching the rest. search_keys maps back.
_ID_BITS = 32
_ID_MASK = (1 << _ID_BITS) - 1
CANDIDATES = 500
INDEX_FORMAT = "pairs-v1"


def _day(value: str | None) -> int | None:
    try:
        return date.fromisoformat((value or "")[:10]).toordinal()
    except ValueError:
        return None


def index_key(article_id: int, published: str | None, first_seen: str | None = None) -> int:
    return ((_day(published) or _day(first_seen) or 0) << _ID_BITS) | article_id


def ensure_index(db: sqlite_utils.Database) -> None:
    """Create the search index, or rebuild it when it was made in an older format."""
    # what search reads of each candidate, without walking the overflow pages of its
    # text (the columns sit after it): 2-3x faster joins and filters
    db.execute("CREATE INDEX IF NOT EXISTS articles_search ON articles"
                " (id, published, duplicate_of, talent, site, status, topics, region)")
    tables = set(db.table_names())
    if "search_meta" in tables:
        row = db.execute("SELECT value FROM search_meta WHERE key = 'format'").fetchone()
        if row and row[0] == INDEX_FORMAT and "articles_fts" in tables:
            return
    with transaction(db):
        db.execute("DROP TABLE IF EXISTS articles_fts")
        # prefix='1': the index of first characters answers one-character queries
        db.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, body,"
                   " tokenize = 'unicode61 remove_diacritics 0', prefix = '1')")
        db.execute("CREATE TABLE IF NOT EXISTS search_keys"
                   " (article_id INTEGER PRIMARY KEY, fts_rowid INTEGER NOT NULL)")
        db.execute("DELETE FROM search_keys")
        db.execute("CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT OR REPLACE INTO search_meta VALUES ('format', ?)", [INDEX_FORMAT])
        for row in db.query("SELECT id, title, text, attachments FROM articles ORDER BY id"):
            index_article(db, row["id"], row["title"] or "", article_body(row["text"], row["attachments"]))


def index_article(db: sqlite_utils.Database, article_id: int, title: str, body: str) -> None:
    """Write one article's index row; call inside the article's transaction, after its row."""
    old = db.execute("SELECT fts_rowid FROM search_keys WHERE article_id = ?", [article_id]).fetchone()
    if old:
        db.execute("DELETE FROM articles_fts WHERE rowid = ?", [old[0]])
    row = db.execute("SELECT published, first_seen FROM articles WHERE id = ?", [article_id]).fetchone()
    key = index_key(article_id, *(row or (None, None)))
    db.execute("INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)",
               [key, index_tokens(title), index_tokens(body)])
    db.execute("INSERT OR REPLACE INTO search_keys (article_id, fts_rowid) VALUES (?, ?)", [article_id, key])


def article_body(text: str | None, attachments_json: str | None) -> str:
    """What is indexed as the body: the text, then each attachment's text."""
    parts = [text or ""]
    try:
        attachments = json.loads(attachments_json) if attachments_json else []
    except ValueError:
        attachments = []
    parts += [a.get("text") or "" for a in attachments if isinstance(a, dict)]
    return "\n".join(p for p in parts if p)


# ---- the query language ---------------------------------------------------------------

@dataclass
class Term:
    text: str  # as typed
    runs: list[str]  # its normalized letter/digit/Han runs


@dataclass
class Not:
    child: Any


@dataclass
class And:
    children: list[Any]


@dataclass
class Or:
    children: list[Any]


_OPEN_QUOTES = {'"': '"', "“": "”", "「": "」"}
_OPEN_PARENS = "(（"
_CLOSE_PARENS = ")）"
_OPERATORS = {"AND", "OR", "NOT"}


def _lex(query: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in _OPEN_PARENS:
            tokens.append(("(", ch))
            i += 1
        elif ch in _CLOSE_PARENS:
            tokens.append((")", ch))
            i += 1
        elif ch in _OPEN_QUOTES or ch == "”":
            close = _OPEN_QUOTES.get(ch, '"')
            end = query.find(close, i + 1)
            if close != '"' and end < 0:
                end = query.find('"', i + 1)
            if end < 0:
                raise QueryError(f"unbalanced quote: the phrase opened by {ch} at character {i + 1}"
                                 " is never closed")
            tokens.append(("term", query[i + 1:end]))
            i = end + 1
        else:
            j = i
            while (j < n and not query[j].isspace() and query[j] not in _OPEN_PARENS
                   and query[j] not in _CLOSE_PARENS and query[j] not in _OPEN_QUOTES
                   and query[j] not in "”"):
                j += 1
            word = query[i:j]
            i = j
            if word in _OPERATORS:
                tokens.append((word, word))
            elif word.startswith("-") and len(word) > 1:
                tokens.append(("NOT", "-"))
                tokens.append(("term", word[1:]))
            elif word == "-" and i < n and query[i] in _OPEN_QUOTES:
                tokens.append(("NOT", "-"))
            else:
                tokens.append(("term", word))
    # a word of punctuation only (*, ^, 《》) has nothing to find: drop it
    return [t for t in tokens if t[0] != "term" or _RUN.search(normalize(t[1]))]


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def parse(self) -> Any:
        if not self.tokens:
            raise QueryError("nothing to search for: the query has no letters, digits or Chinese characters")
        node = self.or_expr()
        if self.peek() == ")":
            raise QueryError("unbalanced parenthesis: a ')' has no matching '('")
        return node

    def or_expr(self) -> Any:
        children = [self.and_expr("OR")]
        while self.peek() == "OR":
            self.pos += 1
            children.append(self.and_expr("OR"))
        return children[0] if len(children) == 1 else Or(children)

    def and_expr(self, after: str) -> Any:
        kind = self.peek()
        if kind in ("OR", "AND"):
            raise QueryError(f"{kind} needs a word or phrase on both sides")
        if kind in (None, ")"):
            previous = self.tokens[self.pos - 1][0] if self.pos else None
            if previous == "(":  # `(` at the end: `)` right after it is caught as empty parentheses
                raise QueryError("unbalanced parenthesis: a '(' is never closed")
            raise QueryError(f"{after} needs a word or phrase on both sides" if self.pos
                             else "unbalanced parenthesis: a ')' has no matching '('")
        children = [self.unary()]
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.pos += 1
                if self.peek() in (None, ")", "OR", "AND"):
                    raise QueryError("AND needs a word or phrase on both sides")
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(children)

    def unary(self) -> Any:
        kind = self.peek()
        if kind == "NOT":
            self.pos += 1
            if self.peek() in (None, ")", "OR", "AND", "NOT"):
                raise QueryError("NOT must be followed by the word or phrase to exclude")
            return Not(self.unary())
        if kind == "(":
            self.pos += 1
            if self.peek() == ")":
                raise QueryError("empty parentheses: put a word or phrase between ( and )")
            node = self.or_expr()
            if self.peek() != ")":
                raise QueryError("unbalanced parenthesis: a '(' is never closed")
            self.pos += 1
            return node
        if kind == "term":
            text = self.tokens[self.pos][1]
            self.pos += 1
            return Term(text, _RUN.findall(normalize(text)))
        raise QueryError(f"unexpected {self.tokens[self.pos][1]!r} in the query")


def parse_query(query: str) -> Any:
    """The query as a tree of Term / And / Or / Not; QueryError says what is wrong."""
    if not query or not query.strip():
        raise QueryError("empty search query")
    return _Parser(_lex(query)).parse()


def _phrase(term: Term) -> str:
    tokens: list[str] = []
    prefix = False
    for i, run in enumerate(term.runs):
        pairs = list(map(str.__add__, run, run[1:]))
        if i < len(term.runs) - 1:
            tokens += pairs + [run[-1]]  # a run followed by punctuation ends here
        elif pairs:
            tokens += pairs
        else:
            tokens.append(run)  # one character: it starts a pair or ends a run
            prefix = True
    return '"' + " ".join(tokens) + '"' + (" *" if prefix else "")


def _compile(node: Any) -> str:
    if isinstance(node, Term):
        return _phrase(node)
    if isinstance(node, Or):
        if any(isinstance(c, Not) for c in node.children):
            raise QueryError("NOT cannot stand alone on one side of OR: write e.g. (人才 NOT 院士) OR 补贴")
        return "(" + " OR ".join(_compile(c) for c in node.children) + ")"
    children = node.children if isinstance(node, And) else [node]
    positive = [c for c in children if not isinstance(c, Not)]
    negative = [c.child for c in children if isinstance(c, Not)]
    if not positive:
        raise QueryError("the query only excludes words: add a word or phrase that must appear,"
                         " e.g. 人才 NOT 院士")
    expr = "(" + " AND ".join(_compile(c) for c in positive) + ")"
    for child in negative:
        expr = f"({expr} NOT {_compile(child)})"
    return expr


def to_match(query: str) -> str:
    """The FTS5 MATCH expression for a user's query (QueryError if it is malformed)."""
    return _compile(parse_query(query))


def positive_terms(node: Any) -> list[Term]:
    """The terms a hit contains (for highlighting): everything not under a NOT."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []
    return [t for c in node.children for t in positive_terms(c)]


# ---- snippets -------------------------------------------------------------------------

def _char_class(ch: str) -> str:
    """A query character as it may stand in the raw text: full-width too (case: re.I)."""
    if "!" <= ch <= "~":
        return f"[{re.escape(ch)}{chr(ord(ch) + 0xFEE0)}]"
    return re.escape(ch)


def _term_pattern(terms: list[Term]) -> re.Pattern | None:
    """A regex over the raw text (no normalizing: that costs more than the search) for highlights."""
    alts = sorted({r"[\W_]+".join("".join(map(_char_class, run)) for run in t.runs) for t in terms if t.runs},
                  key=len, reverse=True)
    return re.compile("|".join(alts), re.IGNORECASE) if alts else None


def highlight(text: str, pattern: re.Pattern | None, mark: tuple[str, str] = ("[", "]"),
              width: int = 120) -> str:
    """A window of `text` around its first match, every match inside it marked."""
    text = re.sub(r"\s+", " ", text or "").strip()
    first = pattern.search(text) if pattern else None
    start = 0 if first is None else max(0, first.start() - width // 4)
    end = min(len(text), start + width)
    out: list[str] = ["…" if start else ""]
    pos = start
    for m in pattern.finditer(text, start, end) if pattern else ():
        out += [text[pos:m.start()], mark[0], m.group(), mark[1]]
        pos = m.end()
    out.append(text[pos:max(end, pos)])
    if end < len(text):
        out.append("…")
    return "".join(out)


# ---- searching ------------------------------------------------------------------------

def _key_range(filters: Filters) -> tuple[int, int]:
    """The index keys a --since/--until can match (a superset: the SQL filter decides)."""
    lo = first_day(filters.since).toordinal() << _ID_BITS if filters.since else 0
    hi = ((last_day(filters.until).toordinal() + 1) << _ID_BITS) - 1 if filters.until else 2**63 - 1
    return lo, hi


# days from a key's publication day to now (1721424.5: julian day of ordinal 0)
_AGE_DAYS = f"max(0.0, julianday('now') - ((key >> {_ID_BITS}) + 1721424.5))"


def search(db: sqlite_utils.Database, query: str, limit: int = 20, *,
           filters: Filters | None = None, all_reposts: bool = False, sort: str = "relevance",
           mark: tuple[str, str] = ("[", "]")) -> list[dict[str, Any]]:
    """Hits for `query`, best first: one per repost cluster unless all_reposts.

    Each hit has id, url, site, title, published, status, duplicate_of, talent,
    topics, region, score, reposts (other matching members of its cluster) and a
    snippet with the matches between `mark`s. sort: relevance (bm25 damped by age,
    over the newest CANDIDATES matches when there are more) or date (newest
    first). Raises QueryError for a malformed query.
    """
    if sort not in ("relevance", "date"):
        raise QueryError(f"unknown sort {sort!r}: use relevance or date")
    if limit < 1:
        raise QueryError("limit must be at least 1")
    filters = filters or Filters()
    tree = parse_query(query)
    match = _compile(tree)
    clauses, params = filters.sql("a")
    where = " AND ".join(["articles_fts MATCH ?", "articles_fts.rowid BETWEEN ? AND ?", *clauses])
    order = "score" if sort == "relevance" else "key DESC"
    cluster = "a.id" if all_reposts else "coalesce(a.duplicate_of, a.id)"
    # newest matches first, straight from the index; rank those; one row per cluster:
    # its original if that matched, else its best-ranked member
    sql = f"""
        WITH candidates AS (
            SELECT articles_fts.rowid AS key, bm25(articles_fts, {TITLE_WEIGHT}, 1.0) AS rel,
                   {cluster} AS cluster, a.duplicate_of IS NOT NULL AS repost
            FROM articles_fts JOIN articles a INDEXED BY articles_search
                 ON a.id = (articles_fts.rowid & {_ID_MASK})
            WHERE {where}
            ORDER BY articles_fts.rowid DESC LIMIT {max(CANDIDATES, limit)}
        ), ranked AS (
            SELECT key, rel / (1.0 + {_AGE_DAYS} / {RECENCY_DAYS}) AS score, cluster, repost
            FROM candidates
        ), collapsed AS (
            SELECT key, score, row_number() OVER (PARTITION BY cluster ORDER BY repost, score) AS nth,
                   count(*) OVER (PARTITION BY cluster) AS members
            FROM ranked
        )
        SELECT key & {_ID_MASK}, score, members FROM collapsed WHERE nth = 1 ORDER BY {order} LIMIT ?"""
    try:
        top = db.execute(sql, [match, *_key_range(filters), *params, limit]).fetchall()
    except sqlite3.OperationalError as exc:  # a safety net: the compiler should prevent these
        raise QueryError(f"the query could not be searched ({exc}); try removing punctuation") from None
    if not top:
        return []
    ids = [r[0] for r in top]
    details = {r["id"]: r for r in db.query(
        "SELECT id, url, site, title, published, status, duplicate_of, talent, topics, region,"
        f" text, attachments FROM articles WHERE id IN ({', '.join('?' for _ in ids)})", ids)}
    pattern = _term_pattern(positive_terms(tree))
    hits = []
    for article_id, rank, members in top:
        row = details[article_id]
        hits.append({
            "id": article_id, "url": row["url"], "site": row["site"],
            "title": row["title"], "published": row["published"], "status": row["status"],
            "duplicate_of": row["duplicate_of"],
            "talent": None if row["talent"] is None else bool(row["talent"]),
            "topics": json_cell(row["topics"], []), "region": json_cell(row["region"], {}),
            "score": -rank, "reposts": members - 1,
            "snippet": highlight(article_body(row["text"], row["attachments"]), pattern, mark),
        })
    return hits


def search_subquery() -> str:
    """SQL selecting the ids of articles matching one `?` bound to to_match(query)."""
    return f"SELECT rowid & {_ID_MASK} FROM articles_fts WHERE articles_fts MATCH ?"


def matching_ids(db: sqlite_utils.Database, query: str, filters: Filters | None = None) -> list[int]:
    """Every matching article id (no ranking, no clusters): for export and tests."""
    filters = filters or Filters()
    clauses, params = filters.sql("a")
    where = " AND ".join(["articles_fts MATCH ?", "articles_fts.rowid BETWEEN ? AND ?", *clauses])
    sql = (f"SELECT a.id FROM articles_fts JOIN articles a INDEXED BY articles_search"
           f" ON a.id = (articles_fts.rowid & {_ID_MASK})"
           f" WHERE {where} ORDER BY articles_fts.rowid DESC")
    return [r[0] for r in db.execute(sql, [to_match(query), *_key_range(filters), *params])]


