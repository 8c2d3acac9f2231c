"""Which articles are talent policy, and what they offer.

`Classifier(config.relevance).classify(article)` fills article.talent, score,
topics, matched_terms, region, incentives and deadline (bulletin parts too).
"""

from talentwatch.core.relevance_config import RelevanceConfig, TopicConfig, default_config
from talentwatch.relevance.classifier import Classifier

__all__ = ["Classifier", "RelevanceConfig", "TopicConfig", "default_config"]
