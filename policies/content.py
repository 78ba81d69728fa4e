"""Prohibited content (Art. 10): normalise text, match term lists, decide.

Pure: term lists come in as text, nothing here reads a file or a clock. The
Synapse module (``synapse_module.content``) loads the operator's files, builds a
``Matcher`` once per list version and asks it about every text it checks: message
bodies and their HTML, names, topics, display names. ``Matcher.scan`` is the one way
in, so every text gets the same normalisation.

Evasion resistance comes from normalising both the terms and the text to one
skeleton before matching, so that whatever a trick changes, it changes on both
sides or not at all:

1. Unicode NFKD: full-width to half-width (``ｆａｌｕｎ``), compatibility forms
   (``①``, ``𝐬𝐞𝐱``, ``⼈`` Kangxi radicals, CJK compatibility ideographs), and
   accents split off so they can be dropped;
2. case folding;
3. one character table: traditional to simplified Chinese (OpenCC ``t2s``
   applied per character, so ``法輪`` and ``法轮`` meet), look-alike letters and
   digits NFKD leaves alone (small capitals ``ꜰᴀʟᴜɴ``, Cyrillic and Greek ``ѕ3х`` →
   ``sex``, ``0`` → ``o``), and deletion of what renders as nothing: Unicode's
   Default_Ignorable_Code_Point set (``policies.ignorable``: zero-width characters,
   soft hyphen, bidi controls, variation selectors, tag characters, Hangul fillers)
   and every other format, combining and control character;
4. every run of separators (spaces, punctuation, symbols, emoji) becomes one
   space, then spaces between two CJK characters go (``法.轮``, ``法 轮``,
   ``法_轮``), and runs of single Latin letters close up (``s.e.x``).

A text is matched in several readings (``_projections``), each a skeleton:

- the **logical** one above (the characters as stored);
- **joined**: punctuation and symbols with no space around them inside a Latin word
  are dropped instead of becoming a space (``fa-lun-gong``, ``fa.lun``, ``fa🙂lun``);
  thin and hair spaces count as such marks. Ordinary spaces still part words, so
  ``s ex`` is not ``sex``;
- **gapped**: up to two characters that are not Han ideographs (letters, digits,
  kana) between two Han ideographs are dropped (``法a轮功``, ``法1轮功``, ``法の轮功``)
  where those two ideographs stand next to each other in a term of three or more Han
  ideographs or in an allow-list entry. Only such terms match here, and only across
  a dropped gap: two-character words are too short (``大3法学院`` would read ``大法``),
  see docs/content-rules.md;
- **visual**: when right-to-left characters or controls reorder the text, the order a
  reader sees (``"\u202e功轮法"`` shows 法轮功; ``policies.bidi``), for a
  left-to-right and a right-to-left paragraph.

Each reading exists only when it differs from the logical one, and they are
derived only where the text has what they undo, so ordinary text pays for one.

Matching is one Aho-Corasick automaton (pyahocorasick) over all categories and
the allow-list. Terms written only in Latin letters and digits match whole
words (``sex`` does not match ``Sussex``) unless written with ``*`` at an end
(``*coin`` matches ``bitcoin``); terms with CJK characters match anywhere,
because Chinese has no spaces between words. A hit that lies inside a hit of
the allow-list in the same reading is ignored (``魔法轮`` keeps ``魔法轮盘`` from
matching ``法轮``).

HTML (``formatted_body``) is reduced to text by ``strip_html``: what a reader is
shown and all the text it carries (``policies.html_text``).

Homophones (pinyin) are not matched: see docs/content-rules.md.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import ahocorasick
import opencc

from .bidi import REORDERING_CLASSES, visual_orders
from .constants import Language
from .decisions import Decision
from .html_text import html_projections
from .ignorable import default_ignorable_code_points
from .model import ContentAction, Policy
from .reasons import Reason

__all__ = [
    "ACTION_STRENGTH",
    "TEXT_BREAK",
    "ContentHit",
    "Matcher",
    "TermList",
    "content_decision",
    "content_digest",
    "html_texts",
    "normalise",
    "parse_hash_list",
    "parse_terms",
    "strip_html",
]

ACTION_STRENGTH: Final[Mapping[ContentAction, int]] = {"flag": 1, "hold": 2, "block": 3}
"""When one text hits several rules, the strongest action wins."""

# Scripts written without spaces between words: separators between two of these
# characters are evasion, never meaning.
_CJK_RANGES: Final = (
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3040, 0x30FF),  # kana
    (0x31F0, 0x31FF),  # kana
    (0x3100, 0x312F),  # bopomofo
    (0x31A0, 0x31BF),  # bopomofo
    (0x3400, 0x4DBF),  # CJK unified ideographs, extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3134F),  # extensions B to G
)
_CJK: Final = "".join(f"{chr(first)}-{chr(last)}" for first, last in _CJK_RANGES)
# The Han ideographs of the gapped reading: U+4000 to U+9FFF, the CJK Unified
# Ideographs block (every common character) and the upper part of Extension A. Their
# UTF-8 is exactly the characters led by the bytes E4 to E9, so one byte translation
# finds them (``_GAP_CLASSES``). Rarer ideographs count as gap characters.
_HAN: Final = "\u4000-\u9fff"
# Step 4 (separators) in passes that touch only what changes. One ``[\W_]+`` pass
# replaced every separator run, mostly a lone space by a space: ~20 of ~45 µs per 1 KB
# of mixed text. Now separators outside ASCII become marks (few per text; one
# character per match is faster than ``+`` here), the ASCII byte table turns ASCII
# separators into marks and whitespace into spaces, marks become spaces in one byte
# translation, and ``_SPACE_RUNS`` finds only runs of two or more. Every separator
# becomes a space either way, and runs of spaces become one: the same text.
# tests/policies/test_content.py compares the result with the one-pass pipeline.
_NON_ASCII_SEPARATORS: Final = re.compile(r"[^\x00-\x7f\w]")
# The common separators of Chinese text, each one mark after steps 1 to 3 (NFKD makes
# the full-width ones ASCII): text with no other separator beyond ASCII and nothing
# else to normalise becomes marked bytes by replacing these (``_marked``). A
# ``str.replace`` each: looking for a character not there costs little, a regex
# replacement per character much more.
_PLAIN_SEPARATORS: Final = "，。、！？：；“”‘’（）《》"
_SPACE_RUNS: Final = re.compile(rb"  +")
# The mark a separator other than whitespace leaves before the logical reading makes
# it a space: the joined reading drops it between two Latin letters or digits. A
# control character: every control of the text itself is deleted before (step 3).
_MARK: Final = b"\x01"
_MARK_TO_SPACE: Final = bytes.maketrans(_MARK, b" ")
# Runs of marks between two letters or digits (after look-alikes, so ASCII) become
# ``_JOIN``: a space in the logical reading, nothing in the joined one. Starting with
# the mark lets `re` jump from mark to mark.
_JOINABLE: Final = re.compile(rb"\x01(?<=[a-z0-9]\x01)\x01*(?=[a-z0-9])")
_JOIN: Final = b"\x02"
# Spaces narrower than a letter read as nothing inside a word: they are marks, not
# spaces (NFKD would make them spaces, so they are replaced before it).
_NARROW_SPACES: Final = re.compile("[\u2006\u2008\u2009\u200a\u202f\u205f]")
# Line and paragraph separators and the Ogham space survive NFKD: whitespace, not marks.
_NON_ASCII_WHITESPACE: Final = re.compile("[\u1680\u2028\u2029]")
_ANY_CJK: Final = re.compile(f"[{_CJK}]")


def _utf8_sequences(first: int, last: int) -> list[tuple[tuple[int, int], ...]]:
    """The UTF-8 of the code points ``first`` to ``last``, as byte ranges whose products hold exactly those.

    Split where the length of the encoding changes, then where a continuation byte
    would not run over its whole range (the usual construction, as in Go's and
    Rust's regex engines).
    """
    for limit in (0x7F, 0x7FF, 0xFFFF):
        if first <= limit < last:
            return _utf8_sequences(first, limit) + _utf8_sequences(limit + 1, last)
    for shift in (6, 12, 18):
        mask = (1 << shift) - 1
        if first >> shift != last >> shift:
            if first & mask:
                return _utf8_sequences(first, first | mask) + _utf8_sequences((first | mask) + 1, last)
            if last & mask != mask:
                return _utf8_sequences(first, (last & ~mask) - 1) + _utf8_sequences(last & ~mask, last)
    return [tuple(zip(chr(first).encode(), chr(last).encode(), strict=True))]


def _cjk_gap_pattern() -> re.Pattern[bytes]:
    """``_CJK_GAP``: a space with a CJK character on each side, in UTF-8."""

    def byte_range(low: int, high: int) -> bytes:
        return re.escape(bytes([low])) + (b"-" + re.escape(bytes([high])) if high > low else b"")

    by_length: dict[int, list[bytes]] = {}
    leads: set[int] = set()
    for first, last in _CJK_RANGES:
        for sequence in _utf8_sequences(first, last):
            encoded = b"".join(b"[" + byte_range(*pair) + b"]" for pair in sequence)
            by_length.setdefault(len(sequence), []).append(encoded)
            leads.update(range(sequence[0][0], sequence[0][1] + 1))
    character = b"|".join(b"|".join(alternatives) for alternatives in by_length.values())
    # A look-behind has one width: one per length of encoding.
    before = b"|".join(b"(?<=(?:" + b"|".join(alternatives) + b") )" for alternatives in by_length.values())
    lead = b"[" + b"".join(byte_range(code, code) for code in sorted(leads)) + b"]"
    # Cheap tests first: most spaces have ASCII on one side.
    return re.compile(rb" (?<=[\x80-\xbf] )(?=" + lead + b")(?:" + before + b")(?=" + character + b")")


# Once separators are single spaces, spaces between two CJK characters go. Both this
# pattern and the next start with a literal space so that `re` jumps from space to
# space instead of trying every position (about 2x and 4x faster on 1 KB;
# bench/ANALYSIS.md). On UTF-8 bytes: the str pattern would cost a decoding and an
# encoding more. Text without a CJK character skips the pass.
_CJK_GAP: Final = _cjk_gap_pattern()
# Three or more single letters or digits in a row, each standing alone: s e x, s.e.x.
# The match starts after the first letter; closing up its spaces joins the run.
_SPACED_LETTERS: Final = re.compile(r" (?<=\b[a-z0-9] )[a-z0-9](?: [a-z0-9]\b)+")
# The same where joins (``_JOIN``) count as spaces: closing up comes before joining.
_SPACED_LETTERS_OR_JOINED: Final = re.compile(r"[ \x02](?<=\b[a-z0-9][ \x02])[a-z0-9](?:[ \x02][a-z0-9]\b)+")
_BEYOND_BMP: Final = re.compile("[\U00010000-\U0010ffff]")
_WORD_CHAR: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# The gapped reading: a gap of one or two characters that are not Han (spaces around
# them do not count) between two Han ideographs. Found on a class string with one
# class per byte of the skeleton: ``H`` the first byte of a Han ideograph, ``c`` a
# continuation byte, ``y`` the first byte of another character beyond ASCII, ``a`` a
# Latin letter or digit, `` `` a space or join. With spaces left out and ``a`` and
# ``y`` made ``x``, a gap starts where a Han ideograph (``Hcc``) is followed by
# ``x``: a pattern led by the literal ``cx``, so `re` jumps to the few places where
# a gap can start. The same classes tell cheaply whether three single letters stand
# in a row (``_SPACED_LETTERS``).
_CLASSES: Final = bytes(
    ord("H")
    if 0xE4 <= code <= 0xE9
    else ord("c")
    if 0x80 <= code <= 0xBF
    else ord("y")
    if code >= 0xC0
    else ord("a")
    if chr(code) in "abcdefghijklmnopqrstuvwxyz0123456789"
    else ord(" ")
    if code in (0x20, _JOIN[0])
    else ord("x")
    for code in range(256)
)
# For spaced letters only letters matter: anything else is a space.
_LETTER_CLASSES: Final = _CLASSES.translate(bytes.maketrans(b"Hcyx", b"    "))
# For gaps, every character that is not Han is alike: ``x`` then ``c`` bytes.
_GAP_CLASSES: Final = _CLASSES.translate(bytes.maketrans(b"ay", b"xx"))
_SPACE_AND_JOIN: Final = b" \x02"
_THREE_SINGLE_LETTERS: Final = re.compile(rb" a a a(?!a)")
# After an ideograph and the lead byte of one more character, the first look-ahead
# turns down what cannot be a gap (a Latin word: ``xx`` then ``x``) before the rest is tried.
_GAP: Final = re.compile(rb"cx(?=[cH]|x[cH])(?<=Hccx)c{0,3}(?:xc{0,3})?(?=H)")
_HAN_ONLY: Final = re.compile(f"[{_HAN}]+")
_MIN_GAPPED_TERM: Final = 3
# Pieces of the gapped reading are matched as one string, separated by a character
# no skeleton contains (controls are deleted), so no match spans two pieces.
_PIECE_BREAK: Final = b"\x00"
_NO_JOINS: Final[frozenset[int]] = frozenset()

# Look-alikes, after NFKD and case folding. Digits and symbols people use for
# letters map to the letter, so ``s3x`` and ``sex`` meet; ``l`` and ``1`` both
# become ``i`` because ``1`` stands for either. Both sides are mapped, so a
# term with digits still matches itself. ASCII look-alikes are applied to the
# UTF-8 bytes by the byte table of ``_ascii_tables`` (``bytes.translate`` is far
# cheaper than ``str.translate``, and ASCII bytes never occur inside a multi-byte
# character); ``@`` and ``$`` become letters there instead of separators.
_ASCII_LOOKALIKES: Final = {"0": "o", "1": "i", "l": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
_SYMBOL_LOOKALIKES: Final = (("@", "a"), ("$", "s"))
# Latin small capitals NFKD leaves alone (it folds full-width and mathematical letters,
# not these): a word in small capitals reads as the word. Capitals of them (Ɪ) case-fold
# to these first. tests/policies/test_content.py checks that every "LATIN LETTER SMALL
# CAPITAL <letter>" of unicodedata is here.
_SMALL_CAPITALS: Final = {
    "ᴀ": "a",
    "ʙ": "b",
    "ᴄ": "c",
    "ᴅ": "d",
    "ᴇ": "e",
    "ꜰ": "f",
    "ɢ": "g",
    "ʜ": "h",
    "ɪ": "i",
    "ᴊ": "j",
    "ᴋ": "k",
    "ʟ": "l",
    "ᴍ": "m",
    "ɴ": "n",
    "ᴏ": "o",
    "ᴘ": "p",
    "ꞯ": "q",
    "ʀ": "r",
    "ꜱ": "s",
    "ᴛ": "t",
    "ᴜ": "u",
    "ᴠ": "v",
    "ᴡ": "w",
    "ʏ": "y",
    "ᴢ": "z",
    # small capitals with a stroke or hook, and turned or reversed ones that read the same
    "ᴌ": "l",
    "ʛ": "g",
    "ᴃ": "b",
    "ᴆ": "d",
    "ᴎ": "n",
    "ᴙ": "r",
    "ꭆ": "r",
}
_OTHER_LOOKALIKES: Final = {
    # Latin letters outside ASCII that NFKD does not reduce
    "ı": "i",
    "ȷ": "j",
    "ł": "i",
    "ø": "o",
    "đ": "d",
    "ħ": "h",
    "ŀ": "i",
    "ſ": "s",
    "ɑ": "a",
    "ɡ": "g",
    "ɩ": "i",
    "ƀ": "b",
    "ɓ": "b",
    "ƈ": "c",
    "ɗ": "d",
    "ƒ": "f",
    "ɠ": "g",
    "ɦ": "h",
    "ɨ": "i",
    "ƙ": "k",
    "ƚ": "i",
    "ɱ": "m",
    "ɲ": "n",
    "ɵ": "o",
    "ƥ": "p",
    "ʂ": "s",
    "ƭ": "t",
    "ʈ": "t",
    "ʋ": "v",
    "ƴ": "y",
    "ƶ": "z",
    "ȥ": "z",
    # Cyrillic
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "ү": "y",
    "х": "x",
    "ѕ": "s",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "һ": "h",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "ӏ": "i",
    "ѵ": "v",
    # Greek
    "α": "a",
    "β": "b",
    "γ": "y",
    "ε": "e",
    "ζ": "z",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "μ": "u",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "ϲ": "c",
    "ϳ": "j",
    # Armenian
    "օ": "o",
    "ս": "u",
    "հ": "h",
    "ո": "n",
}

# Characters that change nothing a reader sees, used to split terms invisibly: these
# categories (format, combining, control) and the Default_Ignorable_Code_Point set.
_INVISIBLE_CATEGORIES: Final = frozenset({"Cf", "Mn", "Me", "Cc"})
_KEEP_CONTROLS: Final = frozenset("\t\n\r")


@dataclass(frozen=True, slots=True)
class _Tables:
    """Step 3's character table and the patterns that find work for it, built once."""

    # Case folding happens first, so the table is keyed by folded characters.
    table: dict[int, str | None]
    # The table's characters in the BMP (see ``_fold_and_translate``).
    in_table_bmp: re.Pattern[str]
    # Characters of a raw text after which something beyond NFKD and the byte table is
    # to do: their NFKD holds a character of the table or one case folding changes, or
    # they reorder the text (bidi), or they are narrow or non-ASCII whitespace. Every
    # character beyond the BMP (see ``_tables``).
    raw_work: re.Pattern[str]
    # Characters that make a visual reading differ from the logical one.
    reordering: re.Pattern[str]
    # Characters of a raw text that ``_marked``'s shortcut does not cover: those of
    # ``raw_work``, those NFKD changes or may reorder (combining classes), separators
    # outside ASCII; but for the common separators of Chinese text (``_PLAIN_SEPARATORS``).
    # Every character beyond the BMP.
    not_plain: re.Pattern[str]


@functools.cache
def _tables() -> _Tables:
    table: dict[int, str | None] = {}
    # Traditional to simplified, character by character. One OpenCC call over
    # all ideographs, one per line, keeps phrase rules from joining them.
    ideographs = [chr(code) for code in (*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000))]
    simplified = opencc.OpenCC("t2s").convert("\n".join(ideographs)).split("\n")
    if len(simplified) == len(ideographs):
        for traditional, simple in zip(ideographs, simplified, strict=True):
            if traditional != simple and len(simple) == 1:
                table[ord(traditional)] = simple
    for source, target in (*_SMALL_CAPITALS.items(), *_OTHER_LOOKALIKES.items()):
        table[ord(source)] = target
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES and char not in _KEEP_CONTROLS:
            table[code] = None
    for code in default_ignorable_code_points():
        table[code] = None
    # Most text has none of these characters: finding that out with one scan of the
    # raw text is cheaper than translating every character. Only a class of BMP
    # characters compiles to a bitmap (a class with the table's many ranges beyond it
    # would be tested range by range for every character), so beyond the BMP the
    # pattern matches every character, and those are looked up one by one.
    folded_work = {code for code in table if code <= 0xFFFF}
    folded_work |= {code for code in range(0x80, 0x10000) if chr(code).casefold() != chr(code)}
    reordering = set()
    raw = set()
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        if unicodedata.bidirectional(char) in REORDERING_CLASSES:
            reordering.add(code)
        if any(ord(part) in folded_work or ord(part) > 0xFFFF for part in unicodedata.normalize("NFKD", char)):
            raw.add(code)
    raw |= reordering
    raw |= {ord(char) for char in "\u1680\u2028\u2029\u2006\u2008\u2009\u200a\u202f\u205f"}
    not_plain = set(raw)
    for code in range(0x80, 0x10000):
        char = chr(code)
        if (
            unicodedata.normalize("NFKD", char) != char
            or unicodedata.combining(char)
            or _NON_ASCII_SEPARATORS.match(char)
        ) and char not in _PLAIN_SEPARATORS:
            not_plain.add(code)
    beyond = "\U00010000-\U0010ffff"
    return _Tables(
        table,
        re.compile(f"[{_ranges(sorted(code for code in table if code <= 0xFFFF))}]"),
        re.compile(f"[{_ranges(sorted(raw))}{beyond}]"),
        # Beyond the BMP only the right-to-left blocks (U+10800–10FFF, U+1E800–1EFFF):
        # an emoji must not cost a visual reading.
        re.compile(f"[{_ranges(sorted(reordering))}\U00010800-\U00010fff\U0001e800-\U0001efff]"),
        re.compile(f"[{_ranges(sorted(not_plain))}{beyond}]"),
    )


def prepare_tables() -> None:
    """Build the character tables now rather than at the first match.

    They take a few tenths of a second over all of Unicode; a process that forks others
    builds them once for all of them.
    """
    _tables()


def _char_table() -> dict[int, str | None]:
    """Step 3's character table (folded character → replacement, None deletes)."""
    return _tables().table


def _ranges(codes: list[int]) -> str:
    """A regex character class body for sorted code points."""
    parts = []
    index = 0
    while index < len(codes):
        first = last = codes[index]
        while index + 1 < len(codes) and codes[index + 1] == last + 1:
            index += 1
            last = codes[index]
        parts.append(re.escape(chr(first)) if first == last else f"{re.escape(chr(first))}-{re.escape(chr(last))}")
        index += 1
    return "".join(parts)


def _ascii_tables() -> tuple[bytes, bytes]:
    """For ASCII text: one byte table doing steps 2 to 4a at once, and the controls to delete.

    Letters and digits become their small look-alike; whitespace becomes a space, other
    separators the mark (``_MARK``).
    """
    mapping = bytearray(range(256))
    for code in range(128):
        char = chr(code)
        if char.isspace():
            mapping[code] = ord(" ")
        elif not char.isalnum():
            mapping[code] = _MARK[0]
    for code in range(ord("A"), ord("Z") + 1):
        mapping[code] = code + 32
    lookalikes = {ord(symbol): ord(letter) for symbol, letter in (*_SYMBOL_LOOKALIKES, *_ASCII_LOOKALIKES.items())}
    # Case first, then look-alikes (``L`` → ``l`` → ``i``), as in the general path;
    # symbols (``@``) become their letter instead of a separator.
    mapping = bytearray(lookalikes.get(source, lookalikes.get(target, target)) for source, target in enumerate(mapping))
    controls = bytes(
        code for code in range(128) if unicodedata.category(chr(code)) == "Cc" and chr(code) not in _KEEP_CONTROLS
    )
    return bytes(mapping), controls


_ASCII_SKELETON, _ASCII_CONTROLS = _ascii_tables()


def _marked(text: str) -> tuple[bytes, bool, bool]:
    """Steps 1 to 4a: the text's UTF-8 bytes folded and mapped, whitespace a space, other separators marks.

    Returns:
        The bytes, whether the text has CJK characters, and whether it may reorder (bidi).
    """
    if text.isascii():
        # The same steps for plain ASCII, done by one byte table (a tested equivalence).
        return text.encode("ascii").translate(_ASCII_SKELETON, _ASCII_CONTROLS), False, False
    if _tables().not_plain.search(text) is None:
        # Plain text (most Chinese chat): NFKD, case folding and the char table change
        # nothing, and the only separators beyond ASCII are the common ones. Replacing
        # those by marks is all steps 1 to 3 do to it; NFKD and the separator pattern
        # would cost more than half of ``_marked``.
        # tests/policies/test_content.py compares the result with ``_marked_in_full``.
        for separator in _PLAIN_SEPARATORS:
            if separator in text:
                text = text.replace(separator, "\x01")
        return text.encode("utf-8").translate(_ASCII_SKELETON), _ANY_CJK.search(text) is not None, False
    return _marked_in_full(text)


def _marked_in_full(text: str) -> tuple[bytes, bool, bool]:
    """``_marked`` for text beyond ASCII, every step taken."""
    tables = _tables()
    work = tables.raw_work.search(text) is not None
    if work:
        if _NARROW_SPACES.search(text):
            text = _NARROW_SPACES.sub("-", text)
        text = _fold_and_translate(unicodedata.normalize("NFKD", text))
        if _NON_ASCII_WHITESPACE.search(text):
            text = _NON_ASCII_WHITESPACE.sub(" ", text)
    else:
        text = unicodedata.normalize("NFKD", text)
    has_cjk = _ANY_CJK.search(text) is not None
    # The ideographic full stop and comma are most of the separators left after NFKD
    # in Chinese text (full-width ，！？ are ASCII by now): ``str.replace`` is far
    # cheaper than a regex replacement per character, and the regex then finds few.
    text = _NON_ASCII_SEPARATORS.sub("\x01", text.replace("。", "\x01").replace("、", "\x01"))
    # What is left to map is ASCII, so the ASCII byte table does it: capitals,
    # separators (``@`` and ``$`` become letters first), look-alikes. The
    # controls it would turn into marks are gone (they are in the char table).
    return text.encode("utf-8").translate(_ASCII_SKELETON), has_cjk, work


def _finish(
    data: bytes, has_cjk: bool, radius: int = 0, pairs: frozenset[bytes] = frozenset()
) -> tuple[str, str, frozenset[int], str, frozenset[int]]:
    """Step 4 on marked bytes: the logical reading, the joined one and its joins, the gapped one and its gaps.

    Skeletons are latin-1 strings of UTF-8 bytes: the automaton runs on these bytes.
    pyahocorasick searches a node's children linearly; over Unicode text the root
    has thousands of children (one per ideograph), over UTF-8 bytes at most 256,
    which makes matching Chinese text an order of magnitude faster. UTF-8 is
    self-synchronising, so a term's bytes only ever match at character starts.

    Without a mark inside a Latin word the logical and joined readings are one
    string. The gapped reading is computed only for ``radius``, and only around gaps
    between two ideographs that stand next to each other in a term (``pairs``, the
    UTF-8 of both): where no term can span a gap, skipping it changes no hit.
    """
    joins = 0
    if _MARK in data:
        data, joins = _JOINABLE.subn(_JOIN, data)
        data = data.translate(_MARK_TO_SPACE)
    data = _SPACE_RUNS.sub(b" ", data).strip(b" ")
    gapped = ""
    dropped: frozenset[int] = _NO_JOINS
    if has_cjk:
        data = _CJK_GAP.sub(b"", data)
    spaced = _has_spaced_letters(data)
    if has_cjk and radius:
        # Gaps count no spaces, so they are found, and the gapped reading is cut,
        # with spaces (and joins) left out. Closing up spaced letters (below)
        # changes no gap either.
        gaps: list[tuple[int, int]] = []
        unspaced = b""
        for match in _GAP.finditer(data.translate(_GAP_CLASSES, _SPACE_AND_JOIN)):
            unspaced = unspaced or data.translate(None, _SPACE_AND_JOIN)
            start, end = match.start() + 1, match.end()
            if unspaced[start - 3 : start] + unspaced[end : end + 3] in pairs:
                gaps.append((start, end))
        if gaps:
            gapped_bytes, dropped = _gapped(unspaced, gaps, radius)
            gapped = gapped_bytes.decode("latin-1")
    text = data.decode("latin-1")
    # Spaced letters close up before joins are dropped (joins count as spaces), so
    # the logical and joined readings close up the same runs.
    if not joins:
        if spaced:
            text = _SPACED_LETTERS.sub(_close_up, text)
        return text, text, _NO_JOINS, gapped, dropped
    if spaced:
        text = _SPACED_LETTERS_OR_JOINED.sub(_close_up, text)
    parts = text.split("\x02")
    soft = frozenset(itertools.accumulate(map(len, parts[:-1])))
    return " ".join(parts), "".join(parts), soft, gapped, dropped


def _has_spaced_letters(data: bytes) -> bool:
    """Whether three letters each standing alone are in a row: only then has ``_SPACED_LETTERS`` work.

    A pattern led by a literal on a class string (a letter or not) is far cheaper
    than the pattern on the text.
    """
    classes = b" " + data.translate(_LETTER_CLASSES)
    return _THREE_SINGLE_LETTERS.search(classes) is not None


def _skeleton(text: str) -> str:
    """The logical reading's skeleton, as UTF-8 bytes in a latin-1 string (see ``_finish``)."""
    data, has_cjk, _ = _marked(text)
    return _finish(data, has_cjk)[0]


def _fold_and_translate(text: str) -> str:
    """Steps 2 and 3, case folding and the char table, skipped when they change nothing.

    Capital ASCII letters are left to the byte table, which makes them small: until
    then, nothing (the table, separators, CJK gaps) treats a capital letter
    differently from its small one.
    """
    tables = _tables()
    text = text.casefold()
    if tables.in_table_bmp.search(text) or any(ord(char) in tables.table for char in _BEYOND_BMP.findall(text)):
        text = text.translate(tables.table)
    return text


# One skeleton to match; where the joined reading dropped a mark between two Latin
# letters (a word may start or end there, and a term written with a space there
# matches: ``Matcher``), or for a gapped reading where it dropped a gap; whether it
# is gapped (only long Han terms count, and only across a dropped gap).
# A tuple: one is made per text, and a class costs more to make.
_Reading = tuple[str, frozenset[int], bool]


def _projections(
    text: str, radius: int, logical_too: bool = False, pairs: frozenset[bytes] = frozenset()
) -> list[_Reading]:
    """Every reading of a text that differs from the others (module docstring).

    Args:
        text: raw text.
        radius: the longest automaton word in bytes: how much text around a gap the
            gapped reading keeps.
        logical_too: also the logical reading when it differs from the joined one
            (for words with more joinable spaces than have spellings, see ``Matcher``).
        pairs: the UTF-8 of every two ideographs next to each other in a term of the
            gapped reading (see ``_finish``).
    """
    data, has_cjk, work = _marked(text)
    readings = _readings(data, has_cjk, radius, logical_too, pairs)
    if work and _tables().reordering.search(text):
        for shown in visual_orders(text):
            shown_data, shown_cjk, _ = _marked(shown)
            for reading in _readings(shown_data, shown_cjk, radius, logical_too, pairs):
                if reading not in readings:
                    readings.append(reading)
    return readings


def _readings(data: bytes, has_cjk: bool, radius: int, logical_too: bool, pairs: frozenset[bytes]) -> list[_Reading]:
    logical, joined, soft, gapped, dropped = _finish(data, has_cjk, radius, pairs)
    # The joined reading holds every hit of the logical one (see ``Matcher``).
    readings = [(joined, soft, False)]
    if soft and logical_too:
        readings.append((logical, _NO_JOINS, False))
    if gapped:
        readings.append((gapped, dropped, True))
    return readings


def _gapped(skeleton: bytes, gaps: list[tuple[int, int]], radius: int) -> tuple[bytes, frozenset[int]]:
    """The gapped reading: only the text around gaps, the gaps dropped, pieces apart.

    A hit of the gapped reading counts only where it spans a dropped gap: elsewhere it
    is the logical reading's to decide (with its allow-list hits, which a gap inside
    an entry would break here). So of the text between two gaps at most ``radius``
    bytes on either side are kept (enough for any term or allow-list entry spanning a
    gap; a piece may start or end inside a character, where no term can match).

    Returns:
        The reading and the positions where a gap was dropped.
    """
    first = skeleton[max(0, gaps[0][0] - radius) : gaps[0][0]]
    pieces = [first]
    length = len(first)
    dropped = [length]
    previous = gaps[0][1]
    for start, end in gaps[1:]:
        if start - previous <= 2 * radius:
            pieces.append(skeleton[previous:start])
            length += start - previous
        else:
            before, after = skeleton[previous : previous + radius], skeleton[start - radius : start]
            pieces += (before, _PIECE_BREAK, after)
            length += len(before) + 1 + len(after)
        dropped.append(length)
        previous = end
    pieces.append(skeleton[previous : previous + radius])
    return b"".join(pieces), frozenset(dropped)


def normalise(text: str) -> str:
    """The matching skeleton of a text's logical reading (see the module docstring for the steps).

    Args:
        text: any text: a message, a room name, a term.

    Returns:
        The skeleton; never shown to anyone, only matched.
    """
    return _skeleton(text).encode("latin-1").decode("utf-8")


def _close_up(match: re.Match[str]) -> str:
    return match.group().replace(" ", "").replace("\x02", "")


# --- term files ----------------------------------------------------------------------


def parse_terms(text: str) -> list[str]:
    """The terms of a term file: one per line, ``#`` starts a comment line.

    A term that itself begins with ``#`` is written ``\\#``. Blank lines are
    skipped; surrounding whitespace is not part of a term.
    """
    terms = []
    for line in text.splitlines():
        term = line.strip()
        if not term or term.startswith("#"):
            continue
        if term.startswith("\\#"):
            term = term[1:]
        terms.append(term)
    return terms


_SHA256_HEX: Final = re.compile(r"^[0-9a-f]{64}$")


def parse_hash_list(text: str, where: str) -> frozenset[str]:
    """SHA-256 digests (hex), one per line, ``#`` comments; raises ValueError naming the line.

    Args:
        text: the file's text.
        where: the file's name for the error message.
    """
    digests = set()
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if not _SHA256_HEX.match(entry):
            raise ValueError(f"{where}: line {number} is not a SHA-256 digest (64 hex digits)")
        digests.add(entry)
    return frozenset(digests)


# --- HTML ----------------------------------------------------------------------------

TEXT_BREAK: Final = "\n\u16a0\u16a0\u16a0\n"
"""Between the readings ``strip_html`` joins: a word of three Runic letters on a line of its own.

No rule of the matcher bridges it (separators join CJK characters, the gapped reading
drops at most two characters, the joined one only marks between Latin letters), so
no match spans two readings; and no term list holds Runic.
"""


def html_texts(html_text: str) -> list[str]:
    """The texts of a ``formatted_body`` to check: what a reader is shown, and all the text.

    One text when nothing is hidden (``policies.html_text``).
    """
    shown, everything = html_projections(html_text)
    return [shown] if shown == everything else [shown, everything]


def strip_html(html_text: str) -> str:
    """The text of a ``formatted_body`` to check, as one string: ``html_texts`` joined by ``TEXT_BREAK``.

    Inline elements join without a space (``fa<b></b>lun`` is ``falun``), block elements
    start a line, entities are decoded; hidden text is left out of the first reading
    and kept in the second.
    """
    return TEXT_BREAK.join(html_texts(html_text))


# --- matching ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TermList:
    """The terms of one category, as read from its files."""

    category: str
    action: ContentAction
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ContentHit:
    """A text matched a category's terms (the term itself is never kept)."""

    category: str
    action: ContentAction


@dataclass(frozen=True, slots=True)
class _Entry:
    length: int
    # Per allow-list entry with this skeleton: the positions in it that must be joins
    # (``_Reading.soft``); () for the entry as written.
    allow: tuple[tuple[int, ...], ...] = field(default=())
    # Per rule with this skeleton: category, whole word at the start, whole word at
    # the end, positions that must be joins.
    rules: tuple[tuple[str, bool, bool, tuple[int, ...]], ...] = field(default=())
    # Whether the skeleton is three or more Han ideographs and nothing else: only such
    # terms match in the gapped reading.
    gapped: bool = False


# A term or allow-list entry with spaces between Latin letters also matches with any
# of those spaces written as a mark inside a word (``free-money`` for ``free money``):
# each such spelling is one more automaton word, so their number is bounded.
_MAX_JOINABLE_SPACES: Final = 4
_JOINABLE_SPACE: Final = re.compile(" (?<=[a-z0-9] )(?=[a-z0-9])")


# pyahocorasick looks a node's children up one after the other, in the order they were
# added: words are added so that the bytes text holds most come first (the lead bytes
# of common ideographs, then Latin letters as often as English uses them). On the
# bench's 1 KB of mixed text the automaton takes about 8 % less time than with the
# order of a set, which also changed from process to process with the hash seed.
_TRIE_FIRST: Final = "\xe4\xe5\xe6\xe8\xe7\xe9etaoinsrhdcumfgypwbvkxjqz"
_TRIE_RANK: Final = {ord(char): chr(rank) for rank, char in enumerate(_TRIE_FIRST)} | {
    code: chr(len(_TRIE_FIRST) + code) for code in range(256) if chr(code) not in _TRIE_FIRST
}


def _trie_order(skeleton: str) -> str:
    """The sort key that adds a skeleton's bytes in ``_TRIE_FIRST`` order (see there)."""
    return skeleton.translate(_TRIE_RANK)


def _join_variants(skeleton: str) -> list[tuple[str, tuple[int, ...]]]:
    """The skeleton, and each spelling of it with some spaces between Latin letters dropped.

    Returns:
        (spelling, positions in it where a space was dropped).
    """
    spaces = [match.start() for match in _JOINABLE_SPACE.finditer(skeleton)][:_MAX_JOINABLE_SPACES]
    variants = []
    for subset in range(1 << len(spaces)):
        dropped = [space for bit, space in enumerate(spaces) if subset >> bit & 1]
        spelling = skeleton
        positions = []
        for count, space in enumerate(dropped):
            position = space - count
            spelling = spelling[:position] + spelling[position + 1 :]
            positions.append(position)
        variants.append((spelling, tuple(positions)))
    return variants


class Matcher:
    """All categories' terms and the allow-list in one Aho-Corasick automaton.

    Build once per list version (building 10,000 terms takes well under a second),
    then call ``scan`` from any thread: scanning does not change the automaton.

    The joined reading is matched with its joins (``_Reading.soft``) standing for
    both a space and nothing: a whole-word term may start or end at a join, and a
    term written with a space between Latin letters also matches where that space is
    a join. So one scan finds every hit of the logical reading (where those joins
    are spaces) and of the joined one.
    """

    def __init__(self, lists: Iterable[TermList], allow: Iterable[str] = ()) -> None:
        self._actions: dict[str, ContentAction] = {}
        # A term with more spaces between Latin letters than get spellings is also
        # matched in the logical reading (rare: one more scan where a text has joins).
        self._logical_too = False
        rules: dict[str, list[tuple[str, bool, bool, tuple[int, ...]]]] = {}
        count = 0
        for term_list in lists:
            self._actions[term_list.category] = term_list.action
            for raw in term_list.terms:
                parsed = _parse_term(raw)
                if parsed is None:
                    continue
                skeleton, strict_start, strict_end = parsed
                if len(_JOINABLE_SPACE.findall(skeleton)) > _MAX_JOINABLE_SPACES:
                    self._logical_too = True
                for spelling, joins in _join_variants(skeleton):
                    rules.setdefault(spelling, []).append((term_list.category, strict_start, strict_end, joins))
                count += 1
        allowed: dict[str, list[tuple[int, ...]]] = {}
        allowed_count = 0
        for term in allow:
            skeleton = _skeleton(term.replace("*", " "))
            if skeleton:
                allowed_count += 1
                for spelling, joins in _join_variants(skeleton):
                    allowed.setdefault(spelling, []).append(joins)
        automaton = ahocorasick.Automaton()
        radius = 0
        pairs: set[bytes] = set()
        for skeleton in sorted(rules.keys() | allowed.keys(), key=_trie_order):
            text = skeleton.encode("latin-1").decode("utf-8")
            gapped = len(text) >= _MIN_GAPPED_TERM and _HAN_ONLY.fullmatch(text) is not None
            if (gapped and skeleton in rules) or skeleton in allowed:
                # Two ideographs next to each other in a term of the gapped reading, or
                # in an allow-list entry (which must read whole where a term does).
                pairs.update(
                    pair.encode("utf-8")
                    for first, second in itertools.pairwise(text)
                    if _HAN_ONLY.fullmatch(pair := first + second)
                )
            if gapped or skeleton in allowed:
                radius = max(radius, len(skeleton))
            entry = _Entry(len(skeleton), tuple(allowed.get(skeleton, ())), tuple(rules.get(skeleton, ())), gapped)
            automaton.add_word(skeleton, entry)
        # The gapped reading keeps this many bytes around a gap: enough for a term that
        # matches there, or an allow-list entry holding one. None such: no gapped reading.
        self._radius = radius
        self._pairs = frozenset(pairs)
        self._empty = len(automaton) == 0
        if not self._empty:
            automaton.make_automaton()
        self._automaton = automaton
        self.term_count = count
        self.allow_count = allowed_count

    def scan(self, text: str) -> ContentHit | None:
        """The strongest rule the text breaks in any of its readings, or None.

        Args:
            text: raw text (it is normalised here).
        """
        if self._empty or not text:
            return None
        best: ContentHit | None = None
        for reading in _projections(text, self._radius, self._logical_too, self._pairs):
            hit = self._scan_reading(reading)
            if hit is not None and (best is None or ACTION_STRENGTH[hit.action] > ACTION_STRENGTH[best.action]):
                best = hit
        return best

    def _scan_reading(self, reading: _Reading) -> ContentHit | None:
        skeleton, positions, gapped = reading
        soft = _NO_JOINS if gapped else positions
        if not skeleton:
            return None
        candidates: list[tuple[int, int, str]] = []
        allowed: list[tuple[int, int]] = []
        for end, entry in self._automaton.iter(skeleton):
            start = end - entry.length + 1
            for joins in entry.allow:
                if all(start + join in soft for join in joins):
                    allowed.append((start, end))
                    break
            if gapped and not (entry.gapped and any(start < drop <= end for drop in positions)):
                continue
            for category, strict_start, strict_end, joins in entry.rules:
                if joins and not all(start + join in soft for join in joins):
                    continue
                if strict_start and start > 0 and skeleton[start - 1] in _WORD_CHAR and start not in soft:
                    continue
                if strict_end and end + 1 < len(skeleton) and skeleton[end + 1] in _WORD_CHAR and end + 1 not in soft:
                    continue
                candidates.append((start, end, category))
        best: ContentHit | None = None
        for start, end, category in candidates:
            if any(a_start <= start and end <= a_end for a_start, a_end in allowed):
                continue
            action = self._actions[category]
            if best is None or ACTION_STRENGTH[action] > ACTION_STRENGTH[best.action]:
                best = ContentHit(category, action)
        return best

    def scan_all(self, texts: Iterable[str]) -> ContentHit | None:
        """The strongest hit over several texts (each matched on its own)."""
        best: ContentHit | None = None
        for text in texts:
            hit = self.scan(text)
            if hit is not None and (best is None or ACTION_STRENGTH[hit.action] > ACTION_STRENGTH[best.action]):
                best = hit
        return best


def _parse_term(raw: str) -> tuple[str, bool, bool] | None:
    """A term's skeleton and whether it must start and end on a word boundary."""
    open_start = raw.startswith("*")
    open_end = raw.endswith("*")
    skeleton = _skeleton(raw.strip("*"))
    if not skeleton:
        return None
    # Whole words only for terms of Latin letters and digits: Chinese has no
    # word boundaries to respect.
    latin = all(char in _WORD_CHAR or char == " " for char in skeleton)
    return skeleton, latin and not open_start, latin and not open_end


# --- decision ------------------------------------------------------------------------


def content_decision(
    hit: ContentHit | None, policy: Policy, language: Language, *, ticket: str | None = None
) -> Decision:
    """What happens to content that produced ``hit``.

    ``block`` and ``hold`` refuse with ``prohibited_content`` and name the category
    (never the term); ``hold`` says that a person will look at it, with the ticket.
    ``flag`` and no hit allow: a flagged message is delivered and reviewed later.
    """
    if hit is None or hit.action == "flag":
        return Decision.allow()
    category = policy.content.categories.get(hit.category)
    label = category.labels[language] if category is not None else hit.category
    detail: dict[str, object] = {"category": hit.category, "label": label}
    if hit.action == "hold":
        detail["held"] = True
        detail["ticket"] = ticket
    return Decision.refuse(Reason.PROHIBITED_CONTENT, **detail)


def content_digest(data: bytes) -> str:
    """The SHA-256 of content, as evidence that names it without repeating it."""
    return hashlib.sha256(data).hexdigest()
