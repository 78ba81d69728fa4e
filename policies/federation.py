"""Federation: which other servers' people may be in governed rooms (Art. 6).

People on other servers cannot be verified here. With
``realname.federation.allow_remote_users: false`` only the servers listed in
``partner_servers`` (which verify real names themselves) are admitted: their
people join, post and are sanctioned like local ones. Everyone else is kept
out at the protocol level by the room's ``m.room.server_acl`` (this server and
its partners), and the module refuses what an ACL does not cover (invites,
events relayed through a partner).

Server names may carry a port (``example.org:8448``). A server ACL is matched
against the host alone when another server calls in, but Synapse checks a new
ACL against its own full name: the allow list names both forms.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .decisions import Decision
from .model import Policy
from .reasons import Reason

__all__ = [
    "acl_matches_policy",
    "admits_server",
    "filing_sentence",
    "host_of",
    "is_ip_literal",
    "is_partner",
    "may_join_remote_room",
    "may_take_part",
    "server_acl_content",
    "server_of",
]


def server_of(user_id: str) -> str:
    """The server part of a Matrix user id (``@alice:example.org:8448`` → ``example.org:8448``)."""
    return user_id.split(":", 1)[1] if ":" in user_id else ""


def host_of(server_name: str) -> str:
    """A server name without its port (IPv6 literals keep their brackets)."""
    if server_name.startswith("["):
        end = server_name.find("]")
        return server_name[: end + 1] if end != -1 else server_name
    return server_name.rsplit(":", 1)[0] if ":" in server_name else server_name


def is_ip_literal(server_name: str) -> bool:
    """Whether the server is named by an IP address rather than a domain."""
    host = host_of(server_name).strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_partner(server_name: str, policy: Policy) -> bool:
    """Listed in ``partner_servers``, by its full name or by its host."""
    partners = policy.realname.federation.partner_servers
    return server_name in partners or host_of(server_name) in partners


def admits_server(server_name: str, own_server: str, policy: Policy) -> bool:
    """May people of this server be in governed rooms and reach local people? (Art. 6)"""
    if server_name == own_server:
        return True
    return policy.realname.federation.allow_remote_users or is_partner(server_name, policy)


def may_take_part(user_id: str, own_server: str, policy: Policy) -> Decision:
    """May this person join, knock, be invited, invite or send anything in a governed room?

    Returns:
        Allowed, or refused with remote_server_not_allowed (the detail names the server).
    """
    server = server_of(user_id)
    if admits_server(server, own_server, policy):
        return Decision.allow()
    return Decision.refuse(Reason.REMOTE_SERVER_NOT_ALLOWED, server=server)


def may_join_remote_room(is_invited: bool, policy: Policy) -> Decision:
    """May a local person join a room this server is not in yet?

    Such a room lives on other servers, where nothing here screens what is said. With
    ``allow_remote_users: false`` a local person joins one only by an invite, and invites
    reach local people only from partner servers (``may_take_part`` on the inviter), so
    they join only partners' rooms. Which server hosts an uninvited room cannot be told
    before joining it (room ids of version 12 name no server): those joins are refused.
    """
    if policy.realname.federation.allow_remote_users or is_invited:
        return Decision.allow()
    return Decision.refuse(Reason.REMOTE_SERVER_NOT_ALLOWED)


def server_acl_content(own_server: str, policy: Policy) -> dict[str, Any]:
    """The ``m.room.server_acl`` content every governed room carries.

    Open federation allows every server; otherwise this server and its partners, each
    by its host (what other servers are matched by) and its full name (what Synapse
    checks its own name against). IP literals are allowed only when one of those is one.
    """
    if policy.realname.federation.allow_remote_users:
        return {"allow": ["*"], "deny": [], "allow_ip_literals": True}
    names = (own_server, *policy.realname.federation.partner_servers)
    allow: list[str] = []
    for name in names:
        for entry in (host_of(name), name):
            if entry not in allow:
                allow.append(entry)
    return {"allow": allow, "deny": [], "allow_ip_literals": any(is_ip_literal(name) for name in names)}


def acl_matches_policy(content: Any, own_server: str, policy: Policy) -> bool:
    """Whether a room's current ACL content is exactly what the policy asks."""
    return isinstance(content, dict) and dict(content) == server_acl_content(own_server, policy)


def filing_sentence(policy: Policy) -> str:
    """What the filing document tells the regulator about people on other servers (Art. 6).

    One home for the sentence, so that it says what the module enforces.
    """
    federation = policy.realname.federation
    partners = "、".join(federation.partner_servers)
    if federation.allow_remote_users:
        sentence = (
            "其他服务器的用户可以加入本平台管理的群组，但其身份无法在本平台认证，按未实名用户对待（不得发言、邀请）"
        )
        if partners:
            sentence += f"；合作服务器（{partners}）自行落实真实身份认证，其用户按已实名用户对待"
        return sentence + "；所有群组的服务器访问控制列表（m.room.server_acl）允许所有服务器。"
    if partners:
        return (
            f"仅合作服务器（{partners}）的用户可以加入本平台管理的群组：合作服务器自行落实真实身份认证，其用户与本平台用户"
            "同样遵守内容规则、接受禁言、移出群组和列入黑名单等处置；其他服务器的用户不得加入、申请加入或被邀请进入"
            "本平台管理的群组，其消息和媒体文件不向本平台用户传递；本平台用户仅可经合作服务器用户的邀请加入其他服务器上的群组。"
            "所有群组的服务器访问控制列表（m.room.server_acl）仅允许本服务器和合作服务器，由平台维护。"
        )
    return (
        "其他服务器的用户不得加入、申请加入或被邀请进入本平台管理的群组，其消息和媒体文件不向本平台用户传递；"
        "本平台用户不得加入其他服务器上的群组。所有群组的服务器访问控制列表（m.room.server_acl）仅允许本服务器，由平台维护。"
    )
