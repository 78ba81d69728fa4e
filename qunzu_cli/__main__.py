"""`qunzu`: the operator's command line for Qunzu.

Commands that need the server's data (`export`, `filing`, `audit verify`) talk
to the module's HTTP API with a staff access token, so every use is checked and
audited by the module like any staff call, and the CLI never needs database
credentials or the key. Commands that work on files (`keygen`, `check-config`,
`verify-export`) run offline; `verify-export --key-file` also checks the
manifest's MAC.

The API base URL and token come from `--url`/`--token` or the environment
(`QUNZU_URL`, `QUNZU_TOKEN`). Exit codes: 0 ok, 1 a check failed, 2 usage or
connection error.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

API_PATH = "/_synapse/client/qunzu/v1"
MODULE_NAME = "synapse_module.QunzuModule"


class CliError(Exception):
    """A problem the operator must fix; printed as one line, exit code 2."""


# -- keygen ----------------------------------------------------------------------------


def cmd_keygen(args: argparse.Namespace) -> int:
    key = base64.b64encode(secrets.token_bytes(32)).decode() + "\n"
    if args.out is None:
        sys.stdout.write(key)
        return 0
    path = Path(args.out)
    if path.exists() and not args.force:
        raise CliError(f"{path} exists; refusing to overwrite a key (identity data encrypted with it would be lost)")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    print(f"wrote a new key to {path} (mode 600); back it up: without it identity data cannot be read")
    return 0


# -- check-config --------------------------------------------------------------------------

# Synapse settings that would lose data the Regulations need before Qunzu has it (Art. 13).
# The module cannot read homeserver.yaml through Synapse's module API, so this check lives here.
DAY_S = 86400


def _seconds(value: Any) -> float | None:
    """Synapse durations: an int of milliseconds or a string like 7d, 28d, 1y."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value) / 1000
    text = str(value).strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": DAY_S, "w": 7 * DAY_S, "y": 365 * DAY_S}
    if text and text[-1] in units and text[:-1].isdigit():
        return float(int(text[:-1]) * units[text[-1]])
    if text.isdigit():
        return int(text) / 1000
    return None


def homeserver_warnings(config: dict[str, Any], retention_days: int) -> list[str]:
    """One line per Synapse setting that would drop data before Qunzu's retention ends or publish unscreened text."""
    needed = retention_days * DAY_S
    warnings: list[str] = []
    redaction = config.get("redaction_retention_period", "7d")
    if redaction is not None and (_seconds(redaction) or 0) < needed:
        warnings.append(
            f"redaction_retention_period is {redaction!r}: Synapse erases redacted messages after it; "
            "set it to null (Qunzu's network log keeps its own copy, but investigations read both)"
        )
    ips = config.get("user_ips_max_age", "28d")
    if ips is not None and (_seconds(ips) or 0) < needed:
        warnings.append(
            f"user_ips_max_age is {ips!r}: Synapse forgets client IPs after it; "
            f"set it to at least {retention_days}d (Art. 13 keeps logs six months)"
        )
    presence = config.get("presence") or {}
    if not isinstance(presence, dict) or presence.get("enabled", True) not in (False, "false"):
        warnings.append(
            "presence is enabled: a presence status message reaches everyone in a room with its author and "
            "no module can screen it (Art. 10); set presence.enabled to false"
        )
    if config.get("include_profile_updates_in_sync"):
        warnings.append(
            "include_profile_updates_in_sync is on: clients would keep a custom profile field Qunzu took out "
            "for breaking a content rule; turn it off"
        )
    retention = config.get("retention") or {}
    if isinstance(retention, dict) and retention.get("enabled"):
        policy = retention.get("default_policy") or {}
        lifetime = _seconds(policy.get("max_lifetime")) if isinstance(policy, dict) else None
        if lifetime is not None and lifetime < needed:
            warnings.append(
                f"retention.default_policy.max_lifetime is {policy.get('max_lifetime')!r}: Synapse purges messages "
                f"sooner than {retention_days} days; raise it or disable message retention"
            )
        else:
            warnings.append(
                "retention is enabled: room admins may set shorter lifetimes per room; "
                f"set retention.allowed_lifetime_min to at least {retention_days}d"
            )
    return warnings


def cmd_check_config(args: argparse.Namespace) -> int:
    from synapse_module.config import parse_module_config
    from synapse_module.errors import QunzuConfigError

    try:
        config = yaml.safe_load(Path(args.homeserver).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"{args.homeserver}: cannot read ({exc.__class__.__name__})") from None
    if not isinstance(config, dict):
        raise CliError(f"{args.homeserver}: not a YAML mapping")
    blocks = [m for m in config.get("modules") or [] if isinstance(m, dict) and m.get("module") == MODULE_NAME]
    if not blocks:
        print(f"error: no '{MODULE_NAME}' entry under modules:")
        return 1
    try:
        parsed = parse_module_config(blocks[0].get("config"))
    except QunzuConfigError as exc:
        print(f"error: qunzu: {exc}")
        return 1
    print(f"ok: module config and policy are valid (policy file: {parsed.policy_file or 'bundled default'})")
    warnings = homeserver_warnings(config, parsed.policy.retention.days)
    for line in warnings:
        print(f"warning: {line}")
    if args.print_policy:
        print("# effective policy")
        print(yaml.safe_dump(parsed.policy.model_dump(mode="json"), allow_unicode=True, sort_keys=False), end="")
    return 1 if warnings and args.strict else 0


# -- HTTP API --------------------------------------------------------------------------------


class Api:
    """A minimal client of the module's staff API."""

    def __init__(self, url: str | None, token: str | None, timeout: float = 300.0) -> None:
        url = url or os.environ.get("QUNZU_URL")
        token = token or os.environ.get("QUNZU_TOKEN")
        if not url or not token:
            raise CliError("give --url and --token (or set QUNZU_URL and QUNZU_TOKEN): a staff access token")
        self._base = url.rstrip("/") + API_PATH
        self._token = token
        self._timeout = timeout

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, bytes]:
        url = self._base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise CliError(f"cannot reach {self._base}: {getattr(exc, 'reason', exc)}") from None

    def json(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        status, data = self.call(method, path, body, query)
        try:
            answer = json.loads(data)
        except ValueError:
            raise CliError(f"{method} {path}: HTTP {status}, not JSON") from None
        if status != 200:
            raise CliError(f"{method} {path}: HTTP {status}: {answer.get('error', answer)}")
        return answer


def cmd_export(args: argparse.Namespace) -> int:
    from synapse_module.export import Bundle, write_bundle

    api = Api(args.url, args.token)
    body: dict[str, Any] = {"since": args.since, "until": args.until, "subject": args.subject}
    if args.legal_basis:
        body["legal_basis"] = args.legal_basis
    answer = api.json("POST", "/admin/export", {k: v for k, v in body.items() if v is not None})
    bundle = Bundle(answer["manifest"], answer["files"])
    write_bundle(bundle, Path(args.out))
    for name, entry in sorted(bundle.manifest["files"].items()):
        print(f"{name}: {entry['lines']} lines, sha256 {entry['sha256']}")
    print(f"wrote the bundle to {args.out}")
    return 0


def cmd_verify_export(args: argparse.Namespace) -> int:
    from synapse_module.config import read_key_file
    from synapse_module.errors import QunzuConfigError
    from synapse_module.export import ExportError, read_bundle, verify_bundle

    try:
        manifest, files = read_bundle(Path(args.bundle))
        key = read_key_file(args.key_file) if args.key_file else None
    except (ExportError, QunzuConfigError) as exc:
        raise CliError(str(exc)) from None
    report = verify_bundle(manifest, files, key)
    for problem in report.problems:
        print(f"FAILED: {problem}")
    if report.ok:
        mac = "; manifest MAC checked with the server key" if report.mac_checked else ""
        print(f"ok: {report.files} files, {report.lines} lines match the manifest{mac}")
    return 0 if report.ok else 1


def cmd_filing(args: argparse.Namespace) -> int:
    api = Api(args.url, args.token)
    status, data = api.call("GET", "/admin/filing", query={"format": args.format})
    if status != 200:
        raise CliError(f"GET /admin/filing: HTTP {status}: {data[:200].decode(errors='replace')}")
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"wrote the filing document to {args.out}")
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    answer = Api(args.url, args.token).json("GET", "/admin/audit/verify")
    if answer.get("ok"):
        print(f"ok: the audit chain verifies ({answer.get('rows')} rows)")
        return 0
    print(f"FAILED: the audit chain is broken at row {answer.get('first_bad')}: {answer.get('problem')}")
    return 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="qunzu", description="Operator tools for the Qunzu Synapse module.")
    commands = top.add_subparsers(dest="command", required=True)

    def with_api(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", help="homeserver base URL, e.g. https://matrix.example.org (env QUNZU_URL)")
        p.add_argument("--token", help="a staff member's access token (env QUNZU_TOKEN)")

    p = commands.add_parser("keygen", help="create a new module key (base64 of 32 random bytes)")
    p.add_argument("--out", help="write it to this file (mode 600) instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(run=cmd_keygen)

    p = commands.add_parser("check-config", help="validate homeserver.yaml's Qunzu block, the policy and settings")
    p.add_argument("homeserver", help="path of homeserver.yaml")
    p.add_argument("--print-policy", action="store_true", help="print the effective policy (default merged)")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    p.set_defaults(run=cmd_check_config)

    p = commands.add_parser("export", help="export records for a regulator into a directory")
    with_api(p)
    p.add_argument("--since", required=True, help="start (ISO 8601, China time unless a zone is given, or ms)")
    p.add_argument("--until", help="end (default: now)")
    p.add_argument("--subject", help="a user id, room id or 9-digit group code")
    p.add_argument("--legal-basis", help="include identities; the stated basis is written to the audit log")
    p.add_argument("--out", required=True, help="directory to write the bundle into")
    p.set_defaults(run=cmd_export)

    p = commands.add_parser("verify-export", help="check a bundle against its manifest")
    p.add_argument("bundle", help="the bundle directory")
    p.add_argument("--key-file", help="the module key: also checks the manifest's MAC")
    p.set_defaults(run=cmd_verify_export)

    p = commands.add_parser("filing", help="the filing document (备案材料)")
    with_api(p)
    p.add_argument("--format", choices=("markdown", "html"), default="markdown")
    p.add_argument("--out", help="write to this file instead of stdout")
    p.set_defaults(run=cmd_filing)

    p = commands.add_parser("audit", help="audit log tools")
    audit = p.add_subparsers(dest="audit_command", required=True)
    v = audit.add_parser("verify", help="check the audit log's hash chain on the server")
    with_api(v)
    v.set_defaults(run=cmd_audit_verify)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CliError as exc:
        print(f"qunzu: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
