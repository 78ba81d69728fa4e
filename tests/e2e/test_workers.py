"""Qunzu on Synapse's scale-out: main + two generic workers on PostgreSQL and Redis.

The processes are the docker workers stack, its configs rendered by the images'
entrypoint (tests/e2e/worker_fixtures.py), started once for this module, all at
once. Every test addresses processes directly: a request "through worker2" is sent
to worker2's client listener, exactly as the stack's reverse proxy would send it
(`devtools.workers.WORKER_ROUTES`). worker1 runs the background tasks.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import secrets
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from bot.config import load_config
from devtools.homeserver import Account
from devtools.workers import Cluster, route_for
from synapse_module.migrations import LATEST_VERSION, MIGRATIONS

from .conftest import pg_query
from .docker_stack import run_entrypoint
from .matrix import Matrix, Reply
from .sanction_helpers import eventually, notices, set_power
from .worker_fixtures import (  # noqa: F401  (fixtures, registered under their names)
    Stack,
    cluster_database_fixture,
    cluster_fixture,
    new_account,
    on_fixture,
    poll_until,
    stack_fixture,
)

On = Callable[[str, Account], Matrix]
PURGE_JOB = "purge_deactivated_identities"
# The cluster's policy: a new verified member (credit 100, level B) may own 3 rooms, and a
# B owner's room holds 11 members (the medium tier) - the creator and 10 free places.
ROOMS_OWNED_CAP = 3
MEMBER_CAP = 11
CAP_POLICY = {
    "scale_tiers": {
        "tiers": [
            {"name": "small", "max_members": 10, "labels": {"zh-CN": "小型", "en": "small"}},
            {"name": "medium", "max_members": MEMBER_CAP, "labels": {"zh-CN": "中型", "en": "medium"}},
            {"name": "large", "max_members": 50, "labels": {"zh-CN": "大型", "en": "large"}},
            {"name": "huge", "max_members": 60, "labels": {"zh-CN": "超大型", "en": "huge"}},
        ],
        "info_page_from_members": 10,
    },
    # Joining stays open up to the cap, so a refusal past it can only be the cap.
    "realname": {"join_without_verification_up_to_tier": "medium"},
    "credit": {"levels": {"B": {"rooms_owned": ROOMS_OWNED_CAP}}},
}


@pytest.fixture(name="stack_settings", scope="module")
def stack_settings_fixture(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    policy = tmp_path_factory.mktemp("cluster-policy") / "policy.yaml"
    policy.write_text(yaml.safe_dump(CAP_POLICY, allow_unicode=True))
    return {"QUNZU_POLICY_FILE": str(policy)}


def _status(reply: Reply) -> int:
    return reply[0]


async def _verified(cluster: Cluster, on: On, name: str, prefix: str = "user") -> Matrix:
    member = on(name, new_account(cluster, prefix))
    status, reply = await member.verify()
    assert status == 200, reply
    return member


async def _posting_refused_through_the_workers(on: On, member: Matrix, room: str, reason: str) -> None:
    """Both workers refuse the member's post with `reason` within a second (caches invalidated by replication)."""
    for name in ("worker1", "worker2"):
        via = on(name, member.account)
        (status, reply), elapsed = await poll_until(
            functools.partial(via.send_text, room, "还能发吗"), lambda r: r[0] == 403, within_s=1.0
        )
        assert status == 403, f"{name} still lets the post through after {elapsed:.2f}s: {reply}"
        assert reply["cn.qunzu.reason"] == reason


_ROOM_NAME = "跨进程"


async def _public_room(host: Matrix) -> str:
    return await host.new_room(name=_ROOM_NAME, preset="public_chat")


def test_the_docker_workers_stack_boots_with_the_module_and_init_sets_up_bot_and_moderation_room(stack: Stack) -> None:
    """The stack's own configs, as the containers start them (the one-process config: tests/docker)."""
    config = yaml.safe_load(stack.config_path.read_text())
    assert config["database"]["name"] == "psycopg2"
    assert config["modules"][0]["module"] == "synapse_module.QunzuModule"
    assert config["modules"][0]["config"]["greet_new_accounts"] is False  # QUNZU_GREET_NEW_ACCOUNTS
    assert config["redaction_retention_period"] is None
    assert config["presence"] == {"enabled": False}  # status messages: text no module can screen
    replication = int(stack.env["QUNZU_REPLICATION_PORT"])
    assert config["instance_map"] == {"main": {"host": "127.0.0.1", "port": replication}}
    assert config["redis"]["enabled"] is True
    assert config["run_background_tasks_on"] == "worker1"
    for name in stack.cluster.names:
        assert stack.cluster.process(name).module_state() == "ready", name
    main = stack.cluster.main
    run_entrypoint(stack.env, "healthcheck", main.base_url)  # exits 0

    first = stack.init
    assert first["user_id"] == f"@qunzu:{stack.env['SYNAPSE_SERVER_NAME']}" == stack.cluster.service_account
    assert first["moderation_room"].startswith("!")
    bot = load_config(first["bot_config"])
    assert (bot.user_id, bot.moderation_room, bot.homeserver) == (
        first["user_id"],
        first["moderation_room"],
        main.base_url,
    )
    # A restart of the stack runs init again: same account, same room.
    again = json.loads(run_entrypoint(stack.env, "init"))
    assert again["moderation_room"] == first["moderation_room"]


async def test_verification_through_one_worker_lets_the_member_post_through_another_at_once(
    cluster: Cluster, on: On
) -> None:
    host = await _verified(cluster, on, "worker1", "host")
    room = await _public_room(host)
    account = new_account(cluster, "member")
    via_worker2, via_worker1 = on("worker2", account), on("worker1", account)
    assert _status(await via_worker2.join(room)) == 200
    # worker2 reads (and caches) the member's unverified gate record here.
    status, reply = await via_worker2.send_text(room, "大家好")
    assert status == 403
    assert reply["cn.qunzu.reason"] == "realname_required"

    status, reply = await via_worker1.verify()
    assert status == 200, reply

    # The gate cache is invalidated through replication: worker2 lets the post through within a second.
    (status, reply), elapsed = await poll_until(
        lambda: via_worker2.send_text(room, "大家好"), lambda r: r[0] == 200, within_s=1.0
    )
    assert status == 200, f"still refused after {elapsed:.2f}s: {reply}"


async def test_blacklisting_through_main_blocks_posting_through_the_workers_within_a_second(
    cluster: Cluster, on: On
) -> None:
    staff = on("main", new_account(cluster, "staff", admin=True))
    member = await _verified(cluster, on, "worker1")
    room = await _public_room(member)
    for name in ("worker1", "worker2"):
        status, reply = await on(name, member.account).send_text(room, f"经由 {name}")
        assert status == 200, reply  # both workers now hold the member's gate record

    status, entry = await staff.qunzu(
        "POST", "/admin/blacklist", {"subject": {"type": "user", "id": member.user_id}, "reason": "跨进程测试"}
    )
    assert status == 200, entry

    await _posting_refused_through_the_workers(on, member, room, "blacklisted")


async def test_schema_is_migrated_once_when_main_and_workers_start_together(
    cluster: Cluster, cluster_database: str
) -> None:
    history = pg_query(cluster_database, "SELECT version, applied_by FROM qunzu_schema_history ORDER BY version")
    assert [version for version, _by in history] == [migration.version for migration in MIGRATIONS]
    assert pg_query(cluster_database, "SELECT version FROM qunzu_schema_version") == [(LATEST_VERSION,)]
    # One process did the work; the others waited on the advisory lock and found it done.
    assert len({by for _version, by in history}) == 1
    migrated = [name for name in cluster.names if "schema migrated from version 0" in _log(cluster, name)]
    assert len(migrated) == 1, migrated
    for name in cluster.names:
        if name not in migrated:
            assert "schema up to date" in _log(cluster, name), name


async def test_module_api_answers_on_every_process(cluster: Cluster, on: On) -> None:
    member = new_account(cluster, "me")
    healths = []
    for name in cluster.names:
        via = on(name, member)
        status, health = await via.qunzu("GET", "/health")
        assert status == 200, health
        assert health["status"] == "ready"
        assert health["instance"] == ("master" if name == "main" else name)
        healths.append(health)
        status, me = await via.qunzu("GET", "/me")
        assert status == 200, me
        assert me["user_id"] == member.user_id
    # Every process enforces the same policy and schema.
    assert len({(h["schema_version"], h["policy"]["sha256"]) for h in healths}) == 1


async def test_background_jobs_run_once_on_the_background_instance(
    cluster: Cluster, cluster_database: str, on: On
) -> None:
    probe = on("worker2", new_account(cluster, "probe"))

    async def last_run() -> Any:
        status, health = await probe.qunzu("GET", "/health")
        assert status == 200, health
        return health["jobs"][PURGE_JOB]

    # A fresh installation runs every job right after start; worker1 has the background tasks.
    run, elapsed = await poll_until(last_run, lambda r: r is not None, within_s=30.0, interval_s=0.5)
    assert run is not None, f"{PURGE_JOB} did not run within {elapsed:.0f}s"
    assert run["instance"] == cluster.background_instance
    assert run["ok"] is True

    runs = pg_query(
        cluster_database,
        "SELECT actor FROM qunzu_audit WHERE action = 'job.run' AND subject = %s",
        (f"job:{PURGE_JOB}",),
    )
    assert runs == [(f"module:{cluster.background_instance}",)]
    done = re.compile(rf"qunzu: job {PURGE_JOB} done")
    assert {name: len(done.findall(_log(cluster, name))) for name in cluster.names} == {
        name: (1 if name == cluster.background_instance else 0) for name in cluster.names
    }


async def test_refusals_are_counted_in_the_metrics_of_the_process_that_refused(cluster: Cluster, on: On) -> None:
    host = await _verified(cluster, on, "worker1", "host")
    room = await _public_room(host)
    stranger = on("worker2", new_account(cluster, "stranger"))
    assert _status(await stranger.join(room)) == 200
    before = _metric(cluster, "worker2", 'qunzu_decisions_total{reason="realname_required"}')
    assert _status(await stranger.send_text(room, "你好")) == 403
    after = _metric(cluster, "worker2", 'qunzu_decisions_total{reason="realname_required"}')
    assert after == before + 1
    assert _metric(cluster, "worker1", 'qunzu_decisions_total{reason="allowed"}') >= 1


async def test_ticket_gauges_are_exported_by_the_background_instance_only(cluster: Cluster) -> None:
    async def gauges() -> list[float | None]:
        return [_metric_or_none(cluster, name, "qunzu_tickets_open") for name in cluster.names]

    values, elapsed = await poll_until(
        gauges, lambda v: v[cluster.names.index(cluster.background_instance)] is not None, within_s=30, interval_s=0.5
    )
    by_name = dict(zip(cluster.names, values, strict=True))
    assert by_name[cluster.background_instance] is not None, f"no ticket gauge after {elapsed:.0f}s"
    assert [v for name, v in by_name.items() if name != cluster.background_instance] == [None, None]
    assert _metric(cluster, cluster.background_instance, "qunzu_tickets_overdue") >= 0


def test_the_documented_worker_routes_send_gated_actions_to_workers_and_admin_to_main() -> None:
    for path in (
        "/_matrix/client/v3/createRoom",
        "/_matrix/client/v3/rooms/!r:example.org/send/m.room.message/txn1",
        "/_matrix/client/v3/join/!r:example.org",
        "/_matrix/client/v3/rooms/!r:example.org/invite",
        "/_matrix/client/v3/sync",
    ):
        assert route_for(path) == "workers", path
    for path in (
        "/_synapse/admin/v1/register",
        "/_synapse/client/qunzu/v1/admin/sanctions",
        "/_matrix/client/v3/rooms/!r:example.org/report/$e",
        "/_matrix/media/v3/upload",
    ):
        assert route_for(path) == "main", path


async def test_a_mute_applied_through_main_blocks_posting_through_the_workers_within_a_second(
    cluster: Cluster, on: On
) -> None:
    staff = on("main", new_account(cluster, "staff", admin=True))
    member = await _verified(cluster, on, "worker2")
    room = await _public_room(member)
    for name in ("worker1", "worker2"):
        assert _status(await on(name, member.account).send_text(room, f"经由 {name}")) == 200

    body = {"subject": {"type": "user", "id": member.user_id}, "measure": "mute", "reason": "刷屏", "duration": "1h"}
    status, sanction = await staff.qunzu("POST", "/admin/sanctions", body)
    assert status == 200, sanction

    await _posting_refused_through_the_workers(on, member, room, "posting_suspended_user")


async def test_a_room_suspension_applied_through_a_worker_blocks_posting_through_another(
    cluster: Cluster, on: On
) -> None:
    # The module's admin API works on workers too (it is not routed to main only).
    staff = on("worker1", new_account(cluster, "staff", admin=True))
    member = await _verified(cluster, on, "worker2")
    room = await _public_room(member)
    assert _status(await member.send_text(room, "整改前")) == 200

    body = {
        "subject": {"type": "room", "id": room},
        "measure": "posting_suspension",
        "reason": "整改",
        "duration": "1h",
    }
    status, sanction = await staff.qunzu("POST", "/admin/sanctions", body)
    assert status == 200, sanction

    (status, reply), elapsed = await poll_until(
        lambda: member.send_text(room, "整改中"), lambda r: r[0] == 403, within_s=1.0
    )
    assert status == 403, f"worker2 still lets the post through after {elapsed:.2f}s: {reply}"
    assert reply["cn.qunzu.reason"] == "posting_suspended_room"


async def test_an_admin_suspension_applied_through_main_refuses_kicks_through_the_workers_within_a_second(
    cluster: Cluster, on: On
) -> None:
    staff = on("main", new_account(cluster, "staff", admin=True))
    owner = await _verified(cluster, on, "worker1", "owner")
    admin = await _verified(cluster, on, "worker2", "adm")
    targets = [await _verified(cluster, on, "worker2", "target") for _ in range(2)]
    room = await _public_room(owner)
    for person in (admin, *targets):
        assert _status(await person.join(room)) == 200
    await set_power(owner, room, {admin.user_id: 50})

    body = {"subject": {"type": "user", "id": admin.user_id}, "measure": "admin_suspension", "reason": "滥权"}
    status, sanction = await staff.qunzu("POST", "/admin/sanctions", {**body, "duration": "1d"})
    assert status == 200, sanction

    # The workers build the kick events; each arms its guard when the invalidation reaches it.
    # A kick let through before that (inside the second) is undone, so the next try has a target.
    kick = f"/_matrix/client/v3/rooms/{quote(room)}/kick"
    for name, target in zip(("worker1", "worker2"), targets, strict=True):
        via = on(name, admin.account)

        async def kick_once(via: Matrix = via, target: Matrix = target) -> Reply:
            reply = await via.call("POST", kick, {"user_id": target.user_id})
            if reply[0] == 200:
                assert _status(await target.join(room)) == 200
            return reply

        (status, reply), elapsed = await poll_until(kick_once, lambda r: r[0] == 403, within_s=1.0)
        assert status == 403 and reply.get("cn.qunzu.reason") == "admin_suspended", (
            f"{name} let the kick through or refused it otherwise after {elapsed:.2f}s: {reply}"
        )
        status, health = await via.qunzu("GET", "/health")
        assert health["instance"] == name and health["admin_guard"]["armed"] is True, health


async def test_fifty_simultaneous_joins_over_three_processes_fill_exactly_the_ten_free_places(
    cluster: Cluster, on: On, cluster_database: str
) -> None:
    host = await _verified(cluster, on, "main", "host")
    room = await _public_room(host)
    # The group is registered under its room id before the joins arrive; the next test races them.
    await _group_linked(cluster_database, room)
    joiners = _spread(cluster, on, _accounts(cluster, 50, "joiner"))

    replies = await asyncio.gather(*(joiner.join(room) for joiner in joiners))

    admitted = [joiner for joiner, (status, _r) in zip(joiners, replies, strict=True) if status == 200]
    refusals = {reply.get("cn.qunzu.reason") for status, reply in replies if status != 200}
    assert len(admitted) == MEMBER_CAP - 1, f"{len(admitted)} joined; refusals: {refusals}"
    assert refusals == {"room_full"}
    status, reply = await host.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/joined_members")
    assert status == 200, reply
    members = set(reply["joined"]) - {cluster.service_account}
    assert members == {host.user_id} | {joiner.user_id for joiner in admitted}
    # A refusal on a worker is told in the person's bot chat, which that worker opened.
    turned_away = next(
        joiner
        for index, (joiner, (status, _r)) in enumerate(zip(joiners, replies, strict=True))
        if status != 200 and cluster.names[index % len(cluster.names)] != "main"
    )
    status, group = await host.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/cn.qunzu.group/")
    assert status == 200, group

    async def told() -> list[str] | None:
        found = [body for body in await notices(turned_away, cluster.service_account) if "本群人数已达上限" in body]
        return found or None

    (notice,) = await eventually(told, what=f"the room_full notice for {turned_away.user_id}")
    assert notice.startswith(f"【操作未成功】你加入群组（群组“{_ROOM_NAME}”，群号 {group['code']}）没有成功"), notice
    assert f"/{MEMBER_CAP} 人），暂时无法加入" in notice, notice


async def test_joins_right_after_creation_respect_the_member_cap(cluster: Cluster, on: On) -> None:
    host = await _verified(cluster, on, "main", "host")
    joiners = _spread(cluster, on, _accounts(cluster, 20, "early"))
    room = await _public_room(host)  # and the joins follow at once

    replies = await asyncio.gather(*(joiner.join(room) for joiner in joiners))

    assert sum(1 for status, _reply in replies if status == 200) == MEMBER_CAP - 1


async def test_the_room_creation_cap_holds_across_processes(cluster: Cluster, on: On) -> None:
    creator = new_account(cluster, "creator")
    assert (await on("main", creator).verify())[0] == 200
    names = cluster.names
    attempts = [on(names[i % len(names)], creator) for i in range(3 * ROOMS_OWNED_CAP)]

    replies = await asyncio.gather(*(via.create_room(name=f"群{i}") for i, via in enumerate(attempts)))

    created = [reply for status, reply in replies if status == 200]
    refusals = {reply.get("cn.qunzu.reason") for status, reply in replies if status != 200}
    assert len(created) == ROOMS_OWNED_CAP, f"{len(created)} created; refusals: {refusals}"
    assert refusals == {"create_limit"}


def _accounts(cluster: Cluster, count: int, prefix: str) -> list[Account]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: new_account(cluster, f"{prefix}{i}_"), range(count)))


def _spread(cluster: Cluster, on: On, accounts: list[Account]) -> list[Matrix]:
    """One client per account, round robin over main, worker1 and worker2."""
    names = cluster.names
    return [on(names[i % len(names)], account) for i, account in enumerate(accounts)]


async def _group_linked(database: str, room_id: str) -> float:
    """Wait until the module has registered the new room's group code under its room id."""

    async def linked() -> bool:
        return bool(pg_query(database, "SELECT 1 FROM qunzu_groups WHERE room_id = %s", (room_id,)))

    found, elapsed = await poll_until(linked, bool, within_s=10.0)
    assert found, f"group of {room_id} not linked after {elapsed:.1f}s"
    return elapsed


def _log(cluster: Cluster, name: str) -> str:
    return cluster.log_path(name).read_text(errors="replace")


def _metric_or_none(cluster: Cluster, name: str, sample: str) -> float | None:
    with urllib.request.urlopen(cluster.metrics_url(name), timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def _metric(cluster: Cluster, name: str, sample: str) -> float:
    value = _metric_or_none(cluster, name, sample)
    return 0.0 if value is None else value


async def test_a_report_command_sent_again_through_another_worker_files_one_report(cluster: Cluster, on: On) -> None:
    host = await _verified(cluster, on, "worker1", "host")
    room = await _public_room(host)
    account = new_account(cluster, "reporter")
    via_worker1, via_worker2 = on("worker1", account), on("worker2", account)
    assert _status(await via_worker1.join(room)) == 200
    # A client's retry of one send (same transaction id) may reach any process behind the proxy,
    # the first attempt still filing or done.
    path = f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/report-{secrets.token_hex(6)}"
    content = {"msgtype": "m.text", "body": "!report fraud 有人骗钱"}
    first, at_once = await asyncio.gather(
        via_worker1.call("PUT", path, content), via_worker2.call("PUT", path, content)
    )
    later = await via_worker2.call("PUT", path, content)
    status, refused = first
    assert status == 403 and refused["cn.qunzu.reason"] == "report_received", refused
    ticket_id = refused["cn.qunzu.detail"]["ticket"]
    assert refused["error"].startswith(f"你的举报已收到，工单号 {ticket_id}。"), refused
    assert at_once == first and later == first
    staff = on("main", new_account(cluster, "staff", admin=True))
    status, ticket = await staff.qunzu("GET", f"/admin/reports/{ticket_id}")
    assert status == 200, ticket
    assert ticket["reporters"] == [account.user_id] and ticket["reporter_count"] == 1, ticket
    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={quote(room)}")
    assert status == 200, audit
    assert len([entry for entry in audit["entries"] if entry["action"] == "report.file"]) == 1, audit
