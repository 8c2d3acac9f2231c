"""Trying a list page before adding it (`talentwatch try` / `add`): fetch it politely,
suggest the site's settings, and extract and classify a few of its articles —
in memory only; nothing is written to the archive."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from talentwatch.core.config import CrawlSettings, SiteConfig
from talentwatch.core.profiles import get_profile
from talentwatch.core.records import Article, Page
from talentwatch.core.relevance_config import RelevanceConfig
from talentwatch.crawler.decode import decode_html
from talentwatch.crawler.extract import extract
from talentwatch.crawler.fetch import FetchError, PoliteFetcher, http_url
from talentwatch.crawler.suggest import Suggestion, suggest
from talentwatch.storage.export import EXPORT_FIELDS


@dataclass
class Trial:
    suggestion: Suggestion
    samples: list[dict[str, Any]] = field(default_factory=list)  # export records
    sample_errors: list[str] = field(default_factory=list)


def fetcher_for(crawl: CrawlSettings, delay: float | None = None) -> PoliteFetcher:
    """A fetcher as polite as the crawl: `delay` is the site's (default crawl.delay)."""
    return PoliteFetcher(user_agent=crawl.user_agent, timeout=crawl.timeout,
                         delay=crawl.delay if delay is None else delay,
                         obey_robots=crawl.obey_robots)


def export_record(article: Article) -> dict[str, Any]:
    """The article as `export --format jsonl` writes it (fields it has only once stored stay null)."""
    data = article.to_dict()
    return {name: data.get(name) for name in EXPORT_FIELDS}


def site_name_for(url: str) -> str:
    """A site name from a list page's URL: the host's first label and the column."""
    parts = urlsplit(url)
    host = (parts.hostname or "site").removeprefix("www.")
    label = host if host.replace(".", "").isdigit() else host.split(".")[0]
    columns = [s for s in parts.path.split("/") if s and "." not in s]
    return "-".join([label.replace(".", "-"), *columns[-1:]])


def try_page(url: str, fetcher: PoliteFetcher, relevance: RelevanceConfig | None = None,
             samples: int = 3, site: str | None = None, site_config: SiteConfig | None = None) -> Trial:
    """Fetch the list page at `url` and suggest its settings; with `samples`, extract and
    classify that many of its articles. Raises FetchError or suggest.NotAListPage.
    Every request goes only where a crawl of this list page (of `site_config`, when it is a
    configured site's) would go (crawler/reach.py)."""
    if fetcher.guard is None and http_url(url):
        from talentwatch.crawler.reach import AddressBook, guard, page_reach  # loads Scrapy

        book = AddressBook()
        fetcher.guard = guard(page_reach(url, site_config, book), book, attachment=False)
    fetched = fetcher.get(url)
    _, html = decode_html(fetched.body, fetched.content_type)
    trial = Trial(suggest(html, fetched.url))
    if samples <= 0:
        return trial
    from talentwatch.relevance import Classifier  # jieba's dictionary: only when samples are read

    classifier = Classifier(relevance)
    profile = get_profile(trial.suggestion.profile)
    name = site or site_name_for(url)
    for item in trial.suggestion.matched[:samples]:
        try:
            page_fetched = fetcher.get(item.url)
        except FetchError as exc:
            trial.sample_errors.append(str(exc))
            continue
        _, page_html = decode_html(page_fetched.body, page_fetched.content_type)
        page = Page(url=page_fetched.url, site=name, html=page_html, list_title=item.title,
                    list_date=item.date, profile=profile.name,
                    fetched_at=datetime.now(UTC).isoformat(timespec="seconds"))
        try:
            article = extract(page, profile)
        except Exception as exc:  # a page that breaks extraction is a finding, not a crash
            trial.sample_errors.append(f"{item.url}: cannot extract: {type(exc).__name__}: {exc}")
            continue
        classifier.classify(article)
        trial.samples.append(export_record(article))
    return trial
