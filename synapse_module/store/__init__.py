"""Every SQL statement of the module, one store class per concern.

Each `_<verb>_txn` function runs inside `api.run_db_interaction`, which on
PostgreSQL may retry it after a serialization failure: it must be idempotent
and have no effects outside the database. `?` placeholders work on both
databases.
"""

from __future__ import annotations

from synapse.module_api import ModuleApi

from ..audit import AuditChain
from ..clock import Clock
from ..migrations import MigrationResult, migrate_txn
from .announcements import AnnouncementStore
from .appeals import AppealStore
from .audit import AuditStore
from .blacklist import BlacklistStore
from .credit import CreditStore
from .emergency import EmergencyStore
from .groups import GroupStore
from .identities import IdentityStore
from .lifecycle import LifecycleStore
from .limits import LimitStore
from .measures import MeasureStore
from .mute_all import MuteAllStore
from .netlog import NetlogStore
from .notice_rooms import NoticeRoomStore
from .policy_rules import PolicyRuleStore
from .regulator_reports import RegulatorReportStore
from .reports import ReportStore
from .tickets import TicketStore


class QunzuStore:
    """The module's tables, one attribute per concern."""

    def __init__(self, api: ModuleApi, clock: Clock, chain: AuditChain) -> None:
        self._api = api
        self._clock = clock
        self.audit = AuditStore(api, clock, chain)
        self.identities = IdentityStore(api, clock)
        self.blacklist = BlacklistStore(api, clock)
        self.credit = CreditStore(api, clock, chain)
        self.measures = MeasureStore(api, clock, chain)
        self.mute_all = MuteAllStore(api, clock, chain)
        self.announcements = AnnouncementStore(api, clock, chain)
        self.appeals = AppealStore(api, clock, chain)
        self.regulator_reports = RegulatorReportStore(api, chain)
        self.policy_rules = PolicyRuleStore(api, clock)
        self.notice_rooms = NoticeRoomStore(api, clock)
        self.groups = GroupStore(api, clock)
        self.lifecycle = LifecycleStore(api, clock)
        self.limits = LimitStore(api, clock)
        self.tickets = TicketStore(api, clock)
        self.reports = ReportStore(api, clock, chain)
        self.netlog = NetlogStore(api, clock)
        self.emergency = EmergencyStore(api, clock)

    async def migrate(self, instance: str) -> MigrationResult:
        """Create or upgrade the schema (idempotent, safe across processes)."""
        return await self._api.run_db_interaction("qunzu_migrate", migrate_txn, instance, self._clock.now_ms())
