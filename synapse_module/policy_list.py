"""The blacklist as a Matrix policy list (Art. 11), so other moderation tools can subscribe.

User and room entries become `m.policy.rule.user` / `m.policy.rule.room` state
events with recommendation `m.ban` in one public, world-readable room of the
service account; a lifted or expired entry's rule is withdrawn (empty content,
as the Matrix spec says). Identity entries are not published: they would link
one person's accounts in public (PIPL). The published reason is a fixed text,
never staff's free text, which may name people.

Publishing is driven by the tables, not by events: a job (and every change)
publishes what is missing and withdraws what ended, so a crash or a missing
service account only delays it.
"""

from __future__ import annotations

import logging
from typing import Any

from synapse.module_api import ModuleApi
from synapse.module_api.errors import SynapseError

from policies.api import PolicyListSync

from .store.audit import AuditStore
from .store.policy_rules import PolicyRuleStore

logger = logging.getLogger(__name__)

ROOM_SETTING = "policy_list_room"
ALIAS_LOCALPART = "qunzu-policy-list"
RULE_REASON = "blacklisted under Art. 11 of the Regulations on group information services"
SYNC_BATCH = 200


class PolicyList:
    """Publishes blacklist entries as policy rules."""

    def __init__(self, api: ModuleApi, service_account: str, store: PolicyRuleStore, audit: AuditStore) -> None:
        self._api = api
        self._service = service_account
        self._store = store
        self._audit = audit

    async def room_id(self) -> str:
        """The policy list room, created by the service account the first time it is needed.

        Raises:
            SynapseError: the room could not be created (e.g. no service account yet).
        """
        known = await self._store.setting(ROOM_SETTING)
        if known is not None:
            return known
        config: dict[str, Any] = {
            "preset": "public_chat",
            "visibility": "private",
            "name": "Qunzu blacklist (policy list)",
            "topic": "m.policy.rule.* entries of this server's blacklist (Art. 11); recommendation m.ban",
            "initial_state": [
                {
                    "type": "m.room.history_visibility",
                    "state_key": "",
                    "content": {"history_visibility": "world_readable"},
                }
            ],
            # Only the service account writes rules; everyone may read and subscribe.
            "power_level_content_override": {"events_default": 100, "state_default": 100},
        }
        try:
            room_id, _ = await self._api.create_room(
                self._service, {**config, "room_alias_name": ALIAS_LOCALPART}, ratelimit=False
            )
        except SynapseError:
            # The alias may be taken (a room from an earlier database); the room works without it.
            room_id, _ = await self._api.create_room(self._service, config, ratelimit=False)
        stored = await self._store.set_setting(ROOM_SETTING, room_id)
        if stored == room_id:
            await self._audit.append("module:policy_list", "policy_list.create", room_id, {})
        return stored

    async def sync(self) -> PolicyListSync:
        """Publish missing rules and withdraw ended ones; returns counts."""
        pending = await self._store.rules_to_sync(SYNC_BATCH)
        if not pending:
            return PolicyListSync(published=0, withdrawn=0)
        room_id = await self.room_id()
        published = withdrawn = 0
        for entry_id, rule_type, entity, active in pending:
            state_key = f"qunzu:{entry_id}"
            content: dict[str, Any] = (
                {"entity": entity, "recommendation": "m.ban", "reason": RULE_REASON} if active else {}
            )
            await self._api.create_and_send_event_into_room(
                {
                    "type": rule_type,
                    "room_id": room_id,
                    "sender": self._service,
                    "state_key": state_key,
                    "content": content,
                }
            )
            await self._store.mark_rule(entry_id, rule_type, entity, state_key, active)
            if active:
                published += 1
            else:
                withdrawn += 1
        return PolicyListSync(published=published, withdrawn=withdrawn, room_id=room_id)
