"""Which texts of an event a person sees: the one table the content rules scan (Art. 10).

Pure: an event type and its content in, the renderable texts out. Every path that
publishes something a standard client shows (a message, a state change, a
membership change, a createRoom request, an alias) asks ``event_texts`` or
``create_request_texts``; nothing else decides which fields count.

The table names, per known event type, the fields clients render (Element, nheko,
FluffyChat; the spec's stable and the unstable forms clients still send):

- messages (``m.room.message`` of every msgtype, ``m.sticker``): ``body``,
  ``formatted_body`` without its tags, ``filename`` (MSC2530: ``body`` is then the
  caption), location descriptions, extensible text blocks (``m.text``,
  ``org.matrix.msc1767.text``, ``org.matrix.msc1767.message``) and the same fields of
  ``m.new_content``, so an edit cannot carry what the original could not;
- polls, stable ``m.poll.start`` and unstable ``org.matrix.msc3381.poll.start``: the
  question and every answer in any of those text forms, plus the fallback text; poll
  responses carry only answer ids, poll ends only a fallback text;
- ``m.reaction``: the key (and the shortcode of a custom-emoji reaction);
- state: room name, topic (plain string, the MSC3765 list and the spec's object
  ``{"m.topic": {"m.text": [...]}}``), member display name and reason, redaction
  reason, widget name and title, canonical alias and alt aliases, third-party
  invite display name, tombstone body, emote pack names and shortcodes;
- types that carry no text (power levels, join rules, call signalling, encrypted
  payloads, verification, poll responses) give nothing.

Any other event type is walked recursively: every string counts except values that
are clearly not prose (see ``_walk``), because a client with a plugin or a widget may
render whatever a custom event holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from .constants import GROUP_STATE_TYPE
from .content import html_texts

__all__ = ["NO_TEXT_TYPES", "alias_texts", "create_request_texts", "event_texts"]

# Extensible-event text blocks (MSC1767): a list of {"body", "mimetype"} or, in the
# older unstable form Element still sends in polls, a plain string.
_TEXT_BLOCK_KEYS: Final = ("m.text", "org.matrix.msc1767.text", "org.matrix.msc1767.message", "m.message")
_HTML: Final = "text/html"

NO_TEXT_TYPES: Final = frozenset(
    {
        "m.room.create",
        "m.room.power_levels",
        "m.room.join_rules",
        "m.room.history_visibility",
        "m.room.guest_access",
        "m.room.encryption",
        "m.room.encrypted",
        "m.room.server_acl",
        "m.room.pinned_events",
        "m.room.avatar",
        "m.space.child",
        "m.space.parent",
        "m.call.invite",
        "m.call.candidates",
        "m.call.answer",
        "m.call.hangup",
        "m.call.reject",
        "m.call.select_answer",
        "m.call.negotiate",
        "m.call.sdp_stream_metadata_changed",
        "m.key.verification.ready",
        "m.key.verification.start",
        "m.key.verification.accept",
        "m.key.verification.key",
        "m.key.verification.mac",
        "m.key.verification.cancel",
        "m.key.verification.done",
        "m.poll.response",
        "org.matrix.msc3381.poll.response",
        GROUP_STATE_TYPE,
    }
)
"""Event types no client renders text from: only ids, numbers, keys and settings."""

_Texts = list[str]


def _add(texts: _Texts, value: object) -> None:
    if isinstance(value, str) and value:
        texts.append(value)


def _add_html(texts: _Texts, value: object) -> None:
    # Both readings of the HTML: what is shown, and all of it (hidden text included).
    if isinstance(value, str) and value:
        texts.extend(text for text in html_texts(value) if text)


def _text_blocks(texts: _Texts, value: object) -> None:
    """One extensible text field: a string, or a list of ``{"body", "mimetype"}`` blocks."""
    if isinstance(value, str):
        _add(texts, value)
    elif isinstance(value, list):
        for block in value:
            if isinstance(block, Mapping):
                body = block.get("body")
                if block.get("mimetype") == _HTML:
                    _add_html(texts, body)
                else:
                    _add(texts, body)
            else:
                _add(texts, block)


def _extensible(texts: _Texts, content: Mapping[str, Any]) -> None:
    """``body``, ``formatted_body`` and the extensible text blocks of one mapping."""
    _add(texts, content.get("body"))
    _add_html(texts, content.get("formatted_body"))
    for key in _TEXT_BLOCK_KEYS:
        _text_blocks(texts, content.get(key))


def _message_fields(texts: _Texts, content: Mapping[str, Any]) -> None:
    _extensible(texts, content)
    # Any msgtype: a file name is shown next to files, and costs nothing to check elsewhere.
    _add(texts, content.get("filename"))
    for key in ("m.location", "org.matrix.msc3488.location"):
        location = content.get(key)
        if isinstance(location, Mapping):
            _add(texts, location.get("description"))


def _message(texts: _Texts, content: Mapping[str, Any]) -> None:
    _message_fields(texts, content)
    # An edit's new content is one level deep (a nested one is not rendered, nor walked).
    new_content = content.get("m.new_content")
    if isinstance(new_content, Mapping):
        _message_fields(texts, new_content)


def _poll(texts: _Texts, content: Mapping[str, Any]) -> None:
    """Stable (``m.poll``) and unstable (``org.matrix.msc3381.poll.start``) poll starts, and an edit of one."""
    _poll_fields(texts, content)
    new_content = content.get("m.new_content")
    if isinstance(new_content, Mapping):
        _poll_fields(texts, new_content)


def _poll_fields(texts: _Texts, content: Mapping[str, Any]) -> None:
    _extensible(texts, content)
    for key in ("m.poll", "org.matrix.msc3381.poll.start", "m.poll.start"):
        poll = content.get(key)
        if not isinstance(poll, Mapping):
            continue
        question = poll.get("question")
        if isinstance(question, Mapping):
            _extensible(texts, question)
        else:
            _add(texts, question)
        answers = poll.get("answers")
        if isinstance(answers, list):
            for answer in answers:
                if isinstance(answer, Mapping):
                    _extensible(texts, answer)
                else:
                    _add(texts, answer)


def _topic(texts: _Texts, content: Mapping[str, Any]) -> None:
    _add(texts, content.get("topic"))
    blocks = content.get("m.topic")
    if isinstance(blocks, Mapping):  # the spec's form (v1.15): {"m.text": [...]}
        for key in _TEXT_BLOCK_KEYS:
            _text_blocks(texts, blocks.get(key))
    else:  # MSC3765's list of text blocks
        _text_blocks(texts, blocks)


def _member(texts: _Texts, content: Mapping[str, Any]) -> None:
    _add(texts, content.get("displayname"))
    _add(texts, content.get("reason"))
    invite = content.get("third_party_invite")
    if isinstance(invite, Mapping):
        _add(texts, invite.get("display_name"))


def _reaction(texts: _Texts, content: Mapping[str, Any]) -> None:
    relates = content.get("m.relates_to")
    if isinstance(relates, Mapping):
        _add(texts, relates.get("key"))
    _add(texts, content.get("com.beeper.reaction.shortcode"))


def _widget(texts: _Texts, content: Mapping[str, Any]) -> None:
    _add(texts, content.get("name"))
    data = content.get("data")
    if isinstance(data, Mapping):
        _add(texts, data.get("title"))


def _canonical_alias(texts: _Texts, content: Mapping[str, Any]) -> None:
    _add(texts, content.get("alias"))
    alt = content.get("alt_aliases")
    if isinstance(alt, list):
        for alias in alt:
            _add(texts, alias)


def _emote_pack(texts: _Texts, content: Mapping[str, Any]) -> None:
    """MSC2545 room emote packs: the pack's name, each shortcode (a dict key) and description."""
    pack = content.get("pack")
    if isinstance(pack, Mapping):
        _add(texts, pack.get("display_name"))
    images = content.get("images")
    if isinstance(images, Mapping):
        for shortcode, image in images.items():
            _add(texts, shortcode)
            if isinstance(image, Mapping):
                _add(texts, image.get("body"))


def _fields(*names: str) -> Callable[[_Texts, Mapping[str, Any]], None]:
    def extract(texts: _Texts, content: Mapping[str, Any]) -> None:
        for name in names:
            _add(texts, content.get(name))

    return extract


_TABLE: Final[Mapping[str, Callable[[_Texts, Mapping[str, Any]], None]]] = {
    "m.room.message": _message,
    "m.sticker": _message,
    "m.poll.start": _poll,
    "org.matrix.msc3381.poll.start": _poll,
    "m.poll.end": _extensible,
    "org.matrix.msc3381.poll.end": _extensible,
    "m.reaction": _reaction,
    "m.room.name": _fields("name"),
    "m.room.topic": _topic,
    "m.room.member": _member,
    "m.room.redaction": _fields("reason"),
    "m.room.third_party_invite": _fields("display_name"),
    "m.room.canonical_alias": _canonical_alias,
    "m.room.tombstone": _fields("body"),
    "im.vector.modular.widgets": _widget,
    "m.widget": _widget,
    "im.ponies.room_emotes": _emote_pack,
}


def event_texts(event_type: str, content: Mapping[str, Any]) -> list[str]:
    """Every text a standard client renders from an event of this type, for matching.

    Args:
        event_type: the event's type.
        content: the event's content (anything JSON; wrong shapes give no text).

    Returns:
        The texts in a stable order (HTML already reduced to its text).
    """
    texts: _Texts = []
    extract = _TABLE.get(event_type)
    if extract is not None:
        extract(texts, content)
    elif event_type not in NO_TEXT_TYPES:
        _walk(texts, None, content)
    # The same text in several forms (a poll question's fallbacks) is scanned once.
    return list(dict.fromkeys(texts))


def alias_texts(alias: str) -> list[str]:
    """The text of a room alias a person sees: its local part (``#<local>:<server>``)."""
    local = alias[1:] if alias.startswith("#") else alias
    local = local.split(":", 1)[0]
    return [local] if local else []


def profile_field_texts(name: str, value: object) -> list[str]:
    """The texts of a custom profile field (``PUT /profile/{user}/{name}``): its name and every string of its value.

    Clients show a field under its name on a person's profile card, so the name is
    text as much as the value; a value is walked like an unknown event's content.
    """
    texts: _Texts = [name] if name else []
    _walk(texts, name, value)
    return list(dict.fromkeys(texts))


def create_request_texts(config: Mapping[str, Any]) -> list[str]:
    """The texts of a createRoom request, as the events Synapse will make of it.

    ``name`` and ``topic`` become ``m.room.name`` / ``m.room.topic``,
    ``room_alias_name`` the room's alias, every ``initial_state`` entry its event
    (any type, any topic form), and an invite reason (MSC4491) the invites.
    Synapse spam-checks none of these events, so ``on_create_room`` decides them.
    """
    texts = event_texts("m.room.name", {"name": config.get("name")})
    texts += event_texts("m.room.topic", {"topic": config.get("topic")})
    alias_name = config.get("room_alias_name")
    if isinstance(alias_name, str):
        texts += alias_texts(alias_name)
    _add(texts, config.get("uk.timedout.msc4491.invite_reason"))
    initial_state = config.get("initial_state")
    if isinstance(initial_state, list):
        for entry in initial_state:
            if (
                isinstance(entry, Mapping)
                and isinstance(entry.get("type"), str)
                and isinstance(entry.get("content"), Mapping)
            ):
                texts += event_texts(entry["type"], entry["content"])
    return list(dict.fromkeys(texts))


# --- unknown event types ---------------------------------------------------------------

# Key names (the last part after "." or "_") whose values are references or key
# material that no client shows as prose: links and media (url, uri, href), ids
# (id, event_id, room_id, user_id, sender, state_key), cryptography (hash, sha256,
# key, signature, mac, ciphertext, iv) and format tags (mimetype, algorithm). Their
# values are skipped only when they look the part (ASCII, no spaces): a sentence in
# Chinese under "id" is still a sentence.
_NON_TEXT_KEY: Final = re.compile(
    r"(?:^|[._])(?:url|uri|href|id|ids|sender|key|keys|hash|hashes|sha256|signature|signatures|mac|iv"
    r"|ciphertext|mimetype|algorithm|token|sdp)$",
    re.IGNORECASE,
)
# Values that are never prose wherever they stand: media references, Matrix ids of
# users, rooms and events, and long opaque tokens (hashes, keys, base64). Matching
# them would only find terms by chance inside random letters (open-ended Latin terms
# like ``*coin``); room aliases (``#…``) are names people choose and are scanned.
_NON_TEXT_VALUE: Final = re.compile(
    r"mxc://\S*|[@!$][\x21-\x7e]*|[A-Za-z0-9+/=_-]{32,}",
)
_ASCII_WORD: Final = re.compile(r"[\x21-\x7e]+")


def _walk(texts: _Texts, key: str | None, value: object) -> None:
    """Every string of an unknown event's content, but for the clearly non-text ones, however deep.

    Iterative, in document order: content nested deeper than Python's recursion allows
    (Synapse accepts JSON as deep as its parser does) is read to the bottom, so no text
    hides below a depth the walk gave up at. Its size bounds the work (Synapse caps an
    event, and a profile, at 64 KiB).
    """
    pending: list[tuple[str | None, object]] = [(key, value)]
    while pending:
        key, value = pending.pop()
        if isinstance(value, str):
            if not value or _NON_TEXT_VALUE.fullmatch(value):
                continue
            if key is not None and _NON_TEXT_KEY.search(key) and _ASCII_WORD.fullmatch(value):
                continue
            if key == "formatted_body":
                _add_html(texts, value)
            else:
                texts.append(value)
        elif isinstance(value, Mapping):
            if value.get("mimetype") == _HTML and isinstance(value.get("body"), str):
                _add_html(texts, value["body"])
                value = {name: item for name, item in value.items() if name != "body"}
            pending.extend((str(name), item) for name, item in reversed(list(value.items())))
        elif isinstance(value, list):
            pending.extend((key, item) for item in reversed(value))
