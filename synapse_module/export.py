"""Export bundles for regulators (Art. 13: cooperate with supervision) and their verification.

A bundle is a directory (or the same thing as one JSON answer of the API):

- ``manifest.json`` — format, server, who exported what range for which subject,
  whether identities were included and on what legal basis, and for every file
  its number of lines and SHA-256; ``mac`` is an HMAC-SHA256 over the rest with a
  key derived from the module key, so the operator can prove the bundle is theirs.
- ``netlog.jsonl`` — the network log in range: events with their decrypted
  content, memberships, logins (IP, user agent, device), profile and account
  changes; each message carries the sender's latest login before it.
- ``audit.jsonl`` — the audit log in range (measures, staff actions, reveals, exports).
- ``tickets.jsonl`` (reports and content flags), ``blacklist.jsonl``,
  ``sanctions.jsonl``, ``appeals.jsonl``, ``credit_changes.jsonl``,
  ``regulator_reports.jsonl``, ``emergency.jsonl`` — the
  records of the measures taken; ``evidence.jsonl`` — what the content rules
  refused or held (sender, room, time, rule, digest, decision; the sealed content
  stays out); tables not installed are listed as absent.
- ``client_ips.jsonl`` — Synapse's own record of the subject's IPs and user agents.
- ``identities.jsonl`` — only when the staff member states a legal basis: the
  verified identity (name, ID number, phone) of each local account in the bundle.

Anyone can check the digests (``verify_bundle`` without a key: a changed, added
or removed line fails); with the module key the manifest's MAC is checked too.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from policies import InvalidNumber
from policies.api import BundleCheck
from policies.messages import CHINA_STANDARD_TIME as CHINA_TZ
from policies.messages import china_datetime
from policies.numbers import EARLIEST_MS, LATEST_MS, time_ms

from .audit import canonical_json
from .crypto import DecryptionError, FieldCipher, derive_key, mac_hex
from .errors import QunzuError

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .store.audit import AuditStore
    from .store.identities import IdentityStore
    from .store.netlog import LogEntry, NetlogStore

FORMAT: Final = "qunzu-export/1"
MANIFEST: Final = "manifest.json"
MAC_PURPOSE: Final = "qunzu/export-manifest/v1"
MAX_LINES: Final = 200_000

# file name, table, time column, columns that name a subject
OPTIONAL_TABLES: Final[tuple[tuple[str, str, str, tuple[str, ...]], ...]] = (
    ("tickets.jsonl", "qunzu_tickets", "created_ts", ("accused", "reporter", "room_id")),
    ("blacklist.jsonl", "qunzu_blacklist", "created_ts", ("subject",)),
    ("sanctions.jsonl", "qunzu_sanctions", "start_ts", ("subject", "room_id", "credit_user")),
    ("appeals.jsonl", "qunzu_appeals", "created_ts", ("appellant",)),
    ("credit_changes.jsonl", "qunzu_credit_changes", "ts", ("user_id",)),
    ("regulator_reports.jsonl", "qunzu_regulator_reports", "ts", ("subject",)),
    ("emergency.jsonl", "qunzu_emergency", "created_ts", ("scope",)),
    # What the content rules refused or held: who, where, when, which rule, the digest, the decision.
    ("evidence.jsonl", "qunzu_evidence", "ts", ("sender", "room_id")),
)
# Sealed columns stay sealed in a bundle: their content is read by a reveal with a reason.
SEALED_COLUMNS: Final = frozenset({"content_enc"})


class ExportError(QunzuError):
    """The export cannot be built as asked (too large, bad range)."""


def iso(ts_ms: int) -> str:
    """A timestamp as ISO 8601 in China Standard Time (what a reader expects in a record).

    A stored time `datetime` cannot hold shows as the nearest one it can, never an error.
    """
    try:
        return datetime.datetime.fromtimestamp(ts_ms / 1000, CHINA_TZ).isoformat(timespec="milliseconds")
    except (OverflowError, ValueError, OSError):
        return china_datetime(ts_ms).isoformat(timespec="milliseconds")


_MILLISECONDS = re.compile(r"-?[0-9]+")


def parse_time(value: object, name: str) -> int | None:
    """Milliseconds since the epoch, or ISO 8601 (without a zone: China Standard Time).

    Raises:
        InvalidNumber: the value is neither, or not a time from the year 2000 to 9999.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or _MILLISECONDS.fullmatch(value.strip()):
        # Bounded like every time from outside (years 2000 to 9999): a 400, never an overflow.
        return time_ms(value.strip() if isinstance(value, str) else value, name)
    text = value.strip()
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidNumber(
            name,
            f"{name} must be milliseconds since the epoch or an ISO 8601 time",
            {"earliest_at": EARLIEST_MS, "latest_at": LATEST_MS},
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return time_ms(int(moment.timestamp() * 1000), name)


def jsonl(records: Sequence[Mapping[str, Any]]) -> str:
    """One canonical JSON object per line."""
    return "".join(canonical_json(dict(record)) + "\n" for record in records)


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Bundle:
    """A manifest and the text of each file."""

    manifest: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "files": self.files}


def seal(meta: Mapping[str, Any], files: Mapping[str, str], key: bytes) -> Bundle:
    """Add counts, digests and the MAC to `meta` and return the bundle."""
    manifest = dict(meta)
    manifest["format"] = FORMAT
    manifest["files"] = {
        name: {"lines": text.count("\n"), "sha256": file_digest(text.encode("utf-8"))}
        for name, text in sorted(files.items())
    }
    manifest["mac"] = manifest_mac(manifest, key)
    return Bundle(manifest, dict(files))


def manifest_mac(manifest: Mapping[str, Any], key: bytes) -> str:
    body = {k: v for k, v in manifest.items() if k != "mac"}
    return mac_hex(derive_key(key, MAC_PURPOSE), canonical_json(body).encode("utf-8"))


@dataclass(frozen=True)
class VerifyReport:
    """What `verify_bundle` found; `problems` is empty when the bundle is intact."""

    ok: bool
    problems: list[str]
    files: int
    lines: int
    mac_checked: bool

    def record(self) -> BundleCheck:
        return BundleCheck(
            ok=self.ok, problems=self.problems, files=self.files, lines=self.lines, mac_checked=self.mac_checked
        )


def verify_bundle(manifest: Mapping[str, Any], files: Mapping[str, bytes], key: bytes | None = None) -> VerifyReport:
    """Check every file against the manifest (and the manifest's MAC when the key is given)."""
    problems: list[str] = []
    listed = manifest.get("files")
    if manifest.get("format") != FORMAT or not isinstance(listed, Mapping):
        return VerifyReport(False, [f"{MANIFEST} is not a {FORMAT} manifest"], 0, 0, False)
    lines = 0
    for name, expected in sorted(listed.items()):
        data = files.get(name)
        if data is None:
            problems.append(f"{name}: missing")
            continue
        if not isinstance(expected, Mapping):
            problems.append(f"{name}: the manifest entry is malformed")
            continue
        count = data.count(b"\n")
        lines += count
        if file_digest(data) != expected.get("sha256"):
            problems.append(f"{name}: SHA-256 does not match the manifest (the file was changed)")
        elif count != expected.get("lines"):
            problems.append(f"{name}: {count} lines, the manifest says {expected.get('lines')}")
    for name in sorted(set(files) - set(listed)):
        problems.append(f"{name}: not listed in the manifest")
    mac_checked = key is not None
    if key is not None and not hmac.compare_digest(str(manifest.get("mac", "")), manifest_mac(manifest, key)):
        problems.append(f"{MANIFEST}: the MAC does not match this server's key (manifest changed or not ours)")
    return VerifyReport(not problems, problems, len(listed), lines, mac_checked)


def write_bundle(bundle: Bundle, directory: Path) -> None:
    """Write the files and the manifest into `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in bundle.files.items():
        if "/" in name or name.startswith("."):
            raise ExportError(f"refusing to write an unsafe file name: {name!r}")
        (directory / name).write_bytes(text.encode("utf-8"))
    (directory / MANIFEST).write_text(json.dumps(bundle.manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def read_bundle(directory: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and the raw bytes of every other file in `directory`.

    Raises:
        ExportError: no readable manifest.
    """
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{directory / MANIFEST}: cannot read the manifest ({exc.__class__.__name__})") from None
    if not isinstance(manifest, dict):
        raise ExportError(f"{directory / MANIFEST}: not a JSON object")
    files = {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}
    files.pop(MANIFEST, None)
    return manifest, files


# -- building a bundle inside the module ---------------------------------------------------


class Exporter:
    """Builds bundles from the module's tables (staff only; audited by the caller and here)."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        key: bytes,
        *,
        audit: AuditStore,
        identities: IdentityStore,
        netlog: NetlogStore,
        content_of: Callable[[LogEntry], Any],
    ) -> None:
        """`content_of` opens a network-log row's sealed content (`NetworkLog.content_of`)."""
        from .store.records import RecordsStore

        self._api = api
        self._clock = clock
        self._key = key
        self._audit = audit
        self._identity_store = identities
        self._netlog_store = netlog
        self._content_of = content_of
        self._records = RecordsStore(api)
        self._identity_cipher = FieldCipher(key)

    async def build(
        self, actor: str, since_ms: int, until_ms: int, subject: str | None, legal_basis: str | None
    ) -> Bundle:
        """Collect everything in `[since_ms, until_ms)` (about `subject` when given).

        Raises:
            ExportError: an empty range or more than MAX_LINES rows in one file.
        """
        if until_ms <= since_ms:
            raise ExportError("until must be after since")
        codes = await self._records.group_codes()
        subjects = self._subjects(subject, codes)
        files: dict[str, str] = {}
        sources: dict[str, str] = {}

        netlog = await self._netlog(since_ms, until_ms, subjects, codes)
        files["netlog.jsonl"] = jsonl(netlog)
        audit = await self._records.audit_in_range(since_ms, until_ms, MAX_LINES + 1)
        self._check_size("audit.jsonl", audit)
        if subjects:
            audit = [row for row in audit if row["subject"] in subjects or row["actor"] in subjects]
        files["audit.jsonl"] = jsonl(
            [{**row, "time": iso(row["ts"]), "details": json.loads(row["details"])} for row in audit]
        )
        for name, table, ts_column, subject_columns in OPTIONAL_TABLES:
            found = await self._records.table_in_range(
                table, ts_column, since_ms, until_ms, subject_columns, sorted(subjects), MAX_LINES + 1
            )
            sources[name] = "present" if found.present else "absent"
            if found.present:
                self._check_size(name, found.rows)
                files[name] = jsonl(
                    [
                        {**{k: v for k, v in row.items() if k not in SEALED_COLUMNS}, "time": iso(int(row[ts_column]))}
                        for row in found.rows
                    ]
                )
        user_subject = subject if subject and subject.startswith("@") else None
        if user_subject is not None:
            ips = await self._api.get_user_ip_and_agents(user_subject, since_ms)
            files["client_ips.jsonl"] = jsonl(
                [
                    {"user_id": user_subject, "ip": ip.ip, "user_agent": ip.user_agent, "last_seen": ip.last_seen}
                    for ip in ips
                ]
            )
        identities = 0
        if legal_basis:
            people = sorted({row["user_id"] for row in netlog} | ({user_subject} if user_subject else set()))
            records = await self._identities(actor, people, legal_basis)
            identities = len(records)
            files["identities.jsonl"] = jsonl(records)
        meta = {
            "server": self._api.server_name,
            "generated_at": iso(self._clock.now_ms()),
            "generated_ts": self._clock.now_ms(),
            "generated_by": actor,
            "since": since_ms,
            "until": until_ms,
            "since_time": iso(since_ms),
            "until_time": iso(until_ms),
            "subject": subject,
            "identities_included": bool(legal_basis),
            "legal_basis": legal_basis,
            "sources": sources,
        }
        bundle = seal(meta, files, self._key)
        await self._audit.append(
            actor,
            "records.export",
            subject or "records",
            {
                "since": since_ms,
                "until": until_ms,
                "identities": identities,
                "legal_basis": legal_basis,
                "lines": {name: entry["lines"] for name, entry in bundle.manifest["files"].items()},
            },
        )
        return bundle

    @staticmethod
    def _subjects(subject: str | None, codes: Mapping[str, str]) -> set[str]:
        if not subject:
            return set()
        # A 9-digit group code (Art. 8) stands for its room.
        rooms = {room for room, code in codes.items() if code == subject}
        return {subject, *rooms}

    @staticmethod
    def _check_size(name: str, rows: Sequence[Any]) -> None:
        if len(rows) > MAX_LINES:
            raise ExportError(f"{name} would have more than {MAX_LINES} lines: export a shorter range")

    async def _netlog(
        self, since_ms: int, until_ms: int, subjects: set[str], codes: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        store = self._netlog_store
        entries: list[LogEntry] = []
        # One query per subject keeps each on its index; without a subject, pages by time.
        queries: list[str | None] = [*sorted(subjects)] or [None]
        for subject in queries:
            after: tuple[int, str] | None = None
            while True:
                page = await store.in_range(since_ms, until_ms, subject, after, 1000)
                entries += page
                self._check_size("netlog.jsonl", entries)
                if len(page) < 1000:
                    break
                after = (page[-1].ts, page[-1].id)
        unique = {entry.id: entry for entry in entries}
        ordered = sorted(unique.values(), key=lambda entry: (entry.ts, entry.id))
        senders = sorted({entry.user_id for entry in ordered if entry.kind != "login"})
        logins: dict[str, list[LogEntry]] = {}
        for login in await store.logins_of(senders, until_ms):
            logins.setdefault(login.user_id, []).append(login)
        return [self._netlog_record(entry, logins.get(entry.user_id, []), codes) for entry in ordered]

    def _netlog_record(self, entry: LogEntry, logins: Sequence[LogEntry], codes: Mapping[str, str]) -> dict[str, Any]:
        try:
            content = self._content_of(entry)
        except DecryptionError:
            content = {"error": "does not decrypt under this server's key"}
        record: dict[str, Any] = {
            "id": entry.id,
            "kind": entry.kind,
            "ts": entry.ts,
            "time": iso(entry.ts),
            "user_id": entry.user_id,
            "target": entry.target,
            "room_id": entry.room_id,
            "group_code": entry.group_code or (codes.get(entry.room_id) if entry.room_id else None),
            "event_type": entry.event_type,
            "membership": entry.membership,
            "device_id": entry.device_id,
            "ip": entry.ip,
            "user_agent": entry.user_agent,
            "content": content,
        }
        if entry.kind != "login":
            before = [login for login in logins if login.ts <= entry.ts]
            last = before[-1] if before else None
            record["sender_login"] = (
                None
                if last is None
                else {
                    "ts": last.ts,
                    "time": iso(last.ts),
                    "ip": last.ip,
                    "user_agent": last.user_agent,
                    "device_id": last.device_id,
                }
            )
        return record

    async def _identities(self, actor: str, user_ids: Sequence[str], legal_basis: str) -> list[dict[str, Any]]:
        """Clear identities, each reveal audited with the legal basis (PIPL: access on a lawful basis)."""
        records: list[dict[str, Any]] = []
        for user_id in user_ids:
            if not self._api.is_mine(user_id):
                continue
            identity = await self._identity_store.get(user_id)
            if identity is None:
                continue
            await self._audit.append(actor, "identity.reveal", user_id, {"reason": legal_basis, "via": "export"})
            cipher = self._identity_cipher
            records.append(
                {
                    "user_id": user_id,
                    "status": identity.status,
                    "level": identity.level,
                    "name": cipher.decrypt(identity.name_enc, user_id),
                    "id_number": cipher.decrypt(identity.id_number_enc, user_id),
                    "phone": cipher.decrypt(identity.phone_enc, user_id) if identity.phone_enc else None,
                    "verified_ts": identity.decided_ts,
                    "deactivated_ts": identity.deactivated_ts,
                }
            )
        return records
