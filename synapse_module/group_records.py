"""The group of a room, cached on every process: read by every message and join."""

from __future__ import annotations

from synapse.module_api import ModuleApi

from policies.constants import GROUP_STATE_TYPE

from .cache import ClusterCache
from .store.groups import GroupRecord, GroupStore

GroupRecords = ClusterCache[str, GroupRecord | None]


def group_records(api: ModuleApi, store: GroupStore) -> GroupRecords:
    """The cache of a room's group (`Groups.record`), shared by the services that read it.

    "No group yet" is not remembered: a new room is linked a moment later.
    """

    async def load(room_id: str) -> GroupRecord | None:
        """The room's group; a room seen before the follower linked it is linked here, at once.

        Without this a room would count as ungoverned for its first second (no
        owner bound on its member cap), and joins racing its creation could
        overshoot the cap.
        """
        record = await store.by_room(room_id)
        if record is not None:
            return record
        state = await api.get_room_state(room_id, [(GROUP_STATE_TYPE, "")])
        event = state.get((GROUP_STATE_TYPE, ""))
        code = event.content.get("code") if event is not None else None
        if not isinstance(code, str):
            return None  # a room from before Qunzu, until the backfill gives it a code
        await store.link(code, room_id)
        return await store.by_room(room_id)

    return ClusterCache(api, "qunzu_group_by_room", load, cache_none=False)
