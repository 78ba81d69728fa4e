"""Bot lifecycle in-process, and ``python -m bot`` as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from bot.__main__ import main
from bot.bot import Bot
from bot.commands import CommandSpec
from bot.config import BotConfig
from bot.events import EventSink, IncomingMessage

from .conftest import NOW_MS, FakeClient, FakeClock, message

REPO = Path(__file__).resolve().parents[2]
APOLOGY = "Sorry, something went wrong with that command. Please try again later."


@dataclass
class FakeSyncClient(FakeClient):
    """The Matrix client's lifecycle surface; delivers a scripted batch, then long-polls."""

    script: list[IncomingMessage] = field(default_factory=list)
    access_token: str | None = "tok"
    calls: list[str] = field(default_factory=list)

    async def login(self) -> None:
        self.calls.append("login")

    async def resolve_room(self, room: str) -> str:
        return "!mod:localhost"

    async def sync_loop(self, sink: EventSink, ready: asyncio.Event | None = None) -> None:
        self.calls.append("sync")
        for msg in self.script:
            await sink.on_message(msg)
        await sink.on_synced()
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()  # a long-poll that never returns

    async def close(self) -> None:
        self.calls.append("close")


def _config(tmp_path, **extra) -> BotConfig:
    return BotConfig.model_validate(
        {
            "homeserver": "http://127.0.0.1:9",
            "user_id": "@qunzu:localhost",
            "password": "pw",
            "state_db": str(tmp_path / "state.sqlite"),
            "language": "en",
            **extra,
        }
    )


async def test_bot_runs_in_process_with_an_extra_handler_and_stops_cleanly(tmp_path):
    async def boom(ctx):
        raise RuntimeError("boom")

    fake = FakeSyncClient(
        script=[
            message("!help", server_ts=NOW_MS - 3_600_000),  # from before start: ignored
            message("!boom"),
            message("!help"),
        ]
    )
    bot = Bot(
        _config(tmp_path, moderation_room="#moderation:localhost"),
        client_factory=lambda config, state: fake,
        clock=FakeClock(),
    )
    bot.registry.add(CommandSpec("boom", boom))
    task = asyncio.create_task(bot.run())
    await asyncio.wait_for(bot.ready.wait(), 5)

    assert fake.texts[0] == APOLOGY
    assert fake.texts[1].startswith("Commands you can use here:")
    assert len(fake.texts) == 2
    assert fake.joined == ["!mod:localhost"]
    assert bot.dispatcher is not None and bot.dispatcher.moderation_room_id == "!mod:localhost"

    await bot.stop()
    await asyncio.wait_for(task, 5)  # run() returns normally
    assert fake.calls == ["login", "sync", "close"]
    assert bot.state is None


async def test_cancelling_run_itself_propagates(tmp_path):
    fake = FakeSyncClient()
    bot = Bot(_config(tmp_path), client_factory=lambda config, state: fake, clock=FakeClock())
    task = asyncio.create_task(bot.run())
    await asyncio.wait_for(bot.ready.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.calls[-1] == "close"


async def test_stop_before_run_is_harmless(tmp_path):
    await Bot(_config(tmp_path)).stop()


def test_main_bad_config_is_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "bot.yaml"
    path.write_text("homeserver: http://127.0.0.1:9\n", encoding="utf-8")
    assert main(["-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("qunzu-bot: bad configuration: ")
    assert "user_id: is required" in err


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_module(args: list[str], **kw) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        **kw,
    )


def test_python_m_bot_with_bad_config_exits_2_without_traceback(tmp_path):
    proc = _run_module(["-c", str(tmp_path / "missing.yaml")])
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_python_m_bot_stops_gracefully_on_signal(tmp_path, sig):
    # No homeserver listens: the bot keeps retrying its login until told to stop.
    config = {
        "homeserver": f"http://127.0.0.1:{_closed_port()}",
        "user_id": "@qunzu:localhost",
        "password": "s3cret-Passw0rd",
        "state_db": str(tmp_path / "state.sqlite"),
    }
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    proc = _run_module(["-c", str(path)])
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "login failed" in line:
            break
    proc.send_signal(sig)
    _, rest = proc.communicate(timeout=30)
    log = "".join(lines) + rest
    assert proc.returncode == 0, log
    assert "Traceback" not in log
    assert "bot stopped" in log
    assert "s3cret" not in log
