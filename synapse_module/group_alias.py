"""The group code alias `#<code>:<server>` belongs to its group (Art. 8: 唯一群组识别编码, displayed).

Creating: Synapse asks `user_may_create_room_alias(user_id, alias)` before every local
alias a person creates (`PUT /directory/room/{alias}` and `room_alias_name` at
creation; server admins included, application services not). Code-shaped aliases
(nine digits, separators ignored, check digit or not: `policies.codes.is_code_shaped`)
are reserved: the only ones let through are the group's own `#<code>` that
`on_create_room` adds to its creation request (`expect`), and the ones the service
account creates for an open group's code (the restoration below).

Deleting: Synapse 1.163 has no module callback before an alias is deleted. Its creator,
server admins and anyone with the power to change the room's `m.room.canonical_alias`
may delete it (`handlers/directory.py` `delete_association`). The module therefore
puts it back:

- at once, when the deletion updates the room's canonical alias: Synapse sends that
  update as the deleting user through `check_event_for_spam` *after* the alias is gone.
  `on_canonical_alias` re-creates the alias, then refuses the update, so the person
  gets 403 `alias_reserved` and the room's canonical alias stays as it was;
- otherwise (the code was not in the canonical alias) within a minute: the job
  `restore_code_aliases` finds open groups whose alias row is missing.

The module API has no call that creates an alias, and the directory handler is not
part of it. What works through the public API: `api.register_device` gives the module
an access token of its own for the service account (once per process, a device named
`QUNZU_MODULE`), and `api.http_client` calls `PUT /_matrix/client/v3/directory/room/{alias}`
on this very server (`client_url` in the module config, default `public_baseurl`). That
request passes Synapse's own checks (the service account must be in the room, as it is
in every group) and this module's `user_may_create_room_alias`, and the alias' creator
is then the service account, so the room's creator can no longer delete it as "its
creator" (room admins still can, and get it restored as above).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from synapse.module_api import EventBase, make_deferred_yieldable
from synapse.module_api.errors import SynapseError
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

from policies import Decision, decisions
from policies.api import AliasSweep
from policies.codes import is_code_shaped

from .errors import AliasRestoreError

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .cache import ClusterCache
    from .clock import Clock
    from .config import QunzuConfig
    from .store.audit import AuditStore
    from .store.groups import GroupRecord, GroupStore

logger = logging.getLogger(__name__)

DEVICE_ID = "QUNZU_MODULE"
# How long a creation's own `#<code>` stays expected (a creation that fails never uses it).
EXPECT_MS = 30_000
# A group whose alias could not be restored is tried again after this long (not every minute).
RETRY_MS = 3600 * 1000
SWEEP_BATCH = 100
SWEEP_EVERY_MS = 60_000


class CodeAliases:
    """Reserves code-shaped aliases and keeps every open group's `#<code>` pointing at its room."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        store: GroupStore,
        audit: AuditStore,
        group_records: ClusterCache[str, GroupRecord | None],
    ) -> None:
        """`group_records` is the registry's cache of a room's group (`Groups.record`)."""
        self._api = api
        self._clock = clock
        self._config = config
        self._store = store
        self._audit = audit
        self._group_records = group_records
        # (user_id, code) -> expiry: the `#<code>` a creation request of that user is about to create.
        self._expected: dict[tuple[str, str], int] = {}
        # code -> when restoring it last failed, so a room that cannot get it is not retried every minute.
        self._failed: dict[str, int] = {}
        self._token: str | None = None

    def alias_of(self, code: str) -> str:
        return f"#{code}:{self._api.server_name}"

    # -- creating ----------------------------------------------------------------------------

    def expect(self, user_id: str, code: str) -> None:
        """`on_create_room` adds `room_alias_name=<code>`: let exactly that creation make it."""
        now = self._clock.now_ms()
        self._expected = {key: until for key, until in self._expected.items() if until > now}
        self._expected[(user_id, code)] = now + EXPECT_MS

    async def check(self, user_id: str, localpart: str) -> Decision:
        """Decide a new alias: code-shaped ones are reserved for their groups (alias_reserved)."""
        if not is_code_shaped(localpart):
            return Decision.allow()
        own = self._expected.pop((user_id, localpart), 0) > self._clock.now_ms()
        if not own and user_id == self._config.service_account:
            record = await self._store.by_code(localpart)
            own = record is not None and not record.retired
        return decisions.may_create_alias(localpart, group_alias_by_module=own)

    # -- keeping ------------------------------------------------------------------------------

    async def on_canonical_alias(self, event: EventBase) -> Decision:
        """A canonical alias update that follows the deletion of the group's alias: restore, refuse.

        Binds everyone (server admins delete aliases too). Any other canonical alias
        change is allowed: a room may name another address as its main one.
        """
        record = await self._group_records.get(event.room_id)
        if record is None or record.retired or record.verification_dm or record.private_chat:
            return Decision.allow()
        alias = self.alias_of(record.code)
        if alias in _aliases_in(event.content) or await self._resolves(alias):
            return Decision.allow()
        state = await self._api.get_room_state(event.room_id, [("m.room.canonical_alias", "")])
        current = state.get(("m.room.canonical_alias", ""))
        try:
            await self.restore(record.code, event.room_id)
        except AliasRestoreError as exc:
            logger.warning("qunzu: restoring a group code alias failed: %s", exc)
        if current is not None and alias in _aliases_in(current.content):
            # The deletion's own update: the person is told the alias belongs to the group.
            return decisions.may_create_alias(record.code, group_alias_by_module=False)
        return Decision.allow()

    async def ensure(self, code: str, room_id: str) -> bool:
        """Create the group's alias if it does not exist (one that points elsewhere is left alone).

        Returns:
            Whether it was created now; a failure is logged and left to the sweep.
        """
        alias = self.alias_of(code)
        if await self._resolves(alias):
            return False
        state = await self._api.get_room_state(room_id, [("m.room.canonical_alias", "")])
        canonical = state.get(("m.room.canonical_alias", ""))
        if canonical is not None and alias in _aliases_in(canonical.content):
            # Named by the room but gone: a deletion is under way, and its own canonical alias
            # update restores it and refuses the deleter (`on_canonical_alias`). Restoring it here
            # first would make that update look like a room choosing another main address.
            return False
        try:
            await self.restore(code, room_id)
        except AliasRestoreError as exc:
            self._failed[code] = self._clock.now_ms()
            logger.warning("qunzu: creating a group code alias failed: %s", exc)
            return False
        return True

    async def sweep(self) -> AliasSweep:
        """Job: open groups whose `#<code>` is missing get it back (the backstop of `on_canonical_alias`)."""
        now = self._clock.now_ms()
        restored = failed = 0
        for code, room_id in await self._store.without_code_alias(self._api.server_name, SWEEP_BATCH):
            if self._failed.get(code, 0) > now - RETRY_MS:
                continue
            try:
                await self.restore(code, room_id)
                restored += 1
            except AliasRestoreError as exc:
                self._failed[code] = now
                failed += 1
                logger.warning("qunzu: restoring a group code alias failed: %s", exc)
        return AliasSweep(restored=restored, failed=failed)

    async def restore(self, code: str, room_id: str) -> None:
        """Create `#<code>` for the room as the service account, through this server's client API.

        Raises:
            AliasRestoreError: the server refused or could not be reached.
        """
        alias = self.alias_of(code)
        url = f"{self._base_url()}/_matrix/client/v3/directory/room/{quote(alias, safe='')}"
        status, answer = await self._put(url, {"room_id": room_id}, await self._service_token())
        if status == 401:
            # The token was revoked (e.g. the bot's account logged out everywhere): one new one.
            self._token = None
            status, answer = await self._put(url, {"room_id": room_id}, await self._service_token())
        if status == 403 and answer.get("errcode") == "M_FORBIDDEN":
            # Invited at creation but not joined yet (the follower joins it a moment later).
            service = self._config.service_account
            try:
                await self._api.update_room_membership(service, service, room_id, "join")
            except SynapseError as exc:
                raise AliasRestoreError(f"the service account cannot join the room ({exc.code})") from exc
            status, answer = await self._put(url, {"room_id": room_id}, await self._service_token())
        if status == 409:
            return  # created meanwhile (a second process or the sweep)
        if status != 200:
            raise AliasRestoreError(f"PUT directory answered {status} {answer.get('errcode', '')}")
        self._failed.pop(code, None)
        await self._audit.append(self._config.service_account, "group.alias_restore", code, {"room": room_id})

    async def _resolves(self, alias: str) -> bool:
        try:
            await self._api.lookup_room_alias(alias)
        except SynapseError:
            return False
        return True

    def _base_url(self) -> str:
        return (self._config.client_url or self._api.public_baseurl).rstrip("/")

    async def _service_token(self) -> str:
        if self._token is None:
            try:
                _device, token, _expiry, _refresh = await self._api.register_device(
                    self._config.service_account, DEVICE_ID, "Qunzu module"
                )
            except Exception as exc:
                raise AliasRestoreError(f"no token for the service account ({type(exc).__name__})") from exc
            self._token = token
        return self._token

    async def _put(self, url: str, body: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
        headers = Headers({b"Content-Type": [b"application/json"], b"Authorization": [f"Bearer {token}".encode()]})
        try:
            response = await self._api.http_client.request("PUT", url, data=json.dumps(body).encode(), headers=headers)
            raw = await make_deferred_yieldable(readBody(response))
        except Exception as exc:  # the boundary to an HTTP call: any failure means "not restored"
            raise AliasRestoreError(f"{url.split('/_matrix')[0]} not reachable ({type(exc).__name__})") from exc
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {}
        return int(response.code), answer if isinstance(answer, dict) else {}


def _aliases_in(content: Any) -> set[str]:
    """The aliases an `m.room.canonical_alias` content names (main and alternative)."""
    found: set[str] = set()
    if not hasattr(content, "get"):
        return found
    main = content.get("alias")
    if isinstance(main, str):
        found.add(main)
    alternatives = content.get("alt_aliases")
    if isinstance(alternatives, list | tuple):
        found.update(alias for alias in alternatives if isinstance(alias, str))
    return found
