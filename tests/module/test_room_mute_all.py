"""A room's mute-all (room_mute_all.py) in process, on real SQLite and PostgreSQL, with a movable clock.

It refuses a plain member's message with `room_muted_all` and its end, lets admins
post, survives a restart (a fresh cache reads the row), ends by itself when the clock
passes its end, and is lifted at once. The sender's role is read from room state in
Synapse; here it is given (`role_of`), the rest is the real module on a real database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest
from synapse.module_api import EventBase

from policies import Reason
from policies.api import MuteAllEnded
from policies.display import format_time
from policies.errors import InvalidNumber
from policies.roles import RoomRole
from synapse_module.module import QunzuModule
from synapse_module.room_mute_all import ANNOUNCE_WINDOW_MS, RoomMuteAll
from tests.module.harness import Database, MovableClock

ROOM = "!room:localhost"
OWNER = "@owner:localhost"
ADMIN = "@admin:localhost"
MEMBER = "@member:localhost"
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Message:
    room_id: str
    sender: str
    type: str = "m.room.message"

    def is_state(self) -> bool:
        return False


def message(sender: str, event_type: str = "m.room.message") -> EventBase:
    return cast(EventBase, Message(ROOM, sender, event_type))


@pytest.fixture(autouse=True)
def role_of(module: QunzuModule, monkeypatch: pytest.MonkeyPatch) -> None:
    roles = {OWNER: RoomRole("creator", 100), ADMIN: RoomRole("admin", 50)}

    async def role(room_id: str, user_id: str) -> RoomRole:
        return roles.get(user_id, RoomRole("member", 0))

    monkeypatch.setattr(module.room_roles, "role", role)


async def test_mute_all_refuses_members_not_admins_and_ends_by_itself(module: QunzuModule, clock: MovableClock) -> None:
    started = await module.mute_all.start(OWNER, ROOM, "30m", "")
    end = clock.now_ms() + 30 * MINUTE_MS
    assert started.until == end

    refused = await module.mute_all.check(message(MEMBER))
    assert refused.reason is Reason.ROOM_MUTED_ALL
    assert dict(refused.detail) == {"until": end, "permanent": False}
    assert (await module.mute_all.check(message(MEMBER, "m.reaction"))).reason is Reason.ROOM_MUTED_ALL
    assert (await module.mute_all.check(message(MEMBER, "m.room.redaction"))).allowed  # taking back one's words
    assert (await module.mute_all.check(message(ADMIN))).allowed
    assert (await module.mute_all.check(message(OWNER))).allowed

    # After a restart (a new cache, the same database) it still holds …
    restarted = RoomMuteAll(
        module.api,
        module.clock,
        store=module.store.mute_all,
        roles=module.room_roles,
        once=module.store.once,
        notifier=module.notifier,
        language="zh-CN",
    )
    assert (await restarted.check(message(MEMBER))).reason is Reason.ROOM_MUTED_ALL
    # … and it ends by itself at its end, with nothing run.
    clock.advance(30 * MINUTE_MS)
    assert (await restarted.check(message(MEMBER))).allowed
    assert (await module.mute_all.lift(OWNER, ROOM, "")).lifted is False


async def test_mute_all_without_a_duration_holds_until_lifted(
    module: QunzuModule, clock: MovableClock, database: Database
) -> None:
    assert (await module.mute_all.start(ADMIN, ROOM, None, "")).until is None
    clock.advance(365 * 24 * 60 * MINUTE_MS)
    refused = await module.mute_all.check(message(MEMBER))
    assert refused.reason is Reason.ROOM_MUTED_ALL and refused.detail["permanent"] is True
    assert (await module.mute_all.lift(ADMIN, ROOM, "")).lifted is True
    assert (await module.mute_all.check(message(MEMBER))).allowed
    actions = [row[0] for row in database.query("SELECT action FROM qunzu_audit ORDER BY seq")]
    assert actions[-2:] == ["room.mute_all", "room.unmute_all"]


@pytest.mark.parametrize("duration", ["1e20", "0", "-5m", "11y", "99999999999d", 1e20, True])
async def test_a_duration_that_is_not_one_is_refused_before_anything_is_stored(
    module: QunzuModule, duration: Any
) -> None:
    with pytest.raises(InvalidNumber):
        await module.mute_all.start(OWNER, ROOM, duration, "")
    assert (await module.mute_all.check(message(MEMBER))).allowed


async def test_staff_see_and_lift_a_mute_all_like_any_measure(module: QunzuModule) -> None:
    started = await module.mute_all.start(OWNER, ROOM, "7d", "")
    listed = await module.store.measures.list_sanctions(ROOM, True, 10)
    assert [(s.id, s.measure, s.subject_type) for s in listed] == [(started.id, "mute_all", "room_all")]
    assert (await module.mute_all.check(message(MEMBER))).reason is Reason.ROOM_MUTED_ALL
    assert started.id is not None
    await module.measures.lift("@staff:localhost", started.id, "mistake")
    assert (await module.mute_all.check(message(MEMBER))).allowed


class RoomNotices:
    """Stands in for `Notifier.to_room`: what each room was told; `failing` rooms cannot be posted in."""

    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []
        self.failing: set[str] = set()

    async def to_room(self, room_id: str, body: str) -> bool:
        if room_id in self.failing:
            return False
        self.told.append((room_id, body))
        return True


async def test_a_mute_all_that_ends_by_itself_is_announced_once_and_a_lifted_or_endless_one_never(
    module: QunzuModule, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rooms = RoomNotices()
    monkeypatch.setattr(module.notifier, "to_room", rooms.to_room)
    timed = await module.mute_all.start(OWNER, ROOM, "30m", "")
    assert timed.until is not None
    await module.mute_all.start(OWNER, "!lifted:localhost", "30m", "")
    await module.mute_all.lift(OWNER, "!lifted:localhost", "")
    await module.mute_all.start(OWNER, "!endless:localhost", None, "")
    await module.mute_all.start(OWNER, "!unreachable:localhost", "10m", "")
    rooms.failing.add("!unreachable:localhost")

    assert await module.mute_all.announce_ended() == MuteAllEnded(ended=0, told=0)  # nothing has ended yet
    clock.advance(30 * MINUTE_MS)
    assert await module.mute_all.announce_ended() == MuteAllEnded(ended=2, told=1)
    assert rooms.told == [(ROOM, f"全员禁言已于 {format_time(timed.until)} 结束，大家可以正常发言了。")]
    assert (await module.mute_all.check(message(MEMBER))).allowed

    # Told once, whichever process runs the job next; the room that could not be told is tried again.
    rooms.failing.clear()
    assert await module.mute_all.announce_ended() == MuteAllEnded(ended=1, told=1)
    assert [room for room, _body in rooms.told] == [ROOM, "!unreachable:localhost"]
    assert await module.mute_all.announce_ended() == MuteAllEnded(ended=0, told=0)
    # Past the window (a process stopped for longer), an old end is no news any more.
    await module.mute_all.start(OWNER, ROOM, "1m", "")
    clock.advance(ANNOUNCE_WINDOW_MS + 2 * MINUTE_MS)
    assert await module.mute_all.announce_ended() == MuteAllEnded(ended=0, told=0)
    assert len(rooms.told) == 2
