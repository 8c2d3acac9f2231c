"""The archive's search query language: parsing, checking, and the FTS5 expression.

Words (all must occur), "quoted phrases" (also “…” and 「…」), AND, OR, NOT,
a leading `-` for NOT, and parentheses (also full-width). Punctuation inside a
word or phrase is skipped like spaces ("C++人才" is the phrase c, 人才), so
FTS5's own syntax characters can never reach SQLite. A malformed query raises
QueryError with a message that says what to fix.

A word becomes the phrase of its character pairs, the form storage.search
indexes (人才引进 -> "人才 才引 引进"); a one-character word the prefix query
`"人" *`. The same terms, matched against the raw text, mark the hits in
snippets (`highlight`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from talentwatch.core.safety import clean_text
from talentwatch.core.text import nfkc

# what the FTS5 unicode61 tokenizer keeps as token characters (letters, digits, Han): what
# words are made of, in the index and in queries; WORD_RUN, a run of them
WORD = r"[^\W_]"
WORD_RUN = re.compile(WORD + "+")


class QueryError(ValueError):
    """A query that cannot be searched; the message says what to fix."""


def normalize(text: str | None) -> str:
    """The form both index and queries use: NFKC (full-width → ASCII) and case-folded."""
    return nfkc(text or "").casefold()


# ---- the syntax tree ------------------------------------------------------------------

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
    return [t for t in tokens if t[0] != "term" or WORD_RUN.search(normalize(t[1]))]


# parentheses and NOTs inside one another: a human query needs a handful; the parser and the
# FTS5 expression recurse once per level, so a hostile one must end here, as a QueryError
MAX_NESTING = 32


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.depth = 0
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
        if kind in ("NOT", "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise QueryError(f"too deeply nested: at most {MAX_NESTING} levels of parentheses and NOT")
            try:
                return self._nested(kind)
            finally:
                self.depth -= 1
        if kind == "term":
            text = self.tokens[self.pos][1]
            self.pos += 1
            return Term(text, WORD_RUN.findall(normalize(text)))
        raise QueryError(f"unexpected {self.tokens[self.pos][1]!r} in the query")

    def _nested(self, kind: str) -> Any:
        """A NOT or a parenthesised group, one level further in."""
        if kind == "NOT":
            self.pos += 1
            if self.peek() in (None, ")", "OR", "AND", "NOT"):
                raise QueryError("NOT must be followed by the word or phrase to exclude")
            return Not(self.unary())
        self.pos += 1
        if self.peek() == ")":
            raise QueryError("empty parentheses: put a word or phrase between ( and )")
        node = self.or_expr()
        if self.peek() != ")":
            raise QueryError("unbalanced parenthesis: a '(' is never closed")
        self.pos += 1
        return node


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


def match_expression(node: Any) -> str:
    """The FTS5 MATCH expression for a parsed query (QueryError if it cannot be searched)."""
    if isinstance(node, Term):
        return _phrase(node)
    if isinstance(node, Or):
        if any(isinstance(c, Not) for c in node.children):
            raise QueryError("NOT cannot stand alone on one side of OR: write e.g. (人才 NOT 院士) OR 补贴")
        return "(" + " OR ".join(match_expression(c) for c in node.children) + ")"
    children = node.children if isinstance(node, And) else [node]
    positive = [c for c in children if not isinstance(c, Not)]
    negative = [c.child for c in children if isinstance(c, Not)]
    if not positive:
        raise QueryError("the query only excludes words: add a word or phrase that must appear,"
                         " e.g. 人才 NOT 院士")
    expr = "(" + " AND ".join(match_expression(c) for c in positive) + ")"
    for child in negative:
        expr = f"({expr} NOT {match_expression(child)})"
    return expr


def to_match(query: str) -> str:
    """The FTS5 MATCH expression for a user's query (QueryError if it is malformed)."""
    return match_expression(parse_query(query))


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


def term_pattern(terms: list[Term]) -> re.Pattern | None:
    """A regex over the raw text (no normalizing: that costs more than the search) for highlights."""
    alts = sorted({r"[\W_]+".join("".join(map(_char_class, run)) for run in t.runs) for t in terms if t.runs},
                  key=len, reverse=True)
    return re.compile("|".join(alts), re.IGNORECASE) if alts else None


def highlight(text: str, pattern: re.Pattern | None, mark: tuple[str, str] = ("[", "]"),
              width: int = 120) -> str:
    """A window of `text` around its first match, every match inside it marked (the text
    without control characters: a snippet goes to a terminal or a web page)."""
    text = re.sub(r"\s+", " ", clean_text(text)).strip()
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
