"""Unique group identification codes (唯一群组识别编码, Art. 8).

Nine digits: eight random digits and a Luhn check digit, so a mistyped code
(one wrong digit, or two neighbours swapped) is recognised as invalid before
anyone looks it up. Codes are random, not sequential, so they reveal nothing
about how many groups exist or when one was created.
"""

from __future__ import annotations

import secrets
import unicodedata

CODE_LENGTH = 9


def luhn_check_digit(payload: str) -> str:
    """The Luhn check digit that completes the digits in `payload`."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:  # doubled: these sit at odd positions once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_valid_code(code: str) -> bool:
    """Nine ASCII digits whose last is the Luhn check digit of the first eight."""
    return len(code) == CODE_LENGTH and code.isascii() and code.isdigit() and luhn_check_digit(code[:-1]) == code[-1]


def new_code() -> str:
    """A random valid code; the first digit is never 0 so it never loses digits as a number."""
    payload = str(secrets.choice("123456789")) + "".join(secrets.choice("0123456789") for _ in range(CODE_LENGTH - 2))
    return payload + luhn_check_digit(payload)


#: Fresh codes offered to one registration, tried in order until one is free.
CODE_CANDIDATES = 5


def new_codes(count: int = CODE_CANDIDATES) -> tuple[str, ...]:
    """`count` random valid codes, for a registration to try in order."""
    return tuple(new_code() for _ in range(count))


def is_code_shaped(localpart: str) -> bool:
    """Whether an alias localpart reads as a group code: nine digits, whatever else around them.

    Separators and marks (``123-456-789``, ``#123.456.789``), full-width and other
    Unicode decimal digits count; the check digit does not matter. Any letter makes it a
    name, not a code. Art. 8: the code identifies one group, so nothing else may look like it.
    """
    digits = []
    for char in localpart:
        if char.isdecimal():
            digits.append(str(unicodedata.decimal(char)))
        elif char.isalnum():
            return False
    return len(digits) == CODE_LENGTH
