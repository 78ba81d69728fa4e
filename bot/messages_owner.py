"""Texts of the owners' and admins' room tools: invite confirmation, mute-all, pinned announcements.

Merged into :data:`bot.messages.CATALOGUE`; same rules: both languages side by
side, named placeholders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from policies.constants import Language

OWNER_CATALOGUE: Final[dict[str, dict[Language, str]]] = {
    "admin_invite_confirmed": {
        "zh-CN": "已确认 {target} 的入群邀请，对方现在可以加入。",
        "en": "The invite of {target} is confirmed; they can join now.",
    },
    "mute_all_on": {
        "zh-CN": "🔇 本群已开启全员禁言，至 {until}。期间只有群主和管理员可以发言。",
        "en": "🔇 Everyone in this room is muted until {until}; only the owner and admins can post.",
    },
    "mute_all_on_perm": {
        "zh-CN": "🔇 本群已开启全员禁言，直到管理员解除。期间只有群主和管理员可以发言。",
        "en": "🔇 Everyone in this room is muted until an admin ends it; only the owner and admins can post.",
    },
    "mute_all_off": {
        "zh-CN": "🔊 本群的全员禁言已解除，大家可以发言了。",
        "en": "🔊 The mute of everyone has ended; everyone can post again.",
    },
    "mute_all_not_on": {"zh-CN": "本群没有开启全员禁言。", "en": "Everyone may post here already: no mute-all is on."},
}
