"""Versioned schema of the `qunzu_*` tables in Synapse's database.

Synapse has no schema API for modules, so the module keeps its own version
number. Every process runs `migrate_txn` at start; it is idempotent and safe
when main and workers start at once:

- On PostgreSQL a transaction-scoped advisory lock makes concurrent runs take
  turns. A run that waited may still hold a snapshot from before the other
  run committed; it then fails to update the version row with a serialization
  failure, which Synapse retries with a fresh snapshot that sees the work done.
- SQLite has a single writer.

Migrations are append-only: never edit one that has shipped, add the next.
SQL is written once for both databases (TEXT, BIGINT, no AUTOINCREMENT).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from synapse.module_api import LoggingTransaction

from .errors import SchemaError

Dialect = Literal["sqlite", "postgres"]

# Arbitrary, but fixed forever: the advisory lock that serialises migrations.
_ADVISORY_LOCK_KEY = 0x7175_6E7A  # "qunz"


@dataclass(frozen=True)
class Migration:
    """One step of the schema, applied once in order."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "audit log",
        (
            """CREATE TABLE IF NOT EXISTS qunzu_audit (
                seq BIGINT PRIMARY KEY,
                ts BIGINT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                subject TEXT NOT NULL,
                details TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_audit_subject_ts ON qunzu_audit (subject, ts)",
            "CREATE INDEX IF NOT EXISTS qunzu_audit_ts ON qunzu_audit (ts)",
            # The head of the chain in one row: appends update it, so two
            # concurrent appends conflict on it and one is retried.
            """CREATE TABLE IF NOT EXISTS qunzu_audit_head (
                id SMALLINT PRIMARY KEY CHECK (id = 1),
                seq BIGINT NOT NULL,
                hash TEXT NOT NULL
            )""",
            "INSERT INTO qunzu_audit_head (id, seq, hash) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING",
        ),
    ),
    Migration(
        2,
        "real-name identities, convention acceptance, verification links, blacklist",
        (
            # Art. 6: name, ID number and phone only ever stored encrypted (FieldCipher);
            # `fingerprint` is a keyed digest of the ID number that links accounts of one person.
            """CREATE TABLE IF NOT EXISTS qunzu_identities (
                user_id TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                level INTEGER NOT NULL,
                fingerprint TEXT NOT NULL,
                name_enc TEXT NOT NULL,
                id_number_enc TEXT NOT NULL,
                phone_enc TEXT,
                provider TEXT NOT NULL,
                submitted_ts BIGINT NOT NULL,
                decided_ts BIGINT,
                decided_by TEXT,
                deactivated_ts BIGINT
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_identities_fingerprint ON qunzu_identities (fingerprint)",
            "CREATE INDEX IF NOT EXISTS qunzu_identities_status ON qunzu_identities (status, submitted_ts)",
            # One row per person: bindings update it, so concurrent bindings of the
            # same identity conflict and the accounts-per-identity cap stays exact.
            """CREATE TABLE IF NOT EXISTS qunzu_identity_accounts (
                fingerprint TEXT PRIMARY KEY,
                accounts INTEGER NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS qunzu_realname_attempts (
                user_id TEXT NOT NULL,
                ts BIGINT NOT NULL,
                outcome TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_realname_attempts_user_ts ON qunzu_realname_attempts (user_id, ts)",
            """CREATE TABLE IF NOT EXISTS qunzu_conventions (
                user_id TEXT PRIMARY KEY,
                version TEXT NOT NULL,
                accepted_ts BIGINT NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS qunzu_realname_links (
                token_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                created_ts BIGINT NOT NULL,
                expires_ts BIGINT NOT NULL,
                used_ts BIGINT
            )""",
            # Art. 11 黑名单. `fingerprint` is set for identity entries and for user
            # entries of verified users, so one entry covers every account of a person.
            """CREATE TABLE IF NOT EXISTS qunzu_blacklist (
                id TEXT PRIMARY KEY,
                subject_type TEXT NOT NULL,
                subject TEXT NOT NULL,
                fingerprint TEXT,
                reason TEXT NOT NULL,
                actor TEXT NOT NULL,
                created_ts BIGINT NOT NULL,
                until_ts BIGINT,
                lifted_ts BIGINT,
                lifted_by TEXT,
                lift_reason TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_blacklist_subject ON qunzu_blacklist (subject)",
            "CREATE INDEX IF NOT EXISTS qunzu_blacklist_fingerprint ON qunzu_blacklist (fingerprint)",
        ),
    ),
    Migration(
        3,
        "tickets: content flags and holds (Art. 10), later reports (Art. 12)",
        (
            # One queue for everything a person must look at. `source` says where it came
            # from (content_flag | content_hold | user_report | matrix_report); `rule` is the
            # content category that matched, `category` the report category whose severity
            # set `deadline_ts`. Content is never stored here, only its SHA-256 digest.
            """CREATE TABLE IF NOT EXISTS qunzu_tickets (
                id TEXT PRIMARY KEY,
                source TEXT NOT NULL,
                status TEXT NOT NULL,
                category TEXT NOT NULL,
                rule TEXT,
                room_id TEXT,
                event_id TEXT,
                accused TEXT,
                reporter TEXT,
                reason TEXT NOT NULL,
                content_digest TEXT,
                created_ts BIGINT NOT NULL,
                deadline_ts BIGINT NOT NULL,
                resolved_ts BIGINT,
                resolved_by TEXT,
                outcome TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_tickets_status_deadline ON qunzu_tickets (status, deadline_ts)",
            "CREATE INDEX IF NOT EXISTS qunzu_tickets_accused ON qunzu_tickets (accused, created_ts)",
            "CREATE INDEX IF NOT EXISTS qunzu_tickets_room ON qunzu_tickets (room_id, created_ts)",
            # Synapse may check one event more than once (retries, federation): one
            # content ticket per event and source.
            """CREATE UNIQUE INDEX IF NOT EXISTS qunzu_tickets_content_event ON qunzu_tickets (source, event_id)
                WHERE source IN ('content_flag', 'content_hold')""",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def dialect_of(txn: LoggingTransaction) -> Dialect:
    """Which SQL dialect the transaction speaks."""
    module_name = txn.database_engine.module.__name__
    return "sqlite" if module_name.startswith("sqlite") else "postgres"


@dataclass(frozen=True)
class MigrationResult:
    """What a migration run found and did."""

    from_version: int
    to_version: int

    @property
    def changed(self) -> bool:
        return self.from_version != self.to_version


def migrate_txn(
    txn: LoggingTransaction,
    instance: str,
    now_ms: int,
    migrations: tuple[Migration, ...] = MIGRATIONS,
) -> MigrationResult:
    """Bring the schema to the newest version; a no-op when it is there already.

    Raises:
        SchemaError: the database holds a newer schema than this code knows.
    """
    latest = migrations[-1].version
    if dialect_of(txn) == "postgres":
        txn.execute("SELECT pg_advisory_xact_lock(?)", (_ADVISORY_LOCK_KEY,))
    txn.execute(
        """CREATE TABLE IF NOT EXISTS qunzu_schema_version (
            id SMALLINT PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL,
            updated_ts BIGINT NOT NULL
        )"""
    )
    txn.execute(
        """CREATE TABLE IF NOT EXISTS qunzu_schema_history (
            version INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_ts BIGINT NOT NULL,
            applied_by TEXT NOT NULL
        )"""
    )
    txn.execute(
        "INSERT INTO qunzu_schema_version (id, version, updated_ts) VALUES (1, 0, ?) ON CONFLICT (id) DO NOTHING",
        (now_ms,),
    )
    txn.execute("SELECT version FROM qunzu_schema_version WHERE id = 1")
    row = txn.fetchone()
    current = int(row[0]) if row else 0
    if current > latest:
        raise SchemaError(
            f"the database has Qunzu schema version {current}, newer than this code's {latest}: "
            "upgrade the module on every process"
        )
    if current == latest:
        return MigrationResult(current, current)
    # Update the version row first: a run that raced another conflicts here
    # (and is retried) before it touches any table.
    txn.execute(
        "UPDATE qunzu_schema_version SET version = ?, updated_ts = ? WHERE id = 1 AND version = ?",
        (latest, now_ms, current),
    )
    for migration in migrations:
        if migration.version <= current:
            continue
        for statement in migration.statements:
            txn.execute(statement)
        txn.execute(
            "INSERT INTO qunzu_schema_history (version, description, applied_ts, applied_by) VALUES (?, ?, ?, ?)",
            (migration.version, migration.description, now_ms, instance),
        )
    return MigrationResult(current, latest)
