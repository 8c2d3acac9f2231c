"""Small portals in the shapes of the CMS families Chinese government sites run on.

Each builder writes one list page (with the navigation, sidebars and footers such
pages carry) and its article pages under a directory, and returns the list page's
path and the article paths the list holds, in list order. Texts are our own.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

TITLES = [
    "关于做好2024年度高层次人才安居补贴申报工作的通知",
    "县委组织部召开青年人才座谈会",
    "2024年事业单位公开招聘工作人员公告",
    "关于开展第三批乡村振兴人才评选的通知",
    "人才服务专员制度实施办法（试行）",
    "关于发放2024年上半年博士生活补贴的公示",
    "全县人才工作领导小组会议召开",
    "引进急需紧缺专业技术人才报名须知",
]
DATES = ["2024-06-12", "2024-06-03", "2024-05-28", "2024-05-16", "2024-05-02", "2024-04-20",
         "2024-04-08", "2024-03-30"]
BODY = ("为深入实施新时代人才强县战略，进一步优化人才发展环境，根据有关文件精神，"
        "经研究决定开展本项工作。对符合条件的全职引进博士研究生，每人每月发放生活补贴3000元，"
        "连续发放三年；硕士研究生每人每月1500元。申报人员请于2024年7月15日前将材料报送县委人才办。")


@dataclass
class CmsSite:
    family: str
    list_path: str  # relative to the site root, e.g. "col/rcgz/index.html"
    articles: list[str]  # article paths, relative to the site root, in list order
    other_hosts: list[str] | None = None  # entries on other hosts (full URLs)


def _nav() -> str:
    return ('<div class="nav"><ul><li><a href="/index.html">首页</a></li><li><a href="/zwgk/index.html">'
            '政务公开</a></li><li><a href="/rcgz/index.html">人才工作</a></li><li><a href="/hdjl/index.html">'
            '互动交流</a></li></ul></div>')


def _footer() -> str:
    return ('<div class="footer"><a href="/about.html">关于我们</a> <a href="/sitemap.html">网站地图</a>'
            ' 主办：中共示例县委组织部 <a href="https://beian.miit.gov.cn/">备案号示ICP备0000号</a></div>')


def _page(title: str, body: str, charset: str = "utf-8") -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{html.escape(title)}</title></head>'
            f"<body>{_nav()}{body}{_footer()}</body></html>")


def _write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _article(root: Path, path: str, title: str, day: str, body_html: str) -> None:
    _write(root, path, _page(title, f'<div class="article"><h1>{html.escape(title)}</h1>'
                                    f'<div class="info">发布时间：{day}　来源：示例县委组织部</div>'
                                    f"{body_html}</div>"))


def trs_site(root: Path) -> CmsSite:
    """TRS WCM: ./YYYYMM/tYYYYMMDD_id.html entries, a sidebar of another column's hot items."""
    articles, items = [], []
    for i, (title, day) in enumerate(zip(TITLES, DATES, strict=True)):
        ym, ymd = day[:7].replace("-", ""), day.replace("-", "")
        rel = f"./{ym}/t{ymd}_{5012340 + i * 7}.html"
        path = f"col/rcgz/{rel[2:]}"
        articles.append(path)
        items.append(f'<li><a href="{rel}" target="_blank" title="{html.escape(title)}">'
                     f'{html.escape(title)}</a><span>{day}</span></li>')
        _article(root, path, title, day, f'<div class="TRS_Editor"><p>{BODY}</p></div>')
    hot = "".join(f'<li><a href="/col/gbgz/202405/t202405{10 + i}_49{i}.html">干部工作动态第{i}期</a></li>'
                  for i in range(4))
    _write(root, "col/rcgz/index.html", _page("人才工作", (
        '<div class="left"><div class="bt">热点关注</div><ul class="hot">' + hot + "</ul></div>"
        '<div class="right"><div class="bt">人才工作</div><ul class="list">' + "".join(items) + "</ul>"
        '<div class="page"><a href="index_1.html">下一页</a> <a href="index_3.html">尾页</a></div>'
        '<script>createPageHTML(4, 0, "index", "html");</script></div>')))
    return CmsSite("TRS WCM", "col/rcgz/index.html", articles)


def hanweb_site(root: Path) -> CmsSite:
    """Hanweb jcms: the records are CDATA snippets in a <script type="text/xml"> datastore."""
    articles, records = [], []
    for i, (title, day) in enumerate(zip(TITLES, DATES, strict=True)):
        y, m, d = (int(x) for x in day.split("-"))
        path = f"art/{y}/{m}/{d}/art_1229{i % 2}_{58001 + i}.html"
        articles.append(path)
        records.append(f'<record><![CDATA[<li><a href="/{path}" target="_blank" title="{html.escape(title)}">'
                       f'{html.escape(title)}</a><span class="bt-data-time">{day}</span></li>]]></record>')
        _article(root, path, title, day, f'<div id="zoom"><p>{BODY}</p></div>')
    datastore = ('<script type="text/xml"><datastore><nextgroup><![CDATA[<a href="/module/web/jpage/'
                 'dataproxy.jsp?page=1&webid=1&columnid=12290&unitid=55555&permissiontype=0"></a>]]>'
                 f'</nextgroup><recordset>{"".join(records)}</recordset></datastore></script>')
    _write(root, "col/col12290/index.html", _page("人才工作", (
        '<div class="bt-box"><div class="con-title">人才工作</div><div id="55555">' + datastore
        + '<script>var pageSize = 15;</script></div></div>'
        '<ul class="links"><li><a href="/col/col12291/index.html">人才政策</a></li>'
        '<li><a href="/col/col12292/index.html">人才招聘</a></li></ul>')))
    return CmsSite("Hanweb jcms", "col/col12290/index.html", articles)


def nfcms_site(root: Path, other_hosts: bool = False) -> CmsSite:
    """NFCMS: content/post_N.html entries in ul.newsList; with `other_hosts`, an HR bureau's
    recruitment column whose last entries are hiring units' own notices on their sites."""
    articles, items = [], []
    for i, (title, day) in enumerate(zip(TITLES[:6], DATES[:6], strict=True)):
        path = f"rsj/zpxx/content/post_{31870 + i * 3}.html"
        articles.append(path)
        items.append(f'<li class="clearfix"><div class="title left"><a href="/{path}" '
                     f'title="{html.escape(title)}">{html.escape(title)}</a></div>'
                     f'<div class="time right">{day}</div></li>')
        _article(root, path, title, day, f'<div class="article-content"><p>{BODY}</p></div>')
    others = []
    if other_hosts:
        for i, (host, path) in enumerate([
                ("www.rmyy-example.gov.cn", "/zpxx/2024/0601/c12a{}.html"),
                ("hr.szxx-example.edu.cn", "/info/1021/{}.htm")]):
            url = f"http://{host}" + path.format(3301 + i)
            others.append(url)
            items.append(f'<li class="clearfix"><div class="title left"><a href="{url}" '
                         f'title="{TITLES[6 + i]}">{TITLES[6 + i]}</a></div>'
                         f'<div class="time right">{DATES[6 + i]}</div></li>')
    _write(root, "rsj/zpxx/index.html", _page("招聘信息", (
        '<div class="pos"><a href="/">首页</a> &gt; <a href="/rsj/">人社工作</a> &gt; '
        '<a href="/rsj/zpxx/">招聘信息</a></div><div class="con"><ul class="newsList">' + "".join(items)
        + '</ul><div class="page"><a class="current" href="/rsj/zpxx/index.html">1</a>'
        '<a class="normal" href="/rsj/zpxx/index_2.html">2</a>'
        '<a class="next" href="/rsj/zpxx/index_2.html">下一页</a></div></div>'
        '<div class="side"><ul class="links"><li><a href="http://www.mohrss.gov.cn/">人力资源和社会保障部</a></li>'
        '<li><a href="http://www.12371.cn/">共产党员网</a></li></ul></div>')))
    return CmsSite("NFCMS", "rsj/zpxx/index.html", articles, others)


def intensive_site(root: Path) -> CmsSite:
    """The intensive platform: YYYYMM/content_N.html entries in a table, dates in their own cells."""
    articles, rows = [], []
    for i, (title, day) in enumerate(zip(TITLES, DATES, strict=True)):
        path = f"zwgk/tzgg/{day[:7].replace('-', '')}/content_{7120450 + i * 13}.html"
        articles.append(path)
        rows.append(f'<tr><td class="bt"><a href="/{path}" target="_blank">{html.escape(title)}</a></td>'
                    f'<td class="rq">{day}</td></tr>')
        _article(root, path, title, day, f'<div class="pages_content" id="UCAP-CONTENT"><p>{BODY}</p></div>')
    _write(root, "zwgk/tzgg/index.html", _page("通知公告", (
        '<div class="lm-tit">通知公告</div><table class="tab-list"><tbody>' + "".join(rows)
        + '</tbody></table><div class="pagination"><a href="index_1.html">下一页</a></div>'
        '<div class="share"><a href="javascript:window.print()">打印</a></div>')))
    return CmsSite("intensive platform", "zwgk/tzgg/index.html", articles)


def party_site(root: Path) -> CmsSite:
    """12371: ARTI pages listed in an inline script array (item=[{title:'…', link_add:'…'}])."""
    articles, objects = [], []
    for i, (title, day) in enumerate(zip(TITLES, DATES, strict=True)):
        path = f"{day.replace('-', '/')}/ARTI17181{i:02d}0000{i:05d}.shtml"
        articles.append(path)
        objects.append(f"{{title:'{title}',brief:'{day} 09:30:00',link_add:'/{path}',"
                       f"img:'',type:'1'}}")
        _article(root, path, title, day, f'<div class="word"><p>{BODY}</p></div>')
    _write(root, "zxfb/index.shtml", _page("最新发布", (
        '<div class="dyw"><div class="list_box"><ul id="showData"></ul></div>'
        "<script>var item=[" + ",".join(objects) + "];"
        "function show(){for(var i=0;i<item.length;i++){}}</script></div>"
        '<div class="tj"><ul><li><a href="/special/xxzt/">学习专题</a></li>'
        '<li><a href="/special/dsxx/">党史学习</a></li></ul></div>')))
    return CmsSite("12371", "zxfb/index.shtml", articles)


FAMILIES = {"trs": trs_site, "hanweb": hanweb_site, "nfcms": nfcms_site, "intensive": intensive_site,
            "12371": party_site}
