"""Start Synapse processes by forking one that has imported Synapse and Qunzu already.

Importing Synapse and the module costs every start about 1.5 s of CPU before it reads
its config, the same for every server a test session starts. The fork server pays it
once: `python -m devtools.forkserver` imports both, then forks a child per start. The
child is a Synapse process like any other (its own session, config, working directory,
environment, stdout and stderr, exit status); only its imports were done before the fork.

Twisted installs its reactor on import, before anything runs on it. A child replaces
the reactor's poller and waker with its own by initialising it afresh, so no two servers
share one. The server checks first that nothing was scheduled on the reactor during the
imports (an initialisation would drop it) and refuses to start otherwise; the client then
starts processes the ordinary way.

Protocol, one JSON object per line: the client writes `{"id", "argv", "cwd", "output", "env"}`,
the server answers `{"id", "started": pid}` or `{"id", "refused": why}`, and later `{"exited":
pid, "returncode": n}` for every child (`returncode` as `subprocess.Popen` gives it). A child
whose answer came too late for its client is killed by the client.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import runpy
import selectors
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from typing import IO, Any

# The apps a child may run, imported before any fork.
APPS = ("synapse.app.homeserver", "synapse.app.generic_worker")
# Environment variables some of those imports read: a start asking for other values than
# the fork server imported with starts the ordinary way.
_IMPORT_TIME_ENV = ("SYNAPSE", "PYTHON", "TWISTED")


class ForkServerError(Exception):
    """The fork server could not start a process (the caller starts it the ordinary way)."""


class ForkedProcess:
    """A process the fork server started, with the part of `subprocess.Popen`'s interface the harness uses."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self._server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit status once the process has exited, else None."""
        if self.returncode is None:
            self.returncode = self._server.returncode(self.pid, timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit.

        Raises:
            subprocess.TimeoutExpired: it is still running after `timeout` seconds.
        """
        if self.returncode is None:
            self.returncode = self._server.returncode(self.pid, timeout=timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Send `sig` unless the process has exited."""
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The client: one fork server process, asked for starts by any thread of this process."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self._process = subprocess.Popen(
            [python, "-m", "devtools.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._requests: IO[bytes] = self._process.stdin
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._replies: dict[int, dict[str, Any]] = {}
        self._abandoned: set[int] = set()  # requests whose client stopped waiting for the answer
        self._next_id = 0
        self._exited: dict[int, int] = {}
        self._alive = True
        self._reader = threading.Thread(target=self._read, args=(self._process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            message = json.loads(line)
            with self._changed:
                if "exited" in message:
                    self._exited[int(message["exited"])] = int(message["returncode"])
                elif int(message["id"]) in self._abandoned:
                    # Nobody waits for this child any more: it must not run unwatched.
                    self._abandoned.discard(int(message["id"]))
                    if "started" in message:
                        _kill(int(message["started"]))
                else:
                    self._replies[int(message["id"])] = message
                self._changed.notify_all()
        with self._changed:
            self._alive = False
            self._changed.notify_all()

    def start(self, argv: list[str], *, cwd: str, output: str, env: Mapping[str, str]) -> ForkedProcess:
        """Start `python -m argv[0] argv[1:]` with stdout and stderr appended to `output`.

        Raises:
            ForkServerError: the fork server refused or is gone.
        """
        with self._lock:
            self._next_id += 1
            number = self._next_id
            request = {"id": number, "argv": argv, "cwd": cwd, "output": output, "env": dict(env)}
            try:
                self._requests.write(json.dumps(request).encode() + b"\n")
                self._requests.flush()
            except OSError as exc:
                raise ForkServerError(f"the fork server is gone: {exc}") from exc
        with self._changed:
            self._changed.wait_for(lambda: number in self._replies or not self._alive, timeout=60)
            reply = self._replies.pop(number, None)
            if reply is None:
                # Other threads may be waiting for lower ids: only this request is given up.
                self._abandoned.add(number)
        if reply is None:
            raise ForkServerError("the fork server did not answer")
        if "started" not in reply:
            raise ForkServerError(str(reply.get("refused")))
        return ForkedProcess(self, int(reply["started"]))

    def returncode(self, pid: int, timeout: float | None) -> int | None:
        """`pid`'s exit status, waiting up to `timeout` seconds (None: as long as it takes)."""
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exited or not self._alive, timeout=timeout)
            if pid in self._exited:
                return self._exited[pid]
        if not self._alive and not _exists(pid):
            # The fork server died and the orphan was reaped by someone else: its status is lost.
            return -signal.SIGKILL
        return None

    def close(self) -> None:
        """Stop the fork server; processes it started keep running."""
        self._requests.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(10)
        assert self._process.stdout is not None
        self._process.stdout.close()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _import_env(env: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if key.startswith(_IMPORT_TIME_ENV)}


def _reactor_untouched(reactor: Any) -> str | None:
    """Why the reactor cannot be initialised afresh in a child, or None when it can."""
    if reactor.running or reactor.getDelayedCalls() or reactor.threadCallQueue:
        return "something was scheduled on the reactor while importing"
    triggers = {phase: event for phase, event in reactor._eventTriggers.items()}
    if set(triggers) - {"startup", "shutdown"}:
        return f"system event triggers on import: {sorted(triggers)}"
    if reactor.getReaders() != [reactor.waker] or reactor.getWriters():
        return "descriptors were added to the reactor while importing"
    return None


def _no_pidfd() -> str | None:
    """Why a child's exit cannot be watched here (`os.pidfd_open` needs Linux 5.3), or None."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError) as exc:
        return f"os.pidfd_open is not available: {exc}"
    return None


def _serve() -> int:
    import importlib

    for app in APPS:
        importlib.import_module(app)
    importlib.import_module("synapse_module.module")
    from twisted.internet import reactor

    from policies.content import prepare_tables

    prepare_tables()
    refusal = _reactor_untouched(reactor) or _no_pidfd()
    imported_env = _import_env(os.environ)
    out = sys.stdout.buffer
    requests = sys.stdin.fileno()
    selector = selectors.DefaultSelector()
    selector.register(requests, selectors.EVENT_READ)
    children: dict[int, int] = {}  # pidfd → pid
    pending = b""  # requests read but not yet whole

    def tell(message: Mapping[str, Any]) -> None:
        out.write(json.dumps(message).encode() + b"\n")
        out.flush()

    def start(request: Mapping[str, Any]) -> None:
        why = refusal
        if why is None and request["argv"][0] not in APPS:
            why = f"not an app the fork server imported: {request['argv'][0]}"
        if why is None and _import_env(request["env"]) != imported_env:
            why = "the environment differs from the one the fork server imported with"
        if why is not None:
            tell({"id": request["id"], "refused": why})
            return
        pid = os.fork()
        if pid == 0:
            selector.close()
            for pidfd in children:
                os.close(pidfd)
            _run_child(request, reactor)  # never returns
        pidfd = os.pidfd_open(pid)
        children[pidfd] = pid
        selector.register(pidfd, selectors.EVENT_READ)
        tell({"id": request["id"], "started": pid})

    while True:
        for key, _ in selector.select():
            if key.fd == requests:
                # Read from the descriptor itself: several clients' threads may have written
                # requests at once, and every whole line read is answered now.
                data = os.read(requests, 65536)
                if not data:
                    return 0
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    start(json.loads(line))
            else:
                pidfd = int(key.fd)
                pid = children.pop(pidfd)
                selector.unregister(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                tell({"exited": pid, "returncode": os.waitstatus_to_exitcode(status)})


def _run_child(request: Mapping[str, Any], reactor: Any) -> None:
    """In the forked child: become the requested process, run it, exit with its status."""
    code = 1
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        output = os.open(request["output"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(devnull)
        os.close(output)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        random.seed()
        # A fresh poller and waker: the fork server's are shared by every child it forked.
        reactor._poller.close()
        reactor.waker.connectionLost(None)
        reactor.__init__()
        sys.argv = [request["argv"][0], *request["argv"][1:]]
        try:
            runpy.run_module(request["argv"][0], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    sys.exit(_serve())
