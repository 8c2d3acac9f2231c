"""`talentwatch classify`: re-score archived articles with the configured topics."""

from __future__ import annotations

from functools import cache

import click
from talentwatch.cli.app import State, main, pass_state
from talentwatch.cli.progress import progress


@main.command("classify")
@click.option("--all", "everything", is_flag=True,
              help="re-score every article (default: only those never classified)")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="articles per transaction")
@pass_state
def classify_cmd(state: State, everything: bool, batch: int) -> None:
    """Score archived articles for talent policy, region, incentives and deadline.

    Run with --all after changing the relevance topics in config.yaml.
    """
    # here, not at the top: jieba, OpenCC and numpy load only for this command
    from talentwatch.relevance import Classifier
    from talentwatch.storage.schema import open_archive
    from talentwatch.storage.scores import count_to_score, region_of, save_scores, to_score

    config = state.config
    db = open_archive(config.database)
    classifier = Classifier(config.relevance)
    done = became = dropped = talent = 0

    @cache
    def parent_hint(parent_url: str | None) -> tuple[str, ...]:
        """A bulletin item's region falls back on the issue it came from."""
        region = region_of(db, parent_url) if parent_url else {}
        hint = "".join(region.get(k, "") for k in ("province", "city"))
        return (hint,) if hint else ()

    total = count_to_score(db, everything)
    for scored in progress(to_score(db, everything, batch), total=total, description="classifying",
                           size=len):
        for _, article in scored:
            old = article.talent
            classifier.classify(article, hints=parent_hint(article.parent_url))
            assert article.talent is not None  # classify() always decides
            if old is not None and old != article.talent:
                became += article.talent
                dropped += not article.talent
            talent += article.talent
            done += 1
        save_scores(db, scored)
    click.echo(f"classified {done} article(s), {talent} talent policy; "
               f"{became + dropped} changed talent status ({became} now talent, {dropped} no longer)")
