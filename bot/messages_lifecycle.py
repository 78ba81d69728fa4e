"""Texts of a group's lifecycle commands (dissolve, transfer) and of accepting the convention.

Merged into :data:`bot.messages.CATALOGUE`; same rules: both languages side by
side, named placeholders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from policies.constants import Language

LIFECYCLE_CATALOGUE: Final[dict[str, dict[Language, str]]] = {
    "dissolve_confirm": {
        "zh-CN": "确定要解散本群（群组编码 {code}）吗？解散后全体成员将被移出，群组编码不再使用，此操作不能撤销。"
        "确认请发送：{command}",
        "en": "Do you really want to dissolve this group (code {code})? Every member will be removed and the code "
        "is never used again; this cannot be undone. To confirm, send: {command}",
    },
    "private_chat_no_group": {
        "zh-CN": "这是私聊，不是群组：没有群组编码，无需解散或转让。",
        "en": "This is a private chat, not a group: it has no code and nothing to dissolve or hand over.",
    },
    "transfer_confirm": {
        "zh-CN": "确定要把本群（群组编码 {code}）转让给 {owner} 吗？"
        "转让后对方成为群主，你将不能再解散、转让本群或更改群类别，只有新群主才能再转让回来。确认请发送：{command}",
        "en": "Do you really want to hand this group (code {code}) over to {owner}? They become its owner: you can no "
        "longer dissolve it, hand it over or change its category, and only they can hand it back. "
        "To confirm, send: {command}",
    },
    "transfer_done": {
        "zh-CN": "已将本群（{code}）转让给 {owner}。",
        "en": "This group ({code}) now belongs to {owner}.",
    },
    "transfer_target_full": {
        "zh-CN": "无法转让：{owner} 创建的群数已达上限（{count}/{cap}），没有名额接收本群。请对方先解散或转让其他群。",
        "en": "Cannot hand over: {owner} owns as many groups as allowed ({count}/{cap}) and has no place for this one. "
        "They must dissolve or hand over another group first.",
    },
    "convention_accepted": {
        "zh-CN": "你已同意平台公约（版本 {version}），现在可以发言了。",
        "en": "You accepted the platform convention (version {version}). You can post now.",
    },
}
