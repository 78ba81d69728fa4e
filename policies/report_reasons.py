"""Which report category a free-text reason means (Art. 12), and the one category vocabulary.

The report buttons of Matrix clients send only free text ("宣扬恐怖主义", "selling
drugs", "卖淫嫖娼"). `classify_reason` sorts such a text into the policy's report
categories (`reports.categories`, after the kinds of the 12377 report centre) by
cues that say what the text is about, most serious first: a text about sexual content
involving children is `child_sexual_content`, never `pornography`; one about
terrorism is `terrorism`, never `violence`. A text that names a category by its key
or label and has no cue gets that category; anything else is `other`.

Cues are matched on the skeleton of `policies.content.normalise` (full-width, case,
traditional characters, look-alike letters, separators), so "賣淫", "ＳＣＡＭ" and
"s c a m" read like "卖淫" and "scam". A cue written in Latin letters matches at the
start of a word, and is a whole word unless it ends in ``*`` (``terroris*`` matches
"terrorist" and "terrorism", ``bet`` does not match "between"). A cue in Chinese
matches anywhere. A cue of several parts joined by ``+`` needs all of them
("儿童+色情": a child and sexual content anywhere in the text).

The same vocabulary is the sanctions ladder's (`sanctions.severe_categories` names
report categories, checked when the policy loads); `canonical_category` maps a
content rule's name (``cults``) to its report category (``politics``) so that a
measure named either way meets the same severe list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .content import normalise
from .model import Policy

FALLBACK = "other"

# Most serious first: the first category with a matching cue wins.
CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "child_sexual_content",
        (
            "儿童色情", "儿童性", "幼女", "恋童", "萝莉", "炼铜", "童交", "未成年色情", "未成年人色情",
            "儿童+色情", "儿童+裸", "儿童+性侵", "未成年+色情", "未成年+裸", "未成年+性", "小学生+色情",
            "小学生+裸", "孩子+裸照", "child porn*", "childporn*", "csam", "csem", "pedophil*", "paedophil*",
            "lolicon", "underage+sex*", "underage+nude*", "underage+porn*", "minor+sex*", "minors+sex*",
            "minor+nude*", "minors+nude*", "minor+porn*", "child+sexual*", "children+sexual*", "child+nude*",
            "child+abuse material", "kid+porn*", "kids+porn*", "child+exploitation",
        ),
    ),
    (
        "terrorism",
        (
            "恐怖主义", "恐怖分子", "恐怖袭击", "恐怖组织", "暴恐", "极端主义", "宗教极端", "圣战", "伊斯兰国",
            "基地组织", "东突", "人体炸弹", "自杀式袭击", "terroris*", "terror attack*", "extremis*",
            "jihad*", "isis", "radicali*", "bomb making", "suicide bomb*",
        ),
    ),
    (
        "politics",
        (
            "颠覆", "分裂国家", "危害国家安全", "国家安全", "反动", "反党", "反华", "邪教", "法轮", "台独",
            "藏独", "港独", "疆独", "煽动分裂", "辱华", "煽动颠覆", "政治有害", "政治谣言", "侮辱国旗",
            "侮辱英烈", "subversi*", "separatis*", "secession*", "national security", "state security",
            "treason", "falun*", "cult", "cults", "anti china", "anti government",
        ),
    ),
    (
        "prostitution",
        (
            "卖淫", "嫖娼", "招嫖", "嫖客", "援交", "性交易", "性服务", "上门服务", "包夜", "楼凤", "外围女",
            "特殊服务", "小姐服务", "色情服务", "prostitut*", "escort service*", "escorts", "sex work*",
            "sex for money", "paid sex", "sexual service*", "hooker*", "sex trade",
        ),
    ),
    (
        "pornography",
        (
            "色情", "淫秽", "黄色", "涉黄", "黄片", "黄图", "裸聊", "裸照", "裸体", "露点", "成人视频",
            "成人网站", "约炮", "av资源", "porn*", "sexually explicit", "explicit sex*", "nude*", "nudity",
            "obscen*", "adult content", "adult video*", "sex video*", "nsfw", "xxx",
        ),
    ),
    (
        "drugs",
        (
            "毒品", "吸毒", "贩毒", "制毒", "冰毒", "大麻", "海洛因", "可卡因", "摇头丸", "k粉", "麻古", "笑气",
            "芬太尼", "drug", "drugs", "narcotic*", "cocaine", "heroin", "meth", "methamphetamine",
            "marijuana", "cannabis", "fentanyl", "ecstasy", "mdma",
        ),
    ),
    (
        "weapons",
        (
            "枪支", "卖枪", "买枪", "仿真枪", "气枪", "猎枪", "手枪", "弹药", "子弹", "军火", "管制刀具", "炸药",
            "爆炸物", "雷管", "gun", "guns", "firearm*", "weapon*", "ammunition", "ammo", "explosive*",
            "rifle*", "pistol*", "grenade*",
        ),
    ),
    (
        "gambling",
        (
            "赌博", "赌场", "赌钱", "网赌", "博彩", "菠菜", "赌球", "六合彩", "时时彩", "百家乐", "下注", "押注",
            "开盘", "gambl*", "casino*", "betting", "bets", "bookmaker*", "sportsbook*",
        ),
    ),
    (
        "fraud",
        (
            "诈骗", "骗子", "骗钱", "骗局", "被骗", "行骗", "刷单", "杀猪盘", "保证金", "冒充", "假冒客服",
            "钓鱼", "传销", "非法集资", "套路贷", "返利", "scam*", "fraud*", "phishing", "ponzi",
            "pyramid scheme*", "impersonat*", "swindl*", "con artist*", "fake shop*", "fake investment*",
        ),
    ),
    (
        "rumor",
        (
            "谣言", "造谣", "传谣", "辟谣", "虚假信息", "假新闻", "不实信息", "虚假消息", "rumor*", "rumour*",
            "fake news", "misinformation", "disinformation", "false information", "hoax*",
        ),
    ),
    (
        "violence",
        (
            "暴力", "血腥", "杀人", "砍人", "行凶", "凶杀", "威胁", "恐吓", "殴打", "打人", "虐待", "自杀", "自残",
            "violen*", "gore", "gory", "kill", "killing", "murder*", "threat*", "self harm", "suicid*",
            "beating", "assault*",
        ),
    ),
    (
        "privacy",
        (
            "隐私", "个人信息", "人肉", "开盒", "身份证号", "手机号", "家庭住址", "住址", "泄露", "偷拍",
            "privacy", "personal information", "personal data", "doxx*", "doxing", "dox", "home address",
            "phone number", "leaked my*", "hidden camera",
        ),
    ),
    (
        "infringement",
        (
            "侵权", "盗版", "抄袭", "版权", "著作权", "商标", "诽谤", "名誉", "侮辱他人", "肖像", "copyright*",
            "pirat*", "plagiar*", "trademark*", "defam*", "libel*", "slander*", "infring*",
        ),
    ),
    (
        "spam",
        (
            "广告", "垃圾信息", "垃圾消息", "刷屏", "引流", "推广", "营销", "加微信", "加群", "代刷", "拉人",
            "spam*", "advert*", "ads", "promotion*", "marketing", "flooding",
        ),
    ),
    (
        "vulgar",
        (
            "低俗", "脏话", "骂人", "辱骂", "粗口", "不文明", "人身攻击", "骚扰", "vulgar*", "profan*",
            "insult*", "abusive", "harass*", "bully*", "offensive",
        ),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class _Cue:
    parts: tuple[re.Pattern[str], ...]

    def matches(self, skeleton: str) -> bool:
        return all(part.search(skeleton) for part in self.parts)


def _part(raw: str) -> re.Pattern[str]:
    prefix = raw.endswith("*")
    skeleton = normalise(raw.rstrip("*"))
    if skeleton.isascii():
        end = "" if prefix else r"(?![a-z0-9])"
        return re.compile(r"(?<![a-z0-9])" + re.escape(skeleton) + end)
    return re.compile(re.escape(skeleton))


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[str, tuple[_Cue, ...]], ...]:
    return tuple(
        (category, tuple(_Cue(tuple(_part(p) for p in cue.split("+"))) for cue in cues)) for category, cues in CUES
    )


def classify_reason(reason: str, policy: Policy) -> str:
    """The report category a free-text reason means.

    Args:
        reason: what the reporter typed (any language, any script tricks).
        policy: the active policy; only its `reports.categories` are returned.

    Returns:
        A key of `policy.reports.categories`: the first (most serious) category with a
        matching cue, else one the text names by key or label, else `other` (or the
        first category when the policy has no `other`).
    """
    categories = policy.reports.categories
    skeleton = normalise(reason)
    if skeleton.strip():
        for category, cues in _compiled():
            if category in categories and any(cue.matches(skeleton) for cue in cues):
                return category
        for name, known in categories.items():
            names = [name.replace("_", " "), *known.labels.values()]
            if any(_part(label).search(skeleton) for label in names if normalise(label).strip()):
                return name
    return FALLBACK if FALLBACK in categories else next(iter(categories))


def canonical_category(name: str, policy: Policy) -> str | None:
    """The report category a measure's or ticket's category means, or None when it means none.

    A report category is itself; a content rule's name is its `report_category`.
    """
    if name in policy.reports.categories:
        return name
    rule = policy.content.categories.get(name)
    return rule.report_category if rule is not None else None
