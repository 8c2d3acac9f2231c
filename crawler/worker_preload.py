"""Imported once, by the fork server the crawl's worker processes are forked from.

Everything a worker needs that does not depend on the crawl's settings is
loaded here: the extraction and relevance modules, trafilatura, lxml, jieba's
dictionary and the gazetteer of place names. Each worker forked afterwards
starts with all of it in memory (shared until written), so a crawl pays for it
once, not once per worker and again for every worker that replaces one that died.
"""

import numpy.ma  # noqa: F401  (np.unique imports it at its first call: 65 ms in every worker)
from talentwatch.crawler import work  # noqa: F401  (imported for its side: loaded modules)
from talentwatch.relevance.region import gazetteer
from talentwatch.relevance.topics import shipped_dictionary

shipped_dictionary()
gazetteer()
