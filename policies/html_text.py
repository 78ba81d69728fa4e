"""The text of a ``formatted_body`` as a reader sees it, and all the text it carries.

Content matching (Art. 10) must check what a person is shown. HTML can make that
differ from its characters: ``fa<b></b>lun`` shows ``falun`` (inline elements join
without a space, block elements start a new line), and text a reader cannot see splits
a term that looks whole: ``法<font color="#ffffff">xx</font>轮功`` shows 法轮功 on a
light background. ``html_projections`` gives both readings:

- **shown**: text of hidden elements left out. Hidden is ``display:none``,
  ``visibility:hidden``, the ``hidden`` attribute, a font size or opacity of (about)
  zero, a spoiler (``data-mx-spoiler``, shown only on a click), elements browsers never
  render (``script``, ``style``…), and text whose colour (``color``, ``data-mx-color``,
  CSS ``color``) does not stand out from its background (``data-mx-bg-color``, CSS
  ``background``) on a light or on a dark theme: white, black, transparent, or the
  background's own colour;
- **all**: every text, hidden or not, plus image ``alt`` and ``title`` texts, so that
  hidden text is checked in its own right.

A reply fallback (``<mx-reply>`` at the start) is left out of the shown text, as
clients with replies hide it, and kept in all the text: clients without replies show
it, and its quote is whatever the sender wrote (the plain ``body`` carries the same
quote and is checked too). ``dir`` attributes and ``<bdo>`` become the bidi controls they stand
for, so the matcher sees the order a reader sees (``policies.bidi``).
"""

from __future__ import annotations

import colorsys
import html
import math
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final

__all__ = ["html_projections"]

_VOID: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
# Elements that start on a new line; every other element runs on with the text around it.
_BLOCK: Final = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "center", "dd", "details", "dialog", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td",
        "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_NOT_RENDERED: Final = frozenset({"script", "style", "template", "title", "head", "noscript", "object", "iframe"})
_BLOCK_DISPLAYS: Final = frozenset({"block", "flex", "grid", "list-item", "table", "table-row", "table-cell"})
_DIR_CONTROLS: Final = {"rtl": "\u2067", "ltr": "\u2066", "auto": "\u2068"}
_BDO_CONTROLS: Final = {"rtl": "\u202e", "ltr": "\u202d"}
_POP_ISOLATE: Final = "\u2069"
_POP_EMBEDDING: Final = "\u202c"

# Theme colours a client draws text on, as (text, background): Element's light and dark.
_THEMES: Final = (((0x17, 0x19, 0x1C), (0xFF, 0xFF, 0xFF)), ((0xEB, 0xEE, 0xF2), (0x15, 0x19, 0x1E)))
# Below this WCAG contrast ratio text does not stand out from its background
# (white on #ededed is 1.17; WCAG asks 4.5 for body text).
_MIN_CONTRAST: Final = 1.3
_NAMED_COLOURS: Final = {
    "white": (255, 255, 255),
    "snow": (255, 250, 250),
    "ivory": (255, 255, 240),
    "ghostwhite": (248, 248, 255),
    "whitesmoke": (245, 245, 245),
    "floralwhite": (255, 250, 240),
    "mintcream": (245, 255, 250),
    "azure": (240, 255, 255),
    "aliceblue": (240, 248, 255),
    "seashell": (255, 245, 238),
    "honeydew": (240, 255, 240),
    "lavenderblush": (255, 240, 245),
    "linen": (250, 240, 230),
    "oldlace": (253, 245, 230),
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
}
_HEX_COLOUR: Final = re.compile(r"#([0-9a-f]{8}|[0-9a-f]{6}|[0-9a-f]{3,4})(?![0-9a-f])")
_FUNCTION_COLOUR: Final = re.compile(r"(rgba?|hsla?)\(([^)]*)\)")
# Font sizes below these (about two pixels) show nothing readable.
_SMALLEST_VISIBLE: Final = {"px": 2.0, "pt": 1.5, "em": 0.15, "rem": 0.15, "%": 15.0}
_LENGTH: Final = re.compile(r"([0-9]*\.?[0-9]+)\s*([a-z%]*)")
# Clients hide a reply fallback only where Element does: closed, at the very start.
_LEADING_REPLY: Final = re.compile(r"\s*<mx-reply>.*?</mx-reply>", re.DOTALL | re.IGNORECASE)

Rgb = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class _Element:
    tag: str
    hidden: bool
    colour: Rgb | None
    background: Rgb | None
    block: bool
    closing: str


def html_projections(html_text: str) -> tuple[str, str]:
    """The text a reader is shown and all the text of an HTML ``formatted_body``.

    Args:
        html_text: the HTML as sent.

    Returns:
        (shown, all): equal when nothing is hidden.
    """
    if "<" not in html_text:
        text = html.unescape(html_text)
        return text, text
    shown, everything = _project(html_text)
    fallback = _LEADING_REPLY.match(html_text)
    if fallback is not None:
        shown = _project(html_text[fallback.end() :])[0]
    return shown, everything


def _project(html_text: str) -> tuple[str, str]:
    parser = _Projector()
    parser.feed(html_text)
    parser.close()
    return "".join(parser.shown), "".join(parser.all)


class _Projector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.shown: list[str] = []
        self.all: list[str] = []
        self._open: list[_Element] = []
        # Open elements by tag: a stray end tag is ignored without a walk down the
        # stack (64 KB of stray end tags would otherwise cost quadratic time).
        self._counts: dict[str, int] = {}

    def _add(self, text: str, *, hidden: bool) -> None:
        self.all.append(text)
        if not hidden:
            self.shown.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=tag in _VOID)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], *, closed: bool) -> None:
        parent = self._open[-1] if self._open else None
        values: dict[str, str] = {}
        for name, value in attrs:
            values.setdefault(name, value or "")
        style = _declarations(values.get("style", ""))
        hidden = (parent is not None and parent.hidden) or _hides(tag, values, style)
        background = _colour(style.get("background-color") or style.get("background") or values.get("data-mx-bg-color"))
        colour = _colour(style.get("color") or values.get("data-mx-color") or values.get("color"))
        if colour == "transparent":
            hidden = True
        own_background = background if isinstance(background, tuple) else None
        effective_background = own_background or (parent.background if parent else None)
        effective_colour = colour if isinstance(colour, tuple) else (parent.colour if parent else None)
        if (own_background or isinstance(colour, tuple)) and _invisible(effective_colour, effective_background):
            hidden = True
        block = tag in _BLOCK or style.get("display") in _BLOCK_DISPLAYS
        if block:
            self._add("\n", hidden=False)
        # Texts a client may show instead of the element or over it: an image's
        # alternative and title, the LaTeX that Element renders for ``data-mx-maths``.
        for name in ("alt", "title", "data-mx-maths"):
            if values.get(name):
                self._add(f" {values[name]} ", hidden=True)
        opening, closing = _direction(tag, values.get("dir", "").strip().lower())
        if opening:
            self._add(opening, hidden=hidden)
        element = _Element(tag, hidden, effective_colour, effective_background, block, closing)
        if closed:
            self._finish(element)
        else:
            self._open.append(element)
            self._counts[tag] = self._counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if self._counts.get(tag):
            while True:
                element = self._open.pop()
                self._counts[element.tag] -= 1
                self._finish(element)
                if element.tag == tag:
                    return
        if tag in _BLOCK:
            # A stray end tag of a block (``</p>``) still breaks the line in browsers.
            self._add("\n", hidden=False)

    def _finish(self, element: _Element) -> None:
        if element.closing:
            self._add(element.closing, hidden=element.hidden)
        if element.block:
            self._add("\n", hidden=False)

    def handle_data(self, data: str) -> None:
        self._add(data, hidden=bool(self._open) and self._open[-1].hidden)


def _declarations(style: str) -> dict[str, str]:
    declarations: dict[str, str] = {}
    for declaration in style.lower().split(";"):
        name, _, value = declaration.partition(":")
        if value:
            declarations.setdefault(name.strip(), value.replace("!important", "").strip())
    return declarations


def _hides(tag: str, values: dict[str, str], style: dict[str, str]) -> bool:
    if tag in _NOT_RENDERED or "hidden" in values or "data-mx-spoiler" in values:
        return True
    if style.get("display") == "none" or style.get("visibility") in ("hidden", "collapse"):
        return True
    size = _LENGTH.match(style.get("font-size", ""))
    if size is not None and float(size.group(1)) < _SMALLEST_VISIBLE.get(size.group(2), 1e-9):
        return True
    opacity = _LENGTH.match(style.get("opacity", ""))
    return opacity is not None and float(opacity.group(1)) / (100 if opacity.group(2) == "%" else 1) <= 0.1


def _direction(tag: str, direction: str) -> tuple[str, str]:
    """The bidi controls an element's ``dir`` stands for (``<bdo>`` overrides, others isolate)."""
    if tag == "bdo" and direction in _BDO_CONTROLS:
        return _BDO_CONTROLS[direction], _POP_EMBEDDING
    if direction in _DIR_CONTROLS:
        return _DIR_CONTROLS[direction], _POP_ISOLATE
    return "", ""


def _colour(value: str | None) -> Rgb | str | None:
    """An RGB colour, ``"transparent"`` (fully or almost fully transparent), or None (none, or unknown)."""
    if not value:
        return None
    value = value.strip().lower()
    if value == "transparent":
        return "transparent"
    if value in _NAMED_COLOURS:
        return _NAMED_COLOURS[value]
    match = _HEX_COLOUR.search(value)
    if match is not None:
        digits = match.group(1)
        if len(digits) <= 4:
            digits = "".join(digit * 2 for digit in digits)
        if len(digits) == 8 and int(digits[6:], 16) <= 25:
            return "transparent"
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    match = _FUNCTION_COLOUR.search(value)
    if match is not None:
        parts = [part for part in re.split(r"[\s,/]+", match.group(2)) if part]
        try:
            numbers = [float(part.rstrip("%deg")) for part in parts[:3]]
            alpha = parts[3] if len(parts) > 3 else "1"
            opacity = float(alpha[:-1]) / 100 if alpha.endswith("%") else float(alpha)
        except ValueError:
            return None
        # Whatever the sender wrote: nan and inf are no colour (and must not raise).
        if len(numbers) < 3 or not all(math.isfinite(number) for number in (*numbers, opacity)):
            return None
        if opacity <= 0.1:
            return "transparent"
        if match.group(1).startswith("hsl"):
            hue, saturation, lightness = numbers[0] / 360 % 1, numbers[1] / 100, numbers[2] / 100
            unit = colorsys.hls_to_rgb(hue, min(max(lightness, 0), 1), min(max(saturation, 0), 1))
            channels = [value * 255 for value in unit]
        else:
            channels = [
                number * 2.55 if part.endswith("%") else number for number, part in zip(numbers, parts, strict=False)
            ]
        red, green, blue = (min(max(round(channel), 0), 255) for channel in channels)
        return red, green, blue
    return None


def _invisible(colour: Rgb | None, background: Rgb | None) -> bool:
    """Whether text of this colour (None: the theme's) on this background (None: the theme's) fades away."""
    for text, theme_background in _THEMES:
        if _contrast(colour or text, background or theme_background) < _MIN_CONTRAST:
            return True
    return False


def _contrast(first: Rgb, second: Rgb) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(colour: Rgb) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in colour)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue
