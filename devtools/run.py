"""`make run`: a local Synapse on SQLite with Qunzu and the bot, ready for any Matrix client.

State lives in `.dev/` and is reused by the next run (same accounts, same
rooms). Ctrl-C stops the bot and Synapse cleanly.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import yaml

from policies.identity import id_check_character

from .homeserver import (
    SERVER_NAME,
    SERVICE_LOCALPART,
    Account,
    HomeserverError,
    SynapseProcess,
    render_config,
    request_json,
    terminate,
)

DEV_DIR = Path(os.environ.get("QUNZU_DEV_DIR", ".dev")).resolve()
PORT = int(os.environ.get("QUNZU_DEV_PORT", "8008"))
# name → (server admin, verified with made-up data). carol stays unverified so the
# verification flow can be tried at once (registration is closed on the dev server).
ACCOUNTS: dict[str, tuple[bool, bool]] = {
    "admin": (True, False),
    "alice": (False, True),
    "bob": (False, True),
    "carol": (False, False),
}


def _passwords(path: Path) -> dict[str, str]:
    """One password per account, generated on the first run and kept."""
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for name in (*ACCOUNTS, SERVICE_LOCALPART):
        stored.setdefault(name, secrets.token_urlsafe(12))
    path.write_text(json.dumps(stored, indent=2))
    path.chmod(0o600)
    return stored


def _write_bot_config(path: Path, base_url: str, password: str) -> None:
    config = {
        "homeserver": base_url,
        "user_id": f"@{SERVICE_LOCALPART}:{SERVER_NAME}",
        "password": password,
        "state_db": str(DEV_DIR / "bot-state.sqlite"),
        "language": "zh-CN",
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    path.chmod(0o600)


def main() -> int:
    config_path = render_config(DEV_DIR, port=PORT)
    synapse = SynapseProcess(config_path, PORT)
    if synapse.is_healthy():
        print(f"Something already answers on 127.0.0.1:{PORT}; stop it or set QUNZU_DEV_PORT.", file=sys.stderr)
        return 1
    print(f"Starting Synapse with Qunzu (data in {DEV_DIR}) …", flush=True)
    try:
        synapse.start(timeout=120)
    except HomeserverError as exc:
        print(f"Synapse did not start: {exc}\nFull log: {DEV_DIR / 'homeserver.log'}", file=sys.stderr)
        return 1

    bot: subprocess.Popen[bytes] | None = None
    try:
        passwords = _passwords(DEV_DIR / "accounts.json")
        statuses: dict[str, str] = {}
        for name, (admin, verified) in ACCOUNTS.items():
            account = synapse.ensure_account(name, passwords[name], admin=admin)
            if verified:
                _verify_demo_account(synapse, account)
            statuses[name] = _verification_status(synapse, account)
        synapse.ensure_account(SERVICE_LOCALPART, passwords[SERVICE_LOCALPART])
        bot_config = DEV_DIR / "bot.yaml"
        _write_bot_config(bot_config, synapse.base_url, passwords[SERVICE_LOCALPART])
        with (DEV_DIR / "bot.log").open("ab") as bot_log:
            bot = subprocess.Popen([sys.executable, "-m", "bot", "-c", str(bot_config)], stdout=bot_log, stderr=bot_log)
        _print_banner(synapse, passwords, statuses)
        _wait_until_interrupted(synapse, bot)
    finally:
        print("\nStopping …", flush=True)
        if bot is not None:
            terminate(bot)
        synapse.stop()
    return 0


def _verification_status(synapse: SynapseProcess, account: Account) -> str:
    me = request_json("GET", f"{synapse.base_url}/_synapse/client/qunzu/v1/me", token=account.access_token)
    return str(me["verification"]["status"])


def _verify_demo_account(synapse: SynapseProcess, account: Account) -> None:
    """Verify a demo member with a made-up valid ID (the dev server's `checksum` provider).

    Idempotent: a second `make run` finds the account verified and changes nothing.
    """
    base = f"{synapse.base_url}/_synapse/client/qunzu/v1"
    health = request_json("GET", f"{base}/health")
    me = request_json("GET", f"{base}/me", token=account.access_token)
    if me["verification"]["status"] == "verified":
        return
    first17 = f"110105199001{random.randint(10, 28)}{random.randint(0, 999):03d}"
    body = {
        "name": "演示用户",
        "id_number": first17 + id_check_character(first17),
        "convention_version": health["convention_version"],
    }
    request_json("POST", f"{base}/realname", body, token=account.access_token)


def _print_banner(synapse: SynapseProcess, passwords: dict[str, str], statuses: dict[str, str]) -> None:
    print(f"\nQunzu is running.\n\n  Homeserver URL: {synapse.base_url}  (server name: {SERVER_NAME})\n")
    print("  Accounts (user id / password):")
    bot = f"@{SERVICE_LOCALPART}:{SERVER_NAME}"
    for name, (admin, _verified) in ACCOUNTS.items():
        if admin:
            role = "server admin, compliance staff"
        elif statuses[name] == "verified":
            role = "member, real name verified (development data)"
        else:
            role = "member, NOT verified yet: try the verification flow with it"
        print(f"    {'@' + name + ':' + SERVER_NAME:<20} {passwords[name]:<18} {role}")
    print(f"    {bot:<20} {passwords[SERVICE_LOCALPART]:<18} the Qunzu bot")
    print()
    print("  Log in with Element (or any client) using the homeserver URL above. Every new room is")
    print("  a group: the bot joins it by itself; send !help there.")
    unverified = [name for name, status in statuses.items() if status != "verified" and not ACCOUNTS[name][0]]
    if unverified:
        print(f"  Verification: log in as @{unverified[0]}:{SERVER_NAME}, start a direct chat with {bot} (or open")
        print("  the one it started), send !verify and open the link it answers with.")
    print(f"  Logs: {DEV_DIR / 'homeserver.log'}, {DEV_DIR / 'bot.log'}.  Stop with Ctrl-C.\n", flush=True)


def _wait_until_interrupted(synapse: SynapseProcess, bot: subprocess.Popen[bytes]) -> None:
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stopping:
        if synapse.process is not None and synapse.process.poll() is not None:
            print(f"Synapse exited ({synapse.process.returncode}); see {DEV_DIR / 'homeserver.log'}", file=sys.stderr)
            return
        if bot.poll() is not None:
            print(f"The bot exited ({bot.returncode}); see {DEV_DIR / 'bot.log'}", file=sys.stderr)
            return
        time.sleep(0.5)


if __name__ == "__main__":
    raise SystemExit(main())
