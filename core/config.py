"""config.yaml: its schema and loading.

Validated with pydantic before anything starts; every error names the file,
the key and what was expected.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from talentwatch.core.filters import FilterError, Filters, check_date
from talentwatch.core.profiles import PROFILES
from talentwatch.core.relevance_config import RelevanceConfig, default_config

DEFAULT_CONFIG = "config.yaml"


class ConfigError(Exception):
    """A config file that cannot be used; the message says where and why."""


class Strict(BaseModel):
    # a typo in a key is an error, not a silently ignored setting
    model_config = ConfigDict(extra="forbid")


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
TIMEZONE = "Asia/Shanghai"  # the portals' and the readers' clock


def parse_duration(value: Any) -> float:
    """`90`, `45s`, `30m`, `1h30m`, `2d` -> seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower().replace(" ", "")
    if text and _DURATION_RE.sub("", text) == "":
        return float(sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_RE.findall(text)))
    raise ValueError(f"expected a duration such as 45s, 30m, 2h or 1d, got {value!r}")


# seconds, written in config as 30m, 2h, 90s …
Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


def check_cron(expr: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expr, timezone=TIMEZONE)
    except ValueError as exc:
        raise ValueError(f"expected a crontab expression like '0 8 * * *': {exc}") from None
    return expr


Cron = Annotated[str, BeforeValidator(lambda v: check_cron(str(v)))]


class Selectors(Strict):
    """Per-site overrides of a site profile's fields (crawler/profiles.py)."""

    list_mode: Literal["html", "inline_script", "datastore"] | None = None
    list_item: str | None = None
    list_link: str | None = None
    list_date: str | None = None
    next_page: str | None = None
    title: str | None = None
    body: str | None = None
    date: str | None = None
    source: str | None = None
    author: str | None = None
    site_names: list[str] = Field(default_factory=list)


class RevisitPolicy(Strict):
    """Re-fetch (conditionally) known articles to catch edits and withdrawals."""

    max_age_days: float = Field(default=7, gt=0, description="only articles published this recently")
    every_hours: float = Field(default=24, gt=0, description="at most once per this many hours")


class SiteConfig(Strict):
    name: str = Field(min_length=1)
    start_urls: list[str] = Field(min_length=1)
    article_pattern: str
    allowed_domains: list[str] = Field(default_factory=list)
    # hosts (and their subdomains) that attachments may also come from, e.g. a file server
    attachment_domains: list[str] = Field(default_factory=list)
    max_list_pages: int = Field(default=5, ge=1)
    # unset: crawl.delay (Config fills it in)
    delay: float = Field(default=1.0, ge=0, description="seconds between requests to this site")
    profile: str | None = None
    selectors: Selectors = Field(default_factory=Selectors)
    enabled: bool = True
    # daemon schedule: an interval (with jitter) or a cron in Asia/Shanghai; neither
    # means daemon.every. `timeout` overrides daemon.timeout for this site.
    every: Duration | None = None
    cron: Cron | None = None
    timeout: Duration | None = None
    # null turns re-visits off (then only `crawl --recheck` re-fetches known articles)
    revisit: RevisitPolicy | None = Field(default_factory=RevisitPolicy)

    @field_validator("start_urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
                raise ValueError(f"expected an http(s) URL, got {url!r}")
        return urls

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, name: str | None) -> str | None:
        if name is not None and name not in PROFILES:
            raise ValueError(f"expected one of the built-in profiles: {', '.join(sorted(PROFILES))}")
        return name

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

    @model_validator(mode="after")
    def _one_schedule(self) -> SiteConfig:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either `every` or `cron`, not both")
        if self.every is not None and self.every < 1:
            raise ValueError("`every` must be at least 1s")
        return self

    @property
    def article_re(self) -> re.Pattern[str]:
        return re.compile(self.article_pattern)


class CrawlSettings(Strict):
    user_agent: str = (
        "talentwatch/0.1 (talent-policy news monitor; Scrapy)"
    )
    obey_robots: bool = True
    timeout: float = Field(default=30, gt=0)
    retries: int = Field(default=2, ge=0)
    autothrottle: bool = True
    concurrency_per_domain: int = Field(default=2, ge=1)
    delay: float = Field(default=1.0, ge=0,
                         description="seconds between requests to a site that sets no delay of its own")
    extract_workers: int = Field(default=0, ge=0, description="0 means one per CPU")
    # size caps, on the wire and after decompression: a page or file over them is skipped.
    # Bounded above because parsing costs many times the size (lxml trees, pdfminer):
    # the ceilings keep a crawl's memory bounded whatever the config says.
    max_page_mb: float = Field(default=10, gt=0, le=50)
    max_attachment_mb: float = Field(default=20, gt=0, le=20)

    @property
    def max_page_bytes(self) -> int:
        return int(self.max_page_mb * 1024 * 1024)

    @property
    def max_attachment_bytes(self) -> int:
        return int(self.max_attachment_mb * 1024 * 1024)


EventKind = Literal["new", "changed", "removed"]


def _new_only() -> list[EventKind]:
    return ["new"]


class AlertFilter(Strict):
    """Which events a subscription receives; every given key must match.

    sites, topics, regions, since, until and talent_only mean what the same
    options of `talentwatch search` / `export` mean (talentwatch.core.filters);
    keywords, min_score and events are for alerts only.
    """

    topics: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    since: str | None = None  # published on or after (2024-03-05, 2024-03, 2024)
    until: str | None = None  # published on or before (a month or year: all of it)
    min_score: float | None = None
    events: list[EventKind] = Field(default_factory=_new_only, min_length=1)
    # only items the classifier marked as talent policy (articles.talent = 1)
    talent_only: bool = True

    @field_validator("since", "until", mode="before")
    @classmethod
    def _date(cls, value: Any, info: Any) -> str | None:
        # YAML reads 2024-03-05 as a date and 2024 as an int: take them as written
        return check_date(info.field_name, None if value is None else str(value))

    @model_validator(mode="after")
    def _shared(self) -> AlertFilter:
        try:
            self.articles()  # since after until, as search checks it
        except FilterError as exc:
            raise ValueError(str(exc).replace("--", "")) from None  # config keys have no dashes
        return self

    def articles(self) -> Filters:
        """The keys shared with search and export, as the one filter model."""
        return Filters(sites=tuple(self.sites), since=self.since, until=self.until,
                       topics=tuple(self.topics), regions=tuple(self.regions),
                       talent_only=self.talent_only)


class Subscription(Strict):
    name: str = Field(min_length=1)
    # Apprise URLs; `${VAR}` is taken from the environment when sending
    channels: list[str] = Field(min_length=1)
    mode: Literal["instant", "digest"] = "instant"
    cron: Cron = "0 8 * * *"  # digest time, Asia/Shanghai
    filter: AlertFilter = Field(default_factory=AlertFilter)
    # digest sections: by region (province + city), first topic, or site
    group_by: Literal["region", "topic", "site"] = "region"
    # a message lists at most this many stories and says how many more there are
    max_items: int = Field(default=50, ge=1)

    @field_validator("channels")
    @classmethod
    def _urls(cls, channels: list[str]) -> list[str]:
        for i, url in enumerate(channels):
            if "://" not in url and not re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", url.strip()):
                # the value may hold a secret: name its position, never echo it
                raise ValueError(f"channel {i + 1}: expected an Apprise URL like mailto://… or json://…,"
                                 " or ${VAR} naming one in the environment")
        return channels


class DaemonSettings(Strict):
    every: Duration = 1800  # default site interval
    jitter: Duration = 120  # each check starts up to this much later, to spread load
    timeout: Duration = 1200  # a site's run is cut after this long
    deliver_every: Duration = 60  # outbox: collect events and send what is due
    retry_initial: Duration = 60  # first retry of a failed message; doubles each time
    retry_max: Duration = 21600
    backlog: Duration = 86400  # a new subscription starts with events this recent
    # a site's first crawl is a baseline: only items published this recently alert;
    # null alerts every item of a first crawl
    baseline_window: Duration | None = 3 * 86400
    # the web view's address (`talentwatch serve`), linked when a message is cut short
    web_url: str | None = None

    @field_validator("web_url")
    @classmethod
    def _web_url(cls, url: str | None) -> str | None:
        if url is not None and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            raise ValueError(f"expected an http(s) URL, got {url!r}")
        return url


class WorkersSettings(Strict):
    """Crawl workers on Celery (docs/scale.md); absent: the embedded crawl, no broker."""

    # redis://… or amqp://…; `${VAR}` is taken from the environment (a password stays out of the file)
    broker: str
    # a site's crawl on a worker is cut after this long (its records so far are stored)
    task_timeout: Duration = Field(default=1200, gt=0)
    # Redis only: a task a worker took and never acknowledged (killed) goes back on the queue
    # after this long; it must exceed task_timeout, or a slow crawl would be handed out twice
    visibility_timeout: Duration = Field(default=1800, gt=0)
    # at most this many sites due in the same tick go out as one task (one worker crawls them
    # side by side, each under its own lease): Celery's cost per task is shared by the batch
    batch: int = Field(default=25, ge=1, le=500)

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, url: str) -> str:
        text = url.strip()
        if re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", text):
            return text
        if not re.match(r"(redis|rediss|amqp|amqps)://", text):
            # the value may hold a password: never echo it
            raise ValueError("expected a broker URL like redis://host:6379/0 or amqp://user@host//,"
                             " or ${VAR} naming one in the environment")
        return text

    @model_validator(mode="after")
    def _timeouts(self) -> WorkersSettings:
        if self.visibility_timeout <= self.task_timeout:
            raise ValueError("visibility_timeout must be longer than task_timeout, or a running"
                             " crawl would be handed to a second worker")
        return self

    def broker_url(self) -> str:
        """The broker URL with `${VAR}` taken from the environment."""
        text = self.broker.strip()
        match = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text)
        if not match:
            return text
        value = os.environ.get(match.group(1))
        if not value:
            raise ConfigError(f"workers.broker: environment variable {match.group(1)} is not set")
        return value


class Config(Strict):
    database: Path = Path("data/talentwatch.db")
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    sites: list[SiteConfig] = Field(default_factory=list)
    # topics and weights for talent-policy scoring; shipped defaults when absent
    relevance: RelevanceConfig = Field(default_factory=default_config)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    subscriptions: list[Subscription] = Field(default_factory=list)
    # crawl workers on Celery; None: the embedded crawl in `run`, nothing new imported
    workers: WorkersSettings | None = None
    source_path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _site_delays(self) -> Config:
        for site in self.sites:
            if "delay" not in site.model_fields_set:
                site.delay = self.crawl.delay
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [s.name for s in self.sites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"site names must be unique; repeated: {', '.join(dupes)}")
        subs = [s.name for s in self.subscriptions]
        dupes = sorted({n for n in subs if subs.count(n) > 1})
        if dupes:
            raise ValueError(f"subscription names must be unique; repeated: {', '.join(dupes)}")
        return self

    def subscription(self, name: str) -> Subscription:
        for sub in self.subscriptions:
            if sub.name == name:
                return sub
        known = ", ".join(s.name for s in self.subscriptions) or "(none)"
        raise ConfigError(f"no subscription named {name!r}; known: {known}")

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


# values a config may hold once its aliases are expanded: thousands for a large real one;
# an alias bomb (aliases of aliases) reaches billions from a few hundred bytes
MAX_YAML_VALUES = 200_000


class AliasBombError(yaml.YAMLError):
    """A YAML document whose aliases expand beyond MAX_YAML_VALUES values."""


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts what the aliases expand to before anything walks the data.

    PyYAML shares an alias's node rather than copying it, so loading stays small;
    it is validating (and every later walk) that expands it, exponentially."""

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None:
            _count_values(node, {}, MAX_YAML_VALUES)
        return node


def _count_values(node: yaml.Node, sizes: dict[int, int], limit: int) -> int:
    """The number of values under `node` with every alias expanded; stops past `limit`."""
    key = id(node)
    if key in sizes:
        if sizes[key] < 0:
            raise AliasBombError("an alias refers to a value that contains it (a recursive alias)")
        return sizes[key]
    sizes[key] = -1  # in progress: meeting it again is recursion
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_count_values(child, sizes, limit) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_count_values(k, sizes, limit) + _count_values(v, sizes, limit) for k, v in node.value)
    if total > limit:
        raise AliasBombError(f"its aliases expand to more than {limit} values (an alias bomb?)")
    sizes[key] = total
    return total


def load_yaml(text: str) -> Any:
    """yaml.safe_load, bounded: AliasBombError for a document that expands past MAX_YAML_VALUES."""
    return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - a SafeLoader subclass


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    file = resolve_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: expected UTF-8 text (save the file as UTF-8)") from None
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    try:
        data = load_yaml(text)
    except AliasBombError as exc:
        raise ConfigError(f"{file}: refused: {exc}") from None
    except RecursionError:  # PyYAML composes recursively: thousands of nested brackets
        raise ConfigError(f"{file}: refused: values nested too deeply") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    config = parse_config(data, str(file))
    config.source_path = file
    if not config.database.is_absolute():
        # a relative database path is relative to the config file, not the cwd
        config.database = file.parent / config.database
    return config
