"""Which processes of ours use the embedded engine of a data directory: one lease file per process, named by
its pid, in `<data dir>/engine-users/` (0700; taken before the engine is started or found, removed at exit).

A server that fails to start stops the engine it started itself, but only when no other live process holds a
lease: Claude Desktop starts both servers at once, and one with a typo in its `--store` must not take the
engine away from the other. A lease whose process is gone (killed, crashed) is removed when found.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from pathlib import Path

from zava_core.infra.engine_files import open_private, secure_dir
from zava_core.infra.engine_process import pid_alive

USERS_DIR = "engine-users"
_held: set[Path] = set()


def hold(data_dir: Path) -> None:
    """Take this process's lease on the engine of `data_dir` (once; released at exit)."""
    lease = Path(data_dir) / USERS_DIR / str(os.getpid())
    if lease in _held:
        return
    secure_dir(lease.parent)
    os.close(open_private(lease, os.O_WRONLY | os.O_CREAT))
    _held.add(lease)
    atexit.register(_release, lease)


def _release(lease: Path) -> None:
    with contextlib.suppress(OSError):
        lease.unlink()
    _held.discard(lease)


def others(data_dir: Path) -> list[int]:
    """The live processes other than this one that hold a lease (stale leases are removed)."""
    directory = Path(data_dir) / USERS_DIR
    found = []
    for lease in directory.iterdir() if directory.is_dir() else ():
        if not lease.name.isdigit() or int(lease.name) == os.getpid():
            continue
        if pid_alive(int(lease.name)):
            found.append(int(lease.name))
        else:
            with contextlib.suppress(OSError):
                lease.unlink()
    return found
