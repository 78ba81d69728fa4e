"""The content guard (Art. 10): term files, reloads, and the checks of events and media.

The decisions are pure (``policies.content``); this file does the I/O around them:

- reads the operator's term, allow and media-hash files and builds one
  ``Matcher`` per list version; at start a missing or bad file stops Synapse;
- every process checks the files for changes (inode, size, mtime) every
  ``content.reload_interval`` and rebuilds in a thread, so messages never wait
  for a rebuild; a bad edit keeps the previous version and is logged and audited;
- ``check_event`` finds the texts of an event and scans them: the hot path reads
  nothing from the database, it writes evidence (audit record, ticket) only when a
  rule matched;
- ``check_media`` hashes uploads and remote media with SHA-256 against the blocklist;
- ``strip_encryption`` takes ``m.room.encryption`` out of a createRoom request.

Tickets and audit records never hold content or terms: they name the rule (content
category), the report category and a SHA-256 digest of the event content. The
content of what ``block`` and ``hold`` refuse is sealed in the evidence store
(evidence.py), encrypted, for staff review and release.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from synapse.module_api import NOT_SPAM, EventBase, ModuleApi
from synapse.module_api.errors import Codes, ConfigError

from policies import Decision, Policy, Reason
from policies.constants import (
    CLIENT_RETRY_WINDOW_MS,
    PROFILE_REVIEW_WINDOW_MS,
    UNTRACKED_RETRY_WINDOW_MS,
    TicketSource,
)
from policies.content import ContentHit, Matcher, TermList, content_decision, parse_hash_list, parse_terms
from policies.event_texts import alias_texts, create_request_texts, event_texts, profile_field_texts
from policies.messages import resolve_language
from policies.model import Content

from .appeal_refs import new_content_ref
from .audit import canonical_json
from .errors import QunzuError, Refusal
from .evidence import Releasable
from .refusals import refusal_error, refusal_fields
from .store.tickets import NewTicket

SpamResult = Literal["NOT_SPAM"] | tuple[Codes, dict[str, Any]]

if TYPE_CHECKING:
    from .clock import Clock
    from .config import QunzuConfig
    from .evidence import EvidenceLocker
    from .health import Health
    from .store.audit import AuditStore
    from .store.once import OnceStore
    from .store.tickets import TicketStore

logger = logging.getLogger(__name__)

BUNDLED_TERMS_DIR: Final = Path(str(importlib.resources.files("policies") / "terms"))


class MediaFile(Protocol):
    """What the media callback hands over (Synapse's ReadableFileWrapper, not in the module API)."""

    async def write_chunks_to(self, callback: Callable[[bytes], object]) -> None: ...


class ContentListError(QunzuError):
    """A term, allow or hash file is missing or malformed (the message names the file, never a term)."""


@dataclass(frozen=True)
class ContentLists:
    """One version of the lists: the matcher, the media hashes and what they were read from."""

    matcher: Matcher
    media_hashes: frozenset[str]
    # (path, inode, size, mtime_ns) of every file: a change anywhere means a reload.
    signature: tuple[tuple[str, int, int, int], ...]
    # SHA-256 of each category's files (and of the allow and hash lists), for the audit log.
    digests: Mapping[str, str]


def list_paths(rules: Content, policy_file: str | None) -> dict[str, tuple[Path, ...]]:
    """Every file of the content rules, by what it is for (a category, ``allow``, ``media``)."""
    base = _terms_dir(rules, policy_file)

    def resolve(names: tuple[str, ...]) -> tuple[Path, ...]:
        return tuple(Path(name) if Path(name).is_absolute() else base / name for name in names)

    paths = {name: resolve(rule.lists) for name, rule in rules.categories.items() if rule.enabled}
    paths["allow"] = resolve(rules.allow_lists)
    paths["media"] = resolve(rules.media_hashes.lists)
    return paths


def _terms_dir(rules: Content, policy_file: str | None) -> Path:
    if rules.terms_dir is None:
        return BUNDLED_TERMS_DIR
    terms_dir = Path(rules.terms_dir)
    if not terms_dir.is_absolute() and policy_file is not None:
        # Relative to the policy file, which is where an operator keeps both.
        terms_dir = Path(policy_file).parent / terms_dir
    return terms_dir


def load_lists(rules: Content, policy_file: str | None) -> ContentLists:
    """Read every list file and build the matcher (blocking I/O: run it in a thread after start).

    Raises:
        ContentListError: a file is missing, unreadable, not UTF-8 or (hash lists) malformed.
    """
    paths = list_paths(rules, policy_file)
    signature = []
    digests: dict[str, str] = {}
    texts: dict[str, list[str]] = {}
    for name, files in paths.items():
        digest = hashlib.sha256()
        texts[name] = []
        for path in files:
            data, stat = _read(path)
            signature.append((str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns))
            digest.update(hashlib.sha256(data).digest())
            try:
                texts[name].append(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise ContentListError(f"content list {path}: not UTF-8 text") from None
        digests[name] = digest.hexdigest()
    hashes: set[str] = set()
    for path, text in zip(paths["media"], texts["media"], strict=True):
        try:
            hashes |= parse_hash_list(text, str(path))
        except ValueError as exc:
            raise ContentListError(f"content list {exc}") from None
    lists = [
        TermList(name, rule.action, tuple(term for text in texts[name] for term in parse_terms(text)))
        for name, rule in rules.categories.items()
        if rule.enabled
    ]
    allow = [term for text in texts["allow"] for term in parse_terms(text)]
    return ContentLists(Matcher(lists, allow), frozenset(hashes), tuple(signature), digests)


def _read(path: Path) -> tuple[bytes, os.stat_result]:
    try:
        with open(path, "rb") as handle:
            return handle.read(), os.fstat(handle.fileno())
    except FileNotFoundError:
        raise ContentListError(f"content list {path}: file not found") from None
    except OSError as exc:
        raise ContentListError(f"content list {path}: cannot read: {exc.strerror}") from None


def current_signature(lists: ContentLists) -> tuple[tuple[str, int, int, int], ...]:
    """The files' signature now; a vanished file gives a signature that differs."""
    entries = []
    for path, *_ in lists.signature:
        try:
            stat = os.stat(path)
        except OSError:
            entries.append((path, -1, -1, -1))
            continue
        entries.append((path, stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


def content_digest(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an event's content: names it without repeating it."""
    return hashlib.sha256(canonical_json(dict(content)).encode("utf-8")).hexdigest()


def _recorded_attempt(value: str | None) -> tuple[str | None, str | None]:
    """The ticket and appeal reference an earlier attempt recorded (`_decide` stores them as JSON)."""
    try:
        recorded = json.loads(value) if value else {}
    except ValueError:
        recorded = {}
    if not isinstance(recorded, dict):
        recorded = {}
    ticket, ref = recorded.get("ticket"), recorded.get("ref")
    return (ticket if isinstance(ticket, str) else None, ref if isinstance(ref, str) else None)


def attempt_key(event: EventBase) -> tuple[str, int]:
    """What makes retries of one attempt to send an event one attempt, and for how long.

    Clients retry a refused send with the same transaction id (Synapse forgets a
    refused transaction at once, so each retry reaches the spam checker again).
    Synapse puts the id, with the device (or the access token of a client without
    one), on the event it builds (``internal_metadata``); the content's digest is part
    of the key, so other content under a reused id is a new attempt. Events built
    without a transaction id (``PUT /state``) are one attempt per person, room and
    content for a short window.

    Returns:
        The key and its window in milliseconds.
    """
    meta = event.internal_metadata
    what = f"{event.type}|{event.get_state_key()}|{content_digest(event.content)}"
    txn_id = getattr(meta, "txn_id", None)
    if isinstance(txn_id, str):
        device = getattr(meta, "device_id", None) or f"token:{getattr(meta, 'token_id', None)}"
        return f"attempt|{event.sender}|{device}|{event.room_id}|{txn_id}|{what}", CLIENT_RETRY_WINDOW_MS
    return f"attempt|{event.sender}|{event.room_id}|{what}", UNTRACKED_RETRY_WINDOW_MS


def strip_encryption(config: dict[str, Any], policy: Policy) -> bool:
    """Take ``m.room.encryption`` out of a createRoom request unless the policy allows it.

    Called from ``on_create_room``, which may change the request: Element puts
    encryption into ``initial_state`` of every new room and DM, and an encrypted
    room can be screened by nobody, not even the bot that must read commands there.

    Args:
        config: the createRoom request body (changed in place).
        policy: the active policy (``content.encryption``).

    Returns:
        True when an encryption event was removed.
    """
    initial_state = config.get("initial_state")
    if not isinstance(initial_state, list):
        return False
    encryption = policy.content.encryption
    if config.get("is_direct") is True and encryption.allow_direct_messages:
        return False
    creation = config.get("creation_content")
    category = creation.get("cn.qunzu.category") if isinstance(creation, dict) else None
    if category is None:
        category = policy.categories.default_category
    if category in encryption.allowed_categories:
        return False
    kept = [
        entry for entry in initial_state if not (isinstance(entry, dict) and entry.get("type") == "m.room.encryption")
    ]
    if len(kept) == len(initial_state):
        return False
    config["initial_state"] = kept
    return True


class ContentGuard:
    """Holds the current lists on this process and applies the content rules."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        health: Health,
        locker: EvidenceLocker,
        once: OnceStore,
        tickets: TicketStore,
        audit: AuditStore,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._health = health
        self._locker = locker
        self._once_keys = once
        self._tickets = tickets
        self._audit_store = audit
        self._policy = config.policy
        self._rules = config.policy.content
        self._language = resolve_language(config.language)
        self._instance = api.worker_name or "master"
        try:
            self._lists = load_lists(self._rules, config.policy_file)
        except ContentListError as exc:
            raise ConfigError(f"qunzu: {exc}") from None
        self.version = 1
        self._announced = False
        self._reloading = False
        # Every process holds its own matcher, so every process watches the files.
        self._api.looping_background_call(
            self.check_for_changes,
            self._rules.reload_interval * 1000,
            desc="qunzu_content_reload",
            run_on_all_instances=True,
        )

    @property
    def lists(self) -> ContentLists:
        return self._lists

    # --- reloading -------------------------------------------------------------------

    async def check_for_changes(self) -> None:
        """Reload when a file changed; audit the version in use once the schema is ready."""
        if self._reloading:
            return
        self._reloading = True
        try:
            if not self._announced and self._health.is_ready():
                self._announced = True
                await self._audit_version("content.lists_loaded")
            if current_signature(self._lists) != self._lists.signature:
                await self.reload(f"module:{self._instance}")
        except Exception:
            # A background job: log and try again at the next interval.
            logger.exception("qunzu: checking content lists for changes failed")
        finally:
            self._reloading = False

    async def reload(self, actor: str) -> bool:
        """Read the files again and switch to the new version; keep the old one on errors.

        Returns:
            True when the new version is in use.
        """
        try:
            lists = await self._api.defer_to_thread(load_lists, self._rules, self._config.policy_file)
        except ContentListError as exc:
            logger.warning("qunzu: content lists not reloaded, the previous version stays in use: %s", exc)
            await self._audit_store.append(
                actor, "content.reload_failed", "content", {"version": self.version, "error": str(exc)}
            )
            return False
        self._lists = lists
        self.version += 1
        logger.info("qunzu: content lists reloaded (version %d, %d terms)", self.version, lists.matcher.term_count)
        await self._audit_version("content.reload", actor)
        return True

    async def _audit_version(self, action: str, actor: str | None = None) -> None:
        lists = self._lists
        await self._audit_store.append(
            actor or f"module:{self._instance}",
            action,
            "content",
            {
                "version": self.version,
                "instance": self._instance,
                "digests": dict(lists.digests),
                "terms": lists.matcher.term_count,
                "allow": lists.matcher.allow_count,
                "media_hashes": len(lists.media_hashes),
            },
        )

    # --- events ----------------------------------------------------------------------

    async def check_event(self, event: EventBase, room_category: str) -> Decision | None:
        """The content decision for an event, or None when content rules have nothing to say.

        ``flag`` hits return None too (the event is delivered); their ticket is open.
        Retries of one attempt (``attempt_key``) are recorded once: the first writes the
        evidence (and opens the ticket of a ``hold``), the retries get the same answer.
        """
        if event.type == "m.room.encryption" and event.is_state():
            return self.encryption_decision(room_category)
        texts = event_texts(event.type, event.content)
        # A held room event waits for release as it came: a state event (a room's name or
        # topic) with its state key. Membership events are no room events to send again.
        return await self._decide(
            texts,
            event.sender,
            event.type,
            event.content,
            event.room_id,
            event.event_id,
            attempt=lambda: attempt_key(event),
            releasable=Releasable(event.get_state_key() if event.is_state() else None),
        )

    async def check_create_request(self, user_id: str, config: Mapping[str, Any]) -> Decision | None:
        """The content decision for a createRoom request (name, topic, alias, initial state).

        For ``on_create_room``: refuse with ``refusal_error(Refusal(d.reason, d.detail), …)``
        when a decision is returned. ``flag`` hits open a ticket without a room id.
        """
        texts = create_request_texts(config)
        return await self._decide(texts, user_id, "createRoom", {"texts": texts}, None, None)

    async def check_member_state(
        self, user_id: str, room_id: str, state_key: str, content: Mapping[str, Any]
    ) -> Decision | None:
        """The content decision for a membership event sent through ``PUT /state`` (per-room name, reason).

        A ``flag`` hit is allowed without evidence here: the event is persisted and the
        event-stream follower records it with its event id (``review_membership``), so
        it is recorded once.
        """
        texts = event_texts("m.room.member", content)
        evidence = {"state_key": state_key, **content}
        return await self._decide(texts, user_id, "m.room.member", evidence, room_id, None, record_flags=False)

    async def check_alias(self, user_id: str, alias: str) -> Decision | None:
        """The content decision for a new room alias (directory, createRoom ``room_alias_name``)."""
        return await self._decide(alias_texts(alias), user_id, "room_alias", {"alias": alias}, None, None)

    async def check_text(self, user_id: str, room_id: str, what: str, text: str) -> Decision | None:
        """The content decision for a text the service account will publish for a person (a reason)."""
        return await self._decide([text] if text else [], user_id, what, {"text": text}, room_id, None)

    def membership_hit(self, content: Mapping[str, Any]) -> ContentHit | None:
        """The rule a membership event's texts (display name, reason) break; pure, for the follower."""
        texts = event_texts("m.room.member", content)
        return self._lists.matcher.scan_all(texts) if texts else None

    def hit_decision(self, hit: ContentHit) -> Decision:
        """What a person is told of a text of theirs that produced ``hit`` (the category, never the term)."""
        return content_decision(hit, self._policy, self._language)

    async def record_membership(
        self,
        hit: ContentHit,
        sender: str,
        room_id: str,
        event_id: str,
        content: Mapping[str, Any],
        *,
        ticket: bool = True,
    ) -> None:
        """Evidence of a persisted membership event that broke a rule, like a refused message's.

        For membership changes no callback can refuse (docs/content-rules.md): the caller
        redacts on ``block`` and ``hold``; ``flag`` stays, with its ticket. ``ticket=False``
        audits only (the copy of a global display name whose ticket is open already).
        """
        await self._record(hit, sender, "m.room.member", content, room_id, event_id, open_ticket=ticket)

    async def _decide(
        self,
        texts: list[str],
        sender: str,
        what: str,
        content: Mapping[str, Any],
        room_id: str | None,
        event_id: str | None,
        *,
        record_flags: bool = True,
        attempt: Callable[[], tuple[str, int]] | None = None,
        releasable: Releasable | None = None,
    ) -> Decision | None:
        """Scan ``texts``; write the evidence of a hit; the refusal, or None when allowed.

        ``attempt`` gives the attempt's key and window (``attempt_key``), asked for hits only: a
        hit whose key is taken is a retry of an attempt recorded before; it is answered with
        that attempt's ticket, not recorded again.
        """
        hit = self._lists.matcher.scan_all(texts) if texts else None
        if hit is None or (hit.action == "flag" and not record_flags):
            return None
        once = self._once_keys
        key, window = attempt() if attempt is not None else (None, 0)
        if key is not None and not await once.claim(key, window):
            # A retry of an attempt recorded before: that attempt's ticket and reference.
            ticket, ref = _recorded_attempt(await once.value_of(key))
        else:
            # A refused message is a decision the person may appeal: its reference is in the record and the text.
            ref = new_content_ref() if hit.action != "flag" else None
            try:
                ticket = await self._record(
                    hit, sender, what, content, room_id, event_id, releasable=releasable, ref=ref
                )
            except BaseException:
                if key is not None:
                    await once.release(key)  # nothing was recorded: the retry records it
                raise
            if key is not None:
                await once.set_value(key, json.dumps({"ticket": ticket, "ref": ref}))
        decision = content_decision(hit, self._policy, self._language, ticket=ticket)
        if decision.allowed:
            return None
        return Decision(False, decision.reason, {**decision.detail, "ref": ref}) if ref else decision

    async def _record(
        self,
        hit: ContentHit,
        sender: str,
        what: str,
        content: Mapping[str, Any],
        room_id: str | None,
        event_id: str | None,
        *,
        open_ticket: bool = True,
        releasable: Releasable | None = None,
        ref: str | None = None,
    ) -> str | None:
        """Audit a hit and, for ``hold`` and ``flag``, open its ticket (returned)."""
        source: TicketSource = "content_hold" if hit.action == "hold" else "content_flag"
        ticket = None
        if hit.action != "block" and open_ticket:
            ticket = await self._open_ticket(source, hit, room_id, event_id, sender, content)
        await self._evidence(
            hit, sender, content, what, room_id, ticket, event_id=event_id, releasable=releasable, ref=ref
        )
        return ticket

    def encryption_decision(self, room_category: str) -> Decision | None:
        """Enabling encryption in a room of this category: refused unless the policy allows it."""
        encryption = self._rules.encryption
        if room_category in encryption.allowed_categories:
            return None
        # protected_state: encryption is a room setting the platform keeps (see docs/content-rules.md).
        return Decision.refuse(
            Reason.PROTECTED_STATE, setting="m.room.encryption", explanation=encryption.explanation[self._language]
        )

    async def check_display_name(self, user_id: str, displayname: str | None) -> Decision | None:
        """The content decision for a new global display name (``flag`` hits stand, with their ticket).

        Synapse has no callback that can refuse a display name, but ``on_profile_update``
        runs before the name is copied into the member events of the person's rooms, so
        the caller can put a refused name back before any room sees it (profile_guard.py).
        """
        if not displayname:
            return None
        return await self._profile_decision(user_id, "profile.displayname", [displayname], {"displayname": displayname})

    async def check_profile_field(self, user_id: str, name: str, value: object) -> Decision | None:
        """The content decision for a custom profile field, its name and its value (``flag`` hits stand)."""
        return await self._profile_decision(user_id, "profile.field", profile_field_texts(name, value), {name: value})

    async def _profile_decision(
        self, user_id: str, what: str, texts: list[str], content: Mapping[str, Any]
    ) -> Decision | None:
        # The whole profile is shown again on every change: one record per text and day.
        key = f"profile|{user_id}|{what}|{content_digest(content)}"
        return await self._decide(
            texts, user_id, what, content, None, None, attempt=lambda: (key, PROFILE_REVIEW_WINDOW_MS)
        )

    async def _open_ticket(
        self,
        source: TicketSource,
        hit: ContentHit,
        room_id: str | None,
        event_id: str | None,
        accused: str,
        content: Mapping[str, Any],
    ) -> str:
        rule = self._rules.categories[hit.category]
        severity = self._policy.reports.categories[rule.report_category].severity
        now = self._clock.now_ms()
        ticket = await self._tickets.open(
            NewTicket(
                source=source,
                category=rule.report_category,
                rule=hit.category,
                room_id=room_id,
                event_id=event_id,
                accused=accused,
                reason=f"content rule {hit.category} ({hit.action})",
                content_digest=content_digest(content),
                created_ts=now,
                deadline_ts=now + self._policy.reports.deadlines[severity] * 1000,
            )
        )
        return ticket.id

    async def _evidence(
        self,
        hit: ContentHit,
        sender: str,
        content: Mapping[str, Any],
        what: str,
        room_id: str | None,
        ticket: str | None,
        *,
        event_id: str | None = None,
        releasable: Releasable | None = None,
        ref: str | None = None,
    ) -> None:
        category = self._rules.categories[hit.category].report_category
        digest = content_digest(content)
        sealed = None
        if hit.action != "flag":
            # Art. 13, Cybersecurity Law Art. 47: what is refused is kept, sealed (evidence.py);
            # flagged content is delivered, so Synapse keeps it.
            row = await self._locker.seal(
                action=hit.action,
                rule=hit.category,
                category=category,
                sender=sender,
                event_type=what,
                content=content,
                digest=digest,
                room_id=room_id,
                event_id=event_id,
                ticket=ticket,
                releasable=releasable,
            )
            sealed = row.id
        # The subject is the sender, so the sanctions ladder finds the history per person;
        # the room is in the details and on the ticket.
        details: dict[str, Any] = {
            "rule": hit.category,
            "category": category,
            "digest": digest,
            "event_type": what,
            "room_id": room_id,
            "ticket": ticket,
            "evidence": sealed,
            "lists_version": self.version,
        }
        if ref is not None:
            details["ref"] = ref  # the appealable reference its refusal shows (appeal_refs.py)
        await self._audit_store.append(f"module:{self._instance}", f"content.{hit.action}", sender, details)

    # --- media -----------------------------------------------------------------------

    async def check_media(self, file_wrapper: MediaFile, file_info: object) -> SpamResult:
        """Refuse a file whose SHA-256 is on the blocklist.

        Local uploads are refused by raising our own error, which reaches the client
        with ``cn.qunzu.reason``; Synapse replaces any other refusal of an upload with
        a bare 400 "Bad content". Remote media and thumbnails get the return value.
        """
        hashes = self._lists.media_hashes
        if not hashes:
            return NOT_SPAM
        digest = hashlib.sha256()
        await file_wrapper.write_chunks_to(digest.update)
        hexdigest = digest.hexdigest()
        if hexdigest not in hashes:
            return NOT_SPAM
        category = self._rules.media_hashes.category
        origin = getattr(file_info, "server_name", None) or "local"
        await self._audit_store.append(
            f"module:{self._instance}",
            "content.media_block",
            f"media:{origin}/{getattr(file_info, 'file_id', '')}",
            {
                "rule": category,
                "category": self._rules.categories[category].report_category,
                "digest": hexdigest,
                "thumbnail": getattr(file_info, "thumbnail", None) is not None,
            },
        )
        decision = content_decision(ContentHit(category, "block"), self._policy, self._language)
        assert decision.reason is not None
        refusal = Refusal(decision.reason, decision.detail)
        is_upload = (
            getattr(file_info, "server_name", None) is None
            and getattr(file_info, "thumbnail", None) is None
            and not getattr(file_info, "url_cache", False)
        )
        if is_upload:
            raise refusal_error(refusal, self._config)
        return Codes.FORBIDDEN, refusal_fields(refusal)
