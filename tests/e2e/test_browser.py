"""The public pages and the verification form as people meet them: in a real Chromium, and as API clients.

The content server (tests/e2e/content_fixtures.py: its policy makes groups public
from 3 members, so a public group needs no crowd) serves the module, with the real
bot running for this file, which prints the page's address on `!info`. The browser
tests drive Debian's `chromium` with `chromium-driver` through selenium and assert
on the page's DOM, never on screenshots; where Chromium is not installed they skip
and say so (`.ci/run` installs it). The API-client half of the
same contract (JSON, the 404's reason, who sees what) runs everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import aiohttp
import pytest

from devtools.homeserver import SERVER_NAME, SERVICE_LOCALPART, SynapseProcess
from policies.identity import problem_text

from .bot_fixtures import BotRunner
from .conftest import SERVICE_PASSWORD, fresh_localpart
from .content_fixtures import PUBLIC_FROM, content_server_fixture, terms_dir_fixture  # noqa: F401  (fixtures)
from .desk_fixtures import Person, new_person, room_with
from .identities import fresh_id_number, verify
from .matrix import Matrix

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ATTEMPTS_PER_DAY = 5  # policies/default.yaml realname.attempts_per_day
API = "/_synapse/client/qunzu/v1"
# Chromium's own Accept header for a page it navigates to.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
BEIJING_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}（北京时间）")
HOSTILE_NAME = '<script>document.title="pwned"</script><img src=x onerror="document.title=1">读书会'


@dataclass
class Site:
    server: SynapseProcess
    bot: BotRunner
    session: aiohttp.ClientSession
    staff: Matrix
    people: list[Person]

    async def person(self, *, verified: bool = True) -> Person:
        account = self.server.register(fresh_localpart("p"))
        if verified:
            await verify(self.session, self.server.base_url, account.access_token)
        person = await new_person(self.server, self.session, account)
        self.people.append(person)
        return person

    def url(self, path: str) -> str:
        return f"{self.server.base_url}{API}{path}"

    async def get(self, path: str, token: str | None = None, **headers: str) -> tuple[int, str, Any]:
        """`(status, content type, JSON or text)` of a GET, with or without a token."""
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.get(self.url(path), headers=headers) as response:
            body = await response.text()
            kind = response.content_type
            return response.status, kind, json.loads(body) if kind == "application/json" else body


@pytest.fixture(name="site", scope="module")
async def site_fixture(server: SynapseProcess, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    base = tmp_path_factory.mktemp("browser")
    server.ensure_account(SERVICE_LOCALPART, SERVICE_PASSWORD)
    bot = BotRunner(server, {"password": SERVICE_PASSWORD}, base)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        staff = Matrix(session, server.base_url, server.register(fresh_localpart("staff"), admin=True))
        await bot.start()
        site = Site(server, bot, session, staff, [])
        try:
            yield site
        finally:
            await bot.stop()
            for person in site.people:
                await person.view.client.close()


@dataclass
class Groups:
    """A public group (3 members, one named to break the page), a small one and a bot chat."""

    public_code: str
    public_room: str
    owner: Person
    members: list[Person]
    small_code: str
    small_owner: Person
    bot_chat_code: str
    bot_chat_owner: Person


async def _code(person: Person, room_id: str) -> str:
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/state/cn.qunzu.group/"
    status, state = await person.api.call("GET", path)
    assert status == 200, state
    return str(state["code"])


@pytest.fixture(name="groups", scope="module")
async def groups_fixture(site: Site) -> Groups:
    owner, first, second = await site.person(), await site.person(), await site.person()
    topic = "每周一本书 <b>不发广告</b>"
    room = await room_with(
        owner,
        first,
        second,
        name=HOSTILE_NAME,
        initial_state=[
            {"type": "m.room.topic", "content": {"topic": topic}},
            {"type": "m.room.join_rules", "content": {"join_rule": "public"}},
        ],
    )
    small_owner = await site.person()
    small = await small_owner.api.new_room(name="小群")
    chat_owner = await site.person(verified=False)
    status, reply = await chat_owner.api.create_room(is_direct=True, invite=[f"@{SERVICE_LOCALPART}:{SERVER_NAME}"])
    assert status == 200, reply
    return Groups(
        await _code(owner, room),
        room,
        owner,
        [first, second],
        await _code(small_owner, small),
        small_owner,
        await _code(chat_owner, reply["room_id"]),
        chat_owner,
    )


# --- as API clients see it ---------------------------------------------------------------------


async def test_a_public_group_answers_json_without_a_token_with_labels_and_how_to_join(
    site: Site, groups: Groups
) -> None:
    status, kind, page = await site.get(f"/groups/{groups.public_code}")
    assert (status, kind) == (200, "application/json"), page
    assert page["name"] == HOSTILE_NAME
    assert page["member_count"] == 3 and page["public"] is True
    assert (page["scale_tier"], page["scale_tier_label"]) == ("small", "小型")
    assert (page["activity_tier"], page["activity_tier_label"]) == ("quiet", "低活跃")
    assert (page["status"], page["status_label"]) == ("active", "正常")
    assert BEIJING_TIME.fullmatch(page["created_at_text"]), page["created_at_text"]
    assert page["alias"] == f"#{groups.public_code}:{SERVER_NAME}"
    assert page["matrix_to"] == f"https://matrix.to/#/%23{groups.public_code}:{SERVER_NAME}"
    assert page["url"] == site.url(f"/groups/{groups.public_code}")
    assert page["creators"] == [{"user_id": groups.owner.user_id, "role": "creator", "label": "群主"}]


async def test_small_groups_and_bot_chats_are_404_to_outsiders_and_shown_to_members_and_staff(
    site: Site, groups: Groups
) -> None:
    outsider = await site.person()
    expected_text = "没有找到这个群号的群组信息页。请核对群号（9 位数字）；成员不足 3 人的群和私聊只向其成员公开信息。"
    for code, insider in ((groups.small_code, groups.small_owner), (groups.bot_chat_code, groups.bot_chat_owner)):
        for token in (None, outsider.api.account.access_token):
            status, kind, reply = await site.get(f"/groups/{code}", token)
            assert (status, kind) == (404, "application/json"), (code, reply)
            assert reply["errcode"] == "M_NOT_FOUND"
            assert reply["cn.qunzu.reason"] == "group_not_found"
            assert reply["error"] == expected_text
        status, _kind, page = await site.get(f"/groups/{code}", insider.api.account.access_token)
        assert (status, page["code"], page["public"]) == (200, code, False)
        status, _kind, page = await site.get(f"/groups/{code}", site.staff.account.access_token)
        assert (status, page["code"]) == (200, code)
    # A code nobody holds and a malformed one get exactly the same answer: nothing tells them apart.
    _status, _kind, small = await site.get(f"/groups/{groups.small_code}")
    for code in ("123456782", "abc", "%3Cscript%3E"):
        assert await site.get(f"/groups/{code}") == (404, "application/json", small), code


async def test_the_convention_is_public(site: Site) -> None:
    status, kind, convention = await site.get("/convention")
    assert (status, kind) == (200, "application/json")
    assert convention["version"] and "report_categories" in convention
    status, kind, page = await site.get("/convention", Accept=BROWSER_ACCEPT, **{"Accept-Language": "zh-CN,zh"})
    assert (status, kind) == (200, "text/html")
    assert f"平台公约（第 {convention['version']} 版）" in page


async def test_info_in_a_public_group_prints_the_page_address(site: Site, groups: Groups) -> None:
    answer = await groups.members[0].ask(groups.public_room, "!info")
    assert answer.splitlines()[-1] == f"公开信息页：{site.url(f'/groups/{groups.public_code}')}"


# --- in a real browser -------------------------------------------------------------------------


@pytest.fixture(name="browser", scope="module")
def browser_fixture() -> Iterator[Any]:
    """Headless Chromium whose user prefers Chinese; skips, saying why, where it is not installed."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.skip(
            f"browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} missing):"
            " apt-get install -y chromium chromium-driver"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium (`make install`)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _width(browser: Any, width: int) -> None:
    # Headless Chromium will not make a window narrower than 500 px: emulate the phone's viewport.
    metrics = {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": width < 600}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def _fits(browser: Any) -> tuple[int, int]:
    return tuple(browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]"))


def _by_id(browser: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, element_id)


def _all(browser: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(browser.find_elements(By.CSS_SELECTOR, selector))


async def test_the_info_page_in_a_browser_shows_labels_times_how_to_join_and_the_name_as_text(
    browser: Any, site: Site, groups: Groups
) -> None:
    # The address the bot printed, opened as a person would.
    answer = await groups.members[0].ask(groups.public_room, "!群信息")
    address = answer.splitlines()[-1].removeprefix("公开信息页：")
    for width in (390, 1280):
        _width(browser, width)
        browser.get(address)
        assert _by_id(browser, "name").text == HOSTILE_NAME  # the name as text, not markup
        assert _all(browser, "main script, main img, #topic b") == []
        assert browser.title == HOSTILE_NAME
        assert _by_id(browser, "topic").text == "每周一本书 <b>不发广告</b>"
        rows = {
            row.find_element("tag name", "th").text: row.find_element("tag name", "td").text
            for row in _all(browser, "tr")
        }
        assert rows["群号"] == groups.public_code
        assert (rows["类别"], rows["人数"], rows["规模"], rows["活跃度"], rows["状态"]) == (
            "综合",
            "3",
            "小型",
            "低活跃",
            "正常",
        )
        assert BEIJING_TIME.fullmatch(rows["建立时间"]), rows["建立时间"]
        assert _by_id(browser, "roles").text == f"群主 {groups.owner.user_id}"
        assert _by_id(browser, "alias").text == f"#{groups.public_code}:{SERVER_NAME}"
        link = _by_id(browser, "matrix-to")
        assert link.get_attribute("href") == f"https://matrix.to/#/%23{groups.public_code}:{SERVER_NAME}"
        assert "输入上面的群地址即可加入" in _by_id(browser, "join").text
        page_text = _by_id(browser, "name").find_element("xpath", "..").text
        for raw in ("small", "quiet", "active", "general"):
            assert raw not in page_text, raw
        assert _fits(browser)[0] <= _fits(browser)[1], width


async def test_unknown_codes_and_small_groups_get_the_same_friendly_html_404(
    browser: Any, site: Site, groups: Groups
) -> None:
    _width(browser, 390)
    seen = []
    for code in ("123456782", "abc", groups.small_code, groups.bot_chat_code):
        browser.get(site.url(f"/groups/{code}"))
        heading, reason = browser.find_element("tag name", "h1").text, _by_id(browser, "reason").text
        assert heading == "没有找到这个群", code
        assert reason.startswith("没有找到这个群号的群组信息页。"), code
        assert "Traceback" not in browser.page_source and "M_NOT_FOUND" not in browser.page_source
        seen.append(browser.page_source)
    assert len(set(seen)) == 1
    browser.get(site.url("/groups/abc?lang=en"))
    assert browser.find_element("tag name", "h1").text == "No such group"


async def _form_address(site: Site, person: Person) -> str:
    status, link = await site.staff.qunzu("POST", "/admin/realname/links", {"user_id": person.user_id})
    assert status == 200, link
    parsed = urlparse(link["url"])
    # The form of this very server, wherever its public_baseurl says it is.
    return f"{site.server.base_url}{parsed.path}?{parsed.query}"


async def _attempts_left(person: Person) -> int:
    status, me = await person.api.qunzu("GET", "/me")
    assert status == 200, me
    return int(me["verification"]["attempts_left_today"])


def _fill(browser: Any, name: str, id_number: str, phone: str) -> None:
    for field, value in (("name", name), ("id_number", id_number), ("phone", phone)):
        box = _by_id(browser, field)
        box.clear()
        box.send_keys(value)


def _submit_button(browser: Any) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, "button[type=submit]")


def _submit(browser: Any) -> None:
    """Press the form's button as a person does and wait for the answer page."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.wait import WebDriverWait

    # The answer is a new document, one without the mark the page being left gets here. Asking an old
    # element whether it is stale races chromedriver's navigation (it may answer with an inspector
    # error instead of "stale"); a question asked mid-navigation is simply asked again.
    browser.execute_script("window.qunzuLeaving = true")
    _submit_button(browser).click()
    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script(
            "return window.qunzuLeaving !== true && document.readyState === 'complete'"
        )
    )


@pytest.mark.parametrize("width", [390, 1280])
async def test_the_form_fits_the_screen_and_its_button_is_usable(browser: Any, site: Site, width: int) -> None:
    person = await site.person(verified=False)
    _width(browser, width)
    browser.get(await _form_address(site, person))
    scroll_width, inner_width = _fits(browser)
    assert scroll_width <= inner_width, f"{scroll_width} px of content in a {inner_width} px wide window"
    button = _submit_button(browser)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    assert button.is_displayed() and button.is_enabled()
    assert button.text == "提交认证"
    # Nothing covers it: the point at its centre is the button itself.
    on_top = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === arguments[0]"
        " && r.left >= 0 && r.right <= window.innerWidth",
        button,
    )
    assert on_top is True
    for field in ("name", "id_number", "phone"):
        box = _by_id(browser, field)
        assert box.rect["x"] >= 0 and box.rect["x"] + box.rect["width"] <= inner_width, field


async def test_a_wrong_field_is_named_at_that_field_keeps_consent_and_spends_no_attempt(
    browser: Any, site: Site
) -> None:
    person = await site.person(verified=False)
    before = await _attempts_left(person)
    assert before == ATTEMPTS_PER_DAY
    _width(browser, 390)
    browser.get(await _form_address(site, person))
    good = fresh_id_number()
    wrong = good[:17] + ("0" if good[17] != "0" else "1")  # one mistyped check character
    _fill(browser, "张三", wrong, "13800000000")
    consent = _all(browser, "input[name=accept_convention]")[0]
    consent.click()
    _submit(browser)

    message = _by_id(browser, "id_number-error")
    assert message.text == problem_text("id_number", "check_digit", "zh-CN")
    # Right below the ID number box, and the box is marked; no other field has a message.
    follows = browser.execute_script("return document.getElementById('id_number').nextElementSibling.id")
    assert follows == "id_number-error"
    assert _by_id(browser, "id_number").get_attribute("aria-invalid") == "true"
    assert [e.get_attribute("id") for e in _all(browser, "[id$='-error']")] == ["id_number-error"]
    assert _all(browser, "input[name=accept_convention]")[0].is_selected()
    assert _by_id(browser, "name").get_attribute("value") == "张三"
    assert _fits(browser)[0] <= _fits(browser)[1]
    assert await _attempts_left(person) == before

    # The person corrects the one character and sends again without ticking anything: verified.
    _fill(browser, "张三", good, "13800000000")
    _submit(browser)
    assert "认证成功" in browser.find_element("css selector", "main").text
    assert _all(browser, "form") == []
    _status, me = await person.api.qunzu("GET", "/me")
    assert me["verification"]["status"] == "verified", me
    assert me["convention"]["accepted"] is True
