"""Chinese article metadata: dates, 来源, 作者, 责任编辑, 原文链接, titles.

Pure helpers over plain text and meta-tag dicts. Dates come out as ISO strings in
Asia/Shanghai: 'YYYY-MM-DD', or 'YYYY-MM-DDTHH:MM:SS+08:00' when a time is
known. A date needs a day: a bare year or year-month is never turned into one.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

# meta tags naming the publication date (lower-cased name/property/itemprop)
DATE_META = (
    "pubdate", "publishdate", "firstpublishedtime", "article:published_time", "og:release_date",
    "publish_time", "publishtime", "ptime", "dc.date.issued", "dcterms.issued", "dc.date",
    "datepublished", "releasedate", "publication_date", "weibo:article:create_at", "created",
)
TITLE_META = ("articletitle", "og:title", "twitter:title", "title", "headline")
SOURCE_META = ("contentsource", "source", "og:site_name")

_Y = r"((?:19|20)\d{2})"
_DATE_RE = re.compile(
    _Y + r"\s*(?:年\s*|[-/.])(\d{1,2})\s*(?:月\s*|[-/.])(\d{1,2})(?!\d)\s*日?"
    r"(?:\s*T?\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?)?"
)
# M/D/YYYY h:mm:ss AM: the en-US default of ASP.NET sites
_US_DATE_RE = re.compile(
    r"(?<![\d/])(\d{1,2})/(\d{1,2})/((?:19|20)\d{2})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?)?", re.IGNORECASE
)
_DATE_LABEL = re.compile(
    r"(?:发布时间|发布日期|发表时间|发表日期|发表于|发文日期|更新时间|时间|日期|Date)\s*[:：]?\s*$"
)
_URL_DATE = (
    re.compile(r"/(20\d{2}|19\d{2})[-_/]?(\d{2})[-_/]?(\d{2})(?:/|_|\d|\.)"),  # /2022/02/13/, /20220213/
    re.compile(r"/t(20\d{2})(\d{2})(\d{2})_"),  # TRS: t20190918_693227.shtml
    re.compile(r"/(20\d{2})-(\d{1,2})-(\d{1,2})/"),
)
# 12371.cn and other CCTV-built sites: ARTI + 13-digit epoch milliseconds
_EPOCH_ID = re.compile(r"/ARTI(1\d{12})\d*\.s?html?", re.IGNORECASE)

_LABEL_WORDS = (r"发布时间|发布日期|发表时间|时间|日期|来源|稿源|信息来源|文章来源|作者|责任编辑|编辑|"
                r"浏览|阅读|点击|字号|字体")
# a label's value ends at the next label, and never starts with one: "来源： 字号：大 中 小" has no source
_LABEL_STOP = (r"(?=\s{2,}|\s*(?:" + _LABEL_WORDS + r"|【|\[|\||｜|$)|\n)")
# the value may sit alone on the next line ("作者：" / "安东尼"), never a body line
_VALUE_START = (r"[ \t]*(?:\n[ \t]*(?=[^\n]{1,24}(?:\n|$)))?(?!(?:" + _LABEL_WORDS
                + r")\s*[:：]|字[号体])")
SOURCE_RE = re.compile(
    r"(?:来源|稿源|出处|信息来源|文章来源)\s*[:：]" + _VALUE_START + r"\[?[ \t]*([^\s\]|｜【]{2,40}?)\s*\]?"
    + _LABEL_STOP
)
AUTHOR_RE = re.compile(
    r"(?<![责任编审])(?:作者|撰稿|撰文|执笔人?)\s*[:：]" + _VALUE_START
    + r"([\w·&.\-]{1,20}(?:[ 、，,][\u4e00-\u9fff]{2,4})*)" + _LABEL_STOP
)
EDITOR_RE = re.compile(
    r"(?:责任编辑|责编|编辑)\s*[:：]" + _VALUE_START + r"([^\s|｜【】)）\]:：]{2,20}"
    r"(?:[ 、](?!(?:" + _LABEL_WORDS + r"))[^\s|｜【】)）\]:：]{2,4}(?![:：]))*)"
)
# "记者 王某 李某" / "本报记者王某" / "（记者 王某）": a by-line, not 记者 in running text
# ("本报记者在广汽了解到", "向记者介绍", "记者从上海昆剧团获悉"): the name ends at a space,
# bracket, slash or role word, and 记者 is nobody's object
REPORTER_RE = re.compile(
    r"(?<![向对给据诉让请和与跟被叫])记者\s*"
    r"(?!了解|获悉|发现|注意|看到|见到|采访|调查|走访|从|在|到|来到|近日|日前|昨|今|一行|还|也|又|随|表示|问|"
    r"观察|查|实地|当天|此前|目前|就|对|向|将|曾|第一|致电|电话|联系|拨打)"
    r"([\u4e00-\u9fff]{2,4}(?:[\s、]+[\u4e00-\u9fff]{2,3}(?![\u4e00-\u9fff]))*)"
    r"(?=[\s）)】\]、，,。/]|通讯员|摄影?|报道|发自|$)",
    re.MULTILINE,
)
_NOT_PERSON = re.compile(r"[社部网报台局委办厅会院所处室站校司中心组]$|^(?:本报|新华|记者|通讯)")
ORIGINAL_URL_LABEL = re.compile(r"(?:原文链接|原文地址|原文网址|来源链接)\s*[:：]?")
_URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>）)】]+")


def iso(year: int, month: int, day: int, hour: int | None = None, minute: int | None = None,
        second: int | None = None) -> str | None:
    try:
        moment = datetime(year, month, day, hour or 0, minute or 0, second or 0, tzinfo=SHANGHAI)
    except ValueError:
        return None
    if not 1990 <= year <= datetime.now(SHANGHAI).year + 1:
        return None
    if hour is None:
        return moment.date().isoformat()
    return moment.isoformat()


def _match_iso(m: re.Match[str]) -> str | None:
    hour = int(m[4]) if m[4] else None
    minute = int(m[5]) if m[5] else None
    second = int(m[6]) if m[6] else None
    if hour is not None and (hour > 23 or (minute or 0) > 59 or (second or 0) > 59):
        hour = minute = second = None
    return iso(int(m[1]), int(m[2]), int(m[3]), hour, minute, second)


def parse_date(text: str | None) -> str | None:
    """The first full date (with a day) in a string, with its time when given."""
    if not text:
        return None
    text = text.strip()
    if re.fullmatch(r"1\d{9}|1\d{12}", text):  # epoch seconds / milliseconds
        return from_epoch(int(text[:10]))
    # ISO with an offset: convert to Shanghai time
    iso_m = re.match(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})$", text)
    if iso_m:
        offset = iso_m[3].replace("Z", "+00:00")
        if ":" not in offset:
            offset = offset[:3] + ":" + offset[3:]
        try:
            moment = datetime.fromisoformat(f"{iso_m[1]}T{iso_m[2]}{offset}")
        except ValueError:
            moment = None
        if moment:
            local = moment.astimezone(SHANGHAI)
            return local.date().isoformat() if local.time() == datetime.min.time() else local.isoformat()
    found = dates_in(text)
    if not found:
        return None
    value = found[0][1]
    return value[:10] if value.endswith("T00:00:00+08:00") else value


def from_epoch(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, SHANGHAI).isoformat()


def _us_iso(m: re.Match[str]) -> str | None:
    hour = int(m[4]) if m[4] else None
    if hour is not None and m[7]:
        hour = hour % 12 + (12 if m[7].upper() == "PM" else 0)
    return iso(int(m[3]), int(m[1]), int(m[2]), hour, int(m[5]) if m[5] else None,
               int(m[6]) if m[6] else None)


def dates_in(text: str) -> list[tuple[int, str, bool]]:
    """Every dated position in a text: (offset, iso, labelled by 发布时间 & co.)."""
    found = []
    for pattern, convert in ((_DATE_RE, _match_iso), (_US_DATE_RE, _us_iso)):
        for m in pattern.finditer(text):
            value = convert(m)
            if value:
                labelled = bool(_DATE_LABEL.search(text[max(0, m.start() - 12):m.start()]))
                found.append((m.start(), value, labelled))
    return sorted(found)


def date_from_url(url: str) -> str | None:
    path = urlsplit(url).path
    if m := _EPOCH_ID.search(path):
        return from_epoch(int(m[1]) // 1000)
    for pattern in _URL_DATE:
        if m := pattern.search(path):
            return iso(int(m[1]), int(m[2]), int(m[3]))
    return None


def first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m[1].strip(" ：:，,。") if m else None


def reporter(text: str) -> str | None:
    m = REPORTER_RE.search(text)
    if not m:
        return None
    names: list[str] = []
    for name in re.split(r"[\s、]+", m[1]):
        if not name or _NOT_PERSON.search(name) or name.endswith(("报道", "摄影", "通讯员", "实习生")):
            break  # 通讯员, 摄影 … start another role
        names.append(name)
    return " ".join(names) or None


_TITLE_TAIL = re.compile(r"\s*(_|\||｜|--| - | — |-)\s*([^_|｜-]{1,24})$")
# the tail after a bare hyphen is a site or column name only when it ends like one
_SITE_WORD = re.compile(
    r"(?:网|网站|门户|频道|政府|部|委|局|厅|办|中心|在线|日报|新闻|论坛|社区|博客|首页|平台|栏目)$"
)


# how a site's own name ends: a <title> that is only this names no article
SITE_NAME_END = re.compile(r"(?:政府|政府网|门户网站?|网站|网|委员会|组织部|人社局|办公室|办公厅|首页)$")


def clean_title(title: str, site_names: tuple[str, ...] = ()) -> str:
    """Drop site and column suffixes: '通知_共产党员网' -> '通知', '通知-县委组织部' -> '通知'."""
    title = re.sub(r"<[^>]+>", "", title or "")  # CMS meta titles sometimes carry markup
    title = re.sub(r"\s+", " ", title).strip()
    for name in site_names:
        if name and title.endswith(name) and len(title) > len(name) + 2:
            title = title[: -len(name)].rstrip(" _-|｜—")
    while (m := _TITLE_TAIL.search(title)) and m.start() >= 4:
        if m[1] == "-" and not _SITE_WORD.search(m[2].strip()):
            break
        title = title[: m.start()].rstrip(" _|｜-")
    return title
