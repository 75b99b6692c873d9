"""The embedded engine's process: finding its command, telling ours from a stranger, stopping it for sure.

Kept apart from zava_core/infra/embedded.py (which decides when to start, provision and reuse an engine) so
each stays small. Nothing here talks MongoDB.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from zava_core.infra.engine_files import EngineError

ENGINE_COMMAND = "secantusd-py"
HOST = "127.0.0.1"
STOP_TIMEOUT_S = 30.0
# The engine keeps its change history (oplog) for 1 hour and 100,000 entries by default. A server's change feed
# resumes from a stored position; once that history is gone it rebuilds the rollups (a minute at the default
# scale). Claude Desktop starts servers days apart, and seeding the default dataset alone writes ~335,000
# entries, so keep a month and a million entries (the count cap bounds the disk the history takes).
OPLOG_FLAGS = ("--oplog-retention-seconds", str(30 * 24 * 3600), "--oplog-max-entries", "1000000")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_our_engine(pid: int, storage_path: str) -> bool | None:
    """Whether `pid` is an engine on our storage; None where the process table cannot tell (no /proc)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False if Path("/proc/self").exists() else None
    except OSError:
        return None
    return b"--storage-path" in args and storage_path.encode() in args


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def engine_executable() -> str:
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


def terminate(pid: int, port: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop an engine and wait until it is gone (the next one needs its storage lock)."""
    with contextlib.suppress(ProcessLookupError):
        _signal_main_thread(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # our own child (started by this process) is reaped, not left a zombie
        # SecantusDB's accept loop notices the stop only at its next connection, else it waits 2 s for it;
        # connecting (and saying nothing) makes every stop, and so every provisioning, 2 s shorter.
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            pass
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
        time.sleep(0.05)


@functools.cache
def _tgkill() -> Callable[[int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    return getattr(ctypes.CDLL(None, use_errno=True), "tgkill", None)  # glibc >= 2.30, musl


def _signal_main_thread(pid: int, sig: int) -> None:
    """Send `sig` to the engine's main thread, the one where Python runs signal handlers.

    A signal sent to the process may land on any of the engine's ~20 threads; Python then only flags it,
    and the main thread, blocked in SecantusDB's untimed wait, never runs the handler: about one stop in
    ten hung until the SIGKILL 30 s later. Aimed at the main thread (its id is the pid), it wakes it.
    """
    tgkill = _tgkill()
    if tgkill is None or tgkill(pid, pid, sig) != 0:
        os.kill(pid, sig)
