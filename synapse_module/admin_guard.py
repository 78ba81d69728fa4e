"""Art. 11 暂停管理权限: a suspended admin's kicks, bans and state changes are refused.

Kicks and bans are membership events, which no spam check sees; Synapse's
`check_event_allowed` is the only callback that can refuse them. It has a
price: once it is registered, Synapse loads the full room state for every
event the process builds (bench/ANALYSIS.md: a fifth of the reactor's busy
time in a 2,000-member room). Admin suspensions are rare, so the guard is
armed on demand: a process registers the callback the first time it learns
that an admin suspension is in force, never before. It learns

- at start, once its schema is ready (a suspension from before a restart);
- on the process that applies a suspension, before the API answers;
- on every other process when the suspended account's cached sanctions are
  invalidated through replication (within milliseconds);
- from a sweep every `SWEEP_MS` on every process, in case an invalidation was
  lost (a replication reconnect drops caches without naming keys).

Synapse cannot unregister a callback: an armed process keeps paying the state
load after the last suspension ends, until it restarts. `GET /health`
(`admin_guard`) and the `qunzu_admin_guard_armed` gauge show which processes do.

A suspended admin still sets up a room they create: while they are its only
member (its initial state, before any invite goes out) their state events pass.
That is decided from the room's state, not from the clock, so a kick or a
power-level change in a room created a moment ago is refused like any other.

Redactions are not state: `check_event_for_spam` sees them, and `redaction_refusal`
refuses a suspended admin's redaction of someone else's event. Only then is the
redacted event's sender read (one indexed query), so the hot path stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import EventBase
from synapse.module_api.errors import Codes, SynapseError

from policies import Measure, Reason
from policies.api import AdminGuardStatus
from policies.timing import until_detail

from .errors import Refusal, RequestError
from .metrics import ADMIN_GUARD_ARMED
from .refusals import refusal_error, request_error
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .facts import FactsSource
    from .health import Health
    from .refusal_notices import BotChatNotices
    from .sanctions.state import SanctionState
    from .store.measures import MeasureStore

logger = logging.getLogger(__name__)

SWEEP_MS = 60 * 1000


class AdminGuard:
    """Refuses a suspended admin's admin actions; registers its callback only when needed."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        health: Health,
        facts: FactsSource,
        sanctions: SanctionState,
        measures: MeasureStore,
        notices: BotChatNotices,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._health = health
        self._facts = facts
        self._sanctions = sanctions
        self._measures = measures
        self._notices = notices
        self.armed_at_ms: int | None = None
        # When this process last looked for suspensions in the database (None: not yet).
        self.swept_at_ms: int | None = None

    @property
    def armed(self) -> bool:
        """Whether this process checks every event it builds (see the module docstring)."""
        return self.armed_at_ms is not None

    def start(self) -> None:
        """Look for suspensions now (once the schema is ready) and every `SWEEP_MS` on every process."""
        self._api.run_as_background_process("qunzu_admin_guard_start", self.sweep)
        self._api.looping_background_call(
            self.sweep, SWEEP_MS, desc="qunzu_admin_guard_sweep", run_on_all_instances=True
        )

    def arm(self, why: str) -> None:
        """Register the `check_event_allowed` callback on this process (once)."""
        if self.armed:
            return
        self._api.register_third_party_rules_callbacks(check_event_allowed=self.check_event_allowed)
        self.armed_at_ms = self._clock.now_ms()
        ADMIN_GUARD_ARMED.set(1)
        logger.warning(
            "qunzu: %s; this process now checks every event it builds for suspended admins "
            "(Synapse loads the room state for each) until it restarts",
            why,
        )

    def account_changed(self, user_id: str) -> None:
        """Called on every process when an account's cached sanctions are dropped."""
        if not self.armed:
            self._api.run_as_background_process("qunzu_admin_guard_check", self._check_account, user_id)

    async def _check_account(self, user_id: str) -> None:
        # A background boundary: a fault is logged and the sweep tries again.
        try:
            await self._health.ready()
            if (await self._sanctions.user_state(user_id)).admin_suspended:
                self.arm(f"the admin rights of {user_id} are suspended")
        except Exception:
            logger.exception("qunzu: could not check %s for an admin suspension; the sweep will", user_id)

    async def sweep(self) -> None:
        """Arm if any admin suspension is in force anywhere on the server."""
        if self.armed:
            return
        try:
            await self._health.ready()
            found = await self._measures.any_active(Measure.ADMIN_SUSPENSION)
            self.swept_at_ms = self._clock.now_ms()
            if found:
                self.arm("an admin suspension is in force")
        except Exception:
            logger.exception("qunzu: looking for admin suspensions failed; trying again in %d s", SWEEP_MS // 1000)

    def status(self) -> AdminGuardStatus:
        """What `GET /health` shows."""
        return AdminGuardStatus(armed=self.armed, since=self.armed_at_ms, swept=self.swept_at_ms)

    async def check_event_allowed(
        self, event: EventBase, state_events: Mapping[Any, EventBase]
    ) -> tuple[bool, dict[str, Any] | None]:
        """Synapse's `check_event_allowed` (third-party rules): refuses by raising, never replaces.

        A boundary: a fault is logged and refuses the admin action (fail closed,
        Art. 11), with the module's "try again" text rather than a 500.
        """
        try:
            await self.check_admin_event(event, state_events)
        except SynapseError:
            raise
        except RequestError as error:
            raise request_error(error) from None
        except Exception:
            logger.exception("qunzu: checking an admin action failed; refusing it")
            raise SynapseError(
                403,
                text("unavailable", self._config.language),
                Codes.FORBIDDEN,
                additional_fields={"cn.qunzu.detail": {"retry": True}},
            ) from None
        return True, None

    async def check_admin_event(self, event: EventBase, state_events: Mapping[Any, EventBase]) -> None:
        """Refuse the event if it is an admin action of a suspended admin.

        Only cheap shape checks run for ordinary events (messages, one's own
        membership); the cached user state is read for the rest.

        Raises:
            SynapseError: admin_suspended, with the end of the suspension.
        """
        if not event.is_state() or event.type == "m.room.create":
            return
        if event.type == "m.room.member" and (
            event.state_key == event.sender or event.membership not in ("leave", "ban")
        ):
            return
        if not self._api.is_mine(event.sender):
            return
        await self._health.ready()
        if await self._facts.is_exempt(event.sender):
            return
        state = await self._sanctions.user_state(event.sender)
        if not state.admin_suspended:
            return
        if _setting_up(event.sender, state_events):
            return  # the initial state of a room they are creating: nobody else is in it yet
        refusal = Refusal(Reason.ADMIN_SUSPENDED, until_detail(state.admin_suspended_until_ms))
        self._notices.refused(event.sender, event.room_id, refusal, "admin")
        raise refusal_error(refusal, self._config)

    async def redaction_refusal(self, event: EventBase) -> Refusal | None:
        """A suspended admin's redaction of someone else's event (Art. 11 暂停管理权限).

        Called from `check_event_for_spam` for redactions by accounts whose admin rights
        are suspended only. Their own events they may still redact; an event this server
        does not have cannot be shown to be their own, so that redaction is refused too.
        """
        state = await self._sanctions.user_state(event.sender)
        if not state.admin_suspended:
            return None
        redacts = event.redacts
        found = await self._measures.event_sender(redacts) if isinstance(redacts, str) else None
        if found is not None and found == (event.room_id, event.sender):
            return None
        return Refusal(Reason.ADMIN_SUSPENDED, until_detail(state.admin_suspended_until_ms))


def _setting_up(sender: str, state_events: Mapping[Any, EventBase]) -> bool:
    """The sender created the room and is still its only member, ever: its creation is under way.

    Synapse sends a new room's initial state before its invites (the module invites the
    service account into every room), so nobody else has a membership event yet.
    """
    create = state_events.get(("m.room.create", ""))
    if create is None or create.sender != sender:
        return False
    return all(key[1] == sender for key in state_events if isinstance(key, tuple) and key and key[0] == "m.room.member")
