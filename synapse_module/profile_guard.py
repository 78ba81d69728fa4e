"""Art. 10, 11: what a person shows in their global profile obeys the content rules and their measures.

A profile is text people see without any room event: the display name (on member
events and profile cards) and the custom fields of `PUT /profile/{user}/{field}`
(profile cards). Synapse 1.163 stores a profile change before any module is asked,
then calls `on_profile_update` with the new profile before the request is answered,
and, for a display name, before it copies the name into the person's member events.
So a refused text is taken back there:

- a display name that breaks a rule is set back to the account's localpart, so rooms
  only ever see that;
- a new display name or avatar of a person under a measure that stops them publishing
  (the blacklist, a posting suspension, a read-only credit level: `decisions.may_rename`)
  is set back to what their rooms show, since Synapse would copy it into each of their
  rooms' timelines; a person in no room may change them freely;
- a custom field that breaks a rule (in its name or anywhere in its value) is taken out
  of the profile: `GET /profile` never returns it, not even to the person who set it.

`flag` hits stand, with their ticket, as for messages. Each refusal is audited and sealed
like a refused message's (`content.block`, `event_type` `profile.displayname` or
`profile.field`), carries an appealable reference, and is told in the person's bot chat,
since the client shows a stored change as done (DESIGN.md §6.3).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from synapse.module_api import ProfileInfo, UserID

from policies import Decision, decisions

from .errors import Refusal
from .store import synapse_tables

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .content import ContentGuard
    from .facts import FactsSource
    from .health import Health
    from .refusal_notices import BotChatNotices

logger = logging.getLogger(__name__)


class ProfileGuard:
    """Takes back the parts of a local person's new profile that break a content rule or that a measure stops."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        health: Health,
        facts: FactsSource,
        content: ContentGuard,
        notices: BotChatNotices,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._health = health
        self._facts = facts
        self._content = content
        self._notices = notices

    async def review(self, user_id: str, profile: ProfileInfo) -> list[Decision]:
        """Judge a local person's profile as it stands after a change; take back what is refused.

        Args:
            user_id: the local account whose profile changed.
            profile: its display name and avatar as Synapse passes them.

        Returns:
            The refusals, in the order taken back (display name first, then fields by name).
        """
        await self._health.ready()
        if await self._facts.is_exempt(user_id):
            return []
        refusals: list[Decision] = []
        if (name_decision := await self._looks_refusal(user_id, profile)) is not None:
            refusals.append(name_decision)
        fields = await self._api.run_db_interaction("qunzu_profile_fields", synapse_tables.profile_fields_txn, user_id)
        refused: dict[str, object] = {}
        for name in sorted(fields):
            if (decision := await self._content.check_profile_field(user_id, name, fields[name])) is not None:
                refused[name] = fields[name]
                refusals.append(decision)
        if refused:
            removed = await self._api.run_db_interaction(
                "qunzu_remove_profile_fields", synapse_tables.remove_profile_fields_txn, user_id, refused
            )
            logger.info("qunzu: %d custom profile field(s) broke a content rule and were taken out", len(removed))
        if refusals:
            first = refusals[0]
            if first.reason is not None:
                self._notices.refused(user_id, None, Refusal(first.reason, dict(first.detail)), "profile")
        return refusals

    async def _looks_refusal(self, user_id: str, profile: ProfileInfo) -> Decision | None:
        """Judge a new display name and avatar and set back what is refused; the refusal, if any."""
        user = UserID.from_string(user_id)
        name = profile.display_name
        if (decision := await self._content.check_display_name(user_id, name)) is not None:
            await self._api.set_displayname(user, user.localpart)
            return decision
        standing = decisions.may_rename(await self._facts.user(user_id), self._clock.now_ms(), self._config.policy)
        if standing.allowed:
            return None
        shown = await self._api.run_db_interaction(
            "qunzu_looks_rooms_show", synapse_tables.looks_rooms_show_txn, user_id
        )
        if shown is None:
            return None  # in no room: the change reaches nobody
        refused = False
        if (profile.avatar_url or None) != shown.avatar_url:
            await self._api.run_db_interaction(
                "qunzu_restore_avatar", synapse_tables.restore_avatar_txn, user_id, shown.avatar_url
            )
            refused = True
        back = shown.display_name or user.localpart
        # A set-back is the module API's change `by_admin`, which the callback does not review again.
        if (name or "") not in (shown.display_name or "", back):
            await self._api.set_displayname(user, back)
            refused = True
        return standing if refused else None
