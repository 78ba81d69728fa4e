"""Durations as people type them (``30m``, ``12h``, ``7d``, ``2w``, ``perm``).

``None`` stands for "permanent" throughout the package.
"""

from __future__ import annotations

import re
from typing import Final

from .errors import InvalidDuration

MINUTE: Final = 60
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR
WEEK: Final = 7 * DAY
# Anything longer is a typo, not a decision; permanent measures are spelled `perm`.
MAX_SECONDS: Final = 3653 * DAY  # ten years, leap days included

_UNITS: Final[dict[str, int]] = {
    "s": 1,
    "sec": 1,
    "秒": 1,
    "m": MINUTE,
    "min": MINUTE,
    "分": MINUTE,
    "分钟": MINUTE,
    "h": HOUR,
    "小时": HOUR,
    "时": HOUR,
    "d": DAY,
    "天": DAY,
    "日": DAY,
    "w": WEEK,
    "周": WEEK,
}
_PERMANENT: Final = frozenset({"perm", "permanent", "forever", "永久"})
_PART: Final = re.compile(r"([0-9]{1,12})\s*(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + ")")
_WHOLE: Final = re.compile(r"(?:" + _PART.pattern + r"\s*)+")
# Longer text is garbage; it is refused before any digit of it reaches int().
_MAX_CHARS: Final = 40
_EXAMPLES: Final = "use e.g. 90s, 30m, 12h, 7d, 2w or perm"


def parse_duration(text: str) -> int | None:
    """Read a duration.

    Args:
        text: ``90s``, ``30m``, ``12h``, ``7d``, ``2w``, combinations such as ``1d12h``,
            Chinese units (``7天``, ``12小时``), a plain number of seconds, or ``perm``.

    Returns:
        The number of seconds, or ``None`` for a permanent measure.

    Raises:
        InvalidDuration: the text is empty, garbage, zero, negative or over ten years.
    """
    cleaned = text.strip().lower()
    if len(cleaned) > _MAX_CHARS:
        raise InvalidDuration(f"cannot read a duration this long: {_EXAMPLES}")
    if not cleaned:
        raise InvalidDuration(f"empty duration: {_EXAMPLES}")
    if cleaned in _PERMANENT:
        return None
    if re.fullmatch(r"-?[0-9]{1,19}", cleaned):
        seconds = int(cleaned)
    elif _WHOLE.fullmatch(cleaned):
        seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
    elif cleaned.startswith("-"):
        raise InvalidDuration(f"a duration cannot be negative: {_EXAMPLES}")
    else:
        raise InvalidDuration(f"cannot read duration {text.strip()[:20]!r}: {_EXAMPLES}")
    if seconds <= 0:
        raise InvalidDuration(f"a duration must be longer than zero: {_EXAMPLES}")
    if seconds > MAX_SECONDS:
        raise InvalidDuration("a duration cannot exceed ten years; use perm for a permanent one")
    return seconds


_NAMES: Final[dict[str, tuple[tuple[int, str, str], ...]]] = {
    "zh-CN": ((DAY, "天", "天"), (HOUR, "小时", "小时"), (MINUTE, "分钟", "分钟"), (1, "秒", "秒")),
    "en": ((DAY, "day", "days"), (HOUR, "hour", "hours"), (MINUTE, "minute", "minutes"),
           (1, "second", "seconds")),
}  # fmt: skip


def format_duration(seconds: int | None, language: str) -> str:
    """Write a duration for people, e.g. ``7天`` or ``1 day 12 hours``.

    Args:
        seconds: the duration; ``None`` means permanent.
        language: ``zh-CN`` or ``en`` (anything starting with ``en`` is English, the rest
            Chinese, the default language of the service).

    Returns:
        The text, largest units first, zero parts left out.
    """
    english = language.lower().startswith("en")
    if seconds is None:
        return "permanent" if english else "永久"
    names = _NAMES["en" if english else "zh-CN"]
    parts: list[str] = []
    rest = max(seconds, 0)
    for size, singular, plural in names:
        count, rest = divmod(rest, size)
        if count:
            if english:
                parts.append(f"{count} {singular if count == 1 else plural}")
            else:
                parts.append(f"{count}{singular}")
    if not parts:
        return "0 seconds" if english else "0秒"
    return " ".join(parts) if english else "".join(parts)
