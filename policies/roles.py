"""A user's role in a room (群主 creator, 管理员 admin, 成员 member; Art. 8, 9), from the room's state.

The same rule for the module (room-admin commands, the info page) and the bot
(command permissions, role notices), computed the way Synapse computes power:

- Creators: from room version 12 (MSC4289) the create event's sender and its
  ``additional_creators``; they hold unbounded power and are not listed in
  ``m.room.power_levels``. Before, the single creator (the sender; ``content.creator``
  before version 11) holds the power level ``users`` gives them, and
  ``additional_creators`` means nothing.
- Power: ``users[user]``, else ``users_default``; without a power-levels event the
  creator has 100 and everyone else 0.
- Admin: a non-creator whose power reaches ``ADMIN_POWER_LEVEL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from .constants import ADMIN_POWER_LEVEL, GROUP_STATE_TYPE, SERVER_ACL_STATE_TYPE

RoleName = Literal["creator", "admin", "member"]

CREATOR_POWER: Final = 1 << 62
"""The power of a creator in room versions with unbounded creator power (above any power level)."""

_UNBOUNDED_CREATOR_VERSIONS: Final = frozenset({"org.matrix.hydra.11"})
"""Unstable room versions with MSC4289 creator power (stable ones: 12 and later)."""
_IMPLICIT_CREATOR_VERSIONS: Final = frozenset({"org.matrix.msc3757.11", "org.matrix.hydra.11"})
"""Unstable room versions where the creator is the create event's sender (stable ones: 11 and later)."""


@dataclass(frozen=True)
class RoomRole:
    """A user's role and power in a room."""

    role: RoleName
    power: int

    @property
    def is_admin(self) -> bool:
        """Creators and admins administer the room."""
        return self.role != "member"

    def outranks(self, other: RoomRole) -> bool:
        """Whether this user may act on ``other``: creators on everyone else, others on lower power."""
        if other.role == "creator":
            return False
        return self.role == "creator" or self.power > other.power


def _version_number(room_version: str) -> int | None:
    return int(room_version) if room_version.isdigit() else None


def creators_have_unbounded_power(room_version: str) -> bool:
    """Whether creators hold unbounded power (room version 12 and later, MSC4289)."""
    number = _version_number(room_version)
    return (number is not None and number >= 12) or room_version in _UNBOUNDED_CREATOR_VERSIONS


_SYNAPSE_CREATOR_LISTED_VERSIONS: Final = frozenset(
    {*(str(number) for number in range(1, 12)), "org.matrix.msc3757.10", "org.matrix.msc3757.11"}
)
"""Versions Synapse 1.163 knows whose creator holds the power ``users`` gives them."""
_SYNAPSE_CREATOR_UNBOUNDED_VERSIONS: Final = frozenset({"12", "org.matrix.hydra.11"})
"""Versions Synapse 1.163 knows with MSC4289 creator power."""


def override_names_creator(room_version: object) -> bool | None:
    """Whether a creation's ``power_level_content_override.users`` must name the creator.

    True before room version 12 (Synapse refuses an override without them), False
    from version 12 (MSC4289: creators must not be in ``users``), None for a value
    this module cannot place (not named, or unknown to Synapse 1.163).
    """
    if room_version in _SYNAPSE_CREATOR_LISTED_VERSIONS:
        return True
    if room_version in _SYNAPSE_CREATOR_UNBOUNDED_VERSIONS:
        return False
    return None


def version_change_keeps_creators(old_version: str, new_version: object) -> bool:
    """Whether an upgrade from ``old_version`` to ``new_version`` leaves the upgrader their power.

    Synapse 1.163 copies the old room's power levels into the new room. A room with
    MSC4289 creator power lists no creator in ``users``, so moving it to a version
    before 12 leaves its creator at ``users_default`` (0) in the new room: nobody
    there could govern it (Art. 8).
    """
    if not creators_have_unbounded_power(old_version):
        return True
    return not (isinstance(new_version, str) and override_names_creator(new_version) is True)


def room_creators(create_sender: str | None, create_content: Mapping[str, Any]) -> frozenset[str]:
    """The room's creators, from its ``m.room.create`` event (sender and content)."""
    version = str(create_content.get("room_version", "1"))
    number = _version_number(version)
    if (number is not None and number >= 11) or version in _IMPLICIT_CREATOR_VERSIONS:
        creator: object = create_sender
    else:
        creator = create_content.get("creator", create_sender)
    creators = {creator} if isinstance(creator, str) else set()
    if creators_have_unbounded_power(version):
        extra = create_content.get("additional_creators")
        if isinstance(extra, list):
            creators.update(user for user in extra if isinstance(user, str))
    return frozenset(creators)


def _as_level(value: object) -> int:
    """A power level as Synapse reads it: an int (old rooms also allow an integer string), else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return 0


def power_of(
    user_id: str, create_content: Mapping[str, Any], creators: Iterable[str], power_levels: Mapping[str, Any] | None
) -> int:
    """The user's power in the room, as Synapse's auth rules compute it.

    Args:
        user_id: the user.
        create_content: the ``m.room.create`` content (for ``room_version``).
        creators: ``room_creators`` of the room.
        power_levels: the ``m.room.power_levels`` content, ``None`` when the room has none.
    """
    is_creator = user_id in set(creators)
    if is_creator and creators_have_unbounded_power(str(create_content.get("room_version", "1"))):
        return CREATOR_POWER
    if power_levels is None:
        return 100 if is_creator else 0
    users = power_levels.get("users")
    if isinstance(users, Mapping) and user_id in users:
        return _as_level(users[user_id])
    return _as_level(power_levels.get("users_default", 0))


def room_role(
    user_id: str,
    create_sender: str | None,
    create_content: Mapping[str, Any],
    power_levels: Mapping[str, Any] | None,
) -> RoomRole:
    """The user's role (creator, admin or member) and power in the room.

    Args:
        user_id: the user.
        create_sender: the sender of the room's ``m.room.create`` event.
        create_content: its content.
        power_levels: the ``m.room.power_levels`` content, ``None`` when the room has none.
    """
    creators = room_creators(create_sender, create_content)
    power = power_of(user_id, create_content, creators, power_levels)
    if user_id in creators:
        return RoomRole("creator", power)
    return RoomRole("admin" if power >= ADMIN_POWER_LEVEL else "member", power)


def room_admins(
    create_sender: str | None, create_content: Mapping[str, Any], power_levels: Mapping[str, Any] | None
) -> list[str]:
    """The room's admins (not its creators) listed in its power levels, sorted."""
    creators = room_creators(create_sender, create_content)
    users = (power_levels or {}).get("users")
    if not isinstance(users, Mapping):
        return []
    return sorted(
        user
        for user in users
        if isinstance(user, str)
        and user not in creators
        and power_of(user, create_content, creators, power_levels) >= ADMIN_POWER_LEVEL
    )


PLATFORM_STATE_TYPES: Final = (
    "m.room.join_rules",
    SERVER_ACL_STATE_TYPE,
    GROUP_STATE_TYPE,
    "m.room.canonical_alias",
    "m.room.pinned_events",
)
"""State the service account sets in a group: join approval, the ACL, the group's record, its
``#<code>`` and pinned announcements."""

PLATFORM_MESSAGE_TYPES: Final = ("m.room.message", "m.room.redaction")
"""Events the service account sends into a group: notices and announcements, redactions."""


def _required_level(power_levels: Mapping[str, Any], action: str) -> int:
    """The power an action needs under these power levels (the spec's defaults where unset)."""
    if action in ("kick", "ban", "redact"):
        return _as_level(power_levels.get(action, 50))
    if action == "invite":
        return _as_level(power_levels.get("invite", 0))
    events = power_levels.get("events")
    if isinstance(events, Mapping) and action in events:
        return _as_level(events[action])
    if action in PLATFORM_STATE_TYPES:
        return _as_level(power_levels.get("state_default", 50))
    return _as_level(power_levels.get("events_default", 0))


def platform_shortfall(
    service: str, create_content: Mapping[str, Any], creators: Iterable[str], power_levels: Mapping[str, Any] | None
) -> str | None:
    """The first thing the service account could not do in a room under these power levels.

    The platform acts in every group through the service account (Art. 8, 11): it kicks and
    bans for measures, redacts refused texts, switches the join rule at the approval tier,
    keeps the ACL, the group state and the ``#<code>`` alias, posts and pins. A creator of a
    room version with unbounded creator power can do all of it.

    Args:
        service: the service account.
        create_content: the room's ``m.room.create`` content.
        creators: ``room_creators`` of the room.
        power_levels: the ``m.room.power_levels`` content, ``None`` when the room has none.

    Returns:
        ``kick``, ``ban``, ``redact``, ``invite`` or an event type, or None when it can do all.
    """
    power = power_of(service, create_content, creators, power_levels)
    if power_levels is None:
        return None if power >= 50 else "kick"
    for action in ("kick", "ban", "redact", "invite", *PLATFORM_STATE_TYPES, *PLATFORM_MESSAGE_TYPES):
        if power < _required_level(power_levels, action):
            return action
    return None
