"""Identity fields for real-name verification (Art. 6): validate, normalise, mask.

Error messages never contain the input: identity data is sensitive personal
information (PIPL Art. 28) and error texts end up in logs and HTTP answers.

ID numbers follow GB 11643-1999 (18 characters: six-digit address code, birth date
YYYYMMDD, three-digit sequence, ISO 7064 MOD 11-2 check character). Accepted address
prefixes: the 31 mainland provincial divisions (GB/T 2260) and 81/82/83, the prefixes of
residence permits for Hong Kong, Macao and Taiwan residents (港澳台居民居住证, 2018),
which share the format and the checksum. 71 (Taiwan in GB/T 2260) is not issued on ID
cards and is refused.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from typing import Final

from .errors import InvalidIdentity

PROVINCE_CODES: Final = frozenset(
    {
        "11", "12", "13", "14", "15",  # 北京 天津 河北 山西 内蒙古
        "21", "22", "23",  # 辽宁 吉林 黑龙江
        "31", "32", "33", "34", "35", "36", "37",  # 上海 江苏 浙江 安徽 福建 江西 山东
        "41", "42", "43", "44", "45", "46",  # 河南 湖北 湖南 广东 广西 海南
        "50", "51", "52", "53", "54",  # 重庆 四川 贵州 云南 西藏
        "61", "62", "63", "64", "65",  # 陕西 甘肃 青海 宁夏 新疆
        "81", "82", "83",  # 港澳台居民居住证
    }
)  # fmt: skip
"""Accepted first two digits of an ID number."""

_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS: Final = "10X98765432"
_EARLIEST_BIRTH: Final = datetime.date(1900, 1, 1)


def id_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits of an ID number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def validate_id_number(text: str, today: datetime.date) -> str:
    """Check an 18-character PRC resident ID number (GB 11643-1999).

    Args:
        text: the number as typed; surrounding spaces are ignored, ``x`` may be lowercase.
        today: the current date (birth dates after it are refused).

    Returns:
        The number normalised: 18 characters, check character ``X`` uppercase.

    Raises:
        InvalidIdentity: ``field="id_number"``; wrong length or characters, unknown
            province, impossible or future birth date, wrong check character.
    """
    number = text.strip().upper()
    if len(number) != 18:
        raise InvalidIdentity("id_number", "length", "an ID number has 18 characters")
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise InvalidIdentity("id_number", "characters", "an ID number has 17 digits and a digit or X")
    if number[:2] not in PROVINCE_CODES:
        raise InvalidIdentity("id_number", "region", "the ID number's region code does not exist")
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdentity("id_number", "impossible_date", "the ID number's birth date is not a real date") from None
    if birth > today:
        raise InvalidIdentity("id_number", "future_date", "the ID number's birth date is in the future")
    if birth < _EARLIEST_BIRTH:
        raise InvalidIdentity("id_number", "early_date", "the ID number's birth date is implausibly early")
    if id_check_character(number[:17]) != number[17]:
        raise InvalidIdentity("id_number", "check_digit", "the ID number's check character is wrong")
    return number


# Middle dots people type in names such as 阿依古丽·买买提: all become U+00B7.
_DOTS: Final = str.maketrans({"•": "·", "・": "·", "．": "·", "‧": "·", "∙": "·", "⋅": "·"})
_NAME_MIN: Final = 2
_NAME_MAX: Final = 30


def _name_char_ok(char: str) -> bool:
    if char in "· ":
        return True
    if char.isascii() and char.isalpha():
        return True
    # Han characters of every CJK block, rare ones (生僻字) in the extensions included.
    return unicodedata.category(char) == "Lo" and "CJK" in unicodedata.name(char, "")


def validate_name(text: str) -> str:
    """Check a legal name.

    Chinese names, names with the middle dot (``·``) used for ethnic-minority and
    transliterated names, and Latin letters with spaces (foreign residents, pinyin) are
    accepted. Digits, punctuation and control characters are refused.

    Args:
        text: the name as typed.

    Returns:
        The name: NFKC-normalised (full-width letters become ASCII), stripped, inner spaces collapsed, dots as ``·``.

    Raises:
        InvalidIdentity: ``field="name"``.
    """
    # Control and format characters (newlines, zero-width joiners …) are never part of
    # a legal name; refuse them before spaces are tidied up.
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise InvalidIdentity("name", "control_characters", "a name cannot contain control characters")
    name = unicodedata.normalize("NFKC", text).translate(_DOTS)
    name = re.sub(r"\s+", " ", name.strip())
    name = re.sub(r"\s*·\s*", "·", name)
    if not _NAME_MIN <= len(name) <= _NAME_MAX:
        raise InvalidIdentity("name", "length", f"a name has {_NAME_MIN} to {_NAME_MAX} characters")
    if not all(_name_char_ok(char) for char in name):
        raise InvalidIdentity("name", "characters", "a name has only Chinese characters, Latin letters, spaces and ·")
    if name.startswith("·") or name.endswith("·") or "··" in name:
        raise InvalidIdentity("name", "dot_position", "the · in a name stands between two parts")
    return name


def validate_phone(text: str) -> str:
    """Check a mainland China mobile number.

    Args:
        text: the number; spaces and hyphens are ignored, ``+86``/``0086`` allowed.

    Returns:
        The 11-digit number.

    Raises:
        InvalidIdentity: ``field="phone"``.
    """
    number = re.sub(r"[\s\-]", "", text)
    for prefix in ("+86", "0086"):
        number = number.removeprefix(prefix)
    if not re.fullmatch(r"1[3-9][0-9]{9}", number):
        raise InvalidIdentity("phone", "format", "a mobile number has 11 digits starting with 13 to 19")
    return number


# What people read when a field is refused, per field and problem code (InvalidIdentity.problem).
# Each says what is wrong and how to fix it, never the input; "nothing was stored" is true of
# every format error, which is decided before anything is stored or sent to a provider.
PROBLEM_TEXTS: Final[dict[str, dict[tuple[str, str], str]]] = {
    "zh-CN": {
        ("name", "control_characters"): "姓名中有不可见的控制字符，请重新输入姓名。",
        ("name", "length"): f"姓名应为 {_NAME_MIN} 到 {_NAME_MAX} 个字符。",
        ("name", "characters"): "姓名只能包含汉字、拉丁字母、空格和间隔号“·”，不能有数字或标点。",
        ("name", "dot_position"): "间隔号“·”只能位于姓名的两部分之间（例如 阿依古丽·买买提）。",
        ("id_number", "length"): "居民身份证号码应为 18 位。",
        ("id_number", "characters"): "居民身份证号码的前 17 位是数字，最后一位是数字或 X。",
        ("id_number", "region"): "居民身份证号码的前两位（地区码）不存在，请核对。",
        ("id_number", "impossible_date"): "居民身份证号码第 7–14 位的出生日期不是有效日期，请核对。",
        ("id_number", "future_date"): "居民身份证号码第 7–14 位的出生日期晚于今天，请核对。",
        ("id_number", "early_date"): "居民身份证号码第 7–14 位的出生日期早于 1900 年，请核对。",
        ("id_number", "check_digit"): "居民身份证号码的校验位（最后一位）与前 17 位不符，请逐位核对。",
        ("phone", "format"): "手机号码应为 11 位数字，以 13 至 19 开头（可带 +86）；不填写也可以。",
    },
    "en": {
        ("name", "control_characters"): "The name contains invisible control characters; please type it again.",
        ("name", "length"): f"A name has {_NAME_MIN} to {_NAME_MAX} characters.",
        ("name", "characters"): (
            "A name may contain only Chinese characters, Latin letters, spaces and the middle dot ·;"
            " no digits or punctuation."
        ),
        ("name", "dot_position"): "The middle dot · stands between two parts of a name (as in 阿依古丽·买买提).",
        ("id_number", "length"): "A resident ID number has 18 characters.",
        ("id_number", "characters"): "A resident ID number has 17 digits followed by a digit or X.",
        (
            "id_number",
            "region",
        ): "The region code (first two digits) of the ID number does not exist; please check it.",
        (
            "id_number",
            "impossible_date",
        ): "The birth date in the ID number (digits 7–14) is not a real date.",
        ("id_number", "future_date"): "The birth date in the ID number (digits 7–14) is after today; please check it.",
        ("id_number", "early_date"): "The birth date in the ID number (digits 7–14) is before 1900; please check it.",
        ("id_number", "check_digit"): (
            "The check character (the last one) of the ID number does not match the first 17; please check every digit."
        ),
        ("phone", "format"): (
            "A mobile number has 11 digits starting with 13 to 19 (+86 may precede it); you may also leave it empty."
        ),
    },
}


def problem_text(field: str, problem: str, language: str) -> str:
    """The text for a refused identity field, in `language` (zh-CN when unknown).

    Args:
        field: ``name``, ``id_number`` or ``phone`` (``InvalidIdentity.field``).
        problem: the problem code (``InvalidIdentity.problem``).
        language: ``zh-CN`` or ``en``.

    Returns:
        What is wrong with the field and how to fix it; never the input.

    Raises:
        KeyError: an unknown field or problem (a programming error: every raise has a text).
    """
    return PROBLEM_TEXTS.get(language, PROBLEM_TEXTS["zh-CN"])[(field, problem)]


def mask_name(name: str) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: the first character stays."""
    if len(name) <= 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)


def mask_id_number(number: str) -> str:
    """``11010519491231002X`` → ``1101**********002X``: region and last four stay."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(number: str) -> str:
    """``13800000000`` → ``138****0000``."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]
