"""Verification format errors name their field and never use a provider attempt (Art. 6), real Synapse.

A person who mistypes one digit learns which field is wrong and what is wrong with
it, in the JSON API and on the form, keeps what they typed and their consent, and
still has the day's provider attempts. Format errors have their own hourly cap,
exact under parallel requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess
from policies.identity import id_check_character, problem_text

from .conftest import LIMITS_POLICY, SharedServers, fresh_localpart
from .identities import fresh_id_number
from .matrix import Matrix

ATTEMPTS_PER_DAY = 5  # policies/default.yaml realname.attempts_per_day
FORMAT_ERRORS_PER_HOUR = 20  # policies/default.yaml realname.format_errors_per_hour


def _checked(first17: str) -> str:
    return first17 + id_check_character(first17)


def _bad_check_digit(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


# (what the person got wrong, the body's fields, the field and problem code they are told)
WRONG_FIELDS = [
    ("digit-in-name", {"name": "张三3"}, "name", "characters"),
    ("bad-check-digit", {"id_number": _bad_check_digit(fresh_id_number())}, "id_number", "check_digit"),
    ("unknown-region", {"id_number": _checked("99010519800101123")}, "id_number", "region"),
    ("future-birth-date", {"id_number": _checked("11010520991231123")}, "id_number", "future_date"),
    ("impossible-date", {"id_number": _checked("11010519800230123")}, "id_number", "impossible_date"),
    ("bad-phone", {"phone": "12800000000"}, "phone", "format"),
]


class _Page(HTMLParser):
    """The elements of a page in document order: (tag, attributes, text inside)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None], str]] = []
        self._open: list[int] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs), ""))
        if tag not in ("input", "meta", "br"):
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            index = self._open[-1]
            tag, attrs, text = self.elements[index]
            self.elements[index] = (tag, attrs, text + data)

    def input(self, name: str) -> tuple[int, dict[str, str | None]]:
        for index, (tag, attrs, _text) in enumerate(self.elements):
            if tag == "input" and attrs.get("name") == name:
                return index, attrs
        raise AssertionError(f"no input {name}")

    def field_errors(self) -> list[tuple[str | None, str]]:
        return [
            (attrs.get("id"), text)
            for tag, attrs, text in self.elements
            if tag == "p" and (attrs.get("id") or "").endswith("-error")
        ]


def _log(synapse: SynapseProcess) -> str:
    return (Path(synapse.config_path).parent / "homeserver.log").read_text(encoding="utf-8", errors="replace")


async def test_each_wrong_field_is_named_and_six_slips_leave_the_attempts_unspent(
    synapse: SynapseProcess, member: Matrix
) -> None:
    sent: list[str] = []
    for case, wrong, field, problem in WRONG_FIELDS:
        body = {"name": "张三", "id_number": fresh_id_number(), "phone": "13800000000", **wrong}
        sent.append(body["id_number"])
        status, reply = await member.verify(**body)
        assert status == 400, (case, reply)
        assert (reply["errcode"], reply["cn.qunzu.reason"]) == ("M_INVALID_PARAM", "invalid_identity"), case
        assert reply["cn.qunzu.detail"] == {"field": field, "problem": problem}, case
        assert reply["error"] == problem_text(field, problem, "zh-CN"), case
        assert body["id_number"] not in reply["error"] and body["name"] not in reply["error"]
    assert len(WRONG_FIELDS) > ATTEMPTS_PER_DAY

    # None of the slips reached the provider or used one of the day's attempts.
    status, reply = await member.verify(name="张三", phone="13800000000")
    assert status == 200, reply
    status, me = await member.qunzu("GET", "/me")
    assert me["verification"]["status"] == "verified", me
    log = _log(synapse)
    for number in sent:
        assert number not in log, f"{number[:4]}… is in homeserver.log"


async def _form_post_url(staff: Matrix, member: Matrix) -> str:
    status, link = await staff.qunzu("POST", "/admin/realname/links", {"user_id": member.user_id})
    assert status == 200, link
    parsed = urlparse(link["url"])
    return f"{parsed.scheme}://{parsed.netloc}{parsed.path}?{parsed.query}"


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_the_form_shows_the_message_at_the_wrong_field_and_keeps_input_and_consent(
    synapse: SynapseProcess,
    member: Matrix,
    staff: Matrix,
    http_session: aiohttp.ClientSession,
    language: str,
) -> None:
    url = await _form_post_url(staff, member)
    typed = {"name": "欧阳娜娜", "phone": "139 1234 5678"}
    numbers: list[str] = []
    for case, wrong, field, problem in WRONG_FIELDS:
        form = {**typed, "id_number": fresh_id_number(), **wrong, "accept_convention": "1", "lang": language}
        numbers.append(form["id_number"])
        async with http_session.post(url, data=form) as response:
            assert response.status == 200, case
            assert "no-store" in response.headers.get("Cache-Control", ""), case
            page = _Page(await response.text())

        # The message sits right after the wrong field's input, and nowhere else.
        index, attrs = page.input(field)
        assert attrs.get("aria-invalid") == "true", case
        tag, after, message = page.elements[index + 1]
        assert (tag, after.get("id")) == ("p", f"{field}-error"), case
        assert message == problem_text(field, problem, language), case
        assert page.field_errors() == [(f"{field}-error", message)], case
        # What the person typed is still there, and so is their consent.
        for name in ("name", "id_number", "phone"):
            assert page.input(name)[1].get("value") == form[name], (case, name)
        assert "checked" in page.input("accept_convention")[1], case

    # Six slips on the form, and the correct submission still goes through.
    form = {**typed, "id_number": fresh_id_number(), "accept_convention": "1", "lang": language}
    async with http_session.post(url, data=form) as response:
        done = await response.text()
    assert ("认证成功" if language == "zh-CN" else "Verified") in done, done
    log = _log(synapse)
    for number in [*numbers, form["id_number"]]:
        assert number not in log, f"{number[:4]}… is in homeserver.log"


async def test_a_consent_left_unticked_stays_unticked(
    member: Matrix, staff: Matrix, http_session: aiohttp.ClientSession
) -> None:
    url = await _form_post_url(staff, member)
    form = {"name": "张三3", "id_number": fresh_id_number(), "phone": ""}
    async with http_session.post(url, data=form) as response:
        page = _Page(await response.text())
    assert page.field_errors()[0][0] == "name-error"
    assert "checked" not in page.input("accept_convention")[1]


async def _flood_gets_exactly_the_cap(person: Matrix, cap: int) -> None:
    flood = cap + 7
    numbers = [_bad_check_digit(fresh_id_number()) for _ in range(flood)]

    results = await asyncio.gather(*(person.verify(number) for number in numbers))

    assert sorted(status for status, _ in results) == [400] * cap + [429] * (flood - cap)
    for status, reply in results:
        if status == 400:
            assert reply["cn.qunzu.detail"] == {"field": "id_number", "problem": "check_digit"}
        else:
            assert reply["errcode"] == "M_LIMIT_EXCEEDED"
            assert f"每小时最多 {cap} 次" in reply["error"]
            assert reply["cn.qunzu.detail"] == {"cap": cap, "count": cap, "per": "hour"}
            assert 0 < reply["retry_after_ms"] <= 3600 * 1000
    # Past the cap, a format error is still a 429 …
    status, reply = await person.verify(numbers[0])
    assert status == 429, reply
    # … and a correct submission is decided by the provider attempts, which are all left.
    status, reply = await person.verify()
    assert status == 200, reply


async def test_a_parallel_flood_of_format_errors_gets_exactly_the_cap_of_400s_then_429s(
    synapse: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    await _flood_gets_exactly_the_cap(as_user(synapse.register(fresh_localpart("flood"))), FORMAT_ERRORS_PER_HOUR)


@pytest.mark.postgres
async def test_the_format_error_cap_holds_on_postgresql_and_follows_the_policy(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    server = shared_servers.postgres()
    person = Matrix(http_session, server.base_url, server.register(fresh_localpart("flood")))
    await _flood_gets_exactly_the_cap(person, LIMITS_POLICY["realname"]["format_errors_per_hour"])
