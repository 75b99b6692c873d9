"""The embedded MongoDB-compatible engine (SecantusDB), run as a separate process.

This is the only module that knows the engine exists. Seeding and both MCP servers share one
engine per data directory: the first process that needs it starts it, the others reuse it.
Starting is race-free (Claude Desktop launches both servers at once, and WiredTiger allows one
process per storage directory): "read the state file, ping, start if needed" runs under an
exclusive file lock, so the loser of a race finds the winner's engine and connects to it.

SecantusDB is GPL-2.0: we run its command (`secantusd-py`), we never import it.

    python -m zava_core.embedded start|stop|status|uri
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from zava_core.config import ConfigError, Settings

ENGINE_COMMAND = "secantusd-py"
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0


class EngineError(RuntimeError):
    """The embedded engine could not be started or reached; the message says what to do."""


@dataclass(frozen=True)
class EngineState:
    pid: int
    port: int
    storage_path: str

    @property
    def uri(self) -> str:
        return engine_uri(self.port)


def engine_uri(port: int) -> str:
    return f"mongodb://{HOST}:{port}/?directConnection=true"


def _paths(data_dir: Path) -> tuple[Path, Path, Path, Path]:
    return (
        data_dir / "engine.json",
        data_dir / "engine.lock",
        data_dir / "secantus-data",
        data_dir / "engine.log",
    )


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_state(state_path: Path) -> EngineState | None:
    try:
        raw = json.loads(state_path.read_text())
        return EngineState(pid=int(raw["pid"]), port=int(raw["port"]), storage_path=str(raw["storage_path"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ping(uri: str, timeout_s: float = 1.0) -> bool:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=int(timeout_s * 1000), connect=False)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _engine_executable() -> str:
    # Claude Desktop runs `.venv/bin/python` without activating the venv, so look beside it first.
    beside = Path(sys.executable).parent / ENGINE_COMMAND
    if beside.exists():
        return str(beside)
    found = shutil.which(ENGINE_COMMAND)
    if found:
        return found
    raise EngineError(
        f"{ENGINE_COMMAND} was not found: install the embedded engine with `pip install SecantusDB==0.7.0b3` "
        "or set MONGODB_URI to use a MongoDB server"
    )


def running_state(data_dir: Path) -> EngineState | None:
    """The engine serving `data_dir`, if one is up and answering."""
    state = _read_state(_paths(data_dir)[0])
    if state and _pid_alive(state.pid) and ping(state.uri):
        return state
    return None


def ensure_running(data_dir: Path) -> EngineState:
    """Return the running engine for `data_dir`, starting one if none answers."""
    state_path, lock_path, storage, log_path = _paths(data_dir)
    with _locked(lock_path):
        state = _read_state(state_path)
        # A live pid that does not answer is not ours to reuse (a stale file after a reboot).
        if state and _pid_alive(state.pid) and _wait_for_ping(state.uri, deadline=time.monotonic() + 5.0):
            return state
        storage.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [_engine_executable(), "--host", HOST, "--port", str(port),
                 "--storage-path", str(storage), "--log-level", "WARNING"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the engine outlives the process that started it
            )
        state = EngineState(pid=process.pid, port=port, storage_path=str(storage))
        if not _wait_for_ping(state.uri, deadline=time.monotonic() + START_TIMEOUT_S, process=process):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise EngineError(
                f"the embedded engine did not start within {START_TIMEOUT_S:.0f} s; see {log_path} "
                f"(last lines: {_tail(log_path)})"
            )
        state_path.write_text(json.dumps({"pid": state.pid, "port": state.port, "storage_path": state.storage_path}))
        return state


def _wait_for_ping(uri: str, deadline: float, process: subprocess.Popen | None = None) -> bool:
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        if ping(uri, timeout_s=0.5):
            return True
        time.sleep(0.1)
    return False


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "no log"


def stop(data_dir: Path, timeout_s: float = 30.0) -> bool:
    """Stop the engine for `data_dir`; True if one was running."""
    state_path, lock_path, _, _ = _paths(data_dir)
    with _locked(lock_path):
        state = _read_state(state_path)
        state_path.unlink(missing_ok=True)
        if not state or not _pid_alive(state.pid):
            return False
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _pid_alive(state.pid):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(state.pid, os.WNOHANG)
            time.sleep(0.1)
        if _pid_alive(state.pid):
            os.kill(state.pid, signal.SIGKILL)
        return True


def _describe(state: EngineState) -> str:
    return f"running: pid {state.pid}, {state.uri}, data {state.storage_path}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in {"start", "stop", "status", "uri"}:
        print("usage: python -m zava_core.embedded start|stop|status|uri", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data_dir = settings.data_dir
    command = args[0]
    try:
        if command in {"start", "uri"}:
            state = ensure_running(data_dir)
            print(state.uri if command == "uri" else _describe(state))
            return 0
        if command == "stop":
            print("stopped" if stop(data_dir) else "not running")
            return 0
        state = running_state(data_dir)
        print(_describe(state) if state else "not running")
        return 0 if state else 1
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
