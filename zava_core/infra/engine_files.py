"""The embedded engine's files: a 0700 data directory, 0600 files, the state record and the credentials.

Everything here guards against the other users of the machine. The data directory holds the engine's
storage, its port (engine.json) and the password every process of ours connects with, so it is created
0700 and every file we write in it 0600, with that mode from creation: a file written first and narrowed
after is readable by anyone in between. Files are replaced atomically (a 0600 temporary copy, then a
rename), so a reader never sees half a file and a crash never leaves a truncated password behind.
Directories and files left wider by earlier versions are narrowed on the next start.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from zava_core.errors import ErrorCode, ZavaError

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
CREDENTIALS_FILE = "engine-credentials.json"
ENGINE_USER = "zava-engine"
# Never follow a symlink someone planted in place of one of our files; never leak a descriptor to the engine.
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


class EngineError(ZavaError, RuntimeError):
    """The embedded engine could not be started or reached; the message says what to do."""

    code = ErrorCode.UNAVAILABLE


@dataclass(frozen=True)
class Credentials:
    """The engine's one user, with the root role on admin: every process of ours connects as it."""

    user: str
    password: str = field(repr=False)  # kept out of reprs, tracebacks and debug logs


@dataclass(frozen=True)
class EnginePaths:
    data_dir: Path
    state: Path  # engine.json: the running engine's pid and port
    lock: Path  # held around "read the state, check the engine, start one"
    storage: Path
    log: Path
    credentials: Path

    @classmethod
    def of(cls, data_dir: Path) -> EnginePaths:
        # Absolute: the engine runs with the data directory as its working directory.
        root = Path(data_dir).absolute()
        return cls(root, root / "engine.json", root / "engine.lock", root / "secantus-data", root / "engine.log",
                   root / CREDENTIALS_FILE)


@dataclass(frozen=True)
class Recorded:
    """What engine.json says: the engine's process and port, and whether it was started with --auth."""

    pid: int
    port: int
    storage_path: str
    auth: bool


def secure_dir(path: Path) -> None:
    """Create `path` 0700, or narrow it to 0700 if it exists; refuse a directory another user owns."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise EngineError(f"{path} is not a directory: set ZAVA_DATA_DIR to a directory of your own")
    if info.st_uid != os.getuid():
        # Its owner could read our password and storage whatever mode we asked for.
        raise EngineError(f"{path} belongs to another user (uid {info.st_uid}): set ZAVA_DATA_DIR to a directory "
                          "of your own")
    # mkdir's mode is cut by the umask, and a directory of an earlier version is 0755: set it exactly.
    if stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE)


def narrow(path: Path) -> None:
    """Narrow an existing regular file of ours to 0600 (files written by earlier versions were 0644)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) != PRIVATE_FILE_MODE:
        os.chmod(path, PRIVATE_FILE_MODE)


def open_private(path: Path, flags: int) -> int:
    """Open (creating it 0600 if missing) a file we append to or lock; an existing wider one is narrowed."""
    fd = os.open(path, flags | os.O_CREAT | _OPEN_FLAGS, PRIVATE_FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically; the file is 0600 from its creation on."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename itself must survive a crash: a password provisioned into the engine but lost from disk
    # would lock us out of our own data until the next start provisions a new one.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_private(path: Path) -> str | None:
    """The text of one of our files, or None if it is missing (never following a symlink)."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return None
    with os.fdopen(fd, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def load_credentials(path: Path) -> Credentials | None:
    """The stored credentials; None if missing or unreadable (the next start then provisions new ones)."""
    try:
        text = read_private(path)
        raw = json.loads(text) if text is not None else None
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    user, password = raw.get("user"), raw.get("password")
    if not isinstance(user, str) or not user or not isinstance(password, str) or not password:
        return None
    return Credentials(user=user, password=password)


def create_credentials(path: Path) -> Credentials:
    """A new random password for the engine's user, stored 0600 before the engine is told about it."""
    credentials = Credentials(user=ENGINE_USER, password=secrets.token_urlsafe(32))
    write_private(path, json.dumps({"user": credentials.user, "password": credentials.password}) + "\n")
    return credentials


def read_state(path: Path) -> Recorded | None:
    """The recorded engine; files of earlier versions have no "auth" (they started it open)."""
    try:
        raw = json.loads(read_private(path) or "null")
        return Recorded(pid=int(raw["pid"]), port=int(raw["port"]), storage_path=str(raw["storage_path"]),
                        auth=raw.get("auth") is True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_state(path: Path, recorded: Recorded) -> None:
    write_private(path, json.dumps({"pid": recorded.pid, "port": recorded.port,
                                    "storage_path": recorded.storage_path, "auth": recorded.auth}))


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock on `lock_path` (created 0600), released when the block ends."""
    fd = open_private(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def note(log_path: Path, line: str) -> None:
    """A line of ours in the engine's log, beside its own (the CLI's output stays as scripts expect it)."""
    fd = open_private(log_path, os.O_WRONLY | os.O_APPEND)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} zava: {line}\n")


def tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "no log"
