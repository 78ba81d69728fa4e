"""QunzuModule: parses config, wires callbacks, resources and jobs. Nothing else."""

from __future__ import annotations

import functools
import logging
from typing import Any

from synapse.module_api import ModuleApi
from synapse.module_api.errors import ConfigError

from policies.constants import DAY_MS, HOUR_MS

from . import retention
from .account_status import AccountStatus
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
from .export import Exporter
from .facts import FactsSource
from .federation_guard import FederationGuard
from .filing import Filing
from .group_alias import SWEEP_EVERY_MS, CodeAliases
from .group_creation import GroupCreation
from .group_follower import GroupFollower
from .group_maintenance import GroupMaintenance
from .group_records import group_records
from .group_state import GroupState
from .groups import Groups
from .health import Health
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
from .notices import Notifier, notice_queue
from .policy_list import PolicyList
from .private_chats import PrivateChats
from .private_reports import PrivateReports
from .profile_guard import ProfileGuard
from .public_reports import PublicReports
from .realname import RealnameService
from .refusal_notices import BotChatNotices, forget_expired
from .reports import Reports
from .retention import Retention
from .room_moderation import RoomModeration
from .room_mute_all import RoomMuteAll
from .room_roles import RoomRoles
from .sanctions.appeals import Appeals
from .sanctions.blacklist_consequences import BlacklistConsequences
from .sanctions.blacklisting import Blacklisting
from .sanctions.followups import FollowUps
from .sanctions.measures import Measures
from .sanctions.regulator_reports import RegulatorReports
from .sanctions.standing import Standing
from .sanctions.state import SanctionState
from .staff import Staff
from .store import QunzuStore
from .takedown import Takedown

logger = logging.getLogger(__name__)


class QunzuModule:
    """The Synapse module. Instantiated once on every Synapse process."""

    def __init__(self, config: QunzuConfig, api: ModuleApi) -> None:
        self.config = config
        self.api = api
        self.clock = SynapseClock(api)
        self.store = QunzuStore(api, self.clock, AuditChain(config.key))
        self.health = Health(api, config, self.store)
        self.staff = Staff(api, config)
        self.realname = RealnameService(api, self.clock, config, self.store)
        self.blacklist = Blacklist(self.clock, config.key, self.store, gate=self.realname.gate)
        # What measures mean right now, read on every event (sanctions/state.py).
        policy, language, service = config.policy, config.language, config.service_account
        identity_of = self.realname.gate.get
        measure_store = self.store.measures
        self.sanctions = SanctionState(
            api, self.clock, policy, store=measure_store, identities=self.store.identities, gate=self.realname.gate
        )
        self.facts = FactsSource(
            api,
            self.clock,
            config,
            gate=self.realname.gate,
            sanctions=self.sanctions,
            notice_rooms=self.store.notice_rooms,
        )
        records = group_records(api, self.store.groups)
        # Art. 8: the group code alias #<code> belongs to the group (group_alias.py).
        self.code_aliases = CodeAliases(
            api,
            self.clock,
            config,
            store=self.store.groups,
            audit=self.store.audit,
            group_records=records,
        )
        self.notifier = Notifier(api, service_account=service, rooms=self.store.notice_rooms)
        self.notice_queue = notice_queue(api)
        # DESIGN.md §6.3: refusals, the greeting and a new group's code, told in the person's bot chat.
        self.bot_chat_notices = BotChatNotices(
            api,
            config,
            health=self.health,
            once=self.store.once,
            group_store=self.store.groups,
            group_records=records,
            realname=self.realname,
            notifier=self.notifier,
            queue=self.notice_queue,
        )
        # Groups (Art. 7, 8, 9): the registry and its rules, the module's state in each room, the
        # shaping of a creation, the follower of what comes after, and the jobs over time.
        self.group_state = GroupState(api, config)
        self.groups = Groups(
            api,
            self.clock,
            config,
            store=self.store.groups,
            audit=self.store.audit,
            records=records,
            facts=self.facts,
            state=self.group_state,
        )
        self.group_creation = GroupCreation(
            api,
            self.clock,
            config,
            store=self.store.groups,
            groups=self.groups,
            state=self.group_state,
            facts=self.facts,
            code_aliases=self.code_aliases,
            notifier=self.notifier,
        )
        group_follower = GroupFollower(
            api,
            self.clock,
            config,
            store=self.store.groups,
            audit=self.store.audit,
            records=records,
            groups=self.groups,
            state=self.group_state,
            notices=self.bot_chat_notices,
            code_aliases=self.code_aliases,
        )
        group_maintenance = GroupMaintenance(
            api,
            self.clock,
            config,
            store=self.store.groups,
            audit=self.store.audit,
            records=records,
            groups=self.groups,
            state=self.group_state,
        )
        # Art. 5 应急处置: freezes of the server, a category or a room (emergency.py).
        self.emergency = Emergency(
            api,
            self.clock,
            config,
            store=self.store.emergency,
            audit=self.store.audit,
            link_pending=self.groups.link_pending,
        )
        # A room's facts come from the registry, which asks the facts about a group's owner.
        self.facts.read_rooms_from(self.groups, self.emergency)
        self.admin_guard = AdminGuard(
            api,
            self.clock,
            config,
            health=self.health,
            facts=self.facts,
            sanctions=self.sanctions,
            measures=measure_store,
            notices=self.bot_chat_notices,
        )
        self.health.admin_guard = self.admin_guard.status
        # A burst of registrations (an import) is greeted, and a crowd's refusals are told, a few
        # at a time in the background.
        self.health.greetings = self.bot_chat_notices.greetings
        self.health.notices = self.notice_queue
        # Another process may have suspended an admin: the guard looks (admin_guard.py).
        self.sanctions.on_account_changed.append(self.admin_guard.account_changed)
        # Measures, what follows them, appeals, credit, regulator reports, the policy list (Art. 7, 11).
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
        self.measures.on_room_reopened.append(self.groups.reopen)
        self.blacklisting = Blacklisting(api, self.clock, measures=self.measures, blacklist=self.blacklist)
        self.appeals = Appeals(
            api,
            self.clock,
            language=language,
            store=self.store.appeals,
            measures=self.measures,
            blacklist=self.blacklist,
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
        self.account_status = AccountStatus(config, self.staff, self.facts, self.realname, self.standing)
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
        # DESIGN.md §6.2: private chats become groups when a third person comes (private_chats.py).
        self.private_chats = PrivateChats(
            api,
            config,
            store=self.store.lifecycle,
            audit=self.store.audit,
            facts=self.facts,
            records=records,
            group_state=self.group_state,
            code_aliases=self.code_aliases,
            notifier=self.notifier,
        )
        # Art. 9: owners dissolve and hand over their groups (lifecycle.py).
        self.lifecycle = Lifecycle(
            api,
            config,
            store=self.store.lifecycle,
            audit=self.store.audit,
            facts=self.facts,
            groups=self.groups,
            followups=self.followups,
            notifier=self.notifier,
        )
        # Art. 10, 13: refused and held content is sealed; staff release or reject holds.
        self.evidence = EvidenceLocker(api, self.clock, config.key, language=language, store=self.store.evidence)
        self.content = ContentGuard(
            api,
            self.clock,
            config,
            health=self.health,
            locker=self.evidence,
            once=self.store.once,
            tickets=self.store.tickets,
            audit=self.store.audit,
        )
        # One follower of Synapse's event stream instead of on_new_event (see event_stream.py).
        self.events = EventStream(api, self.clock, self.health, self.store.netlog)
        self.netlog = NetworkLog(
            api,
            self.clock,
            config.key,
            store=self.store.netlog,
            health=self.health,
            events=self.events,
            group_records=records,
        )
        self.jobs = Jobs(api, self.clock, health=self.health, audit=self.store.audit)
        # Art. 13: records kept `retention.days`, then purged in batches (retention.py).
        records_retention = Retention(
            self.clock,
            policy,
            netlog=self.store.netlog,
            evidence=self.store.evidence,
            public_reports=self.store.public_reports,
            audit=self.store.audit,
            identities=self.store.identities,
            sleep=api.sleep,
        )
        self.jobs.add(
            Job(
                retention.IDENTITIES_JOB_NAME,
                retention.IDENTITIES_EVERY_MS,
                records_retention.purge_deactivated_identities,
            )
        )
        self.jobs.add(Job(retention.JOB_NAME, retention.EVERY_MS, records_retention.run))
        # Art. 13: the network log's catch-up from Synapse's event stream (netlog.py).
        self.jobs.add(Job("netlog_catch_up", 5 * 60 * 1000, self.netlog.catch_up))
        self.jobs.add(Job("sanctions_followup", 60 * 1000, self.followups.run))
        self.jobs.add(Job("policy_list_sync", 60 * 1000, self.policy_list.sync))
        # Art. 11, 12: redactions by the service account, media quarantine (takedown.py).
        self.takedown = Takedown(api, config, audit=self.store.audit)
        # Art. 9, 12: reports, the ticket queue and room admins' tools (docs/reports.md).
        self.reports = Reports(
            api,
            self.clock,
            config,
            self.store,
            measures=self.measures,
            takedown=self.takedown,
            notifier=self.notifier,
            notice_queue=self.notice_queue,
            health=self.health,
        )
        self.reports.register_jobs(self.jobs)
        # Art. 11: refusals name the decision they rest on; `!appeal` without one takes the latest.
        self.appeal_refs = AppealReferences(
            api,
            self.clock,
            config,
            gate=self.realname.gate,
            appeals=self.appeals,
            appeal_store=self.store.appeals,
        )
        # Art. 12: a `!report` typed in a room is filed here and never reaches the room.
        self.private_reports = PrivateReports(
            api,
            config,
            reports=self.reports,
            notifier=self.notifier,
            notice_queue=self.notice_queue,
            once=self.store.once,
        )
        self.room_roles = RoomRoles(api)
        self.invite_confirmation = InviteConfirmation(
            api,
            config,
            facts=self.facts,
            roles=self.room_roles,
            sanctions=self.sanctions,
            group_records=records,
            notifier=self.notifier,
        )
        self.mute_all = RoomMuteAll(
            api,
            self.clock,
            store=self.store.mute_all,
            roles=self.room_roles,
            once=self.store.once,
            notifier=self.notifier,
            language=language,
        )
        self.room_moderation = RoomModeration(
            api,
            self.clock,
            config,
            self.store,
            gate=self.realname.gate,
            roles=self.room_roles,
            facts=self.facts,
            sanctions=self.sanctions,
            content=self.content,
            mute_all=self.mute_all,
            invite_confirmation=self.invite_confirmation,
        )
        self.announcements = AnnouncementService(
            api,
            self.clock,
            config,
            store=self.store.announcements,
            facts=self.facts,
            room_moderation=self.room_moderation,
            content=self.content,
            group_records=records,
            notifier=self.notifier,
        )
        self.holds = Holds(
            api,
            self.clock,
            config,
            store=self.store.evidence,
            evidence=self.evidence,
            facts=self.facts,
            room_moderation=self.room_moderation,
            reports=self.reports,
            notifier=self.notifier,
        )
        self.sanctions.on_room_mute_changed.append(self.mute_all.invalidate)
        # Art. 12: reports from people without an account (public_reports.py).
        self.public_reports = PublicReports(self.clock, config, store=self.store.public_reports, groups=self.groups)
        self.sanctions.on_room_mute_changed.append(self.room_moderation.invalidate_mute)
        self.jobs.add(Job("refresh_group_tiers", 3600 * 1000, group_maintenance.refresh_tiers))
        self.jobs.add(Job("backfill_group_codes", DAY_MS, group_maintenance.backfill))
        self.jobs.add(Job("restore_code_aliases", SWEEP_EVERY_MS, self.code_aliases.sweep))
        # Art. 6: rooms' server ACLs follow the policy (checked at start, after a policy change, and daily).
        self.jobs.add(Job("server_acls", DAY_MS, group_maintenance.reconcile_server_acls))
        # Art. 5: verified people are told once when the convention changes (convention_notices.py).
        convention_notices = ConventionNotices(
            config, health=self.health, store=self.store.lifecycle, notifier=self.notifier
        )
        self.jobs.add(Job("convention_notices", 60 * 1000, convention_notices.run))
        if api.should_run_background_tasks():
            api.run_as_background_process("qunzu_convention_notices_at_start", convention_notices.at_start)
        if api.should_run_background_tasks() and config.greet_new_accounts:
            # DESIGN.md §6.3: greetings waiting in a process that stopped are not lost.
            api.run_as_background_process(
                "qunzu_greetings_at_start", self.bot_chat_notices.greet_missed, self.clock.now_ms()
            )
        self.jobs.add(Job("forget_expired_once", HOUR_MS, functools.partial(forget_expired, self.store.once)))
        # Art. 9: the room is told when its mute-all ends by itself (room_mute_all.py).
        self.jobs.add(Job("mute_all_ended", 30 * 1000, self.mute_all.announce_ended))

        # What Synapse asks before an event, a join, an invite or a creation (callbacks.py).
        callbacks = Callbacks(
            api,
            self.clock,
            config,
            health=self.health,
            facts=self.facts,
            groups=self.groups,
            group_creation=self.group_creation,
            group_state=self.group_state,
            group_store=self.store.groups,
            realname=self.realname,
            content=self.content,
            holds=self.holds,
            room_moderation=self.room_moderation,
            mute_all=self.mute_all,
            invite_confirmation=self.invite_confirmation,
            private_chats=self.private_chats,
            private_reports=self.private_reports,
            code_aliases=self.code_aliases,
            admin_guard=self.admin_guard,
            appeal_refs=self.appeal_refs,
            notices=self.bot_chat_notices,
            profile_guard=ProfileGuard(
                api,
                self.clock,
                config,
                health=self.health,
                facts=self.facts,
                content=self.content,
                notices=self.bot_chat_notices,
            ),
        )
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
        if config.greet_new_accounts:
            # DESIGN.md §6.3: a new account is greeted in its bot chat (refusal_notices.py).
            api.register_account_validity_callbacks(on_user_registration=self.bot_chat_notices.on_user_registration)
        # Art. 11 暂停管理权限: registers check_event_allowed only once an admin is suspended,
        # since it makes Synapse load the full room state for every event (admin_guard.py).
        self.admin_guard.start()
        # The shape of a creation's power levels depends on the room version (room_versions.py).
        self.group_creation.default_room_version.start()
        # Art. 13 network log: logins (never refused here), events, profiles, accounts.
        api.register_spam_checker_callbacks(check_login_for_spam=self.netlog.check_login_for_spam)
        api.register_third_party_rules_callbacks(
            on_profile_update=self.netlog.on_profile_update,
            on_user_deactivation_status_changed=self.netlog.on_user_deactivation_status_changed,
        )
        store, staff = self.store, self.staff
        self.exporter = Exporter(
            api,
            self.clock,
            config.key,
            audit=store.audit,
            identities=store.identities,
            netlog=store.netlog,
            content_of=self.netlog.content_of,
        )
        self.filing = Filing(api, self.clock, policy, groups=self.groups, facts=self.facts, emergency=self.emergency)
        routes = [
            *health.routes(policy=policy, process=self.health, scheduled_jobs=self.jobs),
            *me.routes(api=api, service_account=service, account_status=self.account_status),
            *realname.routes(api=api, config=config, realname=self.realname),
            *admin_users.routes(api=api, language=language, realname=self.realname, account_status=self.account_status),
            *admin_blacklist.routes(
                language=language,
                clock=self.clock,
                staff=staff,
                blacklist=self.blacklist,
                blacklisting=self.blacklisting,
            ),
            *admin_sanctions.routes(
                api=api,
                language=language,
                policy=policy,
                clock=self.clock,
                staff=staff,
                measures=self.measures,
                standing=self.standing,
                regulator_reports=self.regulator_reports,
                appeal_service=self.appeals,
                appeal_refs=self.appeal_refs,
                policy_list_service=self.policy_list,
            ),
            *groups.routes(
                api=api,
                config=config,
                groups=self.groups,
                facts=self.facts,
                sanctions=self.sanctions,
                private_chats=self.private_chats,
            ),
            *lifecycle.routes(service_account=service, groups=self.groups, lifecycle=self.lifecycle),
            *admin_audit.routes(audit=store.audit),
            *admin_jobs.routes(jobs=self.jobs),
            *admin_reports.routes(
                language=language,
                clock=self.clock,
                staff=staff,
                reports=self.reports,
                ticket_store=store.tickets,
                takedowns=self.takedown,
                content_guard=self.content,
            ),
            *room_admin.routes(config=config, room_moderation=self.room_moderation),
            *announcements.routes(staff_service=staff, announcements=self.announcements),
            *admin_records.routes(
                config=config,
                clock=self.clock,
                staff=staff,
                exporter=self.exporter,
                filings=self.filing,
                emergency=self.emergency,
                emergency_records=store.emergency,
            ),
            *admin_evidence.routes(
                language=language,
                staff=staff,
                evidence=self.evidence,
                holds=self.holds,
                public_reports=self.public_reports,
            ),
            *public_report.routes(default_language=language, public_reports=self.public_reports),
        ]
        resource = QunzuResource(api, routes, config=config, health=self.health, staff=staff, audit=store.audit)
        api.register_web_resource(PREFIX, resource)

        if config.realname_provider == "checksum":
            logger.warning(
                "qunzu: realname.provider is 'checksum': identity numbers are only checked for "
                "format and check digit, nobody is really verified. Use it for development only."
            )
        api.run_as_background_process("qunzu_setup", self.health.setup)
        self.jobs.schedule()
        # Art. 12: report buttons' reports reach the desk in about a second (reports.py).
        self.reports.start_import()
        self.netlog.start()
        self.events.subscribe("network_log", self.netlog.on_events)
        self.events.subscribe("groups", group_follower.on_events)
        self.events.subscribe("private_chats", self.private_chats.on_events)
        # Art. 10: membership texts no callback can refuse are redacted (membership_texts.py).
        self.events.subscribe(
            "membership_texts",
            MembershipTexts(
                api,
                self.clock,
                config,
                content=self.content,
                facts=self.facts,
                audit=self.store.audit,
                notices=self.bot_chat_notices,
            ).on_events,
        )
        self.events.subscribe("invite_confirmation", self.invite_confirmation.on_events)
        # Art. 6, 11: what other servers bring into a group's state anyway (federation_guard.py).
        self.federation_guard = FederationGuard(
            api,
            self.clock,
            config,
            health=self.health,
            records=records,
            group_state=self.group_state,
            group_maintenance=group_maintenance,
            facts=self.facts,
            group_store=self.store.groups,
            audit=self.store.audit,
        )
        self.events.subscribe("federation_guard", self.federation_guard.on_events)
        self.jobs.add(Job("federation_guard", DAY_MS, self.federation_guard.sweep))
        if api.should_run_background_tasks():
            api.run_as_background_process("qunzu_federation_at_start", self.federation_guard.at_start)
        self.events.start()
        self.metrics = ModuleMetrics(api, self.clock, self.health)

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
