"""Characters that render as nothing: Unicode's Default_Ignorable_Code_Point property.

``unicodedata`` has no lookup for derived properties, so the ranges are data here,
copied from ``DerivedCoreProperties.txt`` of Unicode 14.0 (the version of Python 3.11's
``unicodedata``). They are not one general category: soft hyphen and the bidi controls
are ``Cf``, variation selectors ``Mn``, the Hangul fillers ``Lo`` (letters, so a filler
inside a word looked like part of it), and whole blocks are reserved (``Cn``) so that
characters assigned there later are invisible from the start. Content matching (Art. 10)
deletes every one of them, so they cannot split a term that a reader sees whole.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_IGNORABLE_RANGES", "default_ignorable_code_points"]

DEFAULT_IGNORABLE_RANGES: Final[tuple[tuple[int, int], ...]] = (
    (0x00AD, 0x00AD),  # SOFT HYPHEN
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER
    (0x061C, 0x061C),  # ARABIC LETTER MARK
    (0x115F, 0x1160),  # HANGUL CHOSEONG FILLER, HANGUL JUNGSEONG FILLER
    (0x17B4, 0x17B5),  # KHMER VOWEL INHERENT AQ, AA
    (0x180B, 0x180F),  # MONGOLIAN FREE VARIATION SELECTORS, VOWEL SEPARATOR
    (0x200B, 0x200F),  # ZERO WIDTH SPACE, ZWNJ, ZWJ, LRM, RLM
    (0x202A, 0x202E),  # LRE, RLE, PDF, LRO, RLO
    (0x2060, 0x206F),  # WORD JOINER, invisible operators, LRI, RLI, FSI, PDI, deprecated formats
    (0x3164, 0x3164),  # HANGUL FILLER
    (0xFE00, 0xFE0F),  # VARIATION SELECTOR-1 to -16
    (0xFEFF, 0xFEFF),  # ZERO WIDTH NO-BREAK SPACE (BOM)
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER
    (0xFFF0, 0xFFF8),  # reserved
    (0x1BCA0, 0x1BCA3),  # SHORTHAND FORMAT controls
    (0x1D173, 0x1D17A),  # MUSICAL SYMBOL BEGIN BEAM to END PHRASE
    (0xE0000, 0xE0FFF),  # language tag, TAG characters, VARIATION SELECTOR-17 to -256, reserved
)
"""Inclusive ranges of Default_Ignorable_Code_Point (4,174 code points)."""


def default_ignorable_code_points() -> frozenset[int]:
    """Every Default_Ignorable_Code_Point, as code points."""
    return frozenset(code for first, last in DEFAULT_IGNORABLE_RANGES for code in range(first, last + 1))
