"""SQL of the blacklist's policy list (Art. 11): `qunzu_policy_rules` and the list's settings.

Which rules to publish or withdraw is read from `qunzu_blacklist` against
`qunzu_policy_rules`, so a crash or a missing service account only delays it.
"""

from __future__ import annotations

from synapse.module_api import LoggingTransaction, ModuleApi

from ..clock import Clock


class PolicyRuleStore:
    """Async access to `qunzu_policy_rules` and `qunzu_sanction_settings`."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def setting(self, name: str) -> str | None:
        return await self._api.run_db_interaction("qunzu_sanction_setting", _setting_txn, name)

    async def set_setting(self, name: str, value: str) -> str:
        """Store a setting unless one exists; returns the stored value (first writer wins)."""
        return await self._api.run_db_interaction("qunzu_set_sanction_setting", _set_setting_txn, name, value)

    async def rules_to_sync(self, limit: int) -> list[tuple[str, str, str, bool]]:
        """Blacklist entries whose policy rule is missing or stale: (entry id, rule type, entity, active)."""
        return await self._api.run_db_interaction(
            "qunzu_policy_rules_to_sync", _rules_to_sync_txn, self._clock.now_ms(), limit
        )

    async def mark_rule(self, entry_id: str, rule_type: str, entity: str, state_key: str, active: bool) -> None:
        await self._api.run_db_interaction(
            "qunzu_mark_policy_rule",
            _mark_rule_txn,
            entry_id,
            rule_type,
            entity,
            state_key,
            active,
            self._clock.now_ms(),
        )


def _setting_txn(txn: LoggingTransaction, name: str) -> str | None:
    txn.execute("SELECT value FROM qunzu_sanction_settings WHERE name = ?", (name,))
    row = txn.fetchone()
    return None if row is None else str(row[0])


def _set_setting_txn(txn: LoggingTransaction, name: str, value: str) -> str:
    txn.execute(
        "INSERT INTO qunzu_sanction_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (name, value)
    )
    stored = _setting_txn(txn, name)
    assert stored is not None
    return stored


def _rules_to_sync_txn(txn: LoggingTransaction, now_ms: int, limit: int) -> list[tuple[str, str, str, bool]]:
    # Identity entries are never published: they would link a person's accounts in public.
    txn.execute(
        "SELECT b.id, b.subject_type, b.subject,"
        " CASE WHEN b.lifted_ts IS NULL AND (b.until_ts IS NULL OR b.until_ts > ?) THEN 1 ELSE 0 END,"
        " r.published_ts, r.withdrawn_ts"
        " FROM qunzu_blacklist b LEFT JOIN qunzu_policy_rules r ON r.entry_id = b.id"
        " WHERE b.subject_type IN ('user', 'room')"
        " AND ((r.entry_id IS NULL AND b.lifted_ts IS NULL AND (b.until_ts IS NULL OR b.until_ts > ?))"
        "  OR (r.published_ts IS NOT NULL AND r.withdrawn_ts IS NULL"
        "      AND (b.lifted_ts IS NOT NULL OR (b.until_ts IS NOT NULL AND b.until_ts <= ?))))"
        " ORDER BY b.created_ts LIMIT ?",
        (now_ms, now_ms, now_ms, limit),
    )
    return [
        (str(r[0]), "m.policy.rule.user" if r[1] == "user" else "m.policy.rule.room", str(r[2]), bool(r[3]))
        for r in txn.fetchall()
    ]


def _mark_rule_txn(
    txn: LoggingTransaction, entry_id: str, rule_type: str, entity: str, state_key: str, active: bool, now_ms: int
) -> None:
    if active:
        txn.execute(
            "INSERT INTO qunzu_policy_rules (entry_id, rule_type, entity, state_key, published_ts, withdrawn_ts)"
            " VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT (entry_id) DO UPDATE SET published_ts = excluded.published_ts",
            (entry_id, rule_type, entity, state_key, now_ms),
        )
    else:
        txn.execute(
            "INSERT INTO qunzu_policy_rules (entry_id, rule_type, entity, state_key, published_ts, withdrawn_ts)"
            " VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT (entry_id) DO UPDATE SET withdrawn_ts = excluded.withdrawn_ts",
            (entry_id, rule_type, entity, state_key, now_ms),
        )
