"""Identity fields for real-name verification (Art. 6): validation and masking."""

from __future__ import annotations

import datetime

import pytest

from policies import InvalidIdentity, Reason, default_policy
from policies.identity import (
    PROBLEM_TEXTS,
    id_check_character,
    mask_id_number,
    mask_name,
    mask_phone,
    problem_text,
    validate_id_number,
    validate_name,
    validate_phone,
)
from policies.messages import render

TODAY = datetime.date(2025, 6, 1)


def _c(first17: str) -> str:
    return first17 + id_check_character(first17)


def _id(text: str) -> str:
    return validate_id_number(text, TODAY)


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
        (_id, "110105194912310021"),
        (_id, "99010519491231002X"),
        (_id, "1101051949"),
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


# Every problem a person can make, the field it is reported on, and a word of the text in each language.
FIELD_PROBLEMS = [
    (validate_name, "张三3", "name", "characters", "不能有数字", "no digits"),
    (validate_name, "张", "name", "length", "2 到 30 个字符", "2 to 30 characters"),
    (validate_name, "张\u200b三", "name", "control_characters", "控制字符", "control characters"),
    (validate_name, "·阿依古丽", "name", "dot_position", "两部分之间", "between two parts"),
    (_id, "11010519491231002", "id_number", "length", "18 位", "18 characters"),
    (_id, "11010519491231002Y", "id_number", "characters", "数字或 X", "digit or X"),
    (_id, "110105194912310021", "id_number", "check_digit", "校验位", "check character"),
    (_id, _c("99010519491231002"), "id_number", "region", "地区码", "region code"),
    (_id, _c("11010520990101002"), "id_number", "future_date", "晚于今天", "after today"),
    (_id, _c("11010519490230002"), "id_number", "impossible_date", "不是有效日期", "not a real date"),
    (_id, _c("11010518991231002"), "id_number", "early_date", "1900", "1900"),
    (validate_phone, "12800000000", "phone", "format", "11 位数字", "11 digits"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "text", "field", "problem", "zh", "en"),
    FIELD_PROBLEMS,
    ids=[f"{row[2]}-{row[3]}" for row in FIELD_PROBLEMS],
)
def test_every_field_problem_is_named_and_explained_in_both_languages(
    call: object, text: str, field: str, problem: str, zh: str, en: str
) -> None:
    assert callable(call)
    with pytest.raises(InvalidIdentity) as caught:
        call(text)
    assert (caught.value.field, caught.value.problem) == (field, problem)
    detail = {"field": field, "problem": problem}
    chinese = render(Reason.INVALID_IDENTITY, "zh-CN", detail, default_policy())
    english = render(Reason.INVALID_IDENTITY, "en", detail, default_policy())
    assert chinese == problem_text(field, problem, "zh-CN") and zh in chinese
    assert english == problem_text(field, problem, "en") and en in english
    assert text not in chinese and text not in english


def test_both_languages_explain_the_same_problems() -> None:
    assert PROBLEM_TEXTS["zh-CN"].keys() == PROBLEM_TEXTS["en"].keys()
    assert {(row[2], row[3]) for row in FIELD_PROBLEMS} == set(PROBLEM_TEXTS["en"])


def test_a_provider_mismatch_keeps_the_general_text() -> None:
    text = render(Reason.INVALID_IDENTITY, "zh-CN", {"field": "identity", "mismatch": True}, default_policy())
    assert text == default_policy().messages["zh-CN"][Reason.INVALID_IDENTITY]
