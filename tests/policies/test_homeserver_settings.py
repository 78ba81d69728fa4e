"""The homeserver settings every deployment shares (`policies/homeserver.py`).

`make run`, the tests and the production images render their configs from these; the
rendered configs themselves are tested in tests/docker and by every server the e2e tests boot.
"""

from __future__ import annotations

import pytest

from policies import load_policy_from_mapping
from policies.homeserver import (
    federation_domain_whitelist,
    generic_worker,
    http_listener,
    record_keeping,
    unscreened_texts_off,
    worker_topology,
)
from qunzu_cli.__main__ import homeserver_warnings


@pytest.mark.parametrize("days", [190, 400])
def test_the_record_keeping_settings_are_the_ones_check_config_accepts(days: int) -> None:
    policy = load_policy_from_mapping({"retention": {"days": days}})
    settings = {**record_keeping(policy), **unscreened_texts_off()}
    assert settings["redaction_retention_period"] is None
    assert homeserver_warnings(settings, policy.retention.days) == []
    # A server kept at the default would lose client IPs before a longer retention ends.
    assert (homeserver_warnings({**settings, "user_ips_max_age": "190d"}, days) == []) is (days <= 190)


@pytest.mark.parametrize(
    ("federation", "whitelist"),
    [
        ({}, []),
        ({"partner_servers": ["partner.example.cn"]}, ["partner.example.cn"]),
        ({"allow_remote_users": True}, None),
    ],
)
def test_synapse_federates_with_whom_the_policy_admits(federation: dict[str, object], whitelist: object) -> None:
    policy = load_policy_from_mapping({"realname": {"federation": federation}})
    assert federation_domain_whitelist(policy) == whitelist


def test_a_listener_behind_the_proxy_reads_the_client_address_from_the_proxy() -> None:
    direct = http_listener(8008, ["client"])
    proxied = http_listener(8008, ["client", "federation"], bind="0.0.0.0", behind_proxy=True)
    assert direct["x_forwarded"] is False and direct["bind_addresses"] == ["127.0.0.1"]
    assert proxied["x_forwarded"] is True and proxied["resources"][0]["names"] == ["client", "federation"]


def test_a_worker_names_its_instance_and_the_main_config_names_the_background_instance() -> None:
    topology = worker_topology(
        main_host="synapse", replication_port=9093, redis_host="redis", redis_port=6379, background_instance="worker1"
    )
    assert topology["instance_map"] == {"main": {"host": "synapse", "port": 9093}}
    assert topology["run_background_tasks_on"] == "worker1"
    worker = generic_worker("worker1", listeners=[http_listener(8081, ["client"])], log_config="l", pid_file="p")
    assert worker["worker_name"] == "worker1" and worker["worker_app"] == "synapse.app.generic_worker"


def test_texts_no_module_can_screen_are_off_and_check_config_warns_when_they_are_on() -> None:
    settings = {**record_keeping(load_policy_from_mapping({})), **unscreened_texts_off()}
    assert settings["presence"] == {"enabled": False}
    assert homeserver_warnings(settings, 190) == []
    # Synapse's default keeps presence on: a config without the key is warned about.
    absent = {key: value for key, value in settings.items() if key != "presence"}
    assert [line.split(" ", 1)[0] for line in homeserver_warnings(absent, 190)] == ["presence"]
    synced = {**settings, "include_profile_updates_in_sync": True}
    assert [line.split(" ", 1)[0] for line in homeserver_warnings(synced, 190)] == ["include_profile_updates_in_sync"]
