"""`talentwatch try` reads sample articles only where a crawl of the list page would go:
an entry on another host (a second loopback server on 127.0.0.2 that records every
request) is reported, not fetched."""

from __future__ import annotations

import json
from pathlib import Path

from tests.hostile_server import page, serve_routes
from tests.test_hostile_crawl import article_html, list_page
from tests.test_try_add import quiet_config, talentwatch

TITLES = ["关于开展2026年度高层次人才认定工作的通知", "关于发放青年人才生活补贴的公告",
          "关于人才公寓申请的通知", "关于举办博士后创新创业大赛的通知"]


def test_try_does_not_fetch_a_sample_on_another_host(tmp_path: Path) -> None:
    body = "符合条件的人才请于三月底前向所在单位提交申请材料，逾期不予受理。"
    routes = {f"/rcgz/content/post_{i}.html": page(article_html(title, body))
              for i, title in enumerate(TITLES, 1)}
    with serve_routes(routes) as (base, own_log):
        port = int(base.rsplit(":", 1)[1])
        inward = {"/rcgz/content/post_9.html": page(article_html("内部通知", "内部资料，请勿外传。"))}
        with serve_routes(inward, host="127.0.0.2", port=port) as (other, inward_log):
            entries = [(other + "/rcgz/content/post_9.html", "内部通知")]
            entries += [(f"content/post_{i}.html", title) for i, title in enumerate(TITLES, 1)]
            routes["/rcgz/index.html"] = page(list_page(entries))
            code, out, err = talentwatch(quiet_config(tmp_path / "config.yaml"), "try", "--json",
                                         "--samples", "2", base + "/rcgz/index.html")
    assert code == 0, err
    result = json.loads(out)
    assert inward_log.paths() == []
    assert [e for e in result["sample_errors"] if "refused: 127.0.0.2 is outside the site" in e], result
    assert [s["title"] for s in result["samples"]] == [TITLES[0]]
    assert "/rcgz/content/post_1.html" in own_log.paths()
