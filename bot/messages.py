"""The bot's user-interface texts in every supported language, keyed by id.

One catalogue so translations stay side by side; handlers never hard-code
user-visible text. ``str.format`` placeholders are named.
"""

from __future__ import annotations

from typing import Final

from policies.constants import DEFAULT_LANGUAGE, Language
from policies.labels import CHINA_STANDARD_TIME, format_time

#: China Standard Time (UTC+8, no daylight saving): the time users read.
CHINA_TIME: Final = CHINA_STANDARD_TIME

CATALOGUE: Final[dict[str, dict[Language, str]]] = {
    "help_header": {
        "zh-CN": "你在这里可以使用的命令：",
        "en": "Commands you can use here:",
    },
    "help_line": {
        "zh-CN": "{names} — {summary}",
        "en": "{names} — {summary}",
    },
    "help_none": {
        "zh-CN": "这里没有你可以使用的命令。",
        "en": "There are no commands you can use here.",
    },
    "apology": {
        "zh-CN": "抱歉，处理这条命令时出错了，请稍后再试。",
        "en": "Sorry, something went wrong with that command. Please try again later.",
    },
    "usage": {
        "zh-CN": "用法：{usage}",
        "en": "Usage: {usage}",
    },
    "not_allowed": {
        "zh-CN": "你无权在这里使用 {command}。",
        "en": "You may not use {command} here.",
    },
    "dm_only": {
        "zh-CN": "{command} 只能在与我的私聊中使用。",
        "en": "{command} works only in a direct chat with me.",
    },
    "unknown_command": {
        "zh-CN": "未知命令 {command}。发送 {help} 查看可用命令。",
        "en": "Unknown command {command}. Send {help} to see what you can use.",
    },
    "api_unreachable": {
        "zh-CN": "暂时无法连接群组管理服务，请稍后再试。",
        "en": "The group governance service cannot be reached right now. Please try again later.",
    },
    "api_failed": {
        "zh-CN": "群组管理服务出错（{status}），请稍后再试。",
        "en": "The group governance service failed ({status}). Please try again later.",
    },
    "me_header": {
        "zh-CN": "你的状态：",
        "en": "Your status:",
    },
    "me_empty": {
        "zh-CN": "暂时没有关于你的记录。",
        "en": "There is nothing on record about you yet.",
    },
    "field": {"zh-CN": "{label}：{value}", "en": "{label}: {value}"},
    # Labels of fields the module's GET /me may return; unknown fields show their key.
    "label.user_id": {"zh-CN": "账号", "en": "Account"},
    "label.realname": {"zh-CN": "实名认证", "en": "Real-name verification"},
    "label.verification": {"zh-CN": "实名认证", "en": "Real-name verification"},
    "label.verified": {"zh-CN": "已认证", "en": "Verified"},
    "label.status": {"zh-CN": "状态", "en": "Status"},
    "label.name": {"zh-CN": "姓名", "en": "Name"},
    "label.id_number": {"zh-CN": "证件号", "en": "ID number"},
    "label.phone": {"zh-CN": "手机号", "en": "Phone"},
    "label.level": {"zh-CN": "等级", "en": "Level"},
    "label.credit": {"zh-CN": "信用", "en": "Credit"},
    "label.score": {"zh-CN": "分数", "en": "Score"},
    "label.credit_score": {"zh-CN": "信用分", "en": "Credit score"},
    "label.credit_level": {"zh-CN": "信用等级", "en": "Credit level"},
    "label.rooms_created": {"zh-CN": "已创建的群", "en": "Rooms created"},
    "label.rooms_joined": {"zh-CN": "已加入的群", "en": "Rooms joined"},
    "label.counts": {"zh-CN": "数量", "en": "Counts"},
    "label.caps": {"zh-CN": "上限", "en": "Limits"},
    "label.sanctions": {"zh-CN": "生效中的处置", "en": "Active measures"},
    "label.measure": {"zh-CN": "措施", "en": "Measure"},
    "label.reason": {"zh-CN": "原因", "en": "Reason"},
    "label.until": {"zh-CN": "截止", "en": "Until"},
    "label.id": {"zh-CN": "编号", "en": "Id"},
    "label.convention": {"zh-CN": "平台公约", "en": "Platform convention"},
    "label.convention_accepted": {"zh-CN": "已接受平台公约", "en": "Convention accepted"},
    "label.convention_version": {"zh-CN": "公约版本", "en": "Convention version"},
    "verify_link_header": {
        "zh-CN": "你的一次性实名认证链接（只能由你本人使用一次，请勿转发）：",
        "en": "Your one-time real-name verification link (it works once, for you only; do not share it):",
    },
    "verify_expires": {
        "zh-CN": "有效期至 {when}。过期后请重新发送 {command}。",
        "en": "Valid until {when}. Send {command} again for a new one after that.",
    },
    "verify_purpose": {
        "zh-CN": (
            "本平台实行“后台实名、前台自愿”：你提交的姓名和证件号码只用于法律要求的核验，"
            "加密保存，不会向其他用户显示；你的昵称不受影响。"
        ),
        "en": (
            "Real names are checked in the background only (后台实名、前台自愿): your name and ID number "
            "are used for the check the law requires, stored encrypted and never shown to other users; "
            "your display name stays your choice."
        ),
    },
    "encrypted_dm": {
        "zh-CN": (
            "这个私聊开启了端到端加密，我读不到加密的消息，所以无法回应这里的命令。"
            "请重新和我发起一个私聊（本服务器新建的私聊不加密）。"
        ),
        "en": (
            "This direct chat is end-to-end encrypted. I cannot read encrypted messages, so I cannot "
            "answer commands here. Please start a new direct chat with me (new direct chats on this "
            "server are not encrypted)."
        ),
    },
    "yes": {"zh-CN": "是", "en": "yes"},
    "no": {"zh-CN": "否", "en": "no"},
    "none": {"zh-CN": "无", "en": "none"},
}


def china_time(ms: int, language: Language) -> str:
    """``ms`` (Matrix milliseconds) as ``YYYY-MM-DD HH:mm（北京时间）`` (``policies.labels.format_time``)."""
    return format_time(ms, language)


def has(key: str) -> bool:
    """Whether ``key`` is in the catalogue."""
    return key in CATALOGUE


def t(key: str, language: Language, /, **values: object) -> str:
    """Return the text ``key`` in ``language`` with ``values`` filled in.

    Args:
        key: Catalogue id, e.g. ``"apology"``.
        language: Target language; falls back to the default language when a
            translation is missing so the user never sees a bare id.
        **values: Named placeholders of the text.

    Raises:
        KeyError: ``key`` is not in the catalogue (a programming error).
    """
    texts = CATALOGUE[key]
    text = texts.get(language) or texts[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


# Texts of reports, room admins' tools and the moderation desk live beside these.
from bot.messages_desk import DESK_CATALOGUE  # noqa: E402  (after CATALOGUE; no import cycle at runtime)

CATALOGUE.update(DESK_CATALOGUE)
