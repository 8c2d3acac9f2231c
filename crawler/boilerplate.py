"""What is not article text on Chinese government and news pages, kept as data.

Three layers: tags never holding body text; class/id words of page furniture
(share bars, breadcrumbs, related lists, footers); and line patterns for what
survives inside a body container (打印/纠错, audio players, 上一篇/下一篇 …).
"""

from __future__ import annotations

import re

DROP_TAGS = (
    "script", "style", "noscript", "iframe", "select", "option", "textarea", "button", "input",
    "object", "embed", "svg", "canvas", "map", "audio", "video", "nav", "aside", "head",
    "link", "meta", "template", "label",
)

# class/id words (split on space, - and _) of furniture blocks: pinyin names included,
# as Chinese CMS templates use them (fenxiang = share, dayin = print, xgyd = related reading)
_FURNITURE_WORDS = (
    "share", "shares", "bdshare", "jiathis", "fenxiang", "bshare", "social",
    "print", "dayin", "toolbar", "tools", "gongju",
    "breadcrumb", "breadcrumbs", "crumb", "crumbs", "position", "location", "weizhi", "dqwz", "mbx",
    "related", "relate", "relatednews", "xgyd", "xgwz", "xgxw", "xglj", "recommend", "tuijian",
    "comment", "comments", "pinglun", "reply",
    "footer", "foot", "copyright", "banquan", "bottom",
    "nav", "navbar", "menu", "topbar", "header",
    "sidebar", "side", "aside", "advert", "ads", "guanggao",
    "qrcode", "erweima", "ewm", "wxcode",
    "audio", "player", "listen", "shouting",
    "prevnext", "pagenav", "updown", "shangxia",
)
DROP_ATTR_RE = re.compile(
    r"(?:^|[\s_-])(?:" + "|".join(_FURNITURE_WORDS) + r")(?:$|[\s_-]|\d)", re.IGNORECASE
)

# a line that is entirely furniture
_LINE_PATTERNS = (
    r"(?:【|\[)?\s*(?:打印(?:本页|文章|此文)?|纠错|关闭(?:窗口|本页)?|收藏(?:本页)?|返回顶部|返回首页)\s*(?:】|\])?",
    r"(?:分享到|分享)[:：]?.*",
    r"(?:用)?微信\s*扫一扫.*|扫一扫.*(?:分享|手机|二维码).*|.*扫描二维码.*",
    r"收听本文.*|\d{2}:\d{2}\s*/\s*\d{2}:\d{2}|朗读本文.*",
    r"(?:【|\[)?\s*字[体号][:：]?\s*[大中小\s|]+(?:】|\])?.*",
    r"(?:上一篇|下一篇|上一条|下一条)[:：].*",
    r"[<《«\s]*(?:上一页|下一页|首页|尾页|末页|前一页|后一页)(?:[\s|>》»<《«]*(?:上一页|下一页|首页|尾页|末页))*[\s>》»]*",
    r"第\s*\d+\s*页\s*/?\s*共\s*\d+\s*页.*|共\s*\d+\s*页.*",
    r"(?:浏览次数|阅读次数|点击次数|访问次数|点击数|浏览量|阅读量)[:：]?\s*\d*.*",
    r"(?:当前位置|您现在的位置|您的位置|当前所在|所在位置)[:：].*",
    r".*(?:ICP备|ICP证|公网安备|网站标识码|版权所有|Copyright|©).*",
    r"(?:主办单位|承办单位|主办|承办|技术支持|运维单位|维护单位)[:：].*",
    r"(?:联系电话|联系我们|联系方式|通讯地址|邮政编码|邮编)[:：].*",
    r".*(?:免责声明|转载请注明|本网转载|不代表本网观点|版权归原作者).*",
    r"(?:手机版|电脑版|无障碍|繁體|简体|English)(?:\s+(?:手机版|电脑版|无障碍|繁體|简体|English))*",
    r"(?:【|\[)?\s*(?:责任编辑|编辑|责编|审核|校对|终审|初审)[:：].*",
    r"(?:(?:pdf|word|doc|wps|ofd)\s*下载\s*)+",  # 信息公开 pages: the notice as a file
)
LINE_RE = re.compile(r"^(?:" + "|".join(_LINE_PATTERNS) + r")$", re.IGNORECASE)

# a line that starts the lists after an article: the rest of the body is dropped
TAIL_RE = re.compile(
    r"^(?:【|\[|\s)*(?:相关阅读|相关链接|相关新闻|相关文章|相关推荐|延伸阅读|推荐阅读|热点推荐|热门推荐|"
    r"猜你喜欢|更多阅读|往期回顾|相关稿件|相关报道)(?:】|\]|\s|[:：]|$)"
)
