"""The filing document (备案材料) shows the policy in force and statistics that match the database."""

from __future__ import annotations

import sqlite3
from collections import Counter

import aiohttp

from devtools.homeserver import SynapseProcess
from policies import load_policy
from synapse_module.filing import duration_text

from .conftest import fresh_localpart
from .matrix import Matrix


def _groups(server: SynapseProcess) -> Counter[tuple[str, str]]:
    """Live groups by (category, scale tier), as the filing should count them."""
    with sqlite3.connect(server.config_path.parent / "homeserver.db") as connection:
        return Counter(
            (category, tier)
            for category, tier in connection.execute(
                "SELECT category, scale_tier FROM qunzu_groups"
                " WHERE room_id IS NOT NULL AND retired_ts IS NULL AND verification_dm = 0"
            )
        )


async def test_filing_numbers_match_the_policy_and_the_database(
    restartable: SynapseProcess, http_session: aiohttp.ClientSession
) -> None:
    # A server other tests use too: the statistics must match its whole database, and grow by this test's groups.
    server = restartable
    before = _groups(server)
    staff = Matrix(http_session, server.base_url, server.register(fresh_localpart("staff"), admin=True))
    hosts = [Matrix(http_session, server.base_url, server.register(fresh_localpart("host"))) for _ in range(3)]
    for host in hosts:
        assert (await host.verify())[0] == 200
    for category in ("study", "study", "work"):
        await hosts[0].new_room(name=category, creation_content={"cn.qunzu.category": category})
    await hosts[1].new_room(name="综合")
    status, _entry = await staff.qunzu(
        "POST", "/admin/blacklist", {"subject": {"type": "user", "id": hosts[2].user_id}, "reason": "测试"}
    )
    assert status == 200, _entry

    status, filing = await staff.qunzu("GET", "/admin/filing")
    assert status == 200, filing
    stats, markdown = filing["statistics"], filing["markdown"]

    groups = _groups(server)
    with sqlite3.connect(server.config_path.parent / "homeserver.db") as connection:
        verified = connection.execute(
            "SELECT COUNT(*) FROM qunzu_identities WHERE status = 'verified' AND deactivated_ts IS NULL"
        ).fetchone()[0]
        blacklisted = connection.execute("SELECT COUNT(*) FROM qunzu_blacklist").fetchone()[0]
    assert {(g["category"], g["tier"]): g["count"] for g in stats["groups"]} == dict(groups)
    assert groups - before == Counter({("study", "small"): 2, ("work", "small"): 1, ("general", "small"): 1})
    assert sum(stats["users_by_level"].values()) == verified >= 3
    assert sum(m["count"] for m in stats["measures_by_month"] if m["measure"] == "blacklist_entry") == blacklisted >= 1

    policy = load_policy(None)
    assert markdown.startswith("# 互联网群组信息服务管理规则备案材料")
    assert f"留存期限：{policy.retention.days} 天" in markdown
    assert f"单个群组成员数上限：{policy.scale_tiers.ceiling} 人" in markdown
    assert f"同一身份最多认证账号数：{policy.realname.max_accounts_per_identity} 个" in markdown
    for level, rules in policy.credit.levels.items():
        assert f"| {level} | {rules.min_score} | {rules.rooms_owned} |" in markdown
    for report in policy.reports.categories.values():
        deadline = duration_text(policy.reports.deadlines[report.severity])
        assert f"| {report.labels['zh-CN']} |" in markdown and deadline in markdown
    for tier in policy.scale_tiers.tiers:
        assert f"| {tier.name} | {tier.labels['zh-CN']} | {tier.max_members} |" in markdown
    assert f"| 学习 | 小型 | {groups[('study', 'small')]} |" in markdown
    assert policy.convention.text["zh-CN"].splitlines()[0] in markdown

    async with http_session.get(
        f"{server.base_url}/_synapse/client/qunzu/v1/admin/filing",
        headers={"Authorization": f"Bearer {staff.account.access_token}", "Accept": "text/html"},
    ) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page and "@page { size: A4" in page
    assert "填报单位（盖章）" in page

    async with http_session.get(
        f"{server.base_url}/_synapse/client/qunzu/v1/admin/filing?format=markdown",
        headers={"Authorization": f"Bearer {staff.account.access_token}"},
    ) as response:
        assert response.status == 200 and response.content_type == "text/markdown"
        assert (await response.text()).startswith("# 互联网群组信息服务管理规则备案材料")

    status, _ = await staff.qunzu("GET", "/admin/filing?format=pdf")
    assert status == 400
