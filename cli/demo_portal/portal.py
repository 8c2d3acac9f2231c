"""Build the demo portal's static pages and serve them on 127.0.0.1.

Pages come from our own templates and texts (articles.yaml); one article page
is GBK-encoded under a gb2312 label, as many county sites still are.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

PORTAL = "青禾组工网"
COUNTY = "青禾县"
PER_PAGE = 4
ROBOTS = "User-agent: *\nDisallow: /admin/\n"


def _label(encoding: str) -> str:
    # county sites label GBK pages "gb2312"; browsers (and Scrapy) read them as GB18030
    return "gb2312" if encoding == "gbk" else encoding


def load_articles() -> list[dict]:
    text = (Path(__file__).parent / "articles.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def build_site(outdir: Path, articles: list[dict] | None = None,
               encoding: str = "utf-8") -> list[dict]:
    """Write the portal under `outdir`; returns the articles with their paths.

    `encoding` applies to every page; an article may set its own.
    """
    env = Environment(loader=PackageLoader("talentwatch.cli.demo_portal", "templates"),
                      autoescape=select_autoescape(["html"]))
    articles = sorted(articles or load_articles(), key=lambda a: str(a["date"]), reverse=True)
    column = outdir / "rcgz"
    (column / "content").mkdir(parents=True, exist_ok=True)
    (outdir / "robots.txt").write_text(ROBOTS, encoding="ascii")
    (outdir / "index.html").write_text(
        f'<html><head><meta charset="utf-8"><title>{PORTAL}</title></head><body>'
        f'<a href="rcgz/index.html">人才工作</a></body></html>', encoding="utf-8")
    for i, a in enumerate(articles):
        a = a | {"day": str(a["date"])[:10], "views": 100 + 37 * i}
        page_encoding = a.get("encoding", encoding)
        html = env.get_template("article.html").render(
            a=a, portal=PORTAL, county=COUNTY, charset=_label(page_encoding),
            prev=articles[i - 1] if i > 0 else None,
            next=articles[i + 1] if i + 1 < len(articles) else None)
        path = column / "content" / f"post_{a['id']}.html"
        path.write_bytes(html.encode(page_encoding))
        stamp = datetime.fromisoformat(str(a["date"])).timestamp()
        os.utime(path, (stamp, stamp))
        articles[i] = a | {"path": f"rcgz/content/post_{a['id']}.html"}
    pages = [articles[i:i + PER_PAGE] for i in range(0, len(articles), PER_PAGE)]
    names = ["index.html"] + [f"index_{n}.html" for n in range(1, len(pages))]
    for n, items in enumerate(pages):
        html = env.get_template("list.html").render(
            items=items, portal=PORTAL, county=COUNTY, charset=_label(encoding),
            prev=names[n - 1] if n > 0 else None,
            next=names[n + 1] if n + 1 < len(pages) else None,
            pages=[{"n": k + 1, "href": names[k]} for k in range(len(pages))])
        (column / names[n]).write_bytes(html.encode(encoding))
    return articles


class PortalServer(http.server.ThreadingHTTPServer):
    # the default listen backlog (5) drops connections when a crawler opens many at once
    request_queue_size = 128


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib's name
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve `directory` on a free 127.0.0.1 port; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = PortalServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
