"""Qunzu's policy: the declarative rules (YAML) and the pure decision engine.

Imported by the Synapse module and by the bot. Nothing here does I/O except reading the
policy file in ``load_policy``.
"""

from .constants import PERMANENT
from .decisions import (
    Decision,
    RoomFacts,
    UserFacts,
    invite_is_approval,
    invite_may_need_confirmation,
    may_bind_identity,
    may_change_bot_chat_state,
    may_change_category,
    may_change_state,
    may_create,
    may_create_alias,
    may_enter_bot_chat,
    may_invite,
    may_join,
    may_knock,
    may_moderate,
    may_open_verification_chat,
    may_post,
    may_set_category,
    may_set_tier,
    may_upgrade,
    member_cap,
    needs_join_approval,
)
from .durations import format_duration, parse_duration
from .errors import InvalidDuration, InvalidIdentity, InvalidNumber, InvalidRequest, PolicyError, PolicyLoadError
from .loader import default_policy, load_policy, load_policy_from_mapping
from .measures import Measure, SubjectKind
from .messages import render
from .model import Policy
from .reasons import ERRCODE, HTTP_STATUS, Reason
from .sanctions import next_measure
from .tiers import activity_tier_of, level_of, max_members_for_level, scale_tier_of

__all__ = [
    "ERRCODE",
    "HTTP_STATUS",
    "PERMANENT",
    "Decision",
    "InvalidDuration",
    "InvalidIdentity",
    "InvalidNumber",
    "InvalidRequest",
    "Measure",
    "Policy",
    "PolicyError",
    "PolicyLoadError",
    "Reason",
    "RoomFacts",
    "SubjectKind",
    "UserFacts",
    "activity_tier_of",
    "default_policy",
    "format_duration",
    "invite_is_approval",
    "invite_may_need_confirmation",
    "level_of",
    "load_policy",
    "load_policy_from_mapping",
    "max_members_for_level",
    "may_bind_identity",
    "may_change_bot_chat_state",
    "may_change_category",
    "may_change_state",
    "may_create",
    "may_create_alias",
    "may_enter_bot_chat",
    "may_invite",
    "may_join",
    "may_knock",
    "may_moderate",
    "may_open_verification_chat",
    "may_post",
    "may_set_category",
    "may_set_tier",
    "may_upgrade",
    "member_cap",
    "needs_join_approval",
    "next_measure",
    "parse_duration",
    "render",
    "scale_tier_of",
]
