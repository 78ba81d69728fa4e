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
}
