"""The bot's user-interface texts in every supported language, keyed by id.

One catalogue so translations stay side by side; handlers never hard-code
user-visible text. ``str.format`` placeholders are named.
"""

from __future__ import annotations

from typing import Final

from policies.constants import DEFAULT_LANGUAGE, Language
from policies.display import CHINA_STANDARD_TIME, format_time

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
    # !me: the caller's status in words (bot/handlers/me.py).
    "me.account": {"zh-CN": "账号：{user}", "en": "Account: {user}"},
    "me.verification": {"zh-CN": "实名认证：{status}", "en": "Real-name verification: {status}"},
    "me.level": {"zh-CN": "{status}（{level} 级）", "en": "{status} (level {level})"},
    "me.name": {"zh-CN": "姓名 {value}", "en": "name {value}"},
    "me.id_number": {"zh-CN": "证件号 {value}", "en": "ID number {value}"},
    "me.phone": {"zh-CN": "手机号 {value}", "en": "phone {value}"},
    "me.separator": {"zh-CN": "，", "en": ", "},
    "me.submitted": {"zh-CN": "提交时间：{time}", "en": "Submitted: {time}"},
    "me.decided": {"zh-CN": "审核完成：{time}", "en": "Decided: {time}"},
    "me.verify_hint": {
        "zh-CN": "发送 !verify 获取一次性认证链接。",
        "en": "Send !verify for a one-time verification link.",
    },
    "me.convention_accepted": {
        "zh-CN": "平台公约：已同意当前版本（第 {version} 版）",
        "en": "Platform convention: current version ({version}) accepted",
    },
    "me.convention_missing": {
        "zh-CN": "平台公约：尚未同意当前版本（第 {version} 版），发送 !rules 查看",
        "en": "Platform convention: current version ({version}) not yet accepted; send !rules to read it",
    },
    "me.credit": {"zh-CN": "信用：{score} 分，等级 {level}", "en": "Credit: {score} points, level {level}"},
    "me.caps": {
        "zh-CN": "；最多可创建 {owned} 个群、加入 {joined} 个群",
        "en": "; you may create up to {owned} groups and join up to {joined}",
    },
    "me.credit_none": {
        "zh-CN": "信用：完成实名认证后才有信用分",
        "en": "Credit: you get a credit score once verified",
    },
    "me.sanctions": {"zh-CN": "生效中的处置：", "en": "Measures in force: "},
    "me.sanction": {
        "zh-CN": "{measure}，{until}，原因：{reason}（处置编号 {id}）",
        "en": "{measure}, {until}, reason: {reason} (measure {id})",
    },
    "me.in_room": {"zh-CN": "{measure}（仅限群 {room}）", "en": "{measure} (in room {room} only)"},
    "me.until": {"zh-CN": "至 {time}", "en": "until {time}"},
    "me.no_end": {"zh-CN": "长期有效", "en": "no end date"},
    "me.appeal_hint": {
        "zh-CN": "如有异议，发送 !appeal <理由> 申诉最近的处置，或 !appeal <处置编号> <理由>。",
        "en": "If you disagree, send !appeal <reasons> for the latest measure, or !appeal <measure id> <reasons>.",
    },
    "me.blacklisted": {
        "zh-CN": "黑名单：你的账号在黑名单上。如有异议，发送 !appeal <理由> 申诉。",
        "en": "Blacklist: your account is on the blacklist. If you disagree, send !appeal <reasons>.",
    },
    "me.staff": {"zh-CN": "你是平台工作人员。", "en": "You are platform staff."},
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
    """``ms`` (Matrix milliseconds) as ``YYYY-MM-DD HH:mm（北京时间）`` (``policies.display.format_time``)."""
    return format_time(ms, language)


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
from bot.messages_owner import OWNER_CATALOGUE  # noqa: E402

CATALOGUE.update(DESK_CATALOGUE)
CATALOGUE.update(OWNER_CATALOGUE)

# Texts of the lifecycle commands and of accepting the convention.
from bot.messages_lifecycle import LIFECYCLE_CATALOGUE  # noqa: E402  (after CATALOGUE, like the desk's)

CATALOGUE.update(LIFECYCLE_CATALOGUE)
