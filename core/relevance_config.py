"""The `relevance:` section of config.yaml: topics with weighted terms.

Shipped defaults live in core/data/default_topics.yaml and apply when the
config has no `relevance:` section, and for each key the section leaves out;
a key that is present replaces its default whole (`topics` is one list, so a
user who changes topics edits a copy of the shipped list).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULTS_FILE = "default_topics.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_weights(topic: str, kind: str, terms: dict[str, float]) -> None:
    for term, weight in terms.items():
        if not isinstance(term, str) or not term.strip():
            raise ValueError(f"topic {topic!r}: {kind} has an empty term")
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 < weight <= 100:
            raise ValueError(f"topic {topic!r}: {kind} {term!r} needs a weight between 0 and 100,"
                             f" got {weight!r}")


class TopicConfig(_Strict):
    """One topic: terms that speak for it, terms that speak against it."""

    name: str = Field(min_length=1)
    # term -> weight; a bare list gives every term weight 1
    terms: dict[str, float]
    negative: dict[str, float] = Field(default_factory=dict)
    # a term in the title counts this many times its weight
    title_weight: float = 2.0

    @model_validator(mode="before")
    @classmethod
    def _name_first(cls, data: object) -> object:
        # validate weights by hand so that every error names its topic
        if isinstance(data, dict):
            name = data.get("name") or "(unnamed)"
            for kind in ("terms", "negative"):
                value = data.get(kind)
                if value is None:
                    if kind == "terms":
                        raise ValueError(f"topic {name!r}: terms are missing")
                    continue
                if isinstance(value, list):
                    if not all(isinstance(t, str | int | float) for t in value):
                        raise ValueError(f"topic {name!r}: {kind} must be a list of words or a mapping"
                                         " of term: weight, not nested lists or mappings")
                    value = {t: 1.0 for t in value}
                if not isinstance(value, dict):
                    raise ValueError(f"topic {name!r}: {kind} must be a mapping of term: weight")
                if kind == "terms" and not value:
                    raise ValueError(f"topic {name!r}: the term list is empty")
                _check_weights(name, "term" if kind == "terms" else "negative term", value)
                data = {**data, kind: {str(k).strip(): float(v) for k, v in value.items()}}
            tw = data.get("title_weight", 2.0)
            if not isinstance(tw, int | float) or isinstance(tw, bool) or not 0 <= tw <= 20:
                raise ValueError(f"topic {name!r}: title_weight must be a number from 0 to 20, got {tw!r}")
        return data


class RelevanceConfig(_Strict):
    """Scoring settings: an article is talent policy when score >= threshold."""

    threshold: float = Field(default=4.0, gt=0)
    # a topic is listed for an article when its own score reaches this
    topic_threshold: float = Field(default=2.0, gt=0)
    topics: list[TopicConfig] = Field(min_length=1)
    # terms of organisation work that is not talent policy (cadres, party building,
    # discipline); their weights are subtracted from the total score
    negative: dict[str, float] = Field(default_factory=dict)
    # region of a site, by its config name, for articles whose text names none
    site_regions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shipped_defaults(cls, data: object) -> object:
        # a key left out of config.yaml keeps its shipped value (topics as a whole list)
        if isinstance(data, dict):
            return {**{k: v for k, v in _default_data().items() if k not in data}, **data}
        return data

    @field_validator("negative", mode="before")
    @classmethod
    def _negative(cls, value: object) -> object:
        if isinstance(value, list):
            value = {t: 1.0 for t in value}
        if isinstance(value, dict):
            _check_weights("(global)", "negative term", value)
        return value

    @model_validator(mode="after")
    def _unique(self) -> RelevanceConfig:
        names = [t.name for t in self.topics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"topic names must be unique; repeated: {', '.join(dupes)}")
        return self


@lru_cache(maxsize=1)
def _default_data() -> dict:
    text = resources.files("talentwatch.core.data").joinpath(DEFAULTS_FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def default_config() -> RelevanceConfig:
    """The shipped topics (a fresh copy each call)."""
    return RelevanceConfig.model_validate(_default_data())
