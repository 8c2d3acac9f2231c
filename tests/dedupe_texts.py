"""Our own texts for the dedupe, version and incremental tests, in the register
of county organisation-department news, and the copies other sites make of them:
an aggregator repost (its own header, footer, disclaimer and 原文链接) and a
mirror (traditional characters, pinyin in brackets, characters lost to `?`)."""

from __future__ import annotations

import opencc

ORIGINAL_TITLE = "白石县推出“白石英才”十二条 高层次人才安家补贴最高80万元"
ORIGINAL = [
    "近日，白石县委人才工作领导小组印发《关于加快集聚高层次人才的若干措施》，从引进、培育、激励、服务四个方面推出十二条举措，"
    "力争到2027年全县人才资源总量突破12万人，为县域经济高质量发展提供坚强的人才支撑。",
    "措施明确，对新引进的国家级领军人才，给予最高80万元安家补贴；对省级领军人才，给予最高50万元安家补贴；"
    "对全职引进的博士研究生，每人每月发放3000元生活补贴，连续发放三年，并优先安排人才公寓。",
    "在平台建设上，县财政每年统筹安排人才发展专项资金5000万元，支持企业建设博士后科研工作站、院士工作站和技能大师工作室，"
    "对新认定的国家级平台一次性给予100万元建设经费资助。",
    "在服务保障上，白石县将开通人才服务绿色通道，推行高层次人才“一卡通”，在子女入学、配偶就业、医疗保健等方面提供便利，"
    "让各类人才安心、安身、安业。",
    "县委组织部有关负责同志表示，将建立人才工作目标责任制考核制度，压紧压实各级党委（党组）抓人才工作的政治责任，"
    "推动各项措施落地见效，真正做到以事业聚才、以政策引才、以服务留才。",
]

OTHER_TITLE = "白石县开展年轻干部“墩苗”实践锻炼 首批42名干部到村任职"
OTHER = [
    "为加强年轻干部源头培养和实践锻炼，白石县委组织部近日选派首批42名优秀年轻干部到乡镇、村（社区）一线开展为期两年的“墩苗”锻炼。",
    "此次选派的干部平均年龄29岁，均具有全日制大学本科以上学历，分别担任村党组织书记助理、乡村振兴工作队队员等职务，"
    "重点参与产业发展、矛盾调处、基层治理等具体工作。",
    "县委组织部将建立跟踪管理机制，通过实地走访、个别谈话、季度述职等方式，全面了解干部在基层的表现，"
    "对表现突出的优先提拔使用，对不适应岗位要求的及时召回调整。",
]

# a notice from the same office, same template, different story: must stay separate
SIBLING_TITLE = "白石县出台技能人才十条 高技能人才最高奖励20万元"
SIBLING = [
    "近日，白石县人力资源和社会保障局印发《关于加强技能人才队伍建设的若干措施》，从培养、评价、激励、服务四个方面推出十条举措，"
    "力争到2027年全县技能人才总量达到3万人。",
    "措施明确，对新获评中华技能大奖的技能人才，给予最高20万元奖励；对新获评全国技术能手的，给予10万元奖励；"
    "对取得高级技师职业资格的企业职工，每人一次性发放5000元技能提升补贴。",
    "县人社局将联合县内职业院校和龙头企业开展订单式培训，每年培训产业工人不少于5000人次，推动技能人才与产业发展同频共振。",
]

EDITED = [p.replace("最高80万元安家补贴", "最高100万元安家补贴") for p in ORIGINAL[:3]] + ORIGINAL[3:] + [
    "（本文于发布后更新：国家级领军人才安家补贴标准调整为最高100万元。）"]

AGGREGATOR_HEADER = ["政讯汇览中心", "欢迎访问政讯汇览网！", "当前位置：首页 > 地方动态 > 正文"]
AGGREGATOR_FOOTER = [
    "[免责声明] 本站内容来源于互联网公开信息，仅供学习交流，不构成任何商业用途。如有侵权请联系本站删除。",
    "本站部分转载文章无法联系到原作者，请相关权利人与本站联系。",
    "政讯汇览网 版权所有 联系电话：010-00000000 邮箱：contact@example.org",
]


def repost_text(original_url: str) -> list[str]:
    return AGGREGATOR_HEADER + ORIGINAL + [f"原文链接:{original_url}"] + AGGREGATOR_FOOTER


# a few characters' pinyin, as such mirrors print after the character
PINYIN = {"強": "qiáng", "長": "zhǎng", "發": "fā", "為": "wèi", "萬": "wàn", "業": "yè",
          "導": "dǎo", "專": "zhuān", "實": "shí", "會": "huì", "級": "jí", "計": "jì"}


def mirror(paragraphs: list[str], lose_every: int = 60) -> list[str]:
    """Traditional characters, pinyin in brackets, every n-th character lost to `?`."""
    to_trad = opencc.OpenCC("s2t.json")
    out = []
    count = 0
    for paragraph in paragraphs:
        chars = []
        for ch in to_trad.convert(paragraph):
            count += 1
            if count % lose_every == 0:
                chars.append("?")
            elif ch in PINYIN:
                chars.append(f"{ch}({PINYIN[ch]})")
            else:
                chars.append(ch)
        out.append("".join(chars))
    return out
