"""`talentwatch extract TARGET...`: run extraction on URLs or saved files.

How a user debugs a new site: one JSON line per target, in order, with the
export fields (plus the bulletin `parts`). Files are decoded as the crawler
decodes pages; URLs are fetched once each, with their PDF/DOC/DOCX
attachments (size-capped). A web page's attachments are fetched over http(s)
only, and only where a crawl would fetch them (crawler/reach.py): within the
page's host family (and, with --site, the site's allowed_domains and
attachment_domains), at public addresses unless the page or site lives there,
redirects included, connecting to the address that was checked. A saved page's
attachments are read only from regular files inside the page's own folder (no
`..`, absolute paths, links out of it, devices or FIFOs), so a page cannot make
the command read other local files; its web links are fetched only with --site.
A target that cannot be read or extracted (a malformed URL included) gives a
JSON line with an `error` and the command goes on with the next one (exit
status 1 at the end).
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import click
from talentwatch.cli.app import State, main, pass_state
from talentwatch.core.config import ConfigError, SiteConfig
from talentwatch.core.profiles import PROFILES, Profile, get_profile
from talentwatch.core.records import Article, FetchedFile, Page
from talentwatch.crawler.attachments import MAX_ATTACHMENT_BYTES, find_attachment_links
from talentwatch.crawler.fetch import MAX_PAGE_BYTES, FetchError, Guard, open_url

USER_AGENT = "talentwatch-extract/0.1 (+https://github.com/talentwatch)"


@dataclass
class Scope:
    """What `extract` may reach and how much it reads: with --site, that site's domains and
    the config's size caps; without, each page's own host family and the crawl's defaults."""

    site: SiteConfig | None = None
    page_bytes: int = MAX_PAGE_BYTES
    attachment_bytes: int = MAX_ATTACHMENT_BYTES
    _book: object | None = None

    def guard(self, page_url: str | None, attachment: bool) -> Guard | None:
        """The crawl's reach rules for what `page_url` (None: a saved page) makes us fetch;
        None when nothing may be fetched for it (a saved page, no --site)."""
        if page_url is None and self.site is None:
            return None
        # Scrapy and Twisted load with the reach rules: only for a page that asks for the web
        from talentwatch.crawler.reach import AddressBook, guard, page_reach

        if not isinstance(self._book, AddressBook):
            self._book = AddressBook()
        return guard(page_reach(page_url, self.site, self._book), self._book, attachment)


def _read_target(target: str, timeout: float, scope: Scope) -> tuple[str, bytes, str | None]:
    """(url, body, content type) of a URL or a file path."""
    try:
        scheme = urlsplit(target).scheme
    except ValueError as exc:  # e.g. http://[::1 (an unclosed IPv6 host)
        raise FetchError(f"not a valid URL: {exc}") from None
    if scheme in ("http", "https"):
        # the page is the user's choice; its redirects must stay where a crawl would go
        fetched = open_url(target, scope.page_bytes, timeout, USER_AGENT, scope.guard(target, False))
        return target, fetched.body, fetched.content_type
    path = Path(unquote(target[7:]) if target.startswith("file://") else target)
    return path.resolve().as_uri(), _read_regular_file(path, scope.page_bytes), None


def _read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (FetchError otherwise).

    Opened without blocking and checked on the open descriptor: a FIFO or a device
    (/dev/zero) is refused before a byte is read, and a file cannot be swapped in between."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FetchError(f"cannot read file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FetchError(f"not a regular file: {path}")
        if info.st_size > limit:
            raise FetchError(f"too large: {info.st_size} bytes > {limit}")
        body = file.read(limit + 1)  # a file growing while read stops at the cap too
    if len(body) > limit:
        raise FetchError(f"too large: more than {limit} bytes")
    return body


def _inside(folder: Path, link: str) -> Path | None:
    """The local file a saved page's file:// link names, if it lies inside `folder`."""
    path = Path(unquote(urlsplit(link).path))
    if urlsplit(link).netloc not in ("", "localhost"):
        return None  # file://server/share: another machine's file
    resolved = path.resolve()  # `..` and symlinks out of the folder resolve outside it
    return resolved if resolved.is_relative_to(folder) else None


def _may_fetch(link: str, page_url: str) -> bool:
    """Web pages get their http(s) attachments only: a page must not make us read local files."""
    try:
        scheme, page_scheme = urlsplit(link).scheme, urlsplit(page_url).scheme
    except ValueError:
        return False
    return scheme in ("http", "https") or (scheme == "file" and page_scheme == "file")


def _fetch_file(url: str, name: str, page_url: str, timeout: float, scope: Scope,
                guard: Guard | None) -> FetchedFile:
    if not _may_fetch(url, page_url):
        return FetchedFile(url=url, name=name, skipped="not fetched: only http(s) links are followed"
                                                       " from a web page")
    try:
        if url.startswith("file:"):
            folder = Path(unquote(urlsplit(page_url).path)).resolve().parent
            path = _inside(folder, url)
            if path is None:
                return FetchedFile(url=url, name=name,
                                   skipped=f"not read: outside the saved page's folder {folder}")
            return FetchedFile(url=url, name=name, body=_read_regular_file(path, scope.attachment_bytes))
        if guard is None:
            return FetchedFile(url=url, name=name, skipped="not fetched: a saved page's web links are"
                                                           " fetched only with --site (its domains)")
        fetched = open_url(url, scope.attachment_bytes, timeout, USER_AGENT, guard)
        return FetchedFile(url=url, name=name, body=fetched.body, content_type=fetched.content_type)
    except (FetchError, OSError, ValueError) as exc:
        return FetchedFile(url=url, name=name, skipped=str(exc))


def _record(article: Article) -> dict[str, Any]:
    from talentwatch.storage.export import EXPORT_FIELDS

    data = article.to_dict()
    record = {name: data.get(name) for name in EXPORT_FIELDS}
    record["parts"] = [_record(part) for part in article.parts]
    return record


def http_page(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def _site_of(url: str) -> str:
    return urlsplit(url).hostname or "file"


def _extract_target(target: str, profile: Profile, article_re: re.Pattern, as_list: bool,
                    attachments: bool, timeout: float, scope: Scope) -> dict[str, Any]:
    """The JSON record of one target: its article, or with --list its items and next pages."""
    # lxml, parsel, charset-normalizer and trafilatura load when there is something to read
    from talentwatch.crawler.decode import decode_page
    from talentwatch.crawler.extract import extract
    from talentwatch.crawler.listing import parse_list

    url, body, content_type = _read_target(target, timeout, scope)
    decoded = decode_page(body, content_type)
    html = decoded.text
    if as_list:
        listing = parse_list(html, url, article_re, profile)
        items = [{"url": i.url, "title": i.title, "date": i.date} for i in listing.items]
        return {"url": url, "items": items, "next_pages": listing.next_pages}
    files: list[FetchedFile] = []
    if attachments:
        links = find_attachment_links(html, url)
        web = any(urlsplit(link).scheme in ("http", "https") for link, _ in links)
        guard = scope.guard(url if http_page(url) else None, True) if web else None
        files = [_fetch_file(link, name, url, timeout, scope, guard) for link, name in links]
    page = Page(url=url, site=_site_of(url), html=html, profile=profile.name, files=files,
                fetched_at=datetime.now(UTC).isoformat(timespec="seconds"), flags=decoded.flags)
    return _record(extract(page, profile))


@main.command("extract")
@click.argument("targets", nargs=-1, required=True)
@click.option("--site", "site_name", metavar="NAME",
              help="extract as the configured site NAME does: its profile, selectors and article_pattern")
@click.option("--profile", "profile_name", type=click.Choice(sorted(PROFILES)), default=None,
              help="site profile to extract with (default: generic)")
@click.option("-s", "--selector", "selectors", multiple=True, metavar="FIELD=CSS",
              help="override one profile field, e.g. -s body=div.article (repeatable)")
@click.option("--list", "as_list", is_flag=True,
              help="treat targets as list pages: print their items and next pages")
@click.option("--pattern", default=None, metavar="REGEX",
              help="with --list: article URL pattern (default: the profile's, else any link)")
@click.option("--attachments/--no-attachments", default=True, show_default=True,
              help="fetch and read PDF/DOC/DOCX attachments linked from the page")
@click.option("--timeout", default=20.0, show_default=True,
              type=click.FloatRange(0, 600, min_open=True), help="seconds per request")
@pass_state
def extract_cmd(state: State, targets: tuple[str, ...], site_name: str | None, profile_name: str | None,
                selectors: tuple[str, ...], as_list: bool, pattern: str | None, attachments: bool,
                timeout: float) -> None:
    """Extract article records from URLs or saved pages, one JSON line each."""
    overrides: dict[str, str] = {}
    scope = Scope()
    if site_name is not None:
        if profile_name is not None:
            raise click.UsageError("give --site or --profile, not both")
        try:
            site = state.config.site(site_name)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None
        profile_name = site.profile
        crawl = state.config.crawl
        scope = Scope(site, crawl.max_page_bytes, crawl.max_attachment_bytes)
        overrides.update({k: v for k, v in site.selectors.model_dump().items() if v})
        pattern = pattern or site.article_pattern
    for item in selectors:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--selector expects FIELD=CSS, got {item!r}")
        overrides[key.strip()] = value.strip()
    try:
        profile = get_profile(profile_name, overrides)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from None
    try:
        article_re = re.compile(pattern or profile.article_url or r"^https?://")
    except re.error as exc:
        option = "--pattern" if pattern else f"the {profile.name} profile's article_url"
        raise click.UsageError(f"{option} is not a valid regular expression: {exc}") from None

    failed = 0
    for target in targets:
        try:
            record = _extract_target(target, profile, article_re, as_list, attachments, timeout, scope)
        except FetchError as exc:
            record = {"url": target, "error": str(exc)}
        except Exception as exc:  # a page that breaks extraction: report it, go on with the next
            record = {"url": target, "error": f"cannot extract: {type(exc).__name__}: {exc}"}
        failed += "error" in record
        click.echo(json.dumps(record, ensure_ascii=False))
    if failed:
        click.echo(f"{failed} of {len(targets)} target(s) could not be read", err=True)
        sys.exit(1)
