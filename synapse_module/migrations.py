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
    Migration(
        4,
        "groups: unique codes, categories, tiers, creation and join guards",
        (
            # Art. 8: one row per code, ever. A code is reserved at creation (room_id
            # still NULL), linked when the room exists, retired when it closes; never reused.
            """CREATE TABLE IF NOT EXISTS qunzu_groups (
                code TEXT PRIMARY KEY,
                room_id TEXT UNIQUE,
                category TEXT NOT NULL,
                creator TEXT NOT NULL,
                created_ts BIGINT NOT NULL,
                scale_tier TEXT NOT NULL,
                activity_tier TEXT NOT NULL,
                granted_tier TEXT,
                verification_dm SMALLINT NOT NULL DEFAULT 0,
                predecessor_room_id TEXT,
                retired_ts BIGINT
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_groups_creator ON qunzu_groups (creator, created_ts)",
            # Guard rows: every cap check writes its row, so concurrent checks for the
            # same room or the same person conflict and one is retried (exact caps).
            """CREATE TABLE IF NOT EXISTS qunzu_cap_guards (
                scope TEXT PRIMARY KEY,
                bumps BIGINT NOT NULL
            )""",
            # Places held by joins that passed the check but are not persisted yet.
            """CREATE TABLE IF NOT EXISTS qunzu_join_reservations (
                room_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                expires_ts BIGINT NOT NULL,
                PRIMARY KEY (room_id, user_id)
            )""",
        ),
    ),
    Migration(
        5,
        "credit, sanctions, appeals, regulator reports, notices, policy list (Art. 7, 11)",
        (
            # Art. 11: one table for every measure. `subject_type` is user | room (room_member
            # later: room_id + subject). `fingerprint` is the identity behind a user subject, so
            # a measure follows the person to every account. `end_ts` NULL: permanent.
            """CREATE TABLE IF NOT EXISTS qunzu_sanctions (
                id TEXT PRIMARY KEY,
                subject_type TEXT NOT NULL,
                subject TEXT NOT NULL,
                room_id TEXT,
                fingerprint TEXT,
                measure TEXT NOT NULL,
                ladder TEXT NOT NULL,
                category TEXT,
                reason TEXT NOT NULL,
                evidence TEXT NOT NULL,
                report_id TEXT,
                actor TEXT NOT NULL,
                start_ts BIGINT NOT NULL,
                end_ts BIGINT,
                credit_delta INTEGER NOT NULL,
                credit_user TEXT,
                lifted_ts BIGINT,
                lifted_by TEXT,
                lift_reason TEXT,
                overturned SMALLINT NOT NULL DEFAULT 0,
                notice_claim_ts BIGINT,
                notified_ts BIGINT
            )""",
            # The follow-up (notice, member removal) of measures not yet done: found after a crash.
            "CREATE INDEX IF NOT EXISTS qunzu_sanctions_followup ON qunzu_sanctions (notified_ts, start_ts)",
            "CREATE INDEX IF NOT EXISTS qunzu_sanctions_subject ON qunzu_sanctions (subject, start_ts)",
            "CREATE INDEX IF NOT EXISTS qunzu_sanctions_fingerprint ON qunzu_sanctions (fingerprint, start_ts)",
            "CREATE INDEX IF NOT EXISTS qunzu_sanctions_start ON qunzu_sanctions (start_ts)",
            # Art. 7: one credit row per verified person. `score` is the score at `anchor_ts`;
            # recovery since the anchor is computed on read, never by a job that could miss days.
            """CREATE TABLE IF NOT EXISTS qunzu_credit (
                fingerprint TEXT PRIMARY KEY,
                score INTEGER NOT NULL,
                anchor_ts BIGINT,
                last_violation_ts BIGINT,
                updated_ts BIGINT NOT NULL
            )""",
            # Every change of a score, with before and after (also in the audit chain).
            """CREATE TABLE IF NOT EXISTS qunzu_credit_changes (
                id TEXT PRIMARY KEY,
                fingerprint TEXT NOT NULL,
                user_id TEXT NOT NULL,
                ts BIGINT NOT NULL,
                delta INTEGER NOT NULL,
                before_score INTEGER NOT NULL,
                after_score INTEGER NOT NULL,
                reason TEXT NOT NULL,
                actor TEXT NOT NULL,
                sanction_id TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_credit_changes_fp ON qunzu_credit_changes (fingerprint, ts)",
            # PIPL Art. 24 / the convention: people may appeal; a person decides.
            """CREATE TABLE IF NOT EXISTS qunzu_appeals (
                id TEXT PRIMARY KEY,
                sanction_id TEXT NOT NULL,
                appellant TEXT NOT NULL,
                text TEXT NOT NULL,
                created_ts BIGINT NOT NULL,
                status TEXT NOT NULL,
                decided_ts BIGINT,
                decided_by TEXT,
                decision_reason TEXT
            )""",
            """CREATE UNIQUE INDEX IF NOT EXISTS qunzu_appeals_open ON qunzu_appeals (sanction_id, appellant)
                WHERE status = 'open'""",
            "CREATE INDEX IF NOT EXISTS qunzu_appeals_status ON qunzu_appeals (status, created_ts)",
            # Art. 11 向有关主管部门报告: closures, blacklistings and severe measures.
            """CREATE TABLE IF NOT EXISTS qunzu_regulator_reports (
                id TEXT PRIMARY KEY,
                ts BIGINT NOT NULL,
                kind TEXT NOT NULL,
                subject_type TEXT NOT NULL,
                subject TEXT NOT NULL,
                sanction_id TEXT,
                blacklist_id TEXT,
                category TEXT,
                summary TEXT NOT NULL,
                evidence TEXT NOT NULL,
                legal_basis TEXT NOT NULL,
                actor TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_regulator_reports_ts ON qunzu_regulator_reports (ts)",
            # The direct chat in which the service account tells a person about measures.
            """CREATE TABLE IF NOT EXISTS qunzu_notice_rooms (
                user_id TEXT PRIMARY KEY,
                room_id TEXT NOT NULL,
                created_ts BIGINT NOT NULL
            )""",
            # The blacklist as a Matrix policy list (m.policy.rule.*): what is published where.
            """CREATE TABLE IF NOT EXISTS qunzu_policy_rules (
                entry_id TEXT PRIMARY KEY,
                rule_type TEXT NOT NULL,
                entity TEXT NOT NULL,
                state_key TEXT NOT NULL,
                published_ts BIGINT,
                withdrawn_ts BIGINT
            )""",
            """CREATE TABLE IF NOT EXISTS qunzu_sanction_settings (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        6,
        "records: network log, audit checkpoint, emergency freezes (Art. 5, 13)",
        (
            # Art. 13 网络日志: one row per event, login, profile or account change. `id` is the
            # event id (or a generated id), so every write is idempotent. `content_enc` is the
            # event content, encrypted like identity data (FieldCipher, owner "<room>|<id>").
            """CREATE TABLE IF NOT EXISTS qunzu_netlog (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                ts BIGINT NOT NULL,
                stream BIGINT,
                user_id TEXT NOT NULL,
                target TEXT,
                room_id TEXT,
                group_code TEXT,
                event_type TEXT,
                membership TEXT,
                device_id TEXT,
                ip TEXT,
                user_agent TEXT,
                content_enc TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_netlog_ts ON qunzu_netlog (ts)",
            "CREATE INDEX IF NOT EXISTS qunzu_netlog_user_ts ON qunzu_netlog (user_id, ts)",
            "CREATE INDEX IF NOT EXISTS qunzu_netlog_room_ts ON qunzu_netlog (room_id, ts)",
            # How far the catch-up from Synapse's event stream has read (crash safety).
            """CREATE TABLE IF NOT EXISTS qunzu_netlog_cursor (
                id SMALLINT PRIMARY KEY CHECK (id = 1),
                stream BIGINT NOT NULL
            )""",
            # The signed end of the purged prefix of qunzu_audit: the chain verifies from here.
            """CREATE TABLE IF NOT EXISTS qunzu_audit_checkpoint (
                id SMALLINT PRIMARY KEY CHECK (id = 1),
                seq BIGINT NOT NULL,
                hash TEXT NOT NULL,
                ts BIGINT NOT NULL,
                created_ts BIGINT NOT NULL,
                mac TEXT NOT NULL
            )""",
            # Art. 5 应急处置: scope is "all", "category:<name>" or "room:<room id>".
            """CREATE TABLE IF NOT EXISTS qunzu_emergency (
                id TEXT PRIMARY KEY,
                scope TEXT NOT NULL,
                reason TEXT NOT NULL,
                actor TEXT NOT NULL,
                created_ts BIGINT NOT NULL,
                lifted_ts BIGINT,
                lifted_by TEXT,
                lift_reason TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_emergency_active ON qunzu_emergency (lifted_ts)",
        ),
    ),
    Migration(
        7,
        "reports: reporters, duplicates, lifecycle, Synapse report import; room-scoped mutes (Art. 9, 12)",
        (
            # Art. 12: a ticket is worked on (assignee, in_review) and closed with an outcome and,
            # when a measure was taken, its sanction id. `dedupe_key` joins duplicate reports of the
            # same event / room / user into the open ticket (unique only while the ticket is open).
            "ALTER TABLE qunzu_tickets ADD COLUMN assignee TEXT",
            "ALTER TABLE qunzu_tickets ADD COLUMN dedupe_key TEXT",
            "ALTER TABLE qunzu_tickets ADD COLUMN sanction_id TEXT",
            "ALTER TABLE qunzu_tickets ADD COLUMN resolution TEXT",
            """CREATE UNIQUE INDEX IF NOT EXISTS qunzu_tickets_open_dedupe ON qunzu_tickets (dedupe_key)
                WHERE dedupe_key IS NOT NULL AND status IN ('open', 'in_review')""",
            "CREATE INDEX IF NOT EXISTS qunzu_tickets_event ON qunzu_tickets (event_id)",
            "CREATE INDEX IF NOT EXISTS qunzu_tickets_created ON qunzu_tickets (created_ts)",
            # Everyone who reported a ticket (生态治理规定 Art. 16: each is told the outcome).
            """CREATE TABLE IF NOT EXISTS qunzu_ticket_reporters (
                ticket_id TEXT NOT NULL,
                reporter TEXT NOT NULL,
                source TEXT NOT NULL,
                reason TEXT NOT NULL,
                ts BIGINT NOT NULL,
                acked_ts BIGINT,
                notified_ts BIGINT,
                PRIMARY KEY (ticket_id, reporter)
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_ticket_reporters_rate ON qunzu_ticket_reporters (reporter, ts)",
            "CREATE INDEX IF NOT EXISTS qunzu_ticket_reporters_notify ON qunzu_ticket_reporters (notified_ts)",
            # Reports people made with their clients' report buttons, imported from Synapse's
            # event_reports / room_reports / user_reports exactly once (primary key).
            """CREATE TABLE IF NOT EXISTS qunzu_report_imports (
                source_table TEXT NOT NULL,
                source_id BIGINT NOT NULL,
                ticket_id TEXT,
                imported_ts BIGINT NOT NULL,
                PRIMARY KEY (source_table, source_id)
            )""",
            # Art. 9: room admins' mutes are rows of qunzu_sanctions with subject_type
            # 'room_member' (subject = user, room_id = the room); found per room and user.
            "CREATE INDEX IF NOT EXISTS qunzu_sanctions_room_member ON qunzu_sanctions (room_id, subject)",
        ),
    ),
    Migration(
        8,
        "per-person limits: windowed use counters, held places by person (Art. 6, 8, 12)",
        (
            # One row per counted use of a windowed per-person limit (store/limits.py): reports
            # per hour, verification attempts per day. The guard row in qunzu_cap_guards makes
            # the check and the use one exact step.
            """CREATE TABLE IF NOT EXISTS qunzu_limit_uses (
                limit_name TEXT NOT NULL,
                subject TEXT NOT NULL,
                use_id TEXT NOT NULL,
                ts BIGINT NOT NULL,
                PRIMARY KEY (limit_name, subject, use_id)
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_limit_uses_subject_ts ON qunzu_limit_uses (limit_name, subject, ts)",
            # Uses made before the counters existed still count for the rest of their window.
            """INSERT INTO qunzu_limit_uses (limit_name, subject, use_id, ts)
                SELECT 'reports', reporter, ticket_id, ts FROM qunzu_ticket_reporters
                WHERE ts > (SELECT COALESCE(MAX(ts), 0) FROM qunzu_ticket_reporters) - 3600000
                ON CONFLICT DO NOTHING""",
            """INSERT INTO qunzu_limit_uses (limit_name, subject, use_id, ts)
                SELECT 'realname_attempts', user_id, 'before:' || CAST(ts AS TEXT) || ':' || outcome, ts
                FROM qunzu_realname_attempts
                WHERE ts > (SELECT COALESCE(MAX(ts), 0) FROM qunzu_realname_attempts) - 86400000
                ON CONFLICT DO NOTHING""",
            # Art. 8 groups joined per person: the places a person's joins hold in other rooms count.
            "CREATE INDEX IF NOT EXISTS qunzu_join_reservations_user ON qunzu_join_reservations (user_id, expires_ts)",
        ),
    ),
    Migration(
        9,
        "bot chats: a notice chat found by its room; room mutes found by identity (Art. 6, 9)",
        (
            # A notice chat opened before its owner was written into its create event is
            # found by its room (the posting gate asks once per room and process).
            "CREATE INDEX IF NOT EXISTS qunzu_notice_rooms_room ON qunzu_notice_rooms (room_id)",
            # A room admin's mute follows the verified identity: rows carry its fingerprint.
            "CREATE INDEX IF NOT EXISTS qunzu_sanctions_room_identity ON qunzu_sanctions (room_id, fingerprint)",
        ),
    ),
    Migration(
        10,
        "groups: find a group by the room it was upgraded from (Art. 8)",
        (
            # The backfill of codes asks, per room without a code, whether a group moved on from it.
            "CREATE INDEX IF NOT EXISTS qunzu_groups_predecessor ON qunzu_groups (predecessor_room_id)",
        ),
    ),
    Migration(
        11,
        "announcements: pinned group announcements and the staff review of large and high-risk groups' (Art. 9)",
        (
            # status: pending (waits for staff), posted, rejected, failed (approved, but the room refused it).
            """CREATE TABLE IF NOT EXISTS qunzu_announcements (
                id TEXT PRIMARY KEY,
                room_id TEXT NOT NULL,
                actor TEXT NOT NULL,
                text TEXT NOT NULL,
                status TEXT NOT NULL,
                created_ts BIGINT NOT NULL,
                decided_ts BIGINT,
                decided_by TEXT,
                decision_reason TEXT,
                event_id TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_announcements_status ON qunzu_announcements (status, created_ts)",
        ),
    ),
    Migration(
        12,
        "private chats are not groups; convention update notices (DESIGN.md §6.2, §6.4)",
        (
            # A registered room that is a private chat (私聊): no alias, no page, not counted
            # against its owner's cap, until a third person makes it a group.
            "ALTER TABLE qunzu_groups ADD COLUMN private_chat SMALLINT NOT NULL DEFAULT 0",
            # Art. 5: each verified person is told once per convention version that it changed.
            """CREATE TABLE IF NOT EXISTS qunzu_convention_notices (
                user_id TEXT NOT NULL,
                version TEXT NOT NULL,
                sent_ts BIGINT NOT NULL,
                PRIMARY KEY (user_id, version)
            )""",
        ),
    ),
    Migration(
        13,
        "room owners told of tickets about their room; regulator reports tracked to a receipt (Art. 9, 11)",
        (
            # Art. 9: when the room's owner and admins were told of the ticket (NULL: still owed).
            # Tickets from before are not announced now, days late: they count as told.
            "ALTER TABLE qunzu_tickets ADD COLUMN room_staff_told_ts BIGINT",
            "UPDATE qunzu_tickets SET room_staff_told_ts = created_ts",
            "CREATE INDEX IF NOT EXISTS qunzu_tickets_room_staff_owed ON qunzu_tickets (created_ts)"
            " WHERE room_staff_told_ts IS NULL",
            # Art. 11: a regulator report is drafted, submitted (to whom, when), acknowledged (receipt).
            "ALTER TABLE qunzu_regulator_reports ADD COLUMN status TEXT NOT NULL DEFAULT 'draft'",
            "ALTER TABLE qunzu_regulator_reports ADD COLUMN submitted_to TEXT",
            "ALTER TABLE qunzu_regulator_reports ADD COLUMN submitted_ts BIGINT",
            "ALTER TABLE qunzu_regulator_reports ADD COLUMN receipt TEXT",
            "ALTER TABLE qunzu_regulator_reports ADD COLUMN summary_zh TEXT",
            "ALTER TABLE qunzu_regulator_reports ADD COLUMN updated_ts BIGINT",
            "CREATE INDEX IF NOT EXISTS qunzu_regulator_reports_status ON qunzu_regulator_reports (status, ts)",
        ),
    ),
    Migration(
        14,
        "once: what is told or recorded once per person and window (DESIGN.md §6.3)",
        (
            # One row per thing done once: a notice per person, reason and room per window,
            # the evidence of one client transaction, a greeting per account. A key is taken
            # by one conditional upsert, so parallel attempts on any process make one winner.
            "CREATE TABLE IF NOT EXISTS qunzu_once ( key TEXT PRIMARY KEY, expires_ts BIGINT NOT NULL, value TEXT)",
            "CREATE INDEX IF NOT EXISTS qunzu_once_expires ON qunzu_once (expires_ts)",
        ),
    ),
    Migration(
        15,
        "sealed evidence of refused and held content, holds, public reports (Art. 10, 12, 13)",
        (
            # Art. 10, 13; Cybersecurity Law Art. 47 (保存有关记录): what the content rules refused
            # or held, the content sealed (`content_enc`, FieldCipher bound to the row id), the
            # rest in clear for the queue. A hold's decision is on its row (status held →
            # releasing → released | rejected); a refusal's status is `sealed`.
            """CREATE TABLE IF NOT EXISTS qunzu_evidence (
                id TEXT PRIMARY KEY,
                ts BIGINT NOT NULL,
                action TEXT NOT NULL,
                rule TEXT NOT NULL,
                category TEXT NOT NULL,
                sender TEXT NOT NULL,
                room_id TEXT,
                event_id TEXT,
                event_type TEXT NOT NULL,
                ticket_id TEXT,
                digest TEXT NOT NULL,
                content_enc TEXT NOT NULL,
                status TEXT NOT NULL,
                decided_by TEXT,
                decided_ts BIGINT,
                released_event_id TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_evidence_ts ON qunzu_evidence (ts)",
            "CREATE INDEX IF NOT EXISTS qunzu_evidence_status_ts ON qunzu_evidence (status, ts)",
            # Synapse may check one event twice: it is sealed once.
            """CREATE UNIQUE INDEX IF NOT EXISTS qunzu_evidence_event ON qunzu_evidence (event_id)
                WHERE event_id IS NOT NULL""",
            # Art. 12: reports from people without an account. The follow-up token and the
            # address are kept as keyed hashes, the contact sealed; the ticket is in qunzu_tickets.
            """CREATE TABLE IF NOT EXISTS qunzu_public_reports (
                id TEXT PRIMARY KEY,
                ticket_id TEXT NOT NULL,
                ts BIGINT NOT NULL,
                category TEXT NOT NULL,
                token_hash TEXT NOT NULL,
                address_hash TEXT NOT NULL,
                contact_enc TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS qunzu_public_reports_ts ON qunzu_public_reports (ts)",
        ),
    ),
    Migration(
        16,
        "mute-alls found by their end, so the room is told when one ends by itself (Art. 9)",
        ("CREATE INDEX IF NOT EXISTS qunzu_sanctions_type_end ON qunzu_sanctions (subject_type, end_ts)",),
    ),
    Migration(
        17,
        "who claimed a notice chat being opened, so a restarted process takes over its own claim at once",
        ("ALTER TABLE qunzu_notice_rooms ADD COLUMN claimed_by TEXT",),
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
