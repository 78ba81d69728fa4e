"""Telling a person in their bot chat what happened to their own actions (DESIGN.md §6.3).

Standard clients may hide a refusal's text (nheko shows only "Failed"), so every
refusal of a local person's action that reaches them as an error is also told in
their bot chat (`Notifier.to_user`), with where it happened and the next step.
The same chat greets a new account with its verification link and the
convention, and tells a group's creator the group's code.

Who is told: local people only; never the service account, appservice users or
guests. Refusals a person sees in another way are not repeated: answers of the
module's HTTP API (the bot relays them in the chat where the command was given,
the verification form shows them on the page) and the second bot chat, where the
module already answers in the first (`GroupCreation._back_to_bot_chat`). A refusal of
something sent *in* the bot chat is told there too: the refused event never
reaches the bot, so nobody else would answer it.

At most once per person, reason and room per `REFUSAL_NOTICE_EVERY_MS`, however
many processes refuse at once: the key is taken in the database
(`store/once.py`), so parallel refusals and client retries make one notice, and
the memory this takes is bounded by the window (expired keys are pruned by a
job), not by the number of people ever refused.

Nothing here may delay or break the refusal itself: `refused`, `greet` and
`group_created` return at once and queue their work (`work_queue.py`), done a
few items at a time in the background, so a crowd refused at once or a batch of
registrations never fills the database's queue in front of other requests; a
failure is logged once there and reaches no caller.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Literal

from synapse.module_api import EventBase
from synapse.module_api.errors import SynapseError

from policies import Reason, render
from policies.api import OnceForgotten
from policies.api.paths import group_page_url
from policies.constants import REFUSAL_NOTICE_EVERY_MS
from policies.messages import resolve_language

from .errors import Refusal, RequestError
from .notice_texts import notice_text, notice_time
from .store.once import FOREVER_MS
from .work_queue import WorkQueue

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .cache import ClusterCache
    from .config import QunzuConfig
    from .health import Health
    from .notices import Notifier
    from .realname import RealnameService
    from .store.groups import GroupRecord, GroupStore
    from .store.once import OnceStore

logger = logging.getLogger(__name__)

Action = Literal[
    "message", "state", "member", "join", "invite", "create", "alias", "upgrade", "publish", "admin", "profile"
]

# Refusals whose way forward is verification: the notice carries a one-time link to the form.
_VERIFY = frozenset({Reason.REALNAME_REQUIRED, Reason.REALNAME_LEVEL_INSUFFICIENT})
# Refusals a person may contest (their policy text names 申诉 / !appeal).
_APPEALABLE = frozenset(
    {
        Reason.PROHIBITED_CONTENT,
        Reason.BLACKLISTED,
        Reason.POSTING_SUSPENDED_USER,
        Reason.ROOM_CLOSED,
        Reason.CREATE_REVOKED,
        Reason.ADMIN_SUSPENDED,
    }
)
# Told already in the bot chat by the code that refuses.
_TOLD_ELSEWHERE = frozenset({Reason.BOT_CHAT_EXISTS})
# Greetings open a room each: a few at a time, so a batch of registrations (an operator's
# import, a bench's setup) never takes every database connection from the server's requests.
# Every account is greeted, however many wait.
GREETINGS_AT_ONCE = 2
# The `qunzu_once` key of an account's greeting: taken when it begins, never released once sent.
GREETING_KEY = "greeting|"
# A start greets accounts of this long ago whose greeting never began (a restart lost the queue).
GREETING_CATCH_UP_MS = 7 * 24 * 3600 * 1000
GREETING_CATCH_UP_BATCH = 10_000


def action_of(event: EventBase) -> Action:
    """What a person was doing with an event, in the words of the notice."""
    if event.type == "m.room.member" and event.is_state():
        return "member"
    if event.type == "m.room.redaction":
        return "admin"
    return "state" if event.is_state() else "message"


class BotChatNotices:
    """Notices to one person in their bot chat about their own actions."""

    def __init__(
        self,
        api: ModuleApi,
        config: QunzuConfig,
        *,
        health: Health,
        once: OnceStore,
        group_store: GroupStore,
        group_records: ClusterCache[str, GroupRecord | None],
        realname: RealnameService,
        notifier: Notifier,
        queue: WorkQueue,
    ) -> None:
        """Build the notices.

        Args:
            group_records: The registry's cache of a room's group (`Groups.record`).
            queue: The process's queue of notices (`notices.notice_queue`): refusals and
                group codes are posted from it.
        """
        self._api = api
        self._config = config
        self._health = health
        self._once_keys = once
        self._group_store = group_store
        self._group_records = group_records
        self._realname = realname
        self._notifier = notifier
        self._service = config.service_account
        self._language = config.language
        # Per person, the notices waiting while one is being posted (see `_to_user`).
        self._queues: dict[str, list[str]] = {}
        # New accounts waiting for their greeting (`GET /health` → `greetings`).
        self.greetings = WorkQueue(api, "qunzu_greeting", at_once=GREETINGS_AT_ONCE, limit=None)
        self._notices = queue

    # -- entry points: each returns at once ---------------------------------------------

    def refused(self, user_id: str, room_id: str | None, refusal: Refusal, action: Action) -> None:
        """Tell `user_id` in their bot chat about a refusal they are being given right now."""
        if refusal.reason in _TOLD_ELSEWHERE or not self._is_person(user_id):
            return
        self._notices.add(
            "refusal notice",
            lambda: self._tell_refusal(user_id, room_id, refusal, action),
            key=_refusal_key(user_id, refusal, room_id),
        )

    async def on_user_registration(self, user_id: str) -> None:
        """Synapse's account-validity callback: returns at once, registration never waits."""
        self.greet(user_id)

    def greet(self, user_id: str) -> None:
        """Greet a new account (Synapse's `on_user_registration`): once per account ever."""
        if not self._is_person(user_id):
            return
        self.greetings.add("greeting", lambda: self._greet(user_id), key=user_id)

    async def greet_missed(self, now_ms: int) -> int:
        """At start (background instance): greet accounts of the last `GREETING_CATCH_UP_MS` whose
        greeting never began: their registration's process stopped with them still waiting.

        Returns:
            How many were queued (a fault is logged; the next start looks again).
        """
        try:
            await self._health.ready()
            missed = await self._once_keys.accounts_without(
                GREETING_KEY, now_ms - GREETING_CATCH_UP_MS, GREETING_CATCH_UP_BATCH
            )
        except Exception:
            logger.exception("qunzu: looking for accounts never greeted failed; the next start looks again")
            return 0
        for user_id in missed:
            self.greet(user_id)
        if missed:
            logger.info("qunzu: greeting %d accounts a restart had left waiting", len(missed))
        return len(missed)

    def group_created(self, record: GroupRecord, room_id: str) -> None:
        """Tell a group's creator its code, its address and its info page (once per group).

        Not for bot chats, nor for private chats: one that becomes a group is announced to its
        owner by `PrivateChats.publish`.
        """
        if record.verification_dm or record.private_chat or not self._is_person(record.creator):
            return
        # Nothing else tells the creator their group's code: never dropped (creations are capped per person).
        self._notices.add(
            "group code notice", lambda: self._tell_code(record, room_id), key=_code_key(record.code), required=True
        )

    # -- the work, in the background ----------------------------------------------------

    def _is_person(self, user_id: str) -> bool:
        return user_id != self._service and self._api.is_mine(user_id)

    async def _to_user(self, user_id: str, body: str) -> bool:
        """Post into the person's bot chat, one notice after the other.

        The first notice to a person without a chat opens one; a second posted meanwhile
        (a greeting and a refusal a moment after registration) would open another. So
        while one is under way for a person, further notices wait in a queue that the
        first caller posts, in order, into the chat it found or opened.

        Returns:
            False when a notice of this caller's turn could not be posted.
        """
        queue = self._queues.get(user_id)
        if queue is not None:
            queue.append(body)
            return True
        queue = self._queues[user_id] = [body]
        told = True
        try:
            while queue:
                told = await self._notifier.to_user(user_id, queue.pop(0)) and told
        finally:
            del self._queues[user_id]
        return told

    async def _is_real_person(self, user_id: str) -> bool:
        """Not an appservice user, a guest or a closed account (they have nobody reading a bot chat)."""
        info = await self._api.get_userinfo_by_id(user_id)
        return info is not None and info.appservice_id is None and not info.is_guest and not info.is_deactivated

    async def _tell_refusal(self, user_id: str, room_id: str | None, refusal: Refusal, action: Action) -> None:
        await self._health.ready()
        if not await self._is_real_person(user_id):
            return
        key = _refusal_key(user_id, refusal, room_id)
        if not await self._once_keys.claim(key, REFUSAL_NOTICE_EVERY_MS):
            return  # told within the window (another process, a parallel request, a client retry)
        await self._once(key, self._send_refusal(user_id, room_id, refusal, action))

    async def _once(self, key: str, sending: Awaitable[bool]) -> None:
        """Await a send whose key is taken; give the key back when nobody was told."""
        try:
            told = await sending
        except BaseException:
            await self._once_keys.release(key)
            raise
        if not told:
            # The next occasion may try again.
            await self._once_keys.release(key)
            logger.info("qunzu: a notice could not be delivered to a person's bot chat (%s)", key.split("|", 1)[0])

    async def _send_refusal(self, user_id: str, room_id: str | None, refusal: Refusal, action: Action) -> bool:
        language = self._language
        body = notice_text(
            "refused",
            language,
            action=notice_text(f"action_{action}", language),
            where=await self._where(room_id, user_id),
            reason=render(refusal.reason, language, refusal.detail, self._config.policy),
        )
        body += await self._next_step(user_id, refusal.reason) + notice_text("repeat_note", language)
        return await self._to_user(user_id, body)

    async def _where(self, room_id: str | None, user_id: str) -> str:
        if room_id is None:
            return ""
        language = self._language
        record = await self._group_records.get(room_id)
        if record is not None and record.verification_dm:
            return ""  # the bot chat itself: "here"
        if record is None:
            return notice_text("where_room_id", language, room_id=room_id)
        name = await self._room_name(room_id)
        if name is None:
            return notice_text("where_group", language, code=record.code)
        return notice_text("where_room", language, name=name, code=record.code)

    async def _room_name(self, room_id: str) -> str | None:
        state = await self._api.get_room_state(room_id, [("m.room.name", "")])
        event = state.get(("m.room.name", ""))
        name = event.content.get("name") if event is not None else None
        return name.strip() if isinstance(name, str) and name.strip() else None

    async def _next_step(self, user_id: str, reason: Reason) -> str:
        language = self._language
        if reason in _VERIFY:
            link = await self._link(user_id)
            if link is None:
                return notice_text("realname_next", language)
            url, until = link
            return notice_text("realname_link", language, url=url, until=until)
        if reason in _APPEALABLE:
            return notice_text("appeal_next", language)
        return ""

    async def _link(self, user_id: str) -> tuple[str, str] | None:
        """A one-time link to the verification form, or None (verified already, pending review)."""
        try:
            link = await self._realname.create_link(user_id)
        except (SynapseError, RequestError):
            return None
        return link.url, notice_time(link.expires_at, self._language)

    async def _greet(self, user_id: str) -> None:
        await self._health.ready()
        if not await self._is_real_person(user_id):
            return
        key = GREETING_KEY + user_id
        if await self._once_keys.claim(key, FOREVER_MS):
            await self._once(key, self._send_greeting(user_id))

    async def _send_greeting(self, user_id: str) -> bool:
        language = self._language
        link = await self._link(user_id)
        link_text = (
            notice_text("greeting_link", language, url=link[0], until=link[1])
            if link is not None
            else notice_text("greeting_no_link", language)
        )
        convention = self._config.policy.convention
        body = notice_text(
            "greeting",
            language,
            link=link_text,
            version=convention.version,
            convention=convention.text[resolve_language(language)].strip(),
        )
        return await self._to_user(user_id, body)

    async def _tell_code(self, record: GroupRecord, room_id: str) -> None:
        await self._health.ready()
        key = _code_key(record.code)
        if await self._once_keys.claim(key, FOREVER_MS):
            await self._once(key, self._send_code(record, room_id))

    async def _send_code(self, record: GroupRecord, room_id: str) -> bool:
        language = self._language
        policy = self._config.policy
        members = await self._group_store.member_count(room_id, self._service)
        page = ""
        if members >= policy.scale_tiers.info_page_from_members:
            page = notice_text("group_page", language, url=group_page_url(self._api.public_baseurl, record.code))
        body = notice_text(
            "group_code",
            language,
            name=await self._room_name(room_id) or notice_text("unnamed_group", language),
            code=record.code,
            alias=f"#{record.code}:{self._api.server_name}",
            page=page,
        )
        return await self._to_user(record.creator, body)


def _refusal_key(user_id: str, refusal: Refusal, room_id: str | None) -> str:
    """The `qunzu_once` key of a refusal's notice: one per person, reason and room per window."""
    return f"refusal|{user_id}|{refusal.reason.value}|{room_id or '-'}"


def _code_key(code: str) -> str:
    """The `qunzu_once` key of a group's code notice: once per group, ever."""
    return f"group_code|{code}"


async def forget_expired(once: OnceStore) -> OnceForgotten:
    """Job: drop expired once-keys in batches (the table holds one window's worth)."""
    total = 0
    while (forgotten := await once.forget_expired(_FORGET_BATCH)) > 0:
        total += forgotten
    return OnceForgotten(forgotten=total)


_FORGET_BATCH = 1000
