"""Fill an Article's relevance fields: talent, score, topics, matched terms,
region, incentives and deadline — for the article and each bulletin item in it."""

from __future__ import annotations

import re

import opencc
from talentwatch.core.records import Article
from talentwatch.core.relevance_config import RelevanceConfig, default_config
from talentwatch.relevance.deadline import find_deadline
from talentwatch.relevance.incentives import extract_incentives
from talentwatch.relevance.region import detect_region
from talentwatch.relevance.topics import TopicScorer

# a bulletin item ends with its author in brackets: …（望江县委组织部）
_TRAILING_SOURCE = re.compile(r"[（(]([^（）()]{2,30}?)[）)]\s*$")
_SHORT_ITEM = 3000


def _body(article: Article) -> str:
    parts = [article.text] + [a.text for a in article.attachments if getattr(a, "text", "")]
    return "\n".join(p for p in parts if p)


class _Simplified:
    """Traditional -> simplified, so mirrors in traditional script score the same."""

    def __init__(self) -> None:
        self._cc = opencc.OpenCC("t2s")

    def __call__(self, text: str | None) -> str:
        return self._cc.convert(text) if text else ""


class Classifier:
    """`Classifier(config.relevance)`; `Classifier()` uses the shipped topics."""

    def __init__(self, config: RelevanceConfig | None = None) -> None:
        self.config = config or default_config()
        self.scorer = TopicScorer(self.config)
        self.simplify = _Simplified()

    def classify(self, article: Article, hints: tuple[str, ...] = ()) -> None:
        """Fill the relevance fields in place (parts too).

        `hints` are weak region evidence from outside the article, such as the
        region of the bulletin an item came from.
        """
        text = self.simplify(_body(article))
        title = self.simplify(article.title)
        result = self.scorer.score(title, text)
        article.score = result.score
        article.talent = result.score >= self.config.threshold
        article.topics = result.topics
        article.matched_terms = result.matched_terms
        source = self.simplify(article.source)
        # the closing （望江县委组织部） is an item's author; at the end of a whole issue
        # it would only be the last item's
        tail = _TRAILING_SOURCE.search(text) \
            if article.parent_url or (not article.parts and len(text) < _SHORT_ITEM) else None
        if tail:
            source = f"{source} {tail.group(1)}".strip()
        site_hints = (self.config.site_regions.get(article.site), article.site, *hints)
        article.region = detect_region(source=source, title=title, text=text,
                                       hints=tuple(h for h in site_hints if h))
        # offers and deadlines matter to readers of talent items only; elsewhere the
        # same words are budgets and meeting dates
        article.incentives = extract_incentives(text) if article.talent else []
        article.deadline = find_deadline(text, article.published) if article.talent else None
        parent_hint = "".join(article.region.get(k, "") for k in ("province", "city"))
        for part in article.parts:
            self.classify(part, hints=(parent_hint,) if parent_hint else ())
        if any(part.talent for part in article.parts) and not article.talent:
            # an issue that carries a talent item is worth an alert too
            article.talent = True
            for part in article.parts:
                for topic in part.topics:
                    if topic not in article.topics:
                        article.topics.append(topic)
