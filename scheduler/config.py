"""config.yaml: its schema and loading.

Validated with pydantic before anything starts; every error names the file,
the key and what was expected.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_CONFIG = "config.yaml"


class ConfigError(Exception):
    """A config file that cannot be used; the message says where and why."""


class Strict(BaseModel):
    # a typo in a key is an error, not a silently ignored setting
    model_config = ConfigDict(extra="forbid")


class Selectors(Strict):
    list_item: str | None = None
    list_link: str | None = None
    list_date: str | None = None
    next_page: str | None = None
    title: str | None = None
    body: str | None = None
    date: str | None = None
    source: str | None = None


class RevisitPolicy(Strict):
    """Re-fetch (conditionally) known articles to catch edits and withdrawals."""

    max_age_days: float = Field(default=7, gt=0, description="only articles published this recently")
    every_hours: float = Field(default=24, gt=0, description="at most once per this many hours")


class SiteConfig(Strict):
    name: str = Field(min_length=1)
    start_urls: list[str] = Field(min_length=1)
    article_pattern: str
    allowed_domains: list[str] = Field(default_factory=list)
    max_list_pages: int = Field(default=5, ge=1)
    delay: float = Field(default=1.0, ge=0, description="seconds between requests to this site")
    profile: str | None = None
    selectors: Selectors = Field(default_factory=Selectors)
    enabled: bool = True
    # null turns re-visits off (then only `crawl --recheck` re-fetches known articles)
    revisit: RevisitPolicy | None = Field(default_factory=RevisitPolicy)

    @field_validator("start_urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
                raise ValueError(f"expected an http(s) URL, got {url!r}")
        return urls

    @field_validator("article_pattern")
    @classmethod
    def _regex(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"expected a regular expression: {exc}") from None
        return pattern

    @model_validator(mode="after")
    def _default_domains(self) -> SiteConfig:
        if not self.allowed_domains:
            self.allowed_domains = sorted({urlsplit(u).hostname or "" for u in self.start_urls})
        return self

    @property
    def article_re(self) -> re.Pattern[str]:
        return re.compile(self.article_pattern)


class CrawlSettings(Strict):
    user_agent: str = (
        "talentwatch/0.1 (+https://pypi.org/project/talentwatch/; talent-policy monitor)"
    )
    obey_robots: bool = True
    timeout: float = Field(default=30, gt=0)
    retries: int = Field(default=2, ge=0)
    autothrottle: bool = True
    concurrency_per_domain: int = Field(default=2, ge=1)
    extract_workers: int = Field(default=0, ge=0, description="0 means one per CPU")


class Config(Strict):
    database: Path = Path("data/talentwatch.db")
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    sites: list[SiteConfig] = Field(default_factory=list)
    source_path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [s.name for s in self.sites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"site names must be unique; repeated: {', '.join(dupes)}")
        return self

    def site(self, name: str) -> SiteConfig:
        for site in self.sites:
            if site.name == name:
                return site
        raise ConfigError(f"no site named {name!r}; known: {', '.join(s.name for s in self.sites)}")


def _where(cfg: dict[str, Any], loc: tuple[Any, ...]) -> str:
    """Render a pydantic error location as a readable key path, naming sites."""
    parts: list[str] = []
    node: Any = cfg
    for part in loc:
        if isinstance(part, int):
            name = node[part].get("name") if isinstance(node, list) and part < len(node) \
                and isinstance(node[part], dict) else None
            parts[-1] += f"[{part}]" + (f" ({name})" if name else "")
        else:
            parts.append(str(part))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"


def resolve_path(path: str | os.PathLike[str] | None) -> Path:
    return Path(path or os.environ.get("TALENTWATCH_CONFIG") or DEFAULT_CONFIG)


def parse_config(data: Any, source: str = "<config>") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: invalid configuration"]
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling)"
            lines.append(f"  {_where(data, err['loc'])}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    file = resolve_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    config = parse_config(data, str(file))
    config.source_path = file
    if not config.database.is_absolute():
        # a relative database path is relative to the config file, not the cwd
        config.database = file.parent / config.database
    return config
