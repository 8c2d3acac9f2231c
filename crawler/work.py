"""What a crawl's worker processes run: all per-article CPU work, in one call per page.

Kept apart from the pipelines (and Scrapy): a worker imports only this module
and what extraction, relevance and storage's preparation need.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talentwatch.core import stages
from talentwatch.core.profiles import Profile
from talentwatch.core.records import Article, Page
from talentwatch.core.relevance_config import RelevanceConfig
from talentwatch.crawler.extract import extract
from talentwatch.crawler.lifeline import die_with_parent
from talentwatch.storage.articles import Prepared, prepare, with_search_tokens


def call_pickled(fn: Callable[..., Any], payload: bytes) -> tuple[bytes, dict[str, float]]:
    """Run `fn` in a worker on pickled arguments; the result goes back pickled, with the
    worker's stage times. Pickling by hand lets both sides time the transfer."""
    with stages.TIMES.cpu(stages.TRANSFER):
        args = pickle.loads(payload)
    result = fn(*args)
    start = time.process_time()
    out = pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
    stages.TIMES.add(stages.TRANSFER, time.process_time() - start)
    return out, stages.TIMES.take()


@dataclass
class Processed:
    """What a worker sends back for one page: the article with its relevance fields,
    and what storing it needs computed beforehand (normalised text, hashes, MinHash,
    search tokens)."""

    article: Article
    prepared: list[Prepared]  # the article's, then each bulletin part's; empty: store prepares
    relevance_error: str | None = None

    # what the spider's bookkeeping reads of an item
    @property
    def url(self) -> str:
        return self.article.url

    @property
    def site(self) -> str:
        return self.article.site


if TYPE_CHECKING:
    from talentwatch.relevance import Classifier

# this worker's classifier, built once as it starts (jieba's dictionary, the term automaton)
_classifier: Classifier | None = None
_started_with: str | None = None  # the relevance config (JSON) it was built for
# classifiers for other configs a page asked for (a crawl worker's task carries the archive
# host's config), by their JSON; few in a worker's life
_others: dict[str, Classifier] = {}


# the lowest CPU priority there is: a worker yields whenever the crawl process can run
WORKER_NICENESS = 19


def yield_to_crawl() -> None:
    """Lower this worker's CPU priority. The crawl process alone fetches and stores, and it
    feeds every worker: when the cores are busy, the scheduler's equal shares would give it
    two-thirds of a core against two workers, and the workers would then wait for pages. At
    a lower priority the workers take what the crawl process leaves, which is all of a
    core's worth when it is idle."""
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # not allowed here: equal shares, as before
        pass


def worker_started(config_json: str | None = None, parent_pid: int | None = None) -> None:
    """A new worker does its start-up work (imports, classifier) before its first page;
    the crawl's relevance config comes once, here, not with every page. With
    `parent_pid` it dies with that process, however it ends."""
    if parent_pid is not None:
        die_with_parent(parent_pid)
    yield_to_crawl()
    # imported here: the main process loads this module only for the names it sends
    from talentwatch.relevance import Classifier

    global _classifier, _started_with
    config = RelevanceConfig.model_validate_json(config_json) if config_json else None
    _classifier = Classifier(config)
    _started_with = config_json
    stages.TIMES.add(stages.STARTUP, time.process_time())  # all of it, since the spawn or fork


def _classifier_for(config_json: str | None) -> Classifier:
    if config_json is None or config_json == _started_with:
        assert _classifier is not None, "a worker's classifier is built as it starts"
        return _classifier
    if config_json not in _others:
        from talentwatch.relevance import Classifier

        if len(_others) >= 4:  # bounded: a config edited many times over a long life
            _others.clear()
        _others[config_json] = Classifier(RelevanceConfig.model_validate_json(config_json))
    return _others[config_json]


def process_page(page: Page, profile: Profile, relevance_json: str | None = None) -> Processed:
    """All per-article CPU work in one worker call: extract, classify, prepare for storing.
    `relevance_json`: classify with this config instead of the one the worker started with."""
    with stages.TIMES.cpu(stages.EXTRACTION):
        article = extract(page, profile)
    error = None
    with stages.TIMES.cpu(stages.RELEVANCE):
        try:
            _classifier_for(relevance_json).classify(article)
        except Exception as exc:  # unscored is better than lost: stored, and the main process says so
            error = str(exc) or type(exc).__name__
    with stages.TIMES.cpu(stages.NORMALISE):
        prepared = [with_search_tokens(a, prepare(a)) for a in (article, *article.parts)]
        for prep in prepared:
            _ = prep.bands  # computed here with the signature, carried back in the pickle
    return Processed(article, prepared, error)
