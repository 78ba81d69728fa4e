"""What the service account tells a person in their bot chat about their own actions (DESIGN.md §6.3).

A refused action (the refusal's own text from the policy, with where it
happened and the next step), the greeting of a new account, and the code of a
group its creator just made. One table per language; times in China Standard Time.
"""

from __future__ import annotations

from policies.display import format_time

_TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "refused": "【操作未成功】{action}{where}没有成功，原因如下：\n{reason}",
        "where_room": "（群组“{name}”，群号 {code}）",
        "where_group": "（群号 {code}）",
        "where_room_id": "（房间 {room_id}）",
        "action_message": "你发送的消息",
        "action_state": "你对群组设置的更改",
        "action_join": "你加入群组",
        "action_invite": "你邀请他人",
        "action_create": "你创建群组",
        "action_alias": "你设置的群组地址",
        "action_upgrade": "你升级群组",
        "action_publish": "你公开群组",
        "action_member": "你的群昵称或成员变动",
        "action_admin": "你的管理操作",
        "action_profile": "你的个人资料（显示名或资料字段）的更改",
        "realname_link": "\n下一步：打开你的专属认证链接完成实名认证（仅限一次，{until} 前有效）：{url}\n链接过期后，在这里发送 !实名 即可获取新链接。",
        "realname_next": "\n下一步：在这里发送 !实名（或 !verify）获取你的专属认证链接。",
        "appeal_next": "\n如认为处理有误，直接在这里发送 !申诉（或 !appeal）和你的理由，工作人员会复核。",
        "repeat_note": "\n（同一原因在同一处 10 分钟内只提醒一次。）",
        "greeting": "你好，欢迎使用本平台！我是平台机器人，这里是你和我的私聊：通知、回执和操作未成功的原因都会发到这里，你也可以在这里发送命令。\n根据《互联网群组信息服务管理规定》第六条，发言、建群和邀请他人前需要先完成实名认证（后台实名、前台自愿，你的昵称不受影响）。\n{link}\n平台公约（第 {version} 版），认证时一并同意：\n{convention}\n常用命令：!实名（认证链接）、!我的（我的状态）、!群规（公约）、!申诉、!帮助。",
        "greeting_link": "你的专属认证链接（仅限一次，{until} 前有效）：{url}\n链接过期后，在这里发送 !实名 即可获取新链接。",
        "greeting_no_link": "在这里发送 !实名 即可获取你的专属认证链接。",
        "group_code": "你创建的群组“{name}”已就绪。\n群号：{code}\n群地址：{alias}\n把群号或群地址告诉想加入的人，他们在客户端中加入这个地址即可找到本群。{page}",
        "group_page": "\n群信息页：{url}",
        "unnamed_group": "未命名群组",
    },
    "en": {
        "refused": "[Not done] {action}{where} did not go through. Why:\n{reason}",
        "where_room": ' (group "{name}", code {code})',
        "where_group": " (group code {code})",
        "where_room_id": " (room {room_id})",
        "action_message": "Your message",
        "action_state": "Your change to the group's settings",
        "action_join": "Your joining a group",
        "action_invite": "Your invite",
        "action_create": "Your new group",
        "action_alias": "The group address you set",
        "action_upgrade": "Your group upgrade",
        "action_publish": "Publishing your group",
        "action_member": "Your room name or membership change",
        "action_admin": "Your admin action",
        "action_profile": "Your profile change (display name or a profile field)",
        "realname_link": "\nNext step: open your own verification link (once, valid until {until}): {url}\nWhen it has expired, send !verify here for a new one.",
        "realname_next": "\nNext step: send !verify here for your own verification link.",
        "appeal_next": "\nIf you think this is a mistake, send !appeal with your reason here and a person will review it.",
        "repeat_note": "\n(The same reason in the same place is told once every 10 minutes.)",
        "greeting": "Hello and welcome! I am the platform's bot and this is our private chat: notices, receipts and the reasons when something you do is refused arrive here, and you can send commands here.\nUnder Article 6 of the Regulations, posting, creating groups and inviting others need a verified real name first (your display name stays your choice).\n{link}\nThe platform convention (version {version}), accepted when you verify:\n{convention}\nCommands: !verify (your link), !me (your status), !rules (the convention), !appeal, !help.",
        "greeting_link": "Your own verification link (once, valid until {until}): {url}\nWhen it has expired, send !verify here for a new one.",
        "greeting_no_link": "Send !verify here for your own verification link.",
        "group_code": 'Your group "{name}" is ready.\nGroup code: {code}\nAddress: {alias}\nGive the code or the address to people who want to join: they join that address in their client to find the group.{page}',
        "group_page": "\nInfo page: {url}",
        "unnamed_group": "unnamed group",
    },
}


def notice_text(key: str, language: str, **values: object) -> str:
    """The text for `key` in `language` (zh-CN when the language is unknown)."""
    table = _TEXTS.get(language, _TEXTS["zh-CN"])
    return table[key].format(**values) if values else table[key]


def notice_time(ms: int, language: str) -> str:
    """A time as people read it: ``YYYY-MM-DD HH:mm（北京时间）``."""
    return format_time(ms, language)
