"""The reason codes are a public contract (DESIGN.md §3.3)."""

from __future__ import annotations

import pytest

from policies import ERRCODE, HTTP_STATUS, Reason

DESIGN_CODES = [
    "realname_required",
    "realname_level_insufficient",
    "convention_not_accepted",
    "blacklisted",
    "posting_suspended_user",
    "posting_suspended_room",
    "room_closed",
    "room_full",
    "join_limit",
    "create_limit",
    "create_revoked",
    "credit_insufficient",
    "tier_not_allowed",
    "prohibited_content",
    "admin_suspended",
    "protected_state",
    "emergency_freeze",
    "invalid_category",
    "join_approval_required",
    "invalid_identity",
    "identity_in_use",
    "invalid_number",
    "invalid_request",
    "bot_chat_private",
    "bot_chat_exists",
    "alias_reserved",
    "remote_server_not_allowed",
    "group_not_found",
    "room_muted_all",
    "not_owner",
    "transfer_not_allowed",
    "staff_only",
    "hold_decided",
    "hold_undeliverable",
    "report_received",
    "report_not_filed",
]


def test_reason_values_are_exactly_the_codes_of_the_design() -> None:
    assert [reason.value for reason in Reason] == DESIGN_CODES


def test_reason_is_a_str_usable_as_the_code_itself() -> None:
    assert isinstance(Reason.ROOM_FULL, str)
    assert str(Reason.ROOM_FULL) == "room_full"
    assert f"{Reason.ROOM_FULL}" == "room_full"
    assert Reason("room_full") is Reason.ROOM_FULL


@pytest.mark.parametrize(
    ("reason", "status", "errcode"),
    [
        (Reason.INVALID_IDENTITY, 400, "M_INVALID_PARAM"),
        (Reason.INVALID_CATEGORY, 400, "M_INVALID_PARAM"),
        (Reason.INVALID_NUMBER, 400, "M_INVALID_PARAM"),
        (Reason.INVALID_REQUEST, 400, "M_INVALID_PARAM"),
        (Reason.IDENTITY_IN_USE, 409, "M_FORBIDDEN"),
        (Reason.GROUP_NOT_FOUND, 404, "M_NOT_FOUND"),
        (Reason.HOLD_DECIDED, 409, "M_FORBIDDEN"),
        (Reason.HOLD_UNDELIVERABLE, 409, "M_FORBIDDEN"),
        (Reason.STAFF_ONLY, 403, "M_FORBIDDEN"),
        (Reason.ROOM_FULL, 403, "M_FORBIDDEN"),
        (Reason.REALNAME_REQUIRED, 403, "M_FORBIDDEN"),
        (Reason.PROTECTED_STATE, 403, "M_FORBIDDEN"),
    ],
)
def test_each_reason_has_its_http_status_and_errcode(reason: Reason, status: int, errcode: str) -> None:
    assert HTTP_STATUS[reason] == status
    assert ERRCODE[reason] == errcode


def test_every_other_reason_is_a_403_forbidden() -> None:
    special = {
        Reason.INVALID_IDENTITY,
        Reason.INVALID_CATEGORY,
        Reason.INVALID_NUMBER,
        Reason.INVALID_REQUEST,
        Reason.IDENTITY_IN_USE,
        Reason.GROUP_NOT_FOUND,
        Reason.HOLD_DECIDED,
        Reason.HOLD_UNDELIVERABLE,
    }
    for reason in set(Reason) - special:
        assert HTTP_STATUS[reason] == 403, reason
        assert ERRCODE[reason] == "M_FORBIDDEN", reason
    assert set(HTTP_STATUS) == set(Reason) == set(ERRCODE)


def test_status_tables_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        HTTP_STATUS[Reason.ROOM_FULL] = 200  # type: ignore[index]
