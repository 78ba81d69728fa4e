"""A person's role in a room (creator, admin, member), read from the room's current state."""

from __future__ import annotations

from synapse.module_api import ModuleApi

from policies.roles import RoomRole, room_role

from .errors import NotFound


class RoomRoles:
    """Reads the create event and power levels; `policies.roles` decides the role."""

    def __init__(self, api: ModuleApi) -> None:
        self._api = api

    async def role(self, room_id: str, user_id: str) -> RoomRole:
        """The user's role from the room's create event and power levels (``policies.roles``).

        Raises:
            NotFound: a room this server has no state of.
        """
        state = await self._api.get_room_state(room_id, [("m.room.create", ""), ("m.room.power_levels", "")])
        create = state.get(("m.room.create", ""))
        if create is None:
            raise NotFound("Unknown room")
        levels = state.get(("m.room.power_levels", ""))
        return room_role(user_id, create.sender, create.content, levels.content if levels is not None else None)
