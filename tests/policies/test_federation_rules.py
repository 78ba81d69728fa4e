"""Which servers' people may be in governed rooms, and the server ACL that says so (Art. 6)."""

from __future__ import annotations

from typing import Any

import pytest

from policies import Reason, load_policy_from_mapping
from policies.federation import (
    acl_matches_policy,
    admits_server,
    filing_sentence,
    host_of,
    is_ip_literal,
    may_join_remote_room,
    may_take_part,
    server_acl_content,
    server_of,
)
from policies.model import Policy


def policy(allow: bool = False, partners: tuple[str, ...] = ()) -> Policy:
    federation: dict[str, Any] = {"allow_remote_users": allow, "partner_servers": list(partners)}
    return load_policy_from_mapping({"realname": {"federation": federation}})


@pytest.mark.parametrize(
    ("name", "host", "ip"),
    [
        ("example.org", "example.org", False),
        ("example.org:8448", "example.org", False),
        ("127.0.0.1:8448", "127.0.0.1", True),
        ("[::1]:8448", "[::1]", True),
        ("[::1]", "[::1]", True),
    ],
)
def test_host_and_ip_literal_of_server_names(name: str, host: str, ip: bool) -> None:
    assert host_of(name) == host
    assert is_ip_literal(name) is ip


def test_server_of_a_user_keeps_the_port() -> None:
    assert server_of("@alice:example.org:8448") == "example.org:8448"


@pytest.mark.parametrize(
    ("server", "allow", "partners", "admitted"),
    [
        ("own.cn", False, (), True),
        ("other.org", False, (), False),
        ("partner.cn", False, ("partner.cn",), True),
        ("partner.cn:8448", False, ("partner.cn",), True),
        ("partner.cn", False, ("partner.cn:8448",), False),
        ("other.org", True, (), True),
    ],
)
def test_admitted_servers_follow_allow_remote_users_and_partners(
    server: str, allow: bool, partners: tuple[str, ...], admitted: bool
) -> None:
    assert admits_server(server, "own.cn", policy(allow, partners)) is admitted


def test_a_person_of_another_server_is_refused_with_the_server_named() -> None:
    decision = may_take_part("@bob:other.org", "own.cn", policy())
    assert decision.reason is Reason.REMOTE_SERVER_NOT_ALLOWED
    assert decision.detail["server"] == "other.org"
    assert may_take_part("@alice:own.cn", "own.cn", policy()).allowed


@pytest.mark.parametrize(
    ("allow", "invited", "allowed"), [(False, False, False), (False, True, True), (True, False, True)]
)
def test_local_people_join_rooms_elsewhere_only_by_invitation(allow: bool, invited: bool, allowed: bool) -> None:
    assert may_join_remote_room(invited, policy(allow)).allowed is allowed


def test_the_acl_names_this_server_and_partners_by_host_and_full_name() -> None:
    content = server_acl_content("own.cn:8448", policy(partners=("partner.cn",)))
    assert content == {"allow": ["own.cn", "own.cn:8448", "partner.cn"], "deny": [], "allow_ip_literals": False}


def test_ip_literal_names_allow_ip_literals() -> None:
    content = server_acl_content("127.0.0.1:8448", policy(partners=("127.0.0.3:9000",)))
    assert content["allow"] == ["127.0.0.1", "127.0.0.1:8448", "127.0.0.3", "127.0.0.3:9000"]
    assert content["allow_ip_literals"] is True


def test_open_federation_allows_every_server() -> None:
    assert server_acl_content("own.cn", policy(allow=True)) == {"allow": ["*"], "deny": [], "allow_ip_literals": True}


def test_the_acl_synapse_checks_against_its_own_name_admits_it_and_nobody_else() -> None:
    """The content passes Synapse's own check (its full name) and refuses other hosts."""
    from synapse.synapse_rust.acl import ServerAclEvaluator

    content = server_acl_content("127.0.0.1:8448", policy(partners=("127.0.0.3:9000",)))
    acl = ServerAclEvaluator(content["allow_ip_literals"], content["allow"], content["deny"])
    assert acl.server_matches_acl_event("127.0.0.1:8448")
    assert acl.server_matches_acl_event("127.0.0.3")
    assert not acl.server_matches_acl_event("127.0.0.2")
    assert not acl.server_matches_acl_event("127.0.0.10")


def test_a_changed_policy_no_longer_matches_the_old_acl() -> None:
    old = server_acl_content("own.cn", policy())
    assert acl_matches_policy(old, "own.cn", policy())
    assert not acl_matches_policy(old, "own.cn", policy(partners=("partner.cn",)))
    assert not acl_matches_policy(None, "own.cn", policy())


def test_the_filing_sentence_keeps_everyone_out_without_partners() -> None:
    sentence = filing_sentence(policy())
    assert "不得加入、申请加入或被邀请进入本平台管理的群组" in sentence
    assert "仅允许本服务器，" in sentence
    assert "合作服务器" not in sentence


def test_the_filing_sentence_names_the_partners_who_are_let_in() -> None:
    sentence = filing_sentence(policy(partners=("partner.cn", "ally.cn:8448")))
    assert sentence.startswith("仅合作服务器（partner.cn、ally.cn:8448）的用户可以加入本平台管理的群组")
    assert "其他服务器的用户不得加入" in sentence
    assert "仅允许本服务器和合作服务器" in sentence


def test_the_filing_sentence_of_open_federation_says_remote_people_are_unverified() -> None:
    sentence = filing_sentence(policy(allow=True))
    assert sentence.startswith("其他服务器的用户可以加入本平台管理的群组")
    assert "按未实名用户对待" in sentence
    assert "不得加入" not in sentence
    assert "允许所有服务器" in sentence
