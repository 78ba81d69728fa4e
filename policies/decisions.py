"""Pure decisions: facts in, a ``Decision`` out.

The adapters (the Synapse module, the bot) gather facts into ``UserFacts`` and
``RoomFacts`` and apply the decision in one place; nothing here reads a clock, a
database or the network. A refusal carries its ``Reason`` and the facts the message
needs (``cap`` and ``count``, ``until``, ``level`` …); the detail values are plain JSON
(text, numbers, booleans, ``None``, tuples of text), so they can go to the client as
``cn.qunzu.detail`` unchanged.

Order of checks, the same in every function, so that a person is told the most basic
thing to fix first:

0. malformed input (an unknown category) — it is a 400, whatever the caller is;
1. exemption (the service account, server admins) — allowed, nothing else applies;
2. blacklist (Art. 11);
3. real name (Art. 6), then the convention (Art. 5, posting only);
4. sanctions and emergency measures: room closed, emergency freeze, the user's own
   suspension, the room's suspension, revoked creation (Art. 11, Art. 5);
5. credit-level permissions and caps: may post/create/invite by level, room full,
   rooms joined, rooms created (Art. 7, 8);
6. join approval (knock) for large rooms and high-risk categories (Art. 8).

Times are milliseconds since the epoch. A suspension that never ends is stored as
``PERMANENT`` (-1); in a decision's detail it appears as ``until: None`` with
``permanent: True``.

An unverified account (``credit_score is None``) is judged as a new account at the
policy's initial score where a rule needs a level (e.g. the cap on rooms joined).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final, Self

from .codes import is_code_shaped
from .constants import GROUP_STATE_TYPE, PERMANENT, SERVER_ACL_STATE_TYPE
from .model import CreditLevel, Policy, Risk
from .reasons import Reason
from .tiers import (
    activity_tier_of,
    level_at_least,
    level_of,
    level_rules,
    max_members_for_level,
    max_tier_for_level,
    scale_tier_of,
    tier_index,
    tier_max_members,
)
from .timing import in_force, until_detail

__all__ = [
    "PERMANENT",
    "PROTECTED_STATE_TYPES",
    "Decision",
    "RoomFacts",
    "UserFacts",
    "activity_tier_of",
    "effective_tier",
    "invite_is_approval",
    "level_of",
    "max_members_for_level",
    "may_be_co_creator",
    "may_bind_identity",
    "may_change_bot_chat_state",
    "may_change_category",
    "may_change_power_levels",
    "may_change_state",
    "may_create",
    "may_create_alias",
    "may_enter_bot_chat",
    "may_invite",
    "may_join",
    "may_knock",
    "may_moderate",
    "may_open_up",
    "may_open_verification_chat",
    "may_post",
    "may_set_category",
    "may_set_membership",
    "may_set_tier",
    "may_upgrade",
    "member_cap",
    "needs_join_approval",
    "required_join_rule",
    "scale_tier_of",
    "user_level",
]

PROTECTED_STATE_TYPES: Final = frozenset({GROUP_STATE_TYPE, SERVER_ACL_STATE_TYPE})
"""State event types only the service account may send (DESIGN.md §3.2)."""

BOT_CHAT_STATE_TYPES: Final = frozenset(
    {"m.room.name", "m.room.topic", "m.room.avatar", "m.room.pinned_events", "m.room.encryption"}
)
"""State a person may set in their bot chat: its looks, never who can enter, see or find it.

Encryption is listed so that its own rule (the policy's ``encryption`` block) decides it.
"""


def _empty_detail() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a decision.

    Attributes:
        allowed: whether the action may go ahead.
        reason: why not (``None`` exactly when allowed).
        detail: facts for the message and the client (read-only).
    """

    allowed: bool
    reason: Reason | None = None
    detail: Mapping[str, object] = field(default_factory=_empty_detail)

    def __post_init__(self) -> None:
        if self.allowed != (self.reason is None):
            raise ValueError("a Decision has a reason exactly when it refuses")
        object.__setattr__(self, "detail", MappingProxyType(dict(self.detail)))

    @classmethod
    def allow(cls) -> Self:
        """The action may go ahead."""
        return cls(allowed=True)

    @classmethod
    def refuse(cls, reason: Reason, **detail: object) -> Self:
        """The action is refused for ``reason``; ``detail`` fills the message."""
        return cls(allowed=False, reason=reason, detail=detail)


@dataclass(frozen=True, slots=True)
class UserFacts:
    """What the decisions need to know about the acting account.

    Attributes:
        user_id: the Matrix user id.
        exempt: the service account or a server admin: never gated.
        verified: has a verified real identity (Art. 6).
        verification_level: 0 none, 1 basic (name + ID number); higher levels are
            stronger checks a provider may offer.
        convention_accepted: has accepted the current convention version (Art. 5).
        credit_score: the credit score, ``None`` while unverified.
        rooms_owned: rooms the account created and still owns (open ones).
        rooms_joined: rooms the account is joined to, not counting the one at hand.
        blacklisted: the account, or the identity behind it, is on the blacklist.
        muted_until_ms: end of a posting suspension; ``None`` none, ``PERMANENT`` no end.
        creation_revoked: the right to create rooms is revoked (Art. 11).
        admin_suspended: the account's admin rights are suspended (Art. 11).
        creation_revoked_until_ms: when the revocation ends; ``None`` or ``PERMANENT`` no end.
        blacklisted_until_ms: when the longest blacklisting ends; ``None`` or ``PERMANENT`` no end.
        admin_suspended_until_ms: when the suspension of admin rights ends; ``None`` or
            ``PERMANENT`` no end.
    """

    user_id: str
    exempt: bool
    verified: bool
    verification_level: int
    convention_accepted: bool
    credit_score: int | None
    rooms_owned: int
    rooms_joined: int
    blacklisted: bool
    muted_until_ms: int | None
    creation_revoked: bool
    admin_suspended: bool
    creation_revoked_until_ms: int | None = None
    blacklisted_until_ms: int | None = None
    admin_suspended_until_ms: int | None = None


def _blacklisted(user: UserFacts) -> Decision:
    """The refusal of a blacklisted person (Art. 11), with its end when it has one."""
    return Decision.refuse(Reason.BLACKLISTED, **until_detail(user.blacklisted_until_ms))


@dataclass(frozen=True, slots=True)
class RoomFacts:
    """What the decisions need to know about a room.

    Attributes:
        room_id: the Matrix room id.
        category: the room's category name (``cn.qunzu.group``).
        member_count: joined members, not counting the service account.
        tier: the scale tier recorded in ``cn.qunzu.group``; the decisions use the
            larger of it and the tier of ``member_count``, so a stale record never
            loosens a rule.
        closed: the room is closed (Art. 11).
        posting_suspended_until_ms: end of the room's posting suspension; ``None``
            none, ``PERMANENT`` no end.
        frozen: an emergency freeze covers the room (server, category or room scope).
        join_rule: the room's current ``m.room.join_rules`` join rule.
        owner_level: credit level of the owner; ``None`` when no owner level applies
            (a room of the service or of staff), then only the ceiling holds.
        granted_tier: a larger tier granted by a staff decision, if any.
        verification_dm: the room is registered as a bot chat (not a group).
        bot_chat_owner: the person whose two-party chat with the service account this
            is (their verification chat or notice chat), ``None`` for every other room.
            It is the one channel Art. 6 leaves open to unverified people, and where
            muted and suspended people still reach the bot (DESIGN.md §6.3).
    """

    room_id: str
    category: str
    member_count: int
    tier: str
    closed: bool
    posting_suspended_until_ms: int | None
    frozen: bool
    join_rule: str
    owner_level: str | None
    granted_tier: str | None = None
    verification_dm: bool = False
    bot_chat_owner: str | None = None


# --- helpers -------------------------------------------------------------------------


def user_level(user: UserFacts, policy: Policy) -> CreditLevel:
    """The credit level a rule judges the user at; an unverified account counts at ``credit.initial``."""
    score = user.credit_score if user.credit_score is not None else policy.credit.initial
    return level_of(score, policy)


def _realname(user: UserFacts, action: str, policy: Policy, *, min_level: int = 0) -> Decision | None:
    """Art. 6: refuse an unverified or insufficiently verified account."""
    if not user.verified:
        return Decision.refuse(Reason.REALNAME_REQUIRED, action=action)
    required = max(policy.realname.required_level, min_level)
    if user.verification_level < required:
        return Decision.refuse(
            Reason.REALNAME_LEVEL_INSUFFICIENT,
            action=action,
            required_level=required,
            verification_level=user.verification_level,
        )
    return None


def _room_state(room: RoomFacts) -> Decision | None:
    """Art. 11 closure and Art. 5 emergency handling stop everything in a room."""
    if room.closed:
        return Decision.refuse(Reason.ROOM_CLOSED)
    if room.frozen:
        return Decision.refuse(Reason.EMERGENCY_FREEZE)
    return None


def _risk_of(category: str, policy: Policy) -> Risk | None:
    known = policy.categories.known.get(category)
    return known.risk if known is not None else None


def effective_tier(room: RoomFacts, policy: Policy) -> str:
    """The larger of the recorded tier and the tier of the member count."""
    by_count = scale_tier_of(room.member_count, policy)
    if room.tier not in policy.scale_tiers.names:
        return by_count
    return max(room.tier, by_count, key=lambda tier: tier_index(tier, policy))


def member_cap(room: RoomFacts, policy: Policy) -> int:
    """How many members the room may have (Art. 8).

    A tier granted by staff decides alone. Otherwise the owner's level bounds the
    room's tier, and no room grows into the staff-decision tier by itself; the hard
    ceiling always holds.
    """
    scale = policy.scale_tiers
    if room.granted_tier is not None and room.granted_tier in scale.names:
        return min(tier_max_members(room.granted_tier, policy), scale.ceiling)
    below_staff = scale.tiers[tier_index(scale.staff_decision_tier, policy) - 1].max_members
    by_owner = scale.ceiling if room.owner_level is None else max_members_for_level(room.owner_level, policy)
    return min(by_owner, below_staff, scale.ceiling)


def needs_join_approval(room: RoomFacts, policy: Policy) -> bool:
    """Whether joining needs approval (knock) (Art. 8: join verification).

    True from the approval tier up, and at any size in categories whose risk rule
    says so (high risk by default).
    """
    tier = effective_tier(room, policy)
    if tier_index(tier, policy) >= tier_index(policy.scale_tiers.approval_from_tier, policy):
        return True
    risk = _risk_of(room.category, policy)
    return risk is not None and policy.categories.risk_rules[risk].join_approval_always


def required_join_rule(room: RoomFacts, policy: Policy) -> str | None:
    """The join rule the room must switch to, or ``None`` when its rule is fine.

    A public room that needs approval must become ``knock``.
    """
    if room.join_rule == "public" and needs_join_approval(room, policy):
        return "knock"
    return None


# --- decisions -----------------------------------------------------------------------


def may_post(user: UserFacts, room: RoomFacts, now_ms: int, policy: Policy, *, is_message: bool = True) -> Decision:
    """May the user send a message (or, with ``is_message=False``, a state event) into the room?

    In the sender's own bot chat a plain message passes the blacklist, the real-name
    gate, the convention, the sender's mute and the credit level: unverified people ask
    there how to verify (Art. 6), sanctioned and blacklisted people use ``!appeal``,
    ``!me``, ``!rules`` as their notices and refusals tell them to (DESIGN.md §6.3). It
    publishes nothing: only the service account reads it. A closed room and an
    emergency freeze still hold, and so do the content rules; a blacklisted person
    cannot open a new verification chat (``may_open_verification_chat``).

    Args:
        user: facts about the sender.
        room: facts about the room.
        now_ms: the current time (ms since the epoch), for suspensions.
        policy: the active policy.
        is_message: a plain message event; state events never use the bot chat channel.

    Returns:
        Allowed, or refused with blacklisted, realname_required,
        realname_level_insufficient, convention_not_accepted, room_closed,
        emergency_freeze, posting_suspended_user, posting_suspended_room or
        credit_insufficient.
    """
    if user.exempt:
        return Decision.allow()
    # Art. 6 leaves one channel open: the person's own chat with the service account.
    # Plain messages of its owner only.
    channel = is_message and room.bot_chat_owner is not None and room.bot_chat_owner == user.user_id
    if user.blacklisted and not channel:
        return _blacklisted(user)
    # Art. 6: 先实名后发布.
    if not channel and "post" in policy.realname.required_for and (refusal := _realname(user, "post", policy)):
        return refusal
    # Art. 5: the service agreement is accepted before the first post.
    if not channel and not user.convention_accepted:
        return Decision.refuse(Reason.CONVENTION_NOT_ACCEPTED, version=policy.convention.version)
    if refusal := _room_state(room):
        return refusal
    # Art. 11: 暂停发布 for members and for rooms.
    if not channel and (refusal := _posting_suspended(user, now_ms)):
        return refusal
    if in_force(room.posting_suspended_until_ms, now_ms):
        assert room.posting_suspended_until_ms is not None
        return Decision.refuse(Reason.POSTING_SUSPENDED_ROOM, **until_detail(room.posting_suspended_until_ms))
    if not channel and (refusal := _read_only(user, policy)):
        return refusal
    return Decision.allow()


def _posting_suspended(user: UserFacts, now_ms: int) -> Decision | None:
    """Art. 11 暂停发布: the person's own posting suspension, while in force."""
    if not in_force(user.muted_until_ms, now_ms):
        return None
    assert user.muted_until_ms is not None
    return Decision.refuse(Reason.POSTING_SUSPENDED_USER, **until_detail(user.muted_until_ms))


def _read_only(user: UserFacts, policy: Policy) -> Decision | None:
    """Art. 7: services by credit level; a level that may not post (E) reads only."""
    level = user_level(user, policy)
    if level_rules(level, policy).may_post:
        return None
    return Decision.refuse(Reason.CREDIT_INSUFFICIENT, level=level, action="post")


def may_rename(user: UserFacts, now_ms: int, policy: Policy) -> Decision:
    """May a person change how their rooms show them: a display name or avatar, global or per room?

    A per-room one is a member event the room's timeline shows, and Synapse copies a new
    global one into each of the person's rooms the same way: a broadcast in their own
    name. A measure that stops them
    publishing stops it too: the blacklist, a posting suspension, a read-only credit
    level. A name and a picture are voluntary (后台实名、前台自愿): people set them before
    they verify, so the real-name gate and the convention do not apply here.

    Returns:
        Allowed, or refused with blacklisted, posting_suspended_user or credit_insufficient.
    """
    if user.exempt:
        return Decision.allow()
    if user.blacklisted:
        return _blacklisted(user)
    return _posting_suspended(user, now_ms) or _read_only(user, policy) or Decision.allow()


def may_open_verification_chat(user: UserFacts, open_chat: str | None = None, *, has_open: bool = False) -> Decision:
    """May the user open a direct chat with the service account to verify?

    It is not a group (no code, no cap, no credit): anyone but the blacklisted may,
    once at a time. A second one would be a way to many unverified rooms, so the
    person is sent back to the chat they have (it stays open until they leave it).

    Args:
        user: facts about the person.
        open_chat: the room id of their open chat, if it exists already.
        has_open: they have an open chat (``open_chat`` is None while it is being created).

    Returns:
        Allowed, or refused with blacklisted or bot_chat_exists (detail: room_id).
    """
    if user.blacklisted and not user.exempt:
        return _blacklisted(user)
    if has_open or open_chat is not None:
        return Decision.refuse(Reason.BOT_CHAT_EXISTS, room_id=open_chat)
    return Decision.allow()


def may_change_bot_chat_state(room: RoomFacts, sender: str, service_account: str, event_type: str) -> Decision:
    """May the sender change this state in a bot chat? (Art. 6: it stays two-party.)

    Only the service account changes anything but the chat's looks: join rules,
    history visibility, guest access, power levels, aliases, tombstones and every
    other type would let a third person in, show it to them, or find it.

    Returns:
        Allowed (also in every room that is not a bot chat), or refused with bot_chat_private.
    """
    if room.bot_chat_owner is None or sender == service_account or event_type in BOT_CHAT_STATE_TYPES:
        return Decision.allow()
    return Decision.refuse(Reason.BOT_CHAT_PRIVATE, event_type=event_type)


def may_open_up(room: RoomFacts) -> Decision:
    """May the room be listed in the directory, upgraded, or take an invite by e-mail or phone?

    A bot chat never: each would bring in people other than its owner (Art. 6).

    Returns:
        Allowed (every room that is not a bot chat), or refused with bot_chat_private.
    """
    if room.bot_chat_owner is not None:
        return Decision.refuse(Reason.BOT_CHAT_PRIVATE)
    return Decision.allow()


def may_enter_bot_chat(room: RoomFacts, user_id: str, service_account: str) -> Decision:
    """May this person join or be invited into the room, as far as bot chats go?

    A bot chat holds its owner and the service account, nobody else (Art. 6).

    Returns:
        Allowed (also in every room that is not a bot chat), or refused with bot_chat_private.
    """
    if room.bot_chat_owner is None or user_id in (room.bot_chat_owner, service_account):
        return Decision.allow()
    return Decision.refuse(Reason.BOT_CHAT_PRIVATE)


def may_create(user: UserFacts, category: str, policy: Policy) -> Decision:
    """May the user create a room of this category?

    Args:
        user: facts about the creator; ``rooms_owned`` does not count the new room.
        category: the requested category name.
        policy: the active policy.

    Returns:
        Allowed, or refused with invalid_category, blacklisted, realname_required,
        realname_level_insufficient, create_revoked, credit_insufficient or
        create_limit.
    """
    if not (valid := may_set_category(category, policy)).allowed:
        return valid
    if user.exempt:
        return Decision.allow()
    if user.blacklisted:
        return _blacklisted(user)
    risk = policy.categories.risk_rules[policy.categories.known[category].risk]
    # Art. 8: creators are vetted by identity; high-risk categories may ask more.
    if "create" in policy.realname.required_for and (
        refusal := _realname(user, "create", policy, min_level=risk.min_verification_level)
    ):
        return refusal
    # Art. 11: 取消建群资格.
    if user.creation_revoked:
        return Decision.refuse(Reason.CREATE_REVOKED, **until_detail(user.creation_revoked_until_ms))
    level = user_level(user, policy)
    rules = level_rules(level, policy)
    if not rules.may_create:
        return Decision.refuse(Reason.CREDIT_INSUFFICIENT, level=level, action="create")
    if refusal := _category_vetting(level, category, policy, action="create"):
        return refusal
    # Art. 8: cap on groups created per person.
    if user.rooms_owned >= rules.rooms_owned:
        return Decision.refuse(Reason.CREATE_LIMIT, cap=rules.rooms_owned, count=user.rooms_owned, level=level)
    return Decision.allow()


def may_be_co_creator(user: UserFacts, policy: Policy) -> Decision:
    """May the user become one of a group's creators (``additional_creators``, or an invitee of a
    ``trusted_private_chat`` creation, who gets the creator's power)?

    A creator holds power nobody in the room can take away (unbounded from room
    version 12, MSC4289), so a co-creator is vetted like an owner who administers
    the room (Art. 8, 9): verified as for creating, not blacklisted, not stripped
    of creating or of admin rights (Art. 11).

    Returns:
        Allowed, or refused with protected_state naming the person (``user``) and
        the check that failed (``check``).
    """
    if user.exempt:
        return Decision.allow()
    failed: str | None = None
    if user.blacklisted:
        failed = "blacklisted"
    elif "create" in policy.realname.required_for and _realname(user, "create", policy) is not None:
        failed = "realname"
    elif user.creation_revoked:
        failed = "create_revoked"
    elif user.admin_suspended:
        failed = "admin_suspended"
    if failed is None:
        return Decision.allow()
    return Decision.refuse(Reason.PROTECTED_STATE, setting="additional_creators", user=user.user_id, check=failed)


def may_upgrade(user: UserFacts, room: RoomFacts, now_ms: int, policy: Policy) -> Decision:
    """May the user replace the room by a room upgrade (a new room version)?

    An upgrade creates a room: the creator is vetted as for any new room (Art. 8),
    for the predecessor's category. It replaces one room, and the group (code,
    category, owner) moves to the new room, so it adds no room to anyone's count:
    ``user.rooms_owned`` counts the rooms the user owns now, and the upgrade is
    refused with create_limit only when that is already above the cap (e.g. after
    the user's credit level fell).

    The predecessor's measures come first and bind everyone, the exempt included:
    a closed, frozen or posting-suspended room (Art. 11, Art. 5) would leave its
    measure behind in the old room and carry on in a new one. Staff lift the measure
    first.

    Returns:
        Allowed, or refused with room_closed, emergency_freeze,
        posting_suspended_room, blacklisted, realname_required,
        realname_level_insufficient, posting_suspended_user, admin_suspended,
        create_revoked, credit_insufficient or create_limit.
    """
    if refusal := _room_state(room):
        return refusal
    if in_force(room.posting_suspended_until_ms, now_ms):
        assert room.posting_suspended_until_ms is not None
        return Decision.refuse(Reason.POSTING_SUSPENDED_ROOM, **until_detail(room.posting_suspended_until_ms))
    if user.exempt:
        return Decision.allow()
    if user.blacklisted:
        return _blacklisted(user)
    if "create" in policy.realname.required_for and (refusal := _realname(user, "create", policy)):
        return refusal
    # Art. 11: an upgrade posts into the old room and administers the new one.
    if in_force(user.muted_until_ms, now_ms):
        assert user.muted_until_ms is not None
        return Decision.refuse(Reason.POSTING_SUSPENDED_USER, **until_detail(user.muted_until_ms))
    if user.admin_suspended:
        return Decision.refuse(Reason.ADMIN_SUSPENDED, **until_detail(user.admin_suspended_until_ms))
    # A category disabled since the room was made does not stop its upgrade.
    category = room.category if may_set_category(room.category, policy).allowed else policy.categories.default_category
    decision = may_create(replace(user, rooms_owned=max(0, user.rooms_owned - 1)), category, policy)
    if decision.reason is Reason.CREATE_LIMIT:
        # Tell the real count: the user owns more rooms than their level allows.
        return Decision.refuse(Reason.CREATE_LIMIT, **{**decision.detail, "count": user.rooms_owned, "upgrade": True})
    return decision


def may_join(
    user: UserFacts,
    room: RoomFacts,
    is_invited: bool,
    now_ms: int,
    policy: Policy,
    *,
    invite_confirmed: bool = True,
) -> Decision:
    """May the user join the room?

    Args:
        user: facts about the joiner; ``rooms_joined`` does not count this room.
        room: facts about the room; ``member_count`` does not count the joiner.
        is_invited: the user holds an invite (an approved knock is an invite).
        now_ms: the current time (ms since the epoch). No join rule depends on it
            today; it keeps the signature the same as ``may_post``.
        policy: the active policy.
        invite_confirmed: the invite counts as approval (see ``invite_is_approval``).
            In a room that needs approval, an invite by a plain member is a request
            until an admin confirms it (群聊邀请确认): until then the join is refused
            with ``{"via": "invite"}``.

    Returns:
        Allowed, or refused with blacklisted, realname_required,
        realname_level_insufficient, room_closed, emergency_freeze, room_full,
        join_limit or join_approval_required.
    """
    del now_ms  # see Args
    if user.exempt:
        return Decision.allow()
    if user.blacklisted:
        return _blacklisted(user)
    tier = effective_tier(room, policy)
    # Art. 6, 8: joining small rooms stays open; larger rooms need a verified identity.
    threshold = policy.realname.join_without_verification_up_to_tier
    if tier_index(tier, policy) > tier_index(threshold, policy) and (refusal := _realname(user, "join", policy)):
        return refusal
    if refusal := _room_state(room):
        return refusal
    # Art. 8: cap on members per group …
    cap = member_cap(room, policy)
    if room.member_count >= cap:
        return Decision.refuse(Reason.ROOM_FULL, cap=cap, count=room.member_count)
    # … and on groups joined per person.
    if refusal := _rooms_joined(user, policy):
        return refusal
    # Art. 8: join verification for large rooms and high-risk categories.
    if not is_invited and needs_join_approval(room, policy):
        return Decision.refuse(Reason.JOIN_APPROVAL_REQUIRED, tier=tier, category=room.category)
    if is_invited and not invite_confirmed and needs_join_approval(room, policy):
        return Decision.refuse(Reason.JOIN_APPROVAL_REQUIRED, tier=tier, category=room.category, via="invite")
    return Decision.allow()


def invite_is_approval(inviter_is_admin: bool, inviter_is_platform: bool, *, inviter_suspended: bool = False) -> bool:
    """Whether an invite lets its invitee into a room that needs approval (Art. 8 join verification).

    An invite by the room's creator or an admin, by the service account (an approved knock
    or a confirmed invite) or by staff is the approval itself. An invite by a plain member
    (invite power is 0 in ``private_chat`` rooms) is only a request: the invitee sees it,
    and joins once an admin confirms it. So is an invite by an admin whose admin rights are
    suspended (Art. 11 暂停管理权限): approving joins is an admin function.
    """
    return inviter_is_platform or (inviter_is_admin and not inviter_suspended)


def invite_may_need_confirmation(room: RoomFacts, members_up_to: int, policy: Policy) -> bool:
    """Whether the joiner's invite can decide a join while the room has up to `members_up_to` members.

    Only in a room that needs approval is a plain member's invite a mere request (Art. 8
    群聊邀请确认); elsewhere any invite, or none, lets a permitted person in. Approval comes
    with size (``needs_join_approval`` never turns off as a room grows), so a room that needs
    none at `members_up_to` needs none at any count below: there the invite need not be read.
    """
    return needs_join_approval(replace(room, member_count=max(room.member_count, members_up_to)), policy)


def _rooms_joined(user: UserFacts, policy: Policy) -> Decision | None:
    level = user_level(user, policy)
    joined_cap = level_rules(level, policy).rooms_joined
    if user.rooms_joined >= joined_cap:
        return Decision.refuse(Reason.JOIN_LIMIT, cap=joined_cap, count=user.rooms_joined, level=level)
    return None


def may_be_in_one_more_room(user: UserFacts, policy: Policy) -> Decision:
    """Art. 8 cap on groups joined per person, for a new room whose creator is in it at once.

    Args:
        user: facts about the creator; ``rooms_joined`` counts the rooms they are in or
            entering, not the new one.
        policy: the active policy.

    Returns:
        Allowed, or refused with join_limit.
    """
    if user.exempt:
        return Decision.allow()
    return _rooms_joined(user, policy) or Decision.allow()


def may_invite(user: UserFacts, room: RoomFacts, policy: Policy) -> Decision:
    """May the user invite someone into the room?

    Returns:
        Allowed, or refused with blacklisted, realname_required,
        realname_level_insufficient, room_closed, emergency_freeze,
        credit_insufficient or room_full.
    """
    if user.exempt:
        return Decision.allow()
    if user.blacklisted:
        return _blacklisted(user)
    if "invite" in policy.realname.required_for and (refusal := _realname(user, "invite", policy)):
        return refusal
    if refusal := _room_state(room):
        return refusal
    level = user_level(user, policy)
    if not level_rules(level, policy).may_invite:
        return Decision.refuse(Reason.CREDIT_INSUFFICIENT, level=level, action="invite")
    # An invite into a full room could never be used; say so now.
    cap = member_cap(room, policy)
    if room.member_count >= cap:
        return Decision.refuse(Reason.ROOM_FULL, cap=cap, count=room.member_count)
    return Decision.allow()


def may_knock(user: UserFacts, room: RoomFacts) -> Decision:
    """May the user knock on the room (ask its admins to let them in)?

    Returns:
        Allowed, or refused with blacklisted or room_closed.
    """
    if user.blacklisted:
        return _blacklisted(user)
    if room.closed:
        return Decision.refuse(Reason.ROOM_CLOSED)
    return Decision.allow()


def may_moderate(user: UserFacts, room: RoomFacts, policy: Policy) -> Decision:
    """May the user use admin functions (warn, mute, kick, approve …) in the room?

    The caller checks the room's power levels; this adds the platform's measures.

    Returns:
        Allowed, or refused with blacklisted, admin_suspended or room_closed.
    """
    del policy  # no policy setting applies today; kept for a uniform signature
    if user.exempt:
        return Decision.allow()
    if user.blacklisted:
        return _blacklisted(user)
    # Art. 11: 暂停管理权限.
    if user.admin_suspended:
        return Decision.refuse(Reason.ADMIN_SUSPENDED, **until_detail(user.admin_suspended_until_ms))
    if room.closed:
        return Decision.refuse(Reason.ROOM_CLOSED)
    return Decision.allow()


def may_change_state(is_service_account: bool, event_type: str) -> Decision:
    """May the sender change this state event? Protected types belong to the service.

    Returns:
        Allowed, or refused with protected_state.
    """
    if event_type in PROTECTED_STATE_TYPES and not is_service_account:
        return Decision.refuse(Reason.PROTECTED_STATE, event_type=event_type)
    return Decision.allow()


MEMBER_TEXT_FIELDS: Final = ("displayname", "avatar_url", "reason")
"""The fields of a member event clients read as text."""


def may_send_member_content(content: Mapping[str, object]) -> Decision:
    """Is a member event's content well formed where it is read: name, avatar and reason text, an invite's proof?

    Synapse 1.163 answers ``PUT /state/m.room.member`` with a 500 when the display name is
    not text, or an invite's ``third_party_invite`` has no ``signed.token``; refused here,
    the client gets a 400 that names the field.

    Returns:
        Allowed, or refused with invalid_request (``field``, ``problem`` ``wrong_type``).
    """
    for field_name in MEMBER_TEXT_FIELDS:
        value = content.get(field_name)
        if value is not None and not isinstance(value, str):
            return Decision.refuse(Reason.INVALID_REQUEST, field=field_name, problem="wrong_type")
    # An invite's proof of an e-mail or phone invite: Synapse reads `signed.token` before any check.
    if "third_party_invite" in content:
        proof = content["third_party_invite"]
        signed = proof.get("signed") if isinstance(proof, Mapping) else None
        if not (isinstance(signed, Mapping) and isinstance(signed.get("token"), str)):
            return Decision.refuse(
                Reason.INVALID_REQUEST, field="third_party_invite.signed.token", problem="wrong_type"
            )
    return Decision.allow()


def may_set_membership(sender: str, target: str, membership: object, *, service: str) -> Decision:
    """May ``sender`` set ``target``'s membership so? Nobody removes the service account from a room (Art. 8, 11).

    Returns:
        Allowed, or refused with protected_state for a kick or ban of the service account by anyone else.
    """
    if target == service and sender != service and membership in ("leave", "ban"):
        return Decision.refuse(Reason.PROTECTED_STATE, event_type="m.room.member", user=service)
    return Decision.allow()


def may_publish_on_membership(user: UserFacts, room: RoomFacts, now_ms: int, policy: Policy) -> Decision:
    """May the person publish text on a membership change (its reason)?

    Such texts are shown in the room's timeline like a message, so the person's own
    standing decides as for a state event (``may_post``): a posting suspension, the
    blacklist, no real name, the convention, a read-only credit level. The room's own
    closure, freeze or posting suspension does not: there the platform itself ends
    memberships in its members' names, with its own reason.

    Returns:
        Allowed, or refused as ``may_post`` refuses for the person.
    """
    own_standing = replace(room, closed=False, frozen=False, posting_suspended_until_ms=None)
    return may_post(user, own_standing, now_ms, policy, is_message=False)


def may_change_power_levels(before: str | None, after: str | None, explanation: str = "") -> Decision:
    """May a power-levels change go ahead? It may not take the platform's powers from the service account.

    Args:
        before: ``roles.platform_shortfall`` under the room's current power levels.
        after: the same under the new ones.
        explanation: the sentence that tells the person why (the caller's language).

    Returns:
        Allowed, or refused with protected_state naming the action the service account would lose.
        A room where it already lacked one (made before the module) may still change its levels.
    """
    if after is None or before is not None:
        return Decision.allow()
    return Decision.refuse(
        Reason.PROTECTED_STATE, event_type="m.room.power_levels", action=after, explanation=explanation
    )


def may_create_alias(localpart: str, *, group_alias_by_module: bool) -> Decision:
    """May this alias be created? Code-shaped aliases belong to the groups (Art. 8).

    Args:
        localpart: the alias without ``#`` and server name.
        group_alias_by_module: the module itself is creating a group's own ``#<code>``.

    Returns:
        Allowed, or refused with alias_reserved.
    """
    if is_code_shaped(localpart) and not group_alias_by_module:
        return Decision.refuse(Reason.ALIAS_RESERVED, alias=localpart)
    return Decision.allow()


def may_set_category(category: str, policy: Policy) -> Decision:
    """Is this a category rooms may have? (Art. 7: management by category.)

    Returns:
        Allowed, or refused with invalid_category; the detail lists the choices.
    """
    known = policy.categories.known.get(category)
    if known is None or not known.enabled:
        choices = tuple(name for name, item in policy.categories.known.items() if item.enabled)
        return Decision.refuse(Reason.INVALID_CATEGORY, category=category, categories=choices)
    return Decision.allow()


def _category_vetting(level: CreditLevel, category: str, policy: Policy, **context: object) -> Decision | None:
    """Art. 8: a high-risk category asks its owner for a credit level; ``None`` when the level suffices."""
    risk = policy.categories.risk_rules[policy.categories.known[category].risk]
    if risk.min_creator_level is None or level_at_least(level, risk.min_creator_level, policy):
        return None
    return Decision.refuse(
        Reason.CREDIT_INSUFFICIENT,
        level=level,
        **context,
        required_level=risk.min_creator_level,
        category=category,
    )


def may_change_category(owner: UserFacts, category: str, policy: Policy) -> Decision:
    """May an existing room take this category, given its owner? (Art. 7 by category, Art. 8 vetting.)

    The owner is vetted as a creator of a new room of that category would be by credit
    level (``may_create``); the room already exists, so identity and caps are not asked again.

    Args:
        owner: facts about the room's owner.
        category: the requested category name.
        policy: the active policy.

    Returns:
        Allowed, or refused with invalid_category or credit_insufficient (detail: level,
        required_level, category).
    """
    if not (valid := may_set_category(category, policy)).allowed:
        return valid
    if owner.exempt:
        return Decision.allow()
    return _category_vetting(user_level(owner, policy), category, policy) or Decision.allow()


def may_set_tier(owner_level: str | None, tier: str, policy: Policy, *, staff_decision: bool = False) -> Decision:
    """May a room be registered at (or grow into) this scale tier? (Art. 8.)

    Args:
        owner_level: the owner's credit level, ``None`` for service or staff rooms.
        tier: the requested tier.
        policy: the active policy.
        staff_decision: staff decided it; lifts the owner-level and staff-tier bounds.

    Returns:
        Allowed, or refused with tier_not_allowed (detail: tier, and max_tier and level
        or staff_decision_required).
    """
    if tier not in policy.scale_tiers.names:
        return Decision.refuse(Reason.TIER_NOT_ALLOWED, tier=tier)
    if staff_decision:
        return Decision.allow()
    index = tier_index(tier, policy)
    if index >= tier_index(policy.scale_tiers.staff_decision_tier, policy):
        return Decision.refuse(Reason.TIER_NOT_ALLOWED, tier=tier, staff_decision_required=True)
    if owner_level is not None:
        max_tier = max_tier_for_level(owner_level, policy)
        if index > tier_index(max_tier, policy):
            return Decision.refuse(Reason.TIER_NOT_ALLOWED, tier=tier, max_tier=max_tier, level=owner_level)
    return Decision.allow()


def may_bind_identity(accounts_with_identity: int, policy: Policy) -> Decision:
    """May one more account be verified with an identity already bound elsewhere?

    Args:
        accounts_with_identity: accounts this identity already verifies (others).
        policy: the active policy.

    Returns:
        Allowed, or refused with identity_in_use (detail: cap, count).
    """
    cap = policy.realname.max_accounts_per_identity
    if accounts_with_identity >= cap:
        return Decision.refuse(Reason.IDENTITY_IN_USE, cap=cap, count=accounts_with_identity)
    return Decision.allow()
