"""The HTTP layer: what it leaves in the request line Synapse logs (PIPL, Art. 6), and how it picks a page."""

from __future__ import annotations

from typing import Any, cast

import pytest
from synapse.http import redact_uri

from synapse_module.http.resource import page_language, scrub_logged_query, wants_html


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


class _PageRequest:
    def __init__(self, query: dict[bytes, list[bytes]], headers: dict[str, str]) -> None:
        self.args = query
        self._headers = headers

    def getHeader(self, name: str) -> str | None:  # Twisted's name
        return self._headers.get(name)


@pytest.mark.parametrize(
    ("query", "accept_language", "language"),
    [
        ({}, None, "zh-CN"),
        ({}, "en-US,en;q=0.9", "en"),
        ({}, "zh-TW,zh;q=0.9,en;q=0.8", "zh-CN"),
        ({}, "fr-FR,fr;q=0.9,en;q=0.5", "en"),  # the first language we have
        ({}, "fr-FR", "zh-CN"),
        ({b"lang": [b"en"]}, "zh-CN", "en"),  # an explicit choice wins
        ({b"lang": [b"xx"]}, "en", "en"),  # an unknown choice is ignored
    ],
)
def test_a_page_is_in_the_language_the_browser_asks_for(
    query: dict[bytes, list[bytes]], accept_language: str | None, language: str
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    assert page_language(cast(Any, _PageRequest(query, headers)), "zh-CN") == language


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # a browser
        ("application/json", False),
        ("*/*", False),  # curl, API clients
        (None, False),
    ],
)
def test_html_only_for_clients_that_ask_for_it(accept: str | None, html: bool) -> None:
    headers = {"Accept": accept} if accept else {}
    assert wants_html(cast(Any, _PageRequest({}, headers))) is html
