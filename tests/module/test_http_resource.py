"""What the HTTP layer leaves in the request line Synapse logs (PIPL, Art. 6)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from synapse.http import redact_uri

from synapse_module.http.resource import scrub_logged_query


class _Request:
    def __init__(self, uri: bytes) -> None:
        self.uri = uri


def _scrub(uri: bytes) -> tuple[list[str], str]:
    request = _Request(uri)
    found = scrub_logged_query(cast(Any, request))
    # What Synapse itself then writes: its own redaction on top of ours.
    return found, redact_uri(request.uri.decode("ascii"))


@pytest.mark.parametrize(
    ("uri", "found", "logged"),
    [
        (b"/form", [], "/form"),
        (b"/form?lang=en", [], "/form?lang=en"),
        (b"/form?client_secret=abc&lang=en", [], "/form?client_secret=<redacted>&lang=en"),
        (
            b"/form?name=%E5%BC%A0%E4%B8%89&id_number=11010519491231002X&phone=13912345678&lang=en",
            ["id_number", "name", "phone"],
            "/form?name=<redacted>&id_number=<redacted>&phone=<redacted>&lang=en",
        ),
        (b"/realname?ID%5FNUMBER=1101&x=1", ["id_number"], "/realname?ID%5FNUMBER=<redacted>&x=1"),
        (b"/form?t=oldtoken&lang=zh-CN", [], "/form?t=<redacted>&lang=zh-CN"),
    ],
)
def test_personal_query_values_never_reach_the_logged_request_line(uri: bytes, found: list[str], logged: str) -> None:
    assert _scrub(uri) == (found, logged)
