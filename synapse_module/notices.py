"""Telling people about measures: a room notice, or a direct chat from the service account.

The public module API has no server-notice call, so a person is told in a
direct chat the service account opens once per person (remembered in
`qunzu_notice_rooms`) and reuses; a room measure is announced in the room as an
`m.notice` from the service account (it is in every governed room once groups
land; until then it joins public rooms on its own, and private rooms it is not
in fall back to the owner's direct chat).
"""

from __future__ import annotations

import logging

from synapse.module_api import ModuleApi
from synapse.module_api.errors import SynapseError

from .store.notice_rooms import NoticeRoomStore

# Marks the chat (and its owner) in its create event: a bot chat, not a group (verification_chat.py).
from .verification_chat import BOT_CHAT_OWNER_KEY, NOTICE_ROOM_KEY
from .work_queue import WorkQueue

logger = logging.getLogger(__name__)

# Notices that follow a request (a refusal, a new group's code, a report's acknowledgement and
# outcome, the room's staff told of a report) are posted from one queue, a few at a time: the
# first notice to a person opens their bot chat, as much of the database's time as creating a
# room, and a crowd's notices started at once would queue in front of every request meanwhile.
# People can cause notices as fast as they send requests, so the waiting ones are bounded.
NOTICES_AT_ONCE = 2
NOTICES_WAITING_LIMIT = 10_000


def notice_queue(api: ModuleApi) -> WorkQueue:
    """The process's queue of notices to people (`GET /health` → `notices`)."""
    return WorkQueue(api, "qunzu_notice", at_once=NOTICES_AT_ONCE, limit=NOTICES_WAITING_LIMIT)


# While another process opens a person's chat, a notice waits for it this often, this long at most.
_CLAIM_WAIT_S = 0.2
_CLAIM_ATTEMPTS = 50


class Notifier:
    """Sends `m.notice` messages as the service account."""

    def __init__(self, api: ModuleApi, service_account: str, rooms: NoticeRoomStore) -> None:
        self._api = api
        self._service = service_account
        self._rooms = rooms

    async def to_room(self, room_id: str, body: str) -> bool:
        """Post a notice into the room; join it first if the service account is not in it."""
        if await self._send(room_id, body):
            return True
        try:
            await self._api.update_room_membership(self._service, self._service, room_id, "join")
        except SynapseError as exc:
            logger.info("qunzu: the service account cannot join room %s to post a notice (%s)", room_id, exc.code)
            return False
        return await self._send(room_id, body)

    async def to_user(self, user_id: str, body: str) -> bool:
        """Post a notice into the person's direct chat with the service account (opened if needed)."""
        if not self._api.is_mine(user_id) or user_id == self._service:
            return False
        room_id = await self._rooms.room_of(user_id)
        if room_id is not None and await self._send(room_id, body):
            await self._reinvite_if_left(room_id, user_id)
            return True
        # No chat yet, or the chat is gone (a send into it failed): one caller opens a new one.
        room_id = await self._chat_of(user_id, gone=room_id)
        return room_id is not None and await self._send(room_id, body)

    async def _chat_of(self, user_id: str, *, gone: str | None = None) -> str | None:
        """The person's chat, opened here unless another process (or call) opens it meanwhile.

        `gone` is a chat that no longer takes notices: it is replaced once, whoever notices first.
        """
        for _ in range(_CLAIM_ATTEMPTS):
            claim = await self._rooms.claim(user_id, gone=gone)
            if claim == "ours":
                return await self._open(user_id)
            if claim != "opening":
                return claim
            await self._api.sleep(_CLAIM_WAIT_S)
        logger.warning("qunzu: another process has been opening a user's notice chat for too long")
        return None

    async def _open(self, user_id: str) -> str | None:
        """Open the person's chat under this caller's claim (released if the opening fails)."""
        try:
            room_id, _alias = await self._api.create_room(
                self._service,
                {
                    "preset": "trusted_private_chat",
                    "is_direct": True,
                    "invite": [user_id],
                    "creation_content": {NOTICE_ROOM_KEY: True, BOT_CHAT_OWNER_KEY: user_id},
                    "name": "Qunzu",
                },
                ratelimit=False,
            )
        except SynapseError as exc:
            logger.warning("qunzu: could not open a notice chat with a user (%s)", exc.code)
            await self._rooms.release(user_id)
            return None
        except BaseException:
            # Whatever stopped the opening, the next notice must not wait for it.
            await self._rooms.release(user_id)
            raise
        await self._rooms.set(user_id, room_id)
        return room_id

    async def _reinvite_if_left(self, room_id: str, user_id: str) -> None:
        state = await self._api.get_room_state(room_id, [("m.room.member", user_id)])
        member = state.get(("m.room.member", user_id))
        if member is None or member.membership in ("leave",):
            try:
                await self._api.update_room_membership(self._service, user_id, room_id, "invite")
            except SynapseError as exc:
                logger.info("qunzu: could not invite a user back into the notice chat (%s)", exc.code)

    async def _send(self, room_id: str, body: str) -> bool:
        try:
            await self._api.create_and_send_event_into_room(
                {
                    "type": "m.room.message",
                    "room_id": room_id,
                    "sender": self._service,
                    "content": {"msgtype": "m.notice", "body": body},
                }
            )
        except SynapseError as exc:
            logger.info("qunzu: a notice to room %s was not accepted (%s)", room_id, exc.code)
            return False
        return True
