"""The parts of a homeserver config that every Qunzu deployment shares.

`make run` and the tests (`devtools`) and the production images
(`docker/entrypoint.py`) each write Synapse's config for their own place:
ports, paths, secrets and database differ. What a Qunzu server needs whatever
the place (Synapse keeping what the Regulations keep, whom it federates with)
and the shape of listeners and workers are built here, once. Pure: values in,
dicts out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from .model import Policy

__all__ = [
    "GENERIC_WORKER",
    "MAIN_INSTANCE",
    "federation_domain_whitelist",
    "generic_worker",
    "http_listener",
    "metrics_listener",
    "record_keeping",
    "unscreened_texts_off",
    "worker_topology",
]


def record_keeping(policy: Policy) -> dict[str, Any]:
    """Synapse settings that keep what the Regulations need kept until Qunzu's retention ends.

    Redacted messages stay (investigations read them beside the network log) and client
    IPs are kept as long as the network log (Art. 13, `retention.days`). `qunzu
    check-config` warns about a config that drops either sooner.
    """
    return {"redaction_retention_period": None, "user_ips_max_age": f"{policy.retention.days}d"}


def unscreened_texts_off() -> dict[str, Any]:
    """Synapse settings that switch off texts people see but no module can screen (Art. 10).

    A presence `status_msg` reaches everyone who shares a room with its author, and Synapse
    1.163 asks no module about it, so presence is off. Profile changes are not sent down
    `/sync` (Synapse's default, stated here because the module takes refused custom profile
    fields out of the profile table, which that stream would not hear of). `qunzu
    check-config` warns about a config that turns either on.
    """
    return {"presence": {"enabled": False}, "include_profile_updates_in_sync": False}


#: The instance name of the main process in `instance_map`.
MAIN_INSTANCE: Final = "main"
#: The Synapse application a worker runs.
GENERIC_WORKER: Final = "synapse.app.generic_worker"


def http_listener(
    port: int,
    names: Sequence[str],
    *,
    bind: str = "127.0.0.1",
    behind_proxy: bool = False,
    tls: bool = False,
) -> dict[str, Any]:
    """An HTTP listener serving Synapse's `names` resources (`client`, `federation`, `replication`).

    Args:
        port: The port to listen on.
        names: The resources served.
        bind: The address to bind.
        behind_proxy: True behind a reverse proxy: the client's address is read from
            X-Forwarded-For, which the network log records (Art. 13).
        tls: True to serve TLS from Synapse itself (federation on loopback in tests).
    """
    return {
        "port": port,
        "bind_addresses": [bind],
        "type": "http",
        "tls": tls,
        "x_forwarded": behind_proxy,
        "resources": [{"names": list(names), "compress": False}],
    }


def metrics_listener(port: int, *, bind: str = "127.0.0.1") -> dict[str, Any]:
    """A Prometheus listener (Qunzu's metrics are served beside Synapse's)."""
    return {"port": port, "bind_addresses": [bind], "type": "metrics"}


def federation_domain_whitelist(policy: Policy) -> list[str] | None:
    """Synapse's `federation_domain_whitelist` for the policy's federation settings (Art. 6).

    Returns:
        None when people of every server may take part (`allow_remote_users`), else the
        partner servers, an empty list when there are none: then Synapse federates with
        nobody, as the module admits nobody from elsewhere into governed rooms.
    """
    settings = policy.realname.federation
    if settings.allow_remote_users:
        return None
    return list(settings.partner_servers)


def worker_topology(
    *,
    main_host: str,
    replication_port: int,
    redis_host: str,
    redis_port: int,
    background_instance: str,
) -> dict[str, Any]:
    """The main config's keys that make a scale-out deployment of it.

    Args:
        main_host: Where the workers reach the main process's replication listener.
        replication_port: That listener's port.
        redis_host: Redis, which carries replication between the processes.
        redis_port: Redis's port.
        background_instance: The one instance that runs Synapse's and Qunzu's background
            jobs (`run_background_tasks_on`); the event stream followers run everywhere.
    """
    return {
        "instance_map": {MAIN_INSTANCE: {"host": main_host, "port": replication_port}},
        "redis": {"enabled": True, "host": redis_host, "port": redis_port},
        "run_background_tasks_on": background_instance,
    }


def generic_worker(
    name: str, *, listeners: Sequence[Mapping[str, Any]], log_config: str, pid_file: str
) -> dict[str, Any]:
    """A generic worker's own config; it reads the main config beside it for the rest.

    Args:
        name: The worker's instance name (`worker1`).
        listeners: Its listeners (client traffic, metrics).
        log_config: Path of its log config.
        pid_file: Path of its pid file.
    """
    return {
        "worker_app": GENERIC_WORKER,
        "worker_name": name,
        "worker_listeners": [dict(listener) for listener in listeners],
        "worker_log_config": log_config,
        "worker_pid_file": pid_file,
    }
