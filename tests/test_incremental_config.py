"""The per-site revisit policy in config.yaml."""

from __future__ import annotations

import pytest
from talentwatch.core.config import ConfigError, parse_config

SITE = {"name": "gov", "start_urls": ["https://www.baishi.gov.cn/rcgz/"], "article_pattern": r"post_\d+"}


def test_revisit_defaults_and_can_be_turned_off():
    config = parse_config({"sites": [SITE, SITE | {"name": "quiet", "revisit": None}]})
    assert (config.sites[0].revisit.max_age_days, config.sites[0].revisit.every_hours) == (7, 24)
    assert config.sites[1].revisit is None
    custom = parse_config({"sites": [SITE | {"revisit": {"max_age_days": 30, "every_hours": 6}}]})
    assert custom.sites[0].revisit.every_hours == 6


def test_bad_revisit_values_name_the_key():
    with pytest.raises(ConfigError) as err:
        parse_config({"sites": [SITE | {"revisit": {"max_age_days": 0, "evry_hours": 6}}]}, "config.yaml")
    message = str(err.value)
    assert "sites[0] (gov).revisit.max_age_days" in message
    assert "sites[0] (gov).revisit.evry_hours: unknown key" in message
