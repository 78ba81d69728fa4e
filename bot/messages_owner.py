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
    "announce_pending": {
        "zh-CN": "本群的公告需要平台审核：已提交，审核通过后将由机器人发布并置顶，结果会私信通知你。",
        "en": "Announcements in this group are reviewed by the platform: yours was submitted and will be "
        "posted and pinned once approved; you will be told the outcome in a direct chat.",
    },
    "announce_failed": {
        "zh-CN": "公告未能发布：机器人不在本群或没有权限。请检查后重试。",
        "en": "The announcement could not be posted: the bot is not in this room or lacks the power. Please try again.",
    },
    "desk_announcement": {
        "zh-CN": "📢 待审核的群公告 {id}（群 {code}，提交人 {actor}）：\n{text}\n"
        "通过：!公告审核 {id} 通过 · 驳回：!公告审核 {id} 驳回 [理由]",
        "en": "📢 Announcement {id} waits for review (group {code}, by {actor}):\n{text}\n"
        "Approve: !announcement {id} approve · reject: !announcement {id} reject [reason]",
    },
    "announcement_decided": {
        "zh-CN": "公告 {id} 已{outcome}，已私信通知提交人。",
        "en": "Announcement {id} was {outcome}; its author was told in a direct chat.",
    },
    "announcement_outcome_posted": {"zh-CN": "通过并在群内发布、置顶", "en": "approved, posted and pinned"},
    "announcement_outcome_rejected": {"zh-CN": "驳回", "en": "rejected"},
    "announcement_outcome_failed": {
        "zh-CN": "通过，但未能发布到群里",
        "en": "approved, but it could not be posted in the room",
    },
}
