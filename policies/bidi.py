"""The order in which a reader sees text: the Unicode Bidirectional Algorithm, simplified.

Bidi controls change what is shown without changing what is stored:
``"\\u202e功轮法"`` is stored 功轮法 and shown 法轮功 (U+202E RIGHT-TO-LEFT OVERRIDE
reverses what follows). Content matching (Art. 10) checks the stored (logical) order
with the controls deleted, and also each visual order computed here, so that what a
person sees is what is checked.

This follows UAX #9 where it decides the order of letters and digits: explicit
embeddings, overrides and isolates with their terminators (X1–X10, unterminated ones
run to the end of the paragraph), paragraphs ending at line breaks, the resolution of
numbers and neutrals (W1–W7 simplified: number separators count as neutrals; N1–N2),
implicit levels (I1–I2) and reversal (L2). It leaves out what moves only punctuation or
spaces (mirroring, trailing whitespace): those are separators to the matcher.

The paragraph direction is taken both ways (left-to-right and right-to-left): clients
choose it differently (Element from the first strong character of a message, others per
line or always left-to-right), and one mark (U+200F) changes it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["REORDERING_CLASSES", "visual_orders"]

REORDERING_CLASSES: Final = frozenset({"R", "AL", "RLE", "RLO", "RLI", "FSI"})
"""Bidi classes without which a text is shown in its logical order.

Left-to-right text is reordered only by right-to-left characters (R, AL; U+200F RLM is R)
or by controls that open a right-to-left context; text with none of these is shown as stored.
"""

_MAX_DEPTH: Final = 125
_PARAGRAPH_BREAK: Final = re.compile("[\n\r\x1c-\x1e\x85\u2029]")
_EMBEDDINGS: Final = frozenset({"LRE", "RLE", "LRO", "RLO"})
_ISOLATES: Final = frozenset({"LRI", "RLI", "FSI"})
_STRONG: Final = frozenset({"L", "R", "AL"})
_EXPLICIT: Final = _EMBEDDINGS | _ISOLATES | {"PDF", "PDI"}


def visual_orders(text: str) -> list[str]:
    """The texts as shown left to right, for a left-to-right and a right-to-left paragraph.

    Explicit controls and boundary-neutral characters are left out (they show nothing);
    paragraphs stay separated by ``"\\n"``. Orders equal to each other are given once.

    Args:
        text: any text; its logical (stored) order.
    """
    paragraphs = [
        (paragraph, [unicodedata.bidirectional(char) for char in paragraph])
        for paragraph in _PARAGRAPH_BREAK.split(text)
    ]
    orders: list[str] = []
    for base in (0, 1):
        shown = "\n".join(_visual_paragraph(paragraph, classes, base) for paragraph, classes in paragraphs)
        if shown not in orders:
            orders.append(shown)
    return orders


def _visual_paragraph(paragraph: str, classes: list[str], base: int) -> str:
    if not REORDERING_CLASSES.intersection(classes):
        # Nothing opens a right-to-left context: shown as stored (but for moved separators).
        return "".join(char for char, kind in zip(paragraph, classes, strict=True) if kind != "BN")
    chars, levels, types = _explicit_levels(paragraph, classes, base)
    if not chars:
        return ""
    _resolve_types(levels, types, base)
    for index, kind in enumerate(types):
        level = levels[index]
        if level % 2 == 0:
            levels[index] = level + (1 if kind == "R" else 2 if kind in ("AN", "EN") else 0)
        elif kind in ("L", "AN", "EN"):
            levels[index] = level + 1
    return "".join(_reorder(chars, levels))


def _explicit_levels(paragraph: str, classes: list[str], base: int) -> tuple[list[str], list[int], list[str]]:
    """X1–X9: the embedding level and type of each character kept (controls and BN go)."""
    if not _EXPLICIT.intersection(classes):
        # No embedding, override or isolate: one level, the characters' own types.
        kept = [(char, kind) for char, kind in zip(paragraph, classes, strict=True) if kind != "BN"]
        return [char for char, _ in kept], [base] * len(kept), [kind for _, kind in kept]
    # Entries: (level, override type or "", isolate)
    stack: list[tuple[int, str, bool]] = [(base, "", False)]
    overflow_isolates = overflow_embeddings = valid_isolates = 0
    chars: list[str] = []
    levels: list[int] = []
    types: list[str] = []
    for index, (char, kind) in enumerate(zip(paragraph, classes, strict=True)):
        level, override, _ = stack[-1]
        if kind in _EMBEDDINGS:
            new_level = _next_level(level, kind.startswith("R"))
            if new_level <= _MAX_DEPTH and overflow_isolates == 0 and overflow_embeddings == 0:
                stack.append((new_level, {"RLO": "R", "LRO": "L"}.get(kind, ""), False))
            elif overflow_isolates == 0:
                overflow_embeddings += 1
        elif kind in _ISOLATES:
            if kind == "FSI":
                right_to_left = _first_strong_level(paragraph[index + 1 : _matching_pdi(classes, index)]) == 1
            else:
                right_to_left = kind == "RLI"
            new_level = _next_level(level, right_to_left)
            if new_level <= _MAX_DEPTH and overflow_isolates == 0 and overflow_embeddings == 0:
                valid_isolates += 1
                stack.append((new_level, "", True))
            else:
                overflow_isolates += 1
        elif kind == "PDI":
            if overflow_isolates:
                overflow_isolates -= 1
            elif valid_isolates:
                overflow_embeddings = 0
                while not stack[-1][2]:
                    stack.pop()
                stack.pop()
                valid_isolates -= 1
        elif kind == "PDF":
            if overflow_isolates:
                pass
            elif overflow_embeddings:
                overflow_embeddings -= 1
            elif not stack[-1][2] and len(stack) >= 2:
                stack.pop()
        elif kind != "BN":
            chars.append(char)
            levels.append(level)
            types.append(override or kind)
    return chars, levels, types


def _next_level(level: int, right_to_left: bool) -> int:
    return (level + 1) | 1 if right_to_left else (level + 2) & ~1


def _matching_pdi(classes: list[str], start: int) -> int:
    depth = 0
    for index in range(start + 1, len(classes)):
        if classes[index] in _ISOLATES:
            depth += 1
        elif classes[index] == "PDI":
            if depth == 0:
                return index
            depth -= 1
    return len(classes)


def _first_strong_level(text: str) -> int:
    """P2–P3: 1 when the first strong character (outside isolates) is right-to-left."""
    depth = 0
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in _ISOLATES:
            depth += 1
        elif kind == "PDI":
            depth = max(depth - 1, 0)
        elif depth == 0 and kind in _STRONG:
            return 0 if kind == "L" else 1
    return 0


def _resolve_types(levels: list[int], types: list[str], base: int) -> None:
    """W1–W7 and N1–N2 over each run of one level: numbers and neutrals get a direction."""
    count = len(types)
    start = 0
    while start < count:
        end = start
        while end < count and levels[end] == levels[start]:
            end += 1
        level = levels[start]
        before = levels[start - 1] if start > 0 else base
        after = levels[end] if end < count else base
        sos = "R" if max(level, before) % 2 else "L"
        eos = "R" if max(level, after) % 2 else "L"
        previous, strong = sos, sos
        for index in range(start, end):
            kind = types[index]
            if kind == "NSM":
                kind = previous
            if kind == "EN":
                kind = "AN" if strong == "AL" else "L" if strong == "L" else "EN"
            elif kind in _STRONG:
                strong = kind
                kind = "R" if kind == "AL" else kind
            elif kind != "AN":
                kind = "N"
            types[index] = previous = kind
        index = start
        while index < end:
            if types[index] != "N":
                index += 1
                continue
            run_end = index
            while run_end < end and types[run_end] == "N":
                run_end += 1
            left = _as_strong(types[index - 1]) if index > start else sos
            right = _as_strong(types[run_end]) if run_end < end else eos
            direction = left if left == right else ("R" if level % 2 else "L")
            types[index:run_end] = [direction] * (run_end - index)
            index = run_end
        start = end


def _as_strong(kind: str) -> str:
    # N1: numbers act as right-to-left characters next to neutrals.
    return "L" if kind == "L" else "R"


def _reorder(chars: list[str], levels: list[int]) -> list[str]:
    """L2: from the highest level down to the lowest odd one, reverse every run at or above it."""
    highest = max(levels)
    lowest_odd = min(level for level in levels) | 1
    order = list(range(len(chars)))
    for level in range(highest, lowest_odd - 1, -1):
        index = 0
        while index < len(order):
            if levels[order[index]] < level:
                index += 1
                continue
            end = index
            while end < len(order) and levels[order[end]] >= level:
                end += 1
            order[index:end] = order[index:end][::-1]
            index = end
    return [chars[position] for position in order]
