"""QunzuModule: parses config, wires callbacks, resources and jobs. Nothing else."""

from __future__ import annotations

import logging
from typing import Any

from synapse.module_api import ModuleApi
from synapse.module_api.errors import Codes, ConfigError, SynapseError

from policies.constants import DAY_MS, HOUR_MS

from .admin_guard import AdminGuard
from .announcements import Announcements as AnnouncementService
from .appeal_refs import AppealReferences
from .audit import AuditChain
from .blacklist import Blacklist
from .callbacks import Callbacks
from .clock import SynapseClock
from .config import QunzuConfig, parse_module_config
from .content import ContentGuard
from .convention_notices import ConventionNotices
from .emergency import Emergency
from .errors import QunzuConfigError
from .event_stream import EventStream
from .evidence import EvidenceLocker
from .facts import FactsSource
from .federation_guard import FederationGuard
from .group_alias import SWEEP_EVERY_MS, CodeAliases
from .groups import Groups
from .holds import Holds
from .http import (
    admin_audit,
    admin_blacklist,
    admin_evidence,
    admin_jobs,
    admin_records,
    admin_reports,
    admin_sanctions,
    admin_users,
    announcements,
    groups,
    health,
    lifecycle,
    me,
    public_report,
    realname,
    room_admin,
)
from .http.resource import PREFIX, QunzuResource
from .invite_confirmation import InviteConfirmation
from .jobs import Job, Jobs
from .lifecycle import Lifecycle
from .membership_texts import MembershipTexts
from .metrics import ModuleMetrics
from .netlog import NetworkLog
from .notices import Notifier
from .policy_list import PolicyList
from .private_chats import PrivateChats
from .private_reports import PrivateReports
from .public_reports import PublicReports
from .realname import RealnameService
from .refusal_notices import BotChatNotices, forget_expired
from .reports import Reports
from .room_moderation import RoomModeration
from .room_mute_all import RoomMuteAll
from .sanctions.appeals import Appeals
from .sanctions.blacklist_consequences import BlacklistConsequences
from .sanctions.followups import FollowUps
from .sanctions.measures import Measures
from .sanctions.regulator_reports import RegulatorReports
from .sanctions.standing import Standing
from .sanctions.state import SanctionState
from .store import QunzuStore
from .takedown import Takedown

logger = logging.getLogger(__name__)

# How long a request waits for the schema on a process that is still starting.
READY_TIMEOUT_S = 30.0
_READY_POLL_S = 0.05


class QunzuModule:
    """The Synapse module. Instantiated once on every Synapse process."""

    def __init__(self, config: QunzuConfig, api: ModuleApi) -> None:
        self.config = config
        self.api = api
        self.clock = SynapseClock(api)
        self.store = QunzuStore(api, self.clock, AuditChain(config.key))
        self.realname = RealnameService(self)
        self.blacklist = Blacklist(self)
        # What measures mean right now, read on every event (sanctions/state.py).
        policy, language, service = config.policy, config.language, config.service_account
        identity_of = self.realname.gate.get
        measure_store = self.store.measures
        self.sanctions = SanctionState(
            api, self.clock, policy, store=measure_store, identities=self.store.identities, identity_of=identity_of
        )
        self.admin_guard = AdminGuard(self)
        # Another process may have suspended an admin: the guard looks (admin_guard.py).
        self.sanctions.on_account_changed.append(self.admin_guard.account_changed)
        self.facts = FactsSource(self)
        self.groups = Groups(self)
        # Measures, what follows them, appeals, credit, regulator reports, the policy list (Art. 7, 11).
        self.notifier = Notifier(api, service_account=service, rooms=self.store.notice_rooms)
        # DESIGN.md §6.3: refusals, the greeting and a new group's code, told in the person's bot chat.
        self.bot_chat_notices = BotChatNotices(self)
        self.followups = FollowUps(
            api,
            policy,
            language=language,
            service_account=service,
            store=measure_store,
            state=self.sanctions,
            notifier=self.notifier,
        )
        self.followups.on_room_closed.append(self.groups.retire)
        self.regulator_reports = RegulatorReports(self.store.regulator_reports, self.clock, config.policy)
        self.measures = Measures(
            api,
            self.clock,
            policy,
            language=language,
            store=measure_store,
            identity_of=identity_of,
            state=self.sanctions,
            followups=self.followups,
            regulator_reports=self.regulator_reports,
            blacklist=self.blacklist,
            on_admin_suspended=self.admin_guard.arm,
        )
        self.appeals = Appeals(
            api,
            self.clock,
            language=language,
            store=self.store.appeals,
            measures=self.measures,
            identity_of=identity_of,
            notifier=self.notifier,
        )
        self.standing = Standing(
            api,
            self.clock,
            policy,
            language=language,
            credit=self.store.credit,
            measures=measure_store,
            state=self.sanctions,
            identity_of=identity_of,
            notifier=self.notifier,
        )
        self.policy_list = PolicyList(
            api, service_account=service, store=self.store.policy_rules, audit=self.store.audit
        )
        consequences = BlacklistConsequences(
            api,
            policy,
            service_account=service,
            state=self.sanctions,
            measures=self.measures,
            followups=self.followups,
            regulator_reports=self.regulator_reports,
            is_exempt=self.facts.is_exempt,
            sync_policy_list=self.policy_list.sync,
        )
        self.blacklist.on_added.append(consequences.on_added)
        self.blacklist.on_lifted.append(consequences.on_lifted)
        # Art. 8: the group code alias #<code> belongs to the group (group_alias.py).
        self.code_aliases = CodeAliases(self)
        # DESIGN.md §6.2: private chats become groups when a third person comes (private_chats.py).
        self.private_chats = PrivateChats(self)
        # Art. 9: owners dissolve and hand over their groups (lifecycle.py).
        self.lifecycle = Lifecycle(self)
        # Art. 10, 13: refused and held content is sealed; staff release or reject holds.
        self.evidence = EvidenceLocker(self)
        self.holds = Holds(self)
        self.content = ContentGuard(self)
        self.netlog = NetworkLog(self)
        self.emergency = Emergency(self)
        self.jobs = Jobs(self)
        self.jobs.add(Job("sanctions_followup", 60 * 1000, self.followups.run))
        self.jobs.add(Job("policy_list_sync", 60 * 1000, self.policy_list.sync))
        # Art. 9, 12: reports, the ticket queue and room admins' tools (docs/reports.md).
        self.reports = Reports(self)
        self.reports.register_jobs(self.jobs)
        # Art. 11, 12: redactions by the service account, media quarantine (takedown.py).
        self.takedown = Takedown(self)
        # Art. 11: refusals name the decision they rest on; `!appeal` without one takes the latest.
        self.appeal_refs = AppealReferences(self)
        # Art. 12: a `!report` typed in a room is filed here and never reaches the room.
        self.private_reports = PrivateReports(self)
        self.room_moderation = RoomModeration(self)
        self.invite_confirmation = InviteConfirmation(self)
        self.mute_all = RoomMuteAll(self)
        self.announcements = AnnouncementService(self)
        self.sanctions.on_room_mute_changed.append(self.mute_all.invalidate)
        # Art. 12: reports from people without an account (public_reports.py).
        self.public_reports = PublicReports(self)
        self.sanctions.on_room_mute_changed.append(self.room_moderation.invalidate_mute)
        self.jobs.add(Job("refresh_group_tiers", 3600 * 1000, self.groups.refresh_tiers))
        self.jobs.add(Job("backfill_group_codes", DAY_MS, self.groups.backfill))
        self.jobs.add(Job("restore_code_aliases", SWEEP_EVERY_MS, self.code_aliases.sweep))
        # Art. 6: rooms' server ACLs follow the policy (checked at start, after a policy change, and daily).
        self.jobs.add(Job("server_acls", DAY_MS, self.groups.reconcile_server_acls))
        # Art. 5: verified people are told once when the convention changes (convention_notices.py).
        convention_notices = ConventionNotices(self)
        self.jobs.add(Job("convention_notices", 60 * 1000, convention_notices.run))
        if api.should_run_background_tasks():
            api.run_as_background_process("qunzu_convention_notices_at_start", convention_notices.at_start)
        self.jobs.add(Job("forget_expired_once", HOUR_MS, lambda: forget_expired(self)))
        self._state = "starting"
        self._schema_version = 0

        callbacks = Callbacks(self)
        api.register_spam_checker_callbacks(
            check_event_for_spam=callbacks.check_event_for_spam,
            user_may_join_room=callbacks.user_may_join_room,
            user_may_invite=callbacks.user_may_invite,
            check_media_file_for_spam=callbacks.check_media_file_for_spam,
            # Art. 10: per-room names and reasons through PUT /state; texts of new aliases.
            user_may_send_state_event=callbacks.user_may_send_state_event,
            user_may_create_room_alias=callbacks.user_may_create_room_alias,
        )
        # Art. 6: the bot chat stays two-party (verification_chat.py). Upgrades (Art. 5, 8, 11: groups.py).
        api.register_spam_checker_callbacks(
            user_may_send_3pid_invite=callbacks.user_may_send_3pid_invite,
            user_may_publish_room=callbacks.user_may_publish_room,
            user_may_create_room=callbacks.user_may_create_room,
        )
        # Art. 6: invites from other servers (policies/federation.py).
        api.register_spam_checker_callbacks(federated_user_may_invite=callbacks.federated_user_may_invite)
        api.register_third_party_rules_callbacks(check_threepid_can_be_invited=callbacks.check_threepid_can_be_invited)
        api.register_third_party_rules_callbacks(
            on_create_room=callbacks.on_create_room,
            on_user_deactivation_status_changed=callbacks.on_user_deactivation_status_changed,
            on_profile_update=callbacks.on_profile_update,
        )
        # DESIGN.md §6.3: a new account is greeted in its bot chat (refusal_notices.py).
        api.register_account_validity_callbacks(on_user_registration=self.bot_chat_notices.on_user_registration)
        # Art. 11 暂停管理权限: registers check_event_allowed only once an admin is suspended,
        # since it makes Synapse load the full room state for every event (admin_guard.py).
        self.admin_guard.start()
        # Art. 13 network log: logins (never refused here), events, profiles, accounts.
        api.register_spam_checker_callbacks(check_login_for_spam=self.netlog.check_login_for_spam)
        api.register_third_party_rules_callbacks(
            on_profile_update=self.netlog.on_profile_update,
            on_user_deactivation_status_changed=self.netlog.on_user_deactivation_status_changed,
        )
        routes = [
            *health.routes(self),
            *me.routes(self),
            *realname.routes(self),
            *admin_users.routes(self),
            *admin_blacklist.routes(self),
            *admin_sanctions.routes(self),
            *groups.routes(self),
            *lifecycle.routes(self),
            *admin_audit.routes(self),
            *admin_jobs.routes(self),
            *admin_reports.routes(self),
            *room_admin.routes(self),
            *announcements.routes(self),
            *admin_records.routes(self),
            *admin_evidence.routes(self),
            *public_report.routes(self),
        ]
        api.register_web_resource(PREFIX, QunzuResource(api, self, routes))

        if config.realname_provider == "checksum":
            logger.warning(
                "qunzu: realname.provider is 'checksum': identity numbers are only checked for "
                "format and check digit, nobody is really verified. Use it for development only."
            )
        api.run_as_background_process("qunzu_setup", self._setup)
        self.jobs.schedule()
        # Art. 12: report buttons' reports reach the desk in about a second (reports.py).
        self.reports.start_import()
        self.netlog.start()
        # One follower of Synapse's event stream instead of on_new_event (see event_stream.py).
        self.events = EventStream(self)
        self.events.subscribe("network_log", self.netlog.on_events)
        self.events.subscribe("groups", self.groups.on_events)
        self.events.subscribe("private_chats", self.private_chats.on_events)
        # Art. 10: membership texts no callback can refuse are redacted (membership_texts.py).
        self.events.subscribe("membership_texts", MembershipTexts(self).on_events)
        self.events.subscribe("invite_confirmation", self.invite_confirmation.on_events)
        # Art. 6, 11: what other servers bring into a group's state anyway (federation_guard.py).
        self.federation_guard = FederationGuard(self)
        self.events.subscribe("federation_guard", self.federation_guard.on_events)
        self.jobs.add(Job("federation_guard", DAY_MS, self.federation_guard.sweep))
        if api.should_run_background_tasks():
            api.run_as_background_process("qunzu_federation_at_start", self.federation_guard.at_start)
        self.events.start()
        self.metrics = ModuleMetrics(self)

    @staticmethod
    def parse_config(config: dict[str, Any]) -> QunzuConfig:
        """Validate the module block of homeserver.yaml (called by Synapse at start).

        Raises:
            ConfigError: one line naming the key and the problem.
        """
        try:
            return parse_module_config(config)
        except QunzuConfigError as exc:
            raise ConfigError(f"qunzu: {exc}") from None

    async def _setup(self) -> None:
        instance = self.api.worker_name or "master"
        try:
            result = await self.store.migrate(instance)
        except Exception:
            self._state = "failed"
            logger.exception("qunzu: schema setup failed; Qunzu refuses guarded actions until fixed")
            return
        self._schema_version = result.to_version
        if result.changed:
            logger.info("qunzu: schema migrated from version %d to %d", result.from_version, result.to_version)
            await self.store.audit.append(
                f"module:{instance}",
                "schema.migrate",
                "schema",
                {"from": result.from_version, "to": result.to_version},
            )
        else:
            logger.info("qunzu: schema up to date at version %d", result.to_version)
        self._state = "ready"

    @property
    def is_ready(self) -> bool:
        """Whether this process has its schema (no waiting: for loops that simply try again later)."""
        return self._state == "ready"

    async def ready(self) -> None:
        """Wait until this process has its schema; refuse with 503 if that does not happen.

        Raises:
            SynapseError: 503 when setup failed or takes longer than READY_TIMEOUT_S.
        """
        waited = 0.0
        while self._state == "starting" and waited < READY_TIMEOUT_S:
            await self.api.sleep(_READY_POLL_S)
            waited += _READY_POLL_S
        if self._state != "ready":
            raise SynapseError(503, "Qunzu is starting or its database setup failed; try again shortly", Codes.UNKNOWN)

    async def is_staff(self, user_id: str) -> bool:
        """Server admins, the configured staff and the service account."""
        if user_id == self.config.service_account or user_id in self.config.staff:
            return True
        return self.api.is_mine(user_id) and await self.api.is_user_admin(user_id)

    async def status_of(self, user_id: str, *, is_staff: bool) -> dict[str, Any]:
        """What `GET /me` shows: the user's own compliance status."""
        facts = await self.facts.user(user_id)
        policy = self.config.policy
        return {
            "user_id": user_id,
            "staff": is_staff,
            "exempt": facts.exempt,
            "verification": await self.realname.masked_status(user_id),
            "convention": {"current_version": policy.convention.version, "accepted": facts.convention_accepted},
            "blacklisted": facts.blacklisted,
            "language": self.config.language,
            **await self.standing.status_of(user_id),
        }

    async def health(self) -> dict[str, Any]:
        return {
            "status": self._state,
            "schema_version": self._schema_version,
            "convention_version": self.config.policy.convention.version,
            "instance": self.api.worker_name or "master",
            "admin_guard": self.admin_guard.status(),
        }
