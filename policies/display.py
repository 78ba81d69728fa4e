"""What people read instead of stored values: one time format, one label table per enum. Pure.

Used by the module (refusals, notices, info pages) and the bot (``!me``, ``!info``,
the desk), so a value reads the same wherever it is shown (DESIGN.md §6.3). Scale
tiers and categories carry their labels in the policy; everything else fixed by the
code has its table here:

- times: ``YYYY-MM-DD HH:mm（北京时间）`` / ``YYYY-MM-DD HH:mm (Beijing time)``, never
  epoch milliseconds, never "UTC+8";
- enums (verification status, group status, activity tier, measures, report
  severities, yes/no): a label per language, the raw value only when it is unknown
  (a newer module than the bot), never a field name.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Final

from .constants import Language
from .model import Policy

CHINA_STANDARD_TIME: Final = datetime.timezone(datetime.timedelta(hours=8), "CST")

_TIME_SUFFIX: Final[Mapping[Language, str]] = {"zh-CN": "（北京时间）", "en": " (Beijing time)"}


def china_datetime(ms: int) -> datetime.datetime:
    """Milliseconds since the epoch in China Standard Time, clamped to what `datetime` can hold."""
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    earliest = datetime.datetime(1, 1, 2, tzinfo=CHINA_STANDARD_TIME)
    latest = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=CHINA_STANDARD_TIME)
    seconds = ms // 1000
    if seconds <= (earliest - epoch).total_seconds():
        return earliest
    if seconds >= (latest - epoch).total_seconds():
        return latest
    return (epoch + datetime.timedelta(seconds=seconds)).astimezone(CHINA_STANDARD_TIME)


def format_time(ms: int, language: str = "zh-CN") -> str:
    """Milliseconds since the epoch as people read them: ``2024-05-01 12:30（北京时间）``.

    Never raises: texts are built from stored end times, and a time that `datetime`
    cannot represent (a mute ending in year 10000, stored before input was bounded)
    shows as the first or last minute `datetime` can write.

    Args:
        ms: Milliseconds since the epoch.
        language: ``zh-CN`` or ``en`` (``en-US`` and the like read as ``en``).
    """
    suffix = _TIME_SUFFIX["en" if language.lower().startswith("en") else "zh-CN"]
    return china_datetime(ms).strftime("%Y-%m-%d %H:%M") + suffix


def _lang(language: str) -> Language:
    return "en" if language.lower().startswith("en") else "zh-CN"


VERIFICATION_STATUS: Final[Mapping[str, Mapping[Language, str]]] = {
    "unverified": {"zh-CN": "未认证", "en": "not verified"},
    "pending": {"zh-CN": "人工审核中", "en": "waiting for review"},
    "verified": {"zh-CN": "已认证", "en": "verified"},
    "rejected": {"zh-CN": "未通过", "en": "not accepted"},
}

GROUP_STATUS: Final[Mapping[str, Mapping[Language, str]]] = {
    "active": {"zh-CN": "正常", "en": "normal"},
    "warned": {"zh-CN": "警示整改中", "en": "warned, rectification due"},
    "suspended": {"zh-CN": "暂停发布信息", "en": "posting suspended"},
    "closed": {"zh-CN": "已关闭", "en": "closed"},
}
"""Art. 11: the states of a group on its info page (`status`)."""

#: Activity tiers of the default policy (the policy names them but gives no labels).
ACTIVITY_TIER: Final[Mapping[str, Mapping[Language, str]]] = {
    "quiet": {"zh-CN": "低活跃", "en": "quiet"},
    "active": {"zh-CN": "活跃", "en": "active"},
    "hot": {"zh-CN": "高活跃", "en": "very active"},
}

#: Scale tiers of the default policy, for a reader without the policy (the policy's own labels win).
SCALE_TIER: Final[Mapping[str, Mapping[Language, str]]] = {
    "small": {"zh-CN": "小型", "en": "small"},
    "medium": {"zh-CN": "中型", "en": "medium"},
    "large": {"zh-CN": "大型", "en": "large"},
    "huge": {"zh-CN": "超大型", "en": "huge"},
}

MEASURE: Final[Mapping[str, Mapping[Language, str]]] = {
    "warning": {"zh-CN": "警示整改", "en": "a warning with a duty to rectify"},
    "posting_suspension": {"zh-CN": "暂停发布信息", "en": "suspension of posting"},
    "closure": {"zh-CN": "关闭群组", "en": "closure of the group"},
    "credit_lowered": {"zh-CN": "降低信用等级", "en": "a lower credit level"},
    "admin_suspension": {"zh-CN": "暂停管理权限", "en": "suspension of admin rights"},
    "creation_revoked": {"zh-CN": "取消建群资格", "en": "revocation of the right to create groups"},
    "mute": {"zh-CN": "禁言", "en": "a posting ban (mute)"},
    "blacklist": {"zh-CN": "纳入黑名单", "en": "blacklisting"},
    "blacklist_entry": {"zh-CN": "黑名单登记", "en": "a blacklist entry"},
    "content_block": {"zh-CN": "消息被拦截", "en": "a blocked message"},
}

SEVERITY: Final[Mapping[str, Mapping[Language, str]]] = {
    "severe": {"zh-CN": "紧急", "en": "severe"},
    "illegal": {"zh-CN": "违法", "en": "illegal"},
    "other": {"zh-CN": "一般", "en": "other"},
}

TICKET_SOURCE: Final[Mapping[str, Mapping[Language, str]]] = {
    "user_report": {"zh-CN": "成员举报", "en": "member report"},
    "matrix_report": {"zh-CN": "客户端举报按钮", "en": "client report button"},
    "content_flag": {"zh-CN": "内容规则标记", "en": "content rule flag"},
    "content_hold": {"zh-CN": "内容规则暂扣", "en": "content rule hold"},
}

SUBJECT_TYPE: Final[Mapping[str, Mapping[Language, str]]] = {
    "user": {"zh-CN": "用户", "en": "user"},
    "room": {"zh-CN": "群", "en": "room"},
    "room_member": {"zh-CN": "群成员", "en": "room member"},
    "identity": {"zh-CN": "身份", "en": "identity"},
}

TICKET_STATUS: Final[Mapping[str, Mapping[Language, str]]] = {
    "open": {"zh-CN": "待处理", "en": "open"},
    "in_review": {"zh-CN": "处理中", "en": "in review"},
    "resolved": {"zh-CN": "已处理", "en": "resolved"},
    "dismissed": {"zh-CN": "不予处理", "en": "dismissed"},
}


def label(table: Mapping[str, Mapping[Language, str]], value: object, language: str) -> str:
    """The label of ``value`` in ``table``; the value itself when the table does not know it."""
    if value is None or value == "":
        return "—"
    known = table.get(str(value))
    return known[_lang(language)] if known is not None else str(value)


def scale_tier_label(name: str, language: str, policy: Policy | None = None) -> str:
    """A scale tier's label: the policy's when given, else the default policy's names."""
    if policy is not None:
        for tier in policy.scale_tiers.tiers:
            if tier.name == name:
                return tier.labels[_lang(language)]
    return label(SCALE_TIER, name, language)
