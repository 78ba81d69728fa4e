"""The whole module in-process (tests/module/harness.py): Synapse's schema, a fake ModuleApi, a movable clock.

These call what Synapse calls (the registered callbacks, the jobs) and move the
clock instead of waiting; what only a running Synapse can show (the order of
its callbacks, what a client receives) is in tests/e2e.
"""

from __future__ import annotations

import pytest
from synapse.module_api.errors import SynapseError
from synapse.types import RoomAlias

from policies.api import RetentionRun
from policies.constants import DAY_MS
from synapse_module import retention
from synapse_module.module import QunzuModule

from .harness import NOW, FakeModuleApi, MovableClock

LOCAL = "@alice:localhost"


async def login(module_api: FakeModuleApi, user_id: str = LOCAL) -> None:
    (callback,) = module_api.callbacks["check_login_for_spam"]
    await callback(user_id, "DEVICE", None, [("qunzu-test/1.0", "192.0.2.7")], "m.login.password")


async def test_a_login_is_logged_at_the_modules_time(
    module: QunzuModule, module_api: FakeModuleApi, clock: MovableClock
) -> None:
    await login(module_api)
    clock.advance(DAY_MS)
    await login(module_api)
    logins = await module.store.netlog.logins_of([LOCAL], NOW + 2 * DAY_MS)
    assert [entry.ts for entry in logins] == [NOW, NOW + DAY_MS]
    assert {(entry.ip, entry.user_agent, entry.device_id) for entry in logins} == {
        ("192.0.2.7", "qunzu-test/1.0", "DEVICE")
    }


async def test_the_network_log_is_kept_for_the_retention_period_then_purged_with_the_chain_intact(
    module: QunzuModule, module_api: FakeModuleApi, clock: MovableClock
) -> None:
    """Art. 13: kept `retention.days` (never under six months), then purged; the audit chain still verifies."""
    days = module.config.policy.retention.days
    assert days >= 184
    await login(module_api)
    await module.store.audit.append("@staff:localhost", "test.action", LOCAL, {})

    clock.advance(days * DAY_MS - 1)
    kept = await module.jobs.run_now(retention.JOB_NAME)
    assert kept is not None
    assert isinstance(kept, RetentionRun) and (kept.netlog, kept.audit) == (0, 0)
    assert len(await module.store.netlog.logins_of([LOCAL], clock.now_ms())) == 1

    clock.advance(2)
    purged = await module.jobs.run_now(retention.JOB_NAME)
    assert isinstance(purged, RetentionRun)
    assert purged.netlog == 1
    assert purged.audit >= 1
    assert await module.store.netlog.logins_of([LOCAL], clock.now_ms()) == []
    verified = await module.store.audit.verify()
    assert verified.ok, verified.problem


async def test_code_shaped_aliases_are_refused_to_everyone_and_names_are_not(
    module: QunzuModule, module_api: FakeModuleApi
) -> None:
    """Art. 8: nine digits (with or without separators) read as a group code, so only a group has one."""
    (callback,) = module_api.callbacks["user_may_create_room_alias"]
    for localpart in ("123456782", "123-456-782", "１２３４５６７８２"):
        with pytest.raises(SynapseError) as refused:
            await callback(LOCAL, RoomAlias(localpart, "localhost"))
        assert refused.value.code == 403
        assert refused.value.error_dict(None)["cn.qunzu.reason"] == "alias_reserved"
    assert await callback(LOCAL, RoomAlias("hello-group", "localhost")) is not None
