"""Group codes: nine digits, Luhn-checked, random."""

from __future__ import annotations

import pytest

from policies import Reason, may_create_alias
from policies.codes import is_code_shaped, is_valid_code, luhn_check_digit, new_code


@pytest.mark.parametrize(
    ("payload", "digit"),
    [("7992739871", "3"), ("12345678", "2"), ("00000000", "0"), ("99999999", "8")],
)
def test_luhn_check_digit_matches_the_standard_examples(payload: str, digit: str) -> None:
    assert luhn_check_digit(payload) == digit


def test_new_codes_are_valid_nine_digit_codes_that_do_not_start_with_zero() -> None:
    codes = [new_code() for _ in range(2000)]
    assert all(is_valid_code(code) and code[0] != "0" for code in codes)
    assert len(set(codes)) > 1990  # random, practically never the same twice


def test_one_wrong_digit_is_detected() -> None:
    code = new_code()
    for position in range(9):
        for replacement in "0123456789":
            if replacement != code[position]:
                assert not is_valid_code(code[:position] + replacement + code[position + 1 :])


def test_swapped_neighbours_are_detected_unless_they_are_09_or_equal() -> None:
    code = "123456782"
    assert is_valid_code(code)
    assert not is_valid_code("213456782")


@pytest.mark.parametrize("text", ["", "12345678", "1234567890", "12345678a", "１２３４５６７８２", "-12345678"])
def test_malformed_codes_are_invalid(text: str) -> None:
    assert not is_valid_code(text)


@pytest.mark.parametrize(
    "localpart",
    [
        "123456782",  # a valid code
        "123456789",  # check digit wrong: still reserved
        "000000000",
        "123-456-789",
        "123.456.789",
        "123_456_789",
        "#123456789",
        "１２３４５６７８９",  # full-width digits
        "١٢٣٤٥٦٧٨٩",  # Arabic-Indic digits
        "(123)456-789",
    ],
)
def test_nine_digits_with_any_separators_are_code_shaped(localpart: str) -> None:
    assert is_code_shaped(localpart)


@pytest.mark.parametrize("localpart", ["12345678", "1234567890", "group123456789", "123456789a", "读书会", "", "x"])
def test_names_and_other_numbers_are_not_code_shaped(localpart: str) -> None:
    assert not is_code_shaped(localpart)


def test_code_shaped_aliases_are_reserved_except_the_modules_own() -> None:
    refused = may_create_alias("123-456-789", group_alias_by_module=False)
    assert refused.reason is Reason.ALIAS_RESERVED
    assert refused.detail["alias"] == "123-456-789"
    assert may_create_alias("123456782", group_alias_by_module=True).allowed
    assert may_create_alias("dushuhui", group_alias_by_module=False).allowed
