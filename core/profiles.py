"""Site profiles: the selectors that describe a portal, kept as data.

A profile is plain data (CSS selectors, a regex or two); config.yaml refers to
one by name (`profile: gdzz`) and may override single fields per site. The
generic path's knowledge of Chinese government CMSs (body containers, meta tag
names) is data here too, so a new portal needs no code.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Profile:
    name: str = "generic"
    # the CMS family whose pages this profile describes, as `try` names it
    family: str | None = None
    # list pages. "html": items in the markup; "inline_script": items in a JS array
    # (12371); "datastore": items as CDATA records in a <script type="text/xml"> (Hanweb jcms)
    list_mode: str = "html"
    list_item: str | None = None  # CSS for one item of the list
    list_link: str | None = None  # CSS for the link inside an item
    list_date: str | None = None  # CSS for the date inside an item
    next_page: str | None = None  # CSS for the pagination "next" link
    article_url: str | None = None  # regex an article URL matches (when the site config has none)
    # article pages
    title: str | None = None
    body: str | None = None
    date: str | None = None
    source: str | None = None
    author: str | None = None
    # names stripped from the end of <title> ("_共产党员网")
    site_names: tuple[str, ...] = ()

    def override(self, selectors: dict[str, Any] | None) -> Profile:
        if not selectors:
            return self
        known = {f.name for f in fields(self)}
        unknown = set(selectors) - known
        if unknown:
            raise KeyError(f"unknown profile field(s) {', '.join(sorted(unknown))}; "
                           f"known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {k: (tuple(v) if k == "site_names" else v)
                                  for k, v in selectors.items() if v}
        return replace(self, **values)


PROFILES: dict[str, Profile] = {
    "generic": Profile(),
    # 广东组织工作网, NFCMS templates: /<column>/index_N.html lists, /<column>/content/post_<id>.html
    "gdzz": Profile(
        name="gdzz",
        family="NFCMS",
        list_item="ul.newsList > li.clearfix",
        list_link="div.title a[title]",
        list_date="div.time",
        next_page="div.page a.next",
        article_url=r"/content/post_\d+\.html$",
        title="div.article h1, div.title_box h1, h1.article-title",
        body="div.article-content, div.article_content, div.content_box div.content",
        site_names=("中共广东省委组织部", "广东组织工作网", "广东省委组织部"),
    ),
    # 共产党员网: list items in an inline script array, article body in .word
    "12371": Profile(
        name="12371",
        family="12371 (ARTI pages)",
        list_mode="inline_script",
        article_url=r"/\d{4}/\d{2}/\d{2}/ARTI\d{13,}\.shtml$",
        title="div.title_bj h1, h1.big_title, h1",
        body="div.word, .word",
        site_names=("共产党员网",),
    ),
    # TRS WCM: columns list ./YYYYMM/tYYYYMMDD_<id>.html (index_N.html pagination);
    # the body sits in the editor's own container
    "trs": Profile(
        name="trs",
        family="TRS WCM",
        article_url=r"/\d{6}/t\d{8}_\d+\.s?html?$",
        body=".TRS_UEDITOR, .TRS_Editor, .trs_editor_view",
    ),
    # Hanweb 大汉 jcms: col/col<id>/index.html lists keep their records in a
    # <script type="text/xml"> datastore (each record a CDATA snippet of list markup);
    # articles at art/YYYY/M/D/art_<col>_<id>.html
    "hanweb": Profile(
        name="hanweb",
        family="Hanweb jcms",
        list_mode="datastore",
        article_url=r"/art/\d{4}/\d{1,2}/\d{1,2}/art_\d+_\d+\.html$",
        title="#barrierfree_container h1, .title h1, h1",
        body="#zoom, .zoom, #barrierfree_container .main-txt, .bt-article-content",
    ),
    # 政府网站集约化平台 (the intensive platform many provinces moved their portals to):
    # <column>/content_<id>.html or <column>/YYYYMM/content_<id>.html articles
    "intensive": Profile(
        name="intensive",
        family="intensive platform (content_N.html)",
        article_url=r"/content_\d+\.s?html?$",
        body="#UCAP-CONTENT, .pages_content, .article-content, .zwnr",
    ),
}

# Body containers of the CMSs Chinese government portals run on (TRS WCM, Hanweb
# 大汉, NFCMS, UCAP, 政府网站集约化 templates), most specific first.
CMS_BODY_SELECTORS: tuple[str, ...] = (
    ".TRS_UEDITOR", ".TRS_Editor", "#UCAP-CONTENT", ".pages_content", "#zoom", ".zoom", "#Zoom",
    "#zw", ".zw", ".word", ".article-content", ".article_content", "#article_content",
    ".articleContent", "#ArticleContent", ".news_content", ".newsContent", "#newsContent",
    ".content_text", "#content_text", ".detail-content", ".detail_content", ".xl_content",
    "#xlcontent", ".wz_content", ".zwnr", ".con_text", ".main-text", ".view", "article",
    "#content", ".content",
)
# a title inside the page, when profile and meta give none
TITLE_SELECTORS: tuple[str, ...] = (
    "h1", ".article-title", ".news_title", ".title h1", ".xl_title", ".detail-title", "h2",
)


def get_profile(name: str | None, selectors: dict[str, Any] | None = None) -> Profile:
    base = PROFILES.get(name or "generic")
    if base is None:
        raise KeyError(f"unknown site profile {name!r}; known: {', '.join(sorted(PROFILES))}")
    return base.override(selectors)
