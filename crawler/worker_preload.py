"""Imported once, by the fork server the crawl's worker processes are forked from.

Everything a worker needs that does not depend on the crawl's settings is
loaded here: the extraction and relevance modules, trafilatura, lxml, and
jieba's dictionary. Each worker forked afterwards starts with all of it in
memory (shared until written), so a crawl pays for it once, not once per worker
and again for every worker that replaces one that died.
"""

from talentwatch.crawler import work  # noqa: F401  (imported for its side: loaded modules)
from talentwatch.relevance.topics import shipped_dictionary

shipped_dictionary()
