"""Identity fields for real-name verification (Art. 6): validation and masking."""

from __future__ import annotations

import datetime

import pytest

from policies import InvalidIdentity
from policies.identity import (
    mask_id_number,
    mask_name,
    mask_phone,
    validate_id_number,
    validate_name,
    validate_phone,
)

TODAY = datetime.date(2025, 6, 1)


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        ("  11010519491231002X ", "11010519491231002X"),
        ("440304199001011233", "440304199001011233"),
        ("65010220000229001X", "65010220000229001X"),  # 29 February of a leap year
        ("310115197810034566", "310115197810034566"),
        ("810000198506151234", "810000198506151234"),  # Hong Kong residence permit
        ("510107202401010003", "510107202401010003"),
    ],
)
def test_valid_id_numbers_are_accepted_and_normalised(text: str, normalised: str) -> None:
    assert validate_id_number(text, TODAY) == normalised


@pytest.mark.parametrize(
    ("text", "today", "fragment"),
    [
        ("110105194912310021", TODAY, "check character"),
        ("110105194912310037", TODAY, "check character"),  # valid ends in 8
        ("110105194912310039", TODAY, "check character"),
        ("510107202401010003", datetime.date(2023, 12, 31), "future"),
        ("110105199002300011", TODAY, "not a real date"),  # 30 February
        ("110105190002290011", TODAY, "not a real date"),  # 1900 is no leap year
        ("110105199013010011", TODAY, "not a real date"),  # month 13
        ("99010519491231002X", TODAY, "region"),
        ("71010519491231002X", TODAY, "region"),
        ("00010519491231002X", TODAY, "region"),
        ("1101051949123100", TODAY, "18 characters"),
        ("11010519491231002X1", TODAY, "18 characters"),
        ("", TODAY, "18 characters"),
        ("1101051949123100XX", TODAY, "17 digits"),
        ("11010519491231002Y", TODAY, "17 digits"),
        ("１１０１０５１９４９１２３１００２X", TODAY, "17 digits"),  # full-width digits
        ("110105180001010011", TODAY, "early"),
    ],
)
def test_invalid_id_numbers_are_refused_with_the_problem(text: str, today: datetime.date, fragment: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        validate_id_number(text, today)
    assert caught.value.field == "id_number"
    assert fragment in caught.value.message
    assert str(caught.value) == caught.value.message


def test_birth_date_of_today_is_accepted() -> None:
    assert validate_id_number("510107202401010003", datetime.date(2024, 1, 1))


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("张三", "张三"),
        ("  欧阳娜娜 ", "欧阳娜娜"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽 • 买买提", "阿依古丽·买买提"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),
        ("John  Smith", "John Smith"),
        ("ＡＢ", "AB"),
        ("𠀾𠀾", "𠀾𠀾"),  # rare characters of CJK extension B
    ],
)
def test_names_are_accepted_and_normalised(text: str, normalised: str) -> None:
    assert validate_name(text) == normalised


@pytest.mark.parametrize(
    "text",
    ["张", "", "   ", "张三3", "张三!", "张\n三", "张\x00三", "·张三", "张三·", "张··三", "张" * 31, "İİ"],
)
def test_bad_names_are_refused(text: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        validate_name(text)
    assert caught.value.field == "name"


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("13800000000", "13800000000"),
        ("+86 138 0000 0000", "13800000000"),
        ("+8619912345678", "19912345678"),
        ("0086-150-1234-5678", "15012345678"),
    ],
)
def test_mainland_mobile_numbers_are_accepted(text: str, normalised: str) -> None:
    assert validate_phone(text) == normalised


@pytest.mark.parametrize("text", ["12800000000", "1380000000", "138000000000", "+1 13800000000", "abc", ""])
def test_bad_phone_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        validate_phone(text)
    assert caught.value.field == "phone"


@pytest.mark.parametrize(
    ("call", "text"),
    [
        (lambda value: validate_id_number(value, TODAY), "110105194912310021"),
        (lambda value: validate_id_number(value, TODAY), "99010519491231002X"),
        (lambda value: validate_id_number(value, TODAY), "1101051949"),
        (validate_name, "张三3"),
        (validate_name, "Robert'); DROP TABLE"),
        (validate_phone, "12800000000"),
    ],
)
def test_error_messages_never_contain_the_input(call: object, text: str) -> None:
    assert callable(call)
    with pytest.raises(InvalidIdentity) as caught:
        call(text)
    for shown in (caught.value.message, str(caught.value), repr(caught.value)):
        assert text not in shown
        assert text[:6] not in shown


@pytest.mark.parametrize(
    ("masked", "expected"),
    [
        (mask_name("张三"), "张*"),
        (mask_name("欧阳娜娜"), "欧***"),
        (mask_name("张"), "*"),
        (mask_id_number("11010519491231002X"), "1101**********002X"),
        (mask_phone("13800000000"), "138****0000"),
        (mask_phone("123"), "***"),
    ],
)
def test_masks_keep_only_the_agreed_characters(masked: str, expected: str) -> None:
    assert masked == expected
