"""Prohibited content (Art. 10): normalise text, match term lists, decide.

Pure: term lists come in as text, nothing here reads a file or a clock. The
Synapse module (``synapse_module.content``) loads the operator's files, builds a
``Matcher`` once per list version and asks it about every message.

Evasion resistance comes from normalising both the terms and the text to one
skeleton before matching, so that whatever a trick changes, it changes on both
sides or not at all:

1. Unicode NFKD: full-width to half-width (``ｆａｌｕｎ``), compatibility forms
   (``①``, ``𝐬𝐞𝐱``, ``⼈`` Kangxi radicals, CJK compatibility ideographs), and
   accents split off so they can be dropped;
2. case folding;
3. one character table: traditional to simplified Chinese (OpenCC ``t2s``
   applied per character, so ``法輪`` and ``法轮`` meet), look-alike Latin,
   Cyrillic and Greek letters and digits (``ѕ3х`` → ``sex``, ``0`` → ``o``),
   and deletion of zero-width, format and combining characters;
4. every run of separators (spaces, punctuation, symbols, emoji) becomes one
   space, then spaces between two CJK characters go (``法.轮``, ``法 轮``,
   ``法_轮``), and runs of single Latin letters close up (``s.e.x``).

Matching is one Aho-Corasick automaton (pyahocorasick) over all categories and
the allow-list. Terms written only in Latin letters and digits match whole
words (``sex`` does not match ``Sussex``) unless written with ``*`` at an end
(``*coin`` matches ``bitcoin``); terms with CJK characters match anywhere,
because Chinese has no spaces between words. A hit that lies inside a hit of
the allow-list is ignored (``魔法轮`` keeps ``魔法轮盘`` from matching ``法轮``).

Homophones (pinyin) are not matched: see docs/content-rules.md.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import ahocorasick
import opencc

from .constants import Language
from .decisions import Decision
from .model import ContentAction, Policy
from .reasons import Reason

__all__ = [
    "ACTION_STRENGTH",
    "ContentHit",
    "Matcher",
    "TermList",
    "content_decision",
    "content_digest",
    "normalise",
    "parse_hash_list",
    "parse_terms",
    "strip_html",
]

ACTION_STRENGTH: Final[Mapping[ContentAction, int]] = {"flag": 1, "hold": 2, "block": 3}
"""When one text hits several rules, the strongest action wins."""

# Scripts written without spaces between words: separators between two of these
# characters are evasion, never meaning.
_CJK: Final = (
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3005-\u3007\u3021-\u3029"  # 々 〆 〇, Hangzhou numerals
    "\u3040-\u30ff\u31f0-\u31ff"  # kana
    "\u3100-\u312f\u31a0-\u31bf"  # bopomofo
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK unified and compatibility ideographs
    "\U00020000-\U0003134f"  # extensions B to G
)
# Step 4 (separators) in passes that touch only what changes. One ``[\W_]+`` pass
# replaced every separator run, mostly a lone space by a space: ~20 of ~45 µs per 1 KB
# of mixed text. Now separators outside ASCII become spaces (few per text; one
# character per match is faster than ``+`` here), the ASCII byte table turns ASCII
# separators into spaces, and ``_SPACE_RUNS`` finds only runs of two or more. Every
# separator becomes a space either way, and runs of spaces become one: the same text.
# tests/policies/test_content.py compares the result with the one-pass pipeline.
_NON_ASCII_SEPARATORS: Final = re.compile(r"[^\x00-\x7f\w]")
_SPACE_RUNS: Final = re.compile(rb"  +")
# Once separators are single spaces, spaces between two CJK characters go. Both this
# pattern and the next start with a literal space so that `re` jumps from space to
# space instead of trying every position (about 2x and 4x faster on 1 KB;
# bench/ANALYSIS.md). Text without a CJK character skips the pass.
_CJK_GAP: Final = re.compile(rf" (?<=[{_CJK}] )(?=[{_CJK}])")
_ANY_CJK: Final = re.compile(f"[{_CJK}]")
# Three or more single letters or digits in a row, each standing alone: s e x, s.e.x.
# The match starts after the first letter; closing up its spaces joins the run.
_SPACED_LETTERS: Final = re.compile(r" (?<=\b[a-z0-9] )[a-z0-9](?: [a-z0-9]\b)+")
_BEYOND_BMP: Final = re.compile("[\U00010000-\U0010ffff]")
_LONE_LETTER: Final = re.compile(" [a-z0-9] ")
_WORD_CHAR: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")

# Look-alikes, after NFKD and case folding. Digits and symbols people use for
# letters map to the letter, so ``s3x`` and ``sex`` meet; ``l`` and ``1`` both
# become ``i`` because ``1`` stands for either. Both sides are mapped, so a
# term with digits still matches itself. ASCII look-alikes are applied to the
# UTF-8 bytes by the byte table of ``_ascii_tables`` (``bytes.translate`` is far
# cheaper than ``str.translate``, and ASCII bytes never occur inside a multi-byte
# character); ``@`` and ``$`` become letters there instead of separators.
_ASCII_LOOKALIKES: Final = {"0": "o", "1": "i", "l": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
_SYMBOL_LOOKALIKES: Final = (("@", "a"), ("$", "s"))
_OTHER_LOOKALIKES: Final = {
    # Latin letters outside ASCII that NFKD does not reduce
    "ı": "i",
    "ł": "i",
    "ø": "o",
    "đ": "d",
    "ħ": "h",
    "ŀ": "i",
    "ſ": "s",
    "ɑ": "a",
    "ɡ": "g",
    "ɩ": "i",
    "ʏ": "y",
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
}

# Characters that change nothing a reader sees, used to split terms invisibly.
_INVISIBLE_CATEGORIES: Final = frozenset({"Cf", "Mn", "Me", "Cc"})
_KEEP_CONTROLS: Final = frozenset("\t\n\r")


@functools.cache
def _char_table() -> tuple[dict[int, str | None], re.Pattern[str], re.Pattern[str]]:
    """The character table of step 3 and two patterns finding work for steps 2 and 3, built once.

    The first pattern finds the table's characters in the BMP; the second also
    finds non-ASCII characters that case folding changes, and any character
    beyond the BMP (see ``_fold_and_translate``).
    """
    table: dict[int, str | None] = {}
    # Traditional to simplified, character by character. One OpenCC call over
    # all ideographs, one per line, keeps phrase rules from joining them.
    ideographs = [chr(code) for code in (*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000))]
    simplified = opencc.OpenCC("t2s").convert("\n".join(ideographs)).split("\n")
    if len(simplified) == len(ideographs):
        for traditional, simple in zip(ideographs, simplified, strict=True):
            if traditional != simple and len(simple) == 1:
                table[ord(traditional)] = simple
    for source, target in _OTHER_LOOKALIKES.items():
        table[ord(source)] = target
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES and char not in _KEEP_CONTROLS:
            table[code] = None
    # Most text has none of these characters: finding that out with one scan is
    # cheaper than translating every character. Only a class of BMP characters
    # compiles to a bitmap (a class with the table's many ranges beyond it would be
    # tested range by range for every character), so beyond the BMP the second
    # pattern matches every character, and those are looked up one by one.
    in_table = {code for code in table if code <= 0xFFFF}
    folding = {code for code in range(0x80, 0x10000) if chr(code).casefold() != chr(code)}
    return (
        table,
        re.compile(f"[{_ranges(sorted(in_table))}]"),
        re.compile(f"[{_ranges(sorted(in_table | folding))}\U00010000-\U0010ffff]"),
    )


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
    """For ASCII text: one byte table doing steps 2 to 4 at once, and the controls to delete."""
    mapping = bytearray(range(256))
    for code in range(128):
        char = chr(code)
        if not char.isalnum():
            mapping[code] = ord(" ")
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


def _skeleton(text: str) -> str:
    """The skeleton as UTF-8 bytes in a latin-1 string: the alphabet the automaton runs on.

    pyahocorasick searches a node's children linearly; over Unicode text the root
    has thousands of children (one per ideograph), over UTF-8 bytes at most 256,
    which makes matching Chinese text an order of magnitude faster. UTF-8 is
    self-synchronising, so a term's bytes only ever match at character starts.
    """
    if text.isascii():
        # The same steps for plain ASCII, done by one byte table (a tested equivalence).
        text = _collapse_spaces(text.encode("ascii").translate(_ASCII_SKELETON, _ASCII_CONTROLS)).decode("latin-1")
    else:
        text = _fold_and_translate(unicodedata.normalize("NFKD", text))
        has_cjk = _ANY_CJK.search(text) is not None
        text = _NON_ASCII_SEPARATORS.sub(" ", text)
        # What is left to map is ASCII, so the ASCII byte table does it: capitals,
        # separators (``@`` and ``$`` become letters first), look-alikes. The
        # controls it would turn into spaces are gone (they are in the char table).
        data = _collapse_spaces(text.encode("utf-8").translate(_ASCII_SKELETON))
        if has_cjk:
            data = _CJK_GAP.sub("", data.decode("utf-8")).encode("utf-8")
        text = data.decode("latin-1")
    # A run of three or more standing-alone letters has a middle one with a space
    # on each side: a cheap test before the costlier pattern.
    if _LONE_LETTER.search(text):
        text = _SPACED_LETTERS.sub(_close_up, text)
    return text


def _collapse_spaces(data: bytes) -> bytes:
    """Runs of spaces become one space, none at either end."""
    return _SPACE_RUNS.sub(b" ", data).strip(b" ")


def _fold_and_translate(text: str) -> str:
    """Steps 2 and 3, case folding and the char table, skipped when they change nothing.

    Capital ASCII letters are left to the byte table, which makes them small: until
    then, nothing (the table, separators, CJK gaps) treats a capital letter
    differently from its small one.
    """
    table, in_table_bmp, may_change = _char_table()
    # One scan settles the common case: nothing to fold or translate, nothing beyond the BMP.
    if not may_change.search(text):
        return text
    text = text.casefold()
    if in_table_bmp.search(text) or any(ord(char) in table for char in _BEYOND_BMP.findall(text)):
        text = text.translate(table)
    return text


def normalise(text: str) -> str:
    """The matching skeleton of a text (see the module docstring for the steps).

    Args:
        text: any text: a message, a room name, a term.

    Returns:
        The skeleton; never shown to anyone, only matched.
    """
    return _skeleton(text).encode("latin-1").decode("utf-8")


def _close_up(match: re.Match[str]) -> str:
    return match.group().replace(" ", "")


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

_REPLY_FALLBACK: Final = re.compile(r"<mx-reply>.*?</mx-reply>", re.DOTALL | re.IGNORECASE)
_TAG: Final = re.compile(r"<[^>]*>")


def strip_html(html_text: str) -> str:
    """The text of a ``formatted_body``: tags become separators, entities are decoded.

    The reply fallback (``<mx-reply>``) quotes another message and is dropped: that
    message was checked when it was sent.
    """
    text = _REPLY_FALLBACK.sub(" ", html_text)
    return html.unescape(_TAG.sub(" ", text))


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
    allow: bool
    # (category, whole word at the start, whole word at the end) per rule with this skeleton
    rules: tuple[tuple[str, bool, bool], ...] = field(default=())


class Matcher:
    """All categories' terms and the allow-list in one Aho-Corasick automaton.

    Build once per list version (building 10,000 terms takes well under a second),
    then call ``scan`` from any thread: scanning does not change the automaton.
    """

    def __init__(self, lists: Iterable[TermList], allow: Iterable[str] = ()) -> None:
        self._actions: dict[str, ContentAction] = {}
        rules: dict[str, list[tuple[str, bool, bool]]] = {}
        count = 0
        for term_list in lists:
            self._actions[term_list.category] = term_list.action
            for raw in term_list.terms:
                parsed = _parse_term(raw)
                if parsed is None:
                    continue
                skeleton, strict_start, strict_end = parsed
                rules.setdefault(skeleton, []).append((term_list.category, strict_start, strict_end))
                count += 1
        allowed = {skeleton for term in allow if (skeleton := _skeleton(term.replace("*", " ")))}
        automaton = ahocorasick.Automaton()
        for skeleton in rules.keys() | allowed:
            entry = _Entry(len(skeleton), skeleton in allowed, tuple(rules.get(skeleton, ())))
            automaton.add_word(skeleton, entry)
        self._empty = len(automaton) == 0
        if not self._empty:
            automaton.make_automaton()
        self._automaton = automaton
        self.term_count = count
        self.allow_count = len(allowed)

    def scan(self, text: str) -> ContentHit | None:
        """The strongest rule the text breaks, or None.

        Args:
            text: raw text (it is normalised here).
        """
        if self._empty or not text:
            return None
        skeleton = _skeleton(text)
        if not skeleton:
            return None
        candidates: list[tuple[int, int, str]] = []
        allowed: list[tuple[int, int]] = []
        for end, entry in self._automaton.iter(skeleton):
            start = end - entry.length + 1
            if entry.allow:
                allowed.append((start, end))
            for category, strict_start, strict_end in entry.rules:
                if strict_start and start > 0 and skeleton[start - 1] in _WORD_CHAR:
                    continue
                if strict_end and end + 1 < len(skeleton) and skeleton[end + 1] in _WORD_CHAR:
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
