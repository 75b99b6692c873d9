"""The embedded MongoDB-compatible engine (SecantusDB), run as a separate process.

This is the only module that knows the engine exists. Seeding and both MCP servers share one
engine per data directory: the first process that needs it starts it, the others reuse it.
Starting is race-free (Claude Desktop launches both servers at once, and WiredTiger allows one
process per storage directory): "read the state file, check the engine, start if needed" runs under
an exclusive file lock, so the loser of a race finds the winner's engine and connects to it.

The engine takes only us. It listens on 127.0.0.1, where every local user can reach it, so it runs
with `--auth` and one user (root on admin) whose random password lives 0600 in the 0700 data
directory (zava_core/infra/engine_files.py); `EngineState.uri` carries it. SecantusDB provisions users only
while it runs without `--auth`, so on the first start (and when the password file is lost) the
engine runs open for under a second, on a fresh loopback port, to create the user, then restarts
with `--auth`; any other user found then was created by someone else while it was open and is
dropped. A data directory of an earlier version (no password, an open engine running) is migrated
that way on its next start, keeping its data.

SecantusDB is GPL-2.0: we run its command (`secantusd-py`), we never import it.

    python -m zava_core.infra.embedded start|stop|status|uri
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from zava_core.infra import engine_users
from zava_core.infra.config import ConfigError, Settings
from zava_core.infra.engine_files import (
    Credentials,
    EngineError,
    EnginePaths,
    Recorded,
    create_credentials,
    load_credentials,
    locked,
    narrow,
    note,
    open_private,
    read_state,
    secure_dir,
    tail,
    write_state,
)
from zava_core.infra.engine_process import (  # ENGINE_COMMAND: callers (doctor's tests) read it here
    ENGINE_COMMAND,  # noqa: F401
    HOST,
    OPLOG_FLAGS,
    STOP_TIMEOUT_S,
    engine_executable,
    free_port,
    is_our_engine,
    pid_alive,
    terminate,
)
from zava_core.infra.redaction import display_uri, mask_secrets

START_TIMEOUT_S = 60.0
# root on admin: seeding creates collections and indexes and enables pre/post images (collMod) in any database.
ENGINE_ROLES = [{"role": "root", "db": "admin"}]
_USER_EXISTS = 51003  # SecantusDB's code for createUser of an existing user
_UNAUTHORIZED = 13
_started_here: set[Path] = set()  # data directories whose engine this process started


@dataclass(frozen=True)
class EngineState:
    pid: int
    port: int
    storage_path: str
    credentials: Credentials | None = field(default=None, repr=False, compare=False)

    @property
    def uri(self) -> str:
        return engine_uri(self.port, self.credentials)


def engine_uri(port: int, credentials: Credentials | None = None) -> str:
    """The connection string of the engine on `port`, authenticating as `credentials` when given."""
    if credentials is None:
        return f"mongodb://{HOST}:{port}/?directConnection=true"
    userinfo = f"{quote(credentials.user, safe='')}:{quote(credentials.password, safe='')}"
    return f"mongodb://{userinfo}@{HOST}:{port}/?directConnection=true&authSource=admin"


def ping(uri: str, timeout_s: float = 1.0) -> bool:
    """Whether a server answers at `uri`; with credentials in it the driver authenticates first, so a
    wrong password is False too (`ping` itself needs no authentication)."""
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=int(timeout_s * 1000), connect=False)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _authenticates(state: EngineState, timeout_s: float = 5.0) -> bool:
    """Whether the engine accepts our credentials (SCRAM also proves the server knows them)."""
    if state.credentials is None:
        return False
    client: MongoClient = MongoClient(state.uri, serverSelectionTimeoutMS=int(timeout_s * 1000), connect=False)
    try:
        users = client.admin.command("connectionStatus")["authInfo"]["authenticatedUsers"]
        return {"user": state.credentials.user, "db": "admin"} in users
    except (PyMongoError, KeyError, TypeError):
        return False
    finally:
        client.close()


def _refuses_strangers(port: int, timeout_s: float = 5.0) -> bool:
    """Whether the engine on `port` refuses a client without credentials (that is, runs with --auth)."""
    client: MongoClient = MongoClient(engine_uri(port), serverSelectionTimeoutMS=int(timeout_s * 1000), connect=False)
    try:
        client.admin.command("connectionStatus")  # not a handshake command: needs authentication under --auth
        return False
    except OperationFailure as exc:
        return exc.code == _UNAUTHORIZED
    except PyMongoError:
        return False
    finally:
        client.close()


def _usable(state: EngineState, deadline: float) -> bool:
    """Whether the recorded engine answers, accepts our credentials and refuses everyone else."""
    return _wait_until_up(state.port, deadline) and _authenticates(state) and _refuses_strangers(state.port)


def running_state(data_dir: Path) -> EngineState | None:
    """The engine serving `data_dir`, if one is up, takes our credentials and refuses others (never starts one)."""
    paths = EnginePaths.of(data_dir)
    recorded = read_state(paths.state)
    credentials = load_credentials(paths.credentials)
    if recorded is None or credentials is None or not recorded.auth or not pid_alive(recorded.pid):
        return None
    state = EngineState(recorded.pid, recorded.port, recorded.storage_path, credentials)
    return state if _usable(state, deadline=time.monotonic() + 1.0) else None


def ensure_running(data_dir: Path) -> EngineState:
    """Return the running engine for `data_dir`, starting (and if needed provisioning) one if none is usable."""
    paths = EnginePaths.of(data_dir)
    secure_dir(paths.data_dir)
    engine_users.hold(paths.data_dir)  # before the lock: a process that stops its engine sees us waiting
    with locked(paths.lock):
        for path in (paths.state, paths.log, paths.credentials):
            narrow(path)
        credentials = load_credentials(paths.credentials)
        recorded = read_state(paths.state)
        if recorded is not None:
            if pid_alive(recorded.pid):
                state = EngineState(recorded.pid, recorded.port, recorded.storage_path, credentials)
                if recorded.auth and _usable(state, deadline=time.monotonic() + 5.0):
                    return state
                # An engine we cannot use as it is, but that holds the storage: one an earlier version started
                # without --auth, or one that refuses our password (its file was lost). A live pid that is not
                # an engine on our storage (reused after a reboot) is left alone.
                ours = is_our_engine(recorded.pid, recorded.storage_path)
                if ours or (ours is None and ping(engine_uri(recorded.port))):
                    terminate(recorded.pid, recorded.port)
            paths.state.unlink(missing_ok=True)
        secure_dir(paths.storage)
        provisioned = False
        if credentials is None:
            # First start, or an earlier version's directory: a new password, stored before the engine has it,
            # so a crash in between leaves a password the next start provisions again (below).
            credentials = create_credentials(paths.credentials)
            _provision(paths, credentials)
            provisioned = True
        while True:
            state = _start(paths, credentials, auth=True)
            if _authenticates(state):
                break
            terminate(state.pid, state.port)
            paths.state.unlink(missing_ok=True)
            if provisioned:
                raise EngineError(f"the embedded engine refuses the password it was just given; see {paths.log}")
            # The stored password never reached the engine (a crash while provisioning, a replaced storage).
            _provision(paths, credentials)
            provisioned = True
        if provisioned:
            _drop_foreign_users(paths, state, credentials)
        _started_here.add(paths.data_dir)
        return state


def _start(paths: EnginePaths, credentials: Credentials | None, *, auth: bool) -> EngineState:
    """Start an engine on a fresh loopback port and wait until it answers; it is recorded at once."""
    port = free_port()
    log_fd = open_private(paths.log, os.O_WRONLY | os.O_APPEND)
    try:
        process = subprocess.Popen(
            [engine_executable(), "--host", HOST, "--port", str(port), "--storage-path", str(paths.storage),
             "--log-level", "WARNING", *OPLOG_FLAGS, *(["--auth"] if auth else [])],
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            # The engine finds ./secantusd.toml in its working directory: ours, where nobody else can put one.
            cwd=paths.data_dir,
            umask=0o077,  # WiredTiger's files: 0600, whatever the caller's umask
            start_new_session=True,  # the engine outlives the process that started it
        )
    finally:
        os.close(log_fd)
    state = EngineState(pid=process.pid, port=port, storage_path=str(paths.storage), credentials=credentials)
    # Recorded before it answers: should we die now, the next start finds it (and stops an open one).
    write_state(paths.state, Recorded(state.pid, state.port, state.storage_path, auth=auth))
    if not _wait_until_up(port, deadline=time.monotonic() + START_TIMEOUT_S, process=process):
        code = process.poll()
        terminate(process.pid, port)
        paths.state.unlink(missing_ok=True)
        last = mask_secrets(tail(paths.log), (credentials.password,) if credentials else ())
        what = f"exited at start (code {code})" if code is not None else f"did not start within {START_TIMEOUT_S:.0f} s"
        raise EngineError(f"the embedded engine {what}; see {paths.log} (last lines: {last})")
    return state


def _wait_until_up(port: int, deadline: float, process: subprocess.Popen | None = None) -> bool:
    # An unauthenticated ping: a handshake command, answered with and without --auth alike.
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        if ping(engine_uri(port), timeout_s=0.5):
            return True
        time.sleep(0.1)
    return False


def _provision(paths: EnginePaths, credentials: Credentials) -> None:
    """Create (or reset the password and roles of) our user, on an engine run without --auth just for that."""
    state = _start(paths, None, auth=False)
    try:
        with MongoClient(state.uri, serverSelectionTimeoutMS=10_000) as client:
            user = {"pwd": credentials.password, "roles": ENGINE_ROLES}
            try:
                client.admin.command("createUser", credentials.user, mechanisms=["SCRAM-SHA-256"], **user)
            except OperationFailure as exc:
                if exc.code != _USER_EXISTS:  # an earlier provisioning whose password file was then lost
                    raise
                client.admin.command("updateUser", credentials.user, **user)
    except PyMongoError as exc:
        reason = mask_secrets(str(exc), (credentials.password,))[:300]
        raise EngineError(f"could not create the embedded engine's user: {reason}") from None
    finally:
        terminate(state.pid, state.port)  # open no longer than needed
        paths.state.unlink(missing_ok=True)
    note(paths.log, f"user {credentials.user} provisioned; restarting with --auth")


def _drop_foreign_users(paths: EnginePaths, state: EngineState, credentials: Credentials) -> None:
    """Drop every user but ours, after a provisioning.

    Until then the engine took anyone: earlier versions never ran it with --auth, and it ran open while our
    user was created. Any other user was made by someone in that time, and would let them in for good.
    """
    ours = (credentials.user, "admin")
    try:
        with MongoClient(state.uri, serverSelectionTimeoutMS=10_000) as client:
            found = [(u.get("user"), u.get("db")) for u in client.admin["system.users"].find({}, {"user": 1, "db": 1})]
            foreign = [(user, db) for user, db in found if (user, db) != ours]
            for user, db in foreign:
                client[db].command("dropUser", user)
    except PyMongoError as exc:
        # Fail closed; without the password file the next start provisions (and drops) again.
        terminate(state.pid, state.port)
        paths.state.unlink(missing_ok=True)
        paths.credentials.unlink(missing_ok=True)
        raise EngineError(f"could not check the embedded engine's users: {str(exc)[:300]}") from None
    if foreign:
        note(paths.log, "dropped users created while the engine ran without authentication: "
              + ", ".join(f"{user}@{db}" for user, db in foreign))


def stop(data_dir: Path, timeout_s: float = STOP_TIMEOUT_S, *, unless_in_use: bool = False) -> bool:
    """Stop the engine for `data_dir`; True if one was running. `unless_in_use`: leave it to the other processes
    of ours that use it, if any."""
    paths = EnginePaths.of(data_dir)
    if not paths.data_dir.is_dir():
        return False
    with locked(paths.lock):
        if unless_in_use and engine_users.others(paths.data_dir):
            return False
        recorded = read_state(paths.state)
        paths.state.unlink(missing_ok=True)
        if recorded is None or not pid_alive(recorded.pid):
            return False
        if is_our_engine(recorded.pid, recorded.storage_path) is False:
            return False  # the pid was reused by another process (after a reboot): not ours to kill
        terminate(recorded.pid, recorded.port, timeout_s)
        return True


def stop_if_started_here() -> list[Path]:
    """Stop the engines this process started, each unless another process of ours uses it: for a server that
    failed to start (a user who fixes the cause and starts again gets a fresh engine)."""
    stopped = [d for d in sorted(_started_here) if stop(d, unless_in_use=True)]
    _started_here.clear()
    return stopped


def _describe(state: EngineState, data_dir: Path) -> str:
    # display_uri: the password never reaches a terminal or a log; `uri` prints it, for clients to use.
    user = state.credentials.user if state.credentials else "?"
    return (f"running: pid {state.pid}, {display_uri(state.uri)}, data {state.storage_path}, "
            f"user {user} (password in {EnginePaths.of(data_dir).credentials})")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in {"start", "stop", "status", "uri"}:
        print("usage: python -m zava_core.infra.embedded start|stop|status|uri", file=sys.stderr)
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
            print(state.uri if command == "uri" else _describe(state, data_dir))
            return 0
        if command == "stop":
            print("stopped" if stop(data_dir) else "not running")
            return 0
        state = running_state(data_dir)
        print(_describe(state, data_dir) if state else "not running")
        return 0 if state else 1
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
