"""Finding the article body in a parsed page and turning it into clean text.

Three ways in, tried by extract() in order: a CSS selector (site profile or a
known CMS container), then a text-density score over the whole tree (the main
text of a Chinese page is where sentence punctuation piles up outside links),
then trafilatura. All of them end in `node_text`, which keeps paragraph breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree
from lxml.etree import Comment, ProcessingInstruction
from talentwatch.crawler.boilerplate import DROP_ATTR_RE, DROP_TAGS

# tags after which text continues on a new line
_BLOCK = {
    "p", "div", "br", "li", "tr", "table", "tbody", "h1", "h2", "h3", "h4", "h5", "h6",
    "section", "article", "blockquote", "pre", "ul", "ol", "dl", "dt", "dd", "center",
    "form", "fieldset", "hr", "header", "footer", "main", "aside", "nav", "figure", "figcaption",
}
_CELL = {"td", "th"}
_PUNCT = re.compile(r"[，。！？；、：,.!?;]")
_SENTENCE_END = re.compile(r"[。！？!?]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2002\u2003\u2009\u200b]+")


_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_DOC_END = re.compile(r"</\s*(?:body|html)\s*>", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_END_TAG = re.compile(r"</[^>]*>")


def reopen_premature_end(html: str) -> str:
    """Drop </body> and </html> when page content follows them.

    A shared header include often carries its own </body></html>; libxml2 ends
    the document at the first </html> and the article after it is lost.
    """
    first = _DOC_END.search(html)
    if first is None:
        return html
    rest = html[first.end():]
    if not _END_TAG.sub("", _COMMENT.sub("", rest)).strip():
        return html  # only comments and end tags follow: the real end of the page
    return _DOC_END.sub("", html)


# lxml.html's parser without its element classes: lxml.html looks up a Python class for
# every element a walk touches, which costs more than the walk; the tree is the same
_PARSER = etree.HTMLParser()
# an element's text, its descendants' included (what lxml.html's text_content() gives)
_STRING = etree.XPath("string()", smart_strings=False)


def text_content(el: etree._Element) -> str:
    return str(_STRING(el))


def han_at_least(text: str, n: int) -> bool:
    """Whether `text` holds at least n Han characters (counted no further than n)."""
    for count, _ in enumerate(_HAN.finditer(text), 1):
        if count >= n:
            return True
    return n <= 0


def parse(html: str) -> etree._Element | None:
    """A forgiving parse; None when there is no markup at all."""
    try:
        root = etree.fromstring(reopen_premature_end(_XML_DECL.sub("", html)), _PARSER)
    except (ValueError, etree.ParserError):
        return None
    return root if root is not None and len(root) else None


_CODE_TAGS = ("script", "style", "noscript", "template")


def strip_code(root: etree._Element) -> None:
    """Drop scripts, styles and comments: never text a reader sees."""
    for el in list(root.iter(Comment, ProcessingInstruction)):
        _drop(el)
    for el in list(root.iter(*_CODE_TAGS)):
        _drop(el)


def prune(root: etree._Element) -> None:
    """Drop what is never body text: scripts, forms controls, navigation-like blocks."""
    strip_code(root)
    for el in list(root.iter(*DROP_TAGS)):
        _drop(el)
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el.tag in ("html", "body"):
            continue
        cls, ident = el.get("class"), el.get("id")
        attrs = f"{cls} {ident}" if cls and ident else cls or ident
        if attrs and DROP_ATTR_RE.search(attrs):
            _drop(el)
        elif (style := el.get("style")) and "display:none" in style.replace(" ", "").lower():
            _drop(el)


def _drop(el) -> None:
    """Remove an element but keep its tail text in place."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def node_text(node, skip_trimmed: bool = True) -> str:
    """The text of a subtree, one line per block, spaces tidied; trimmed blocks left out."""
    parts: list[str] = []

    def walk(el) -> None:
        # each read of an lxml property builds a new string: read once
        tag, tail = el.tag, el.tail
        if not isinstance(tag, str):  # a comment or processing instruction: its tail only
            tag = ""
        elif skip_trimmed and el.get(TRIMMED):
            if tail:
                parts.append(tail)
            return
        block = tag in _BLOCK
        if block:
            parts.append("\n")
        elif tag in _CELL:
            parts.append(" ")
        if tag and (text := el.text):
            parts.append(text)
        for child in el:
            walk(child)
        if block:
            parts.append("\n")
        if tail:
            parts.append(tail)

    walk(node)
    # spaces tidied in one pass over the whole text (_SPACES holds no line break)
    lines = _SPACES.sub(" ", "".join(parts)).split("\n")
    return "\n".join(filter(None, map(str.strip, lines)))


def around(root, node, chars: int = 300) -> tuple[str, str]:
    """The text just before and just after a node, in reading order (info lines, signatures)."""
    before, after = root.makeelement("span"), root.makeelement("span")
    before.text, after.text = "\ue000", "\ue001"
    kept = [c for c in node if isinstance(c.tag, str) and not c.get(TRIMMED) and text_content(c).strip()]
    if kept and not (node.text or "").strip():
        # trimmed blocks at the top of the body (an info table) read as above it
        kept[0].addprevious(before)
        kept[-1].addnext(after)
    else:
        node.addprevious(before)
        node.addnext(after)
    try:
        text = node_text(root, skip_trimmed=False)
    finally:
        _drop(before)
        _drop(after)
    head, _, rest = text.partition("\ue000")
    _, _, tail = rest.partition("\ue001")
    return head[-chars:], tail[:chars]


@dataclass
class _Stats:
    text: int = 0  # characters of own text (not inside links)
    links: int = 0  # characters inside links
    score: float = 0.0
    content: float = 0.0  # undecayed paragraph score of the whole subtree


def _own_text(el) -> str:
    # text directly inside the element: its .text and its children's tails
    chunks = [el.text or ""]
    chunks.extend(child.tail or "" for child in el)
    return "".join(chunks).strip()


def densest_node(root) -> etree._Element | None:
    best, stats = _densest(root)
    if best is not None:
        _trim(best, stats)
    return best


TRIMMED = "data-tw-trimmed"
_DATA_TABLE_CHARS = 200
_TRIMMABLE = {"table", "div", "ul", "ol", "dl", "form", "section", "center", "tbody", "tr"}


def _trim(node, stats: dict) -> None:
    """Drop the blocks inside the chosen node that are lists of links or scoreless furniture."""
    total = stats[node].content or 1.0
    for child in list(node):
        if not isinstance(child.tag, str) or child.tag not in _TRIMMABLE:
            continue
        st = stats.get(child)
        if st is None:
            continue
        chars = st.text + st.links
        link_density = st.links / chars if chars else 0.0
        # a div may be one paragraph of many; a table or list with little text is furniture
        # (a data table -- 名单, 岗位表 -- scores little, its cells being short, but holds much text)
        small = st.content < 0.05 * total and child.tag not in ("div", "section", "center") \
            and st.text < _DATA_TABLE_CHARS
        if link_density > 0.4 or small:
            child.set(TRIMMED, "1")  # kept in the tree: an info line in it still counts as "above the body"


_INLINE_HOSTS = {"font", "span", "b", "strong", "em", "i", "u", "p", "a"}


def _densest(root):
    """The element holding the most sentence-like text outside links.

    Each run of own text scores by its punctuation and length; the score goes to
    the element and, halved, to its ancestors' shares (readability-style), then
    each candidate is discounted by the share of its text that sits in links.
    """
    stats: dict = {}
    path: list = []  # the elements from the root down to the current one
    for event, el in etree.iterwalk(root, events=("start", "end")):  # elements only, no comments
        if event == "end":
            path.pop()
            continue
        path.append(el)
        own = _own_text(el)
        if not own:
            continue
        chain = path[::-1]  # the element, then up to the root
        in_link = any(a.tag == "a" for a in chain)
        length = len(_SPACES.sub("", own))
        for anc in chain:
            st = stats.get(anc)
            if st is None:
                st = stats[anc] = _Stats()
            if in_link:
                st.links += length
            else:
                st.text += length
        if in_link or length < 8:
            continue
        score = 1 + len(_PUNCT.findall(own)) + min(length / 80, 4)
        if not _SENTENCE_END.search(own) and not han_at_least(own, 20):
            score *= 0.3  # labels, menus, headings
        host = 0  # credit the block that holds the paragraphs: the first non-inline one up
        while chain[host].tag in _INLINE_HOSTS and host + 1 < len(chain):
            host += 1
        weight = 1.0
        for anc in chain:  # each has its stats since the first loop
            stats[anc].content += score
        for anc in chain[host:host + 4]:
            stats[anc].score += score * weight
            weight /= 2
    best, best_score = None, 0.0
    for el, st in stats.items():
        if st.score <= 0 or el.tag in ("html", "body"):
            continue
        total = st.text + st.links
        link_density = st.links / total if total else 1.0
        value = st.score * (1 - link_density)
        if value > best_score:
            best, best_score = el, value
    return best, stats
