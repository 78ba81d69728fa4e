"""The shape of a chat command, read the same way by the bot and the module. Pure.

A command is a message starting with the prefix (``!`` by default; the full-width
``！`` that Chinese input methods produce is always accepted too), immediately
followed by its name, then arguments::

    !report fraud "fake shop" 骗钱   →  Command("report", ["fraud", "fake shop", "骗钱"], …)

The bot dispatches every command with :func:`parse_command`; the module uses
:func:`parse_report` to take a ``!report`` out of a room before anyone sees it
(Art. 12: a reporter is never exposed to the room), so both read one shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

FULL_WIDTH_PREFIX: Final = "！"
DEFAULT_PREFIX: Final = "!"

#: Every name of the report command (English and Chinese), compared after `normalise_name`.
REPORT_NAMES: Final = ("report", "举报")

# Opening quote → closing quote. Chinese users type “…”, 「…」 as often as "…".
_QUOTES: Final[Mapping[str, str]] = {
    '"': '"',
    "'": "'",
    "“": "”",
    "‘": "’",
    "「": "」",
    "『": "』",
}

# Legacy rich replies start with "> <@user:server> quoted text" lines and a
# blank line; clients still send them, and the command is after them.
_REPLY_FALLBACK: Final = re.compile(r"\A(?:>[^\n]*\n)+\n?")


@dataclass(frozen=True)
class Command:
    """A parsed command.

    Attributes:
        name: The name as typed, lower-cased for ASCII (``help``, ``帮助``).
        args: Arguments split on whitespace, quotes removed.
        raw_args: Everything after the name, original spacing and quotes kept
            (for free text such as ``!announce``).
    """

    name: str
    args: list[str]
    raw_args: str


def strip_reply_fallback(body: str) -> str:
    """Remove a legacy reply fallback (quoted lines) from the start of ``body``."""
    if not body.startswith("> "):
        return body
    return _REPLY_FALLBACK.sub("", body, count=1)


def split_args(text: str) -> list[str]:
    """Split ``text`` into arguments like a shell, but forgiving.

    Whitespace (including the ideographic space U+3000) separates arguments.
    A quote opens only at the start of an argument and needs its closing
    partner; otherwise it is an ordinary character, so ``don't`` or a lone
    ``“`` never make a command fail.

    Args:
        text: The argument text.

    Returns:
        The arguments, quotes removed.
    """
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        closer = _QUOTES.get(text[i])
        if closer is not None:
            end = text.find(closer, i + 1)
            if end != -1:
                args.append(text[i + 1 : end])
                i = end + 1
                continue
        start = i
        while i < n and not text[i].isspace():
            i += 1
        args.append(text[start:i])
    return args


def normalise_name(name: str) -> str:
    """Case-fold ASCII letters of a command name; other scripts are unchanged."""
    return name.lower()


def parse_command(text: str, prefix: str = DEFAULT_PREFIX) -> Command | None:
    """Parse a message body into a :class:`Command`.

    Args:
        text: The message body (reply fallback already removed).
        prefix: The configured command prefix.

    Returns:
        The command, or None when the text is not a command (no prefix, or
        nothing directly after it: ``! hello`` and ``!`` are chat, not commands).
    """
    body = text.lstrip()
    for candidate in (prefix, FULL_WIDTH_PREFIX):
        if body.startswith(candidate):
            rest = body[len(candidate) :]
            break
    else:
        return None
    if not rest or rest[0].isspace() or rest.startswith((prefix, FULL_WIDTH_PREFIX)):
        return None
    end = 0
    while end < len(rest) and not rest[end].isspace():
        end += 1
    raw_args = rest[end:].strip()
    return Command(normalise_name(rest[:end]), split_args(raw_args), raw_args)


def rest_after(raw: str, count: int) -> str:
    """The free text after the first ``count`` whitespace-separated words of ``raw``."""
    parts = raw.split(None, count)
    return parts[count].strip() if len(parts) > count else ""


def category_of(value: str, categories: Mapping[str, Mapping[str, str]]) -> str | None:
    """The report category ``value`` names: its key (any case) or one of its labels.

    Args:
        value: What the person typed (``fraud``, ``诈骗``, ``Fraud``).
        categories: Category key → label by language (the policy's 12377 set).
    """
    lowered = value.lower()
    for name, labels in categories.items():
        if (
            lowered == name.lower()
            or value in labels.values()
            or lowered in (label.lower() for label in labels.values())
        ):
            return name
    return None


@dataclass(frozen=True)
class ReportCommand:
    """A ``!report`` / ``!举报`` message, read for filing.

    Attributes:
        category: The category key, or None when missing or unknown (``problem`` says which).
        reason: The free text after the category ('' when none).
        problem: ``missing_category`` or ``unknown_category`` when it cannot be filed as typed.
        typed: The category word as typed (for the explanation), '' when none.
    """

    category: str | None
    reason: str
    problem: str | None
    typed: str = ""


def parse_report(
    body: str, categories: Mapping[str, Mapping[str, str]], prefix: str = DEFAULT_PREFIX
) -> ReportCommand | None:
    """Read ``body`` as a report command; None when it is not one.

    A command named ``report`` or ``举报`` (either prefix, any ASCII case, after a
    legacy reply fallback; ``举报`` also glued to its category) is a report command,
    also a mistyped one: it would expose the reporter as much as a valid one.

    Args:
        body: The message body as sent.
        categories: Category key → label by language.
        prefix: The bot's command prefix (``!``); the full-width ``！`` always counts.
    """
    command = parse_command(strip_reply_fallback(body), prefix)
    if command is None:
        return None
    # Chinese is typed without a space ("!举报诈骗"); English names are whole words (`!reports` is staff's).
    name = next(
        (
            name
            for name in REPORT_NAMES
            if command.name == name or (not name.isascii() and command.name.startswith(name))
        ),
        None,
    )
    if name is None:
        return None
    args, raw_args = command.args, command.raw_args
    if command.name != name:
        # "!举报诈骗 …": Chinese is typed without a space; the rest of the word is the category.
        glued = command.name[len(name) :]
        args, raw_args = [glued, *args], f"{glued} {raw_args}".strip()
    if not args:
        return ReportCommand(None, "", "missing_category")
    typed = args[0]
    category = category_of(typed, categories)
    reason = rest_after(raw_args, 1)
    if category is None:
        return ReportCommand(None, reason, "unknown_category", typed)
    return ReportCommand(category, reason, None, typed)
