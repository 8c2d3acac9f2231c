"""`talentwatch demo`: crawl a bundled replica portal offline and show the archive."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click
from talentwatch.cli.app import main

DEMO_QUERY = "人才"


def demo_config(base_url: str, database: Path) -> dict:
    return {
        "database": str(database),
        "crawl": {"autothrottle": False, "extract_workers": 2},
        "sites": [{
            "name": "青禾组工网",
            "start_urls": [base_url + "rcgz/index.html"],
            # everything else (pagination, domains, selectors) is left to the defaults
            "article_pattern": r"/rcgz/content/post_\d+\.html$",
            "delay": 0,
        }],
    }


def _offer(incentive: dict) -> str:
    low, high = incentive.get("amount_min"), incentive.get("amount_max")
    amount = "" if low is None else f" {low:,}" + (f"–{high:,}" if high and high != low else "") + "元"
    return f"{incentive['type']}{amount}" + (f"/{incentive['period']}" if incentive.get("period") else "")


@main.command()
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path),
              help="where to keep the demo archive (default: the user data dir)")
def demo(workdir: Path | None) -> None:
    """Crawl a bundled replica portal on 127.0.0.1 and show what was archived."""
    # the crawler, the archive and the portal's templates load only for this command
    import yaml
    from platformdirs import user_data_dir
    from rich.console import Console
    from rich.table import Table
    from talentwatch.cli.crawl import summary_table
    from talentwatch.cli.demo_portal.portal import build_site, serve
    from talentwatch.core.config import load_config
    from talentwatch.crawler.run import run_crawl
    from talentwatch.storage.export import export_records
    from talentwatch.storage.schema import open_archive
    from talentwatch.storage.search import search

    console = Console()
    workdir = workdir or Path(user_data_dir("talentwatch")) / "demo"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="talentwatch-portal-") as site_dir:
        build_site(Path(site_dir))
        with serve(Path(site_dir)) as base_url:
            console.print(f"Serving the demo portal 青禾组工网 at {base_url} (offline, 127.0.0.1)")
            config_path = workdir / "config.yaml"
            config_path.write_text(yaml.safe_dump(
                demo_config(base_url, workdir / "demo.db"), allow_unicode=True, sort_keys=False),
                encoding="utf-8")
            config = load_config(config_path)
            runs = run_crawl(config, config.sites)
    console.print(summary_table(runs))

    db = open_archive(config.database)
    table = Table(title="articles archived")
    for column in ("published", "title", "talent-policy topic", "offers"):
        table.add_column(column, overflow="fold")
    for record in export_records(db):
        offers = "; ".join(_offer(i) for i in record["incentives"])
        topic = (record["topics"] or ["yes"])[0] if record["talent"] else "no"
        table.add_row((record["published"] or "")[:10], record["title"], topic, offers)
    console.print(table)

    hits = search(db, DEMO_QUERY, limit=5)
    console.print(f"\n[bold]talentwatch search {DEMO_QUERY}[/] → {len(hits)} hits")
    for hit in hits:
        console.print(f"  {hit['title']}\n    {hit['snippet']}", highlight=False)
    console.print(f"\nArchive: {config.database}\nTry:\n"
                  f"  talentwatch --config {config_path} search 补贴\n"
                  f"  talentwatch --config {config_path} export --format jsonl", highlight=False)
