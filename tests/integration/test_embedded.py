"""`python -m zava_core.infra.embedded`: one engine per data directory, race-free start, stop, persistence, and an
engine only we can use (--auth, a private data directory, migration of directories of earlier versions)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from zava_core.infra import embedded
from zava_core.infra.engine_files import Credentials
from zava_core.infra.engine_process import engine_executable

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_OURS = ("MONGODB_", "ZAVA_", "OPENAI_", "AZURE_OPENAI_")
PRIVATE_FILES = ("engine.json", "engine.lock", "engine.log", "engine-credentials.json")
UNAUTHORIZED = 13
AUTHENTICATION_FAILED = 18


def engine_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["ZAVA_DATA_DIR"] = str(data_dir)
    return env


def engine_command(data_dir: Path, command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zava_core.infra.embedded", command], cwd=data_dir.parent,
                          env=engine_env(data_dir), capture_output=True, text=True, timeout=120, check=False)


def engines_serving(data_dir: Path) -> list[int]:
    """Pids of live processes whose command line names this data directory's storage."""
    storage = str(data_dir / "secantus-data")
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and b"--storage-path" in args and storage.encode() in args:
            pids.append(int(proc.name))
    return sorted(pids)


def state_file(data_dir: Path) -> dict:
    return json.loads((data_dir / "engine.json").read_text())


def stored_credentials(data_dir: Path) -> Credentials:
    raw = json.loads((data_dir / "engine-credentials.json").read_text())
    return Credentials(user=raw["user"], password=raw["password"])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_refused_without_credentials(port: int) -> None:
    """A client that does not authenticate (any other local user) reads nothing."""
    with MongoClient(embedded.engine_uri(port), serverSelectionTimeoutMS=10_000) as stranger:
        for attempt in (lambda: stranger["zava_engine_test"]["notes"].find_one(),
                        lambda: stranger.admin.command("listDatabases"),
                        lambda: stranger["zava_engine_test"]["notes"].insert_one({"planted": True})):
            with pytest.raises(OperationFailure) as refused:
                attempt()
            assert refused.value.code == UNAUTHORIZED, refused.value.details


def stop_everything(directory: Path) -> None:
    embedded.stop(directory)
    for pid in engines_serving(directory):  # only engines on this test's own directory
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh data directory; whatever engine the test started on it is stopped afterwards."""
    directory = tmp_path / "zava-data"
    try:
        yield directory
    finally:
        stop_everything(directory)


# --- a first start, raced by two processes (as Claude Desktop starts both servers) -----------------

@dataclass(frozen=True)
class Raced:
    data_dir: Path
    uris: list[str]


@pytest.fixture(scope="module")
def raced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Raced]:
    """Two `uri` commands started at once on a directory that does not exist yet (one engine for the tests
    below: each start costs seconds)."""
    directory = tmp_path_factory.mktemp("raced") / "zava-data"
    command = [sys.executable, "-m", "zava_core.infra.embedded", "uri"]
    try:
        racers = [subprocess.Popen(command, cwd=directory.parent, env=engine_env(directory), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [racer.communicate(timeout=120) for racer in racers]
        assert [racer.returncode for racer in racers] == [0, 0], [err for _, err in outputs]
        yield Raced(directory, [out.strip() for out, _ in outputs])
    finally:
        stop_everything(directory)


def test_two_concurrent_starts_share_one_engine(raced: Raced) -> None:
    assert raced.uris[0] == raced.uris[1]
    uri = raced.uris[0]
    credentials = stored_credentials(raced.data_dir)
    assert uri.startswith(f"mongodb://{credentials.user}:{credentials.password}@127.0.0.1:")
    assert "directConnection=true" in uri and "authSource=admin" in uri

    state = state_file(raced.data_dir)
    assert state["auth"] is True
    assert embedded.engine_uri(state["port"], credentials) == uri
    assert pid_alive(state["pid"])
    assert engines_serving(raced.data_dir) == [state["pid"]]
    assert embedded.ping(uri, timeout_s=5)
    running = embedded.running_state(raced.data_dir)
    assert running is not None and running.uri == uri
    assert credentials.password not in repr(running)


def test_the_data_directory_and_its_files_are_private(raced: Raced) -> None:
    assert mode(raced.data_dir) == 0o700
    assert mode(raced.data_dir / "secantus-data") == 0o700
    for name in PRIVATE_FILES:
        assert mode(raced.data_dir / name) == 0o600, name
    # Written atomically through 0600 temporary copies: none is left behind.
    assert sorted(p.name for p in raced.data_dir.iterdir()) == sorted([*PRIVATE_FILES, "secantus-data",
                                                                       "engine-users"])
    # The processes using the engine, one empty 0600 file each, named by pid, in a 0700 directory.
    assert mode(raced.data_dir / "engine-users") == 0o700
    assert {mode(p) for p in (raced.data_dir / "engine-users").iterdir()} <= {0o600}
    # The engine's own files too (it runs with umask 077).
    assert {mode(p) & 0o077 for p in (raced.data_dir / "secantus-data").iterdir()} == {0}


def test_only_our_credentials_get_in(raced: Raced) -> None:
    uri, port = raced.uris[0], state_file(raced.data_dir)["port"]
    with MongoClient(uri, serverSelectionTimeoutMS=10_000) as client:
        client["zava_engine_test"]["notes"].insert_one({"_id": "ours", "n": 1})
        assert client["zava_engine_test"]["notes"].find_one({"_id": "ours"}) == {"_id": "ours", "n": 1}
    assert_refused_without_credentials(port)

    credentials = stored_credentials(raced.data_dir)
    wrong = embedded.engine_uri(port, Credentials(credentials.user, credentials.password[:-1] + "x"))
    assert not embedded.ping(wrong, timeout_s=5)  # the ping authenticates: a wrong password is not "up"
    with MongoClient(wrong, serverSelectionTimeoutMS=5_000) as client, pytest.raises(OperationFailure) as failed:
        client["zava_engine_test"]["notes"].find_one()
    assert failed.value.code == AUTHENTICATION_FAILED


def test_status_masks_the_password_and_uri_prints_it(raced: Raced) -> None:
    credentials = stored_credentials(raced.data_dir)
    state = state_file(raced.data_dir)
    status = engine_command(raced.data_dir, "status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"running: pid {state['pid']}, mongodb://***@127.0.0.1:{state['port']}/")
    assert f"user {credentials.user}" in status.stdout
    assert str(raced.data_dir / "engine-credentials.json") in status.stdout
    assert credentials.password not in status.stdout + status.stderr
    start = engine_command(raced.data_dir, "start")  # reuses the running engine, and says so the same way
    assert start.returncode == 0 and start.stdout == status.stdout
    uri = engine_command(raced.data_dir, "uri")
    assert uri.returncode == 0 and uri.stdout.strip() == raced.uris[0]  # for clients (mongosh, Compass)


# --- lifecycle ---------------------------------------------------------------------------------------

def test_status_stop_restart_and_a_lost_password(data_dir: Path) -> None:
    status = engine_command(data_dir, "status")
    assert status.returncode == 1 and status.stdout.strip() == "not running"

    start = engine_command(data_dir, "start")
    assert start.returncode == 0, start.stderr
    state = state_file(data_dir)
    assert start.stdout.startswith(f"running: pid {state['pid']}")
    credentials = stored_credentials(data_dir)
    uri = embedded.engine_uri(state["port"], credentials)

    document = {"_id": "persist-1", "note": "written before a restart", "n": 42}
    with MongoClient(uri, serverSelectionTimeoutMS=10_000) as client:
        client["zava_engine_test"]["notes"].insert_one(document)

    stop = engine_command(data_dir, "stop")  # a signal: no credentials needed
    assert stop.returncode == 0 and stop.stdout.strip() == "stopped"
    deadline = time.monotonic() + 10
    while pid_alive(state["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(state["pid"])
    assert not (data_dir / "engine.json").exists()
    assert engines_serving(data_dir) == []
    status = engine_command(data_dir, "status")
    assert status.returncode == 1 and status.stdout.strip() == "not running"
    again = engine_command(data_dir, "stop")
    assert again.returncode == 0 and again.stdout.strip() == "not running"

    restart = engine_command(data_dir, "uri")
    assert restart.returncode == 0, restart.stderr
    restarted = state_file(data_dir)
    assert restarted["pid"] != state["pid"] and restarted["auth"] is True
    assert stored_credentials(data_dir) == credentials  # the same password across restarts
    with MongoClient(restart.stdout.strip(), serverSelectionTimeoutMS=10_000) as client:
        assert client["zava_engine_test"]["notes"].find_one({"_id": "persist-1"}) == document

    # The password file is lost while the engine runs: the next start stops it, gives the user a new
    # password (the data stays) and the old one no longer gets in.
    (data_dir / "engine-credentials.json").unlink()
    assert embedded.running_state(data_dir) is None
    renewed = embedded.ensure_running(data_dir)
    assert renewed.pid != restarted["pid"] and not pid_alive(restarted["pid"])
    assert renewed.credentials == stored_credentials(data_dir) != credentials
    with MongoClient(renewed.uri, serverSelectionTimeoutMS=10_000) as client:
        assert client["zava_engine_test"]["notes"].find_one({"_id": "persist-1"}) == document
    assert not embedded.ping(embedded.engine_uri(renewed.port, credentials), timeout_s=5)
    assert engines_serving(data_dir) == [renewed.pid]


def test_stale_state_file_is_replaced(data_dir: Path) -> None:
    # A state file left behind by an engine that is gone (a crash, a reboot) must not be trusted.
    data_dir.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale_pid = int(dead.stdout)
    (data_dir / "engine.json").write_text(json.dumps(
        {"pid": stale_pid, "port": 1, "storage_path": str(data_dir / "secantus-data"), "auth": True}))
    status = engine_command(data_dir, "status")
    assert status.returncode == 1
    result = engine_command(data_dir, "uri")
    assert result.returncode == 0, result.stderr
    state = state_file(data_dir)
    assert state["pid"] != stale_pid and pid_alive(state["pid"])
    assert embedded.ping(result.stdout.strip(), timeout_s=5)


# --- a data directory of an earlier version -----------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_the_old_way(data_dir: Path) -> tuple[subprocess.Popen, int]:
    """What earlier versions left: 0755/0644, no password, an engine running without --auth."""
    data_dir.mkdir(parents=True)
    data_dir.chmod(0o755)
    storage, port = data_dir / "secantus-data", _free_port()
    storage.mkdir()
    log = data_dir / "engine.log"
    with open(log, "ab") as handle:
        process = subprocess.Popen([engine_executable(), "--host", "127.0.0.1",
                                    "--port", str(port), "--storage-path", str(storage), "--log-level", "WARNING"],
                                   stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not embedded.ping(embedded.engine_uri(port), timeout_s=0.5):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
        time.sleep(0.1)
    (data_dir / "engine.json").write_text(json.dumps({"pid": process.pid, "port": port,
                                                      "storage_path": str(storage)}))
    (data_dir / "engine.lock").touch()
    for name in ("engine.json", "engine.lock", "engine.log"):
        (data_dir / name).chmod(0o644)
    return process, port


def test_an_old_data_directory_is_migrated_keeping_its_data(data_dir: Path) -> None:
    old, old_port = start_the_old_way(data_dir)
    document = {"_id": "from-before", "note": "written when the engine took anyone"}
    with MongoClient(embedded.engine_uri(old_port), serverSelectionTimeoutMS=10_000) as client:
        client["zava_engine_test"]["notes"].insert_one(document)
        # Anyone could also have made themselves a user while it ran open.
        client["zava_engine_test"].command("createUser", "intruder", pwd="let-me-in-later",
                                           roles=[{"role": "readWrite", "db": "zava_engine_test"}])
    # An engine without --auth is not one we report as usable.
    assert embedded.running_state(data_dir) is None

    state = embedded.ensure_running(data_dir)

    assert old.wait(timeout=10) is not None  # the open engine was stopped, not left beside the new one
    assert state.pid != old.pid and engines_serving(data_dir) == [state.pid]
    assert state_file(data_dir)["auth"] is True and state.credentials == stored_credentials(data_dir)
    with MongoClient(state.uri, serverSelectionTimeoutMS=10_000) as client:
        assert client["zava_engine_test"]["notes"].find_one({"_id": "from-before"}) == document
        users = [(u["user"], u["db"]) for u in client.admin["system.users"].find({}, {"user": 1, "db": 1})]
    assert users == [(state.credentials.user, "admin")]  # the intruder's user is gone
    assert_refused_without_credentials(state.port)
    intruder = f"mongodb://intruder:let-me-in-later@127.0.0.1:{state.port}/?directConnection=true" \
               "&authSource=zava_engine_test"
    assert not embedded.ping(intruder, timeout_s=5)
    assert mode(data_dir) == 0o700 and mode(data_dir / "secantus-data") == 0o700
    for name in PRIVATE_FILES:
        assert mode(data_dir / name) == 0o600, name
    log = (data_dir / "engine.log").read_text()
    assert "dropped users created while the engine ran without authentication: intruder@zava_engine_test" in log
    assert state.credentials.password not in log


def test_unknown_command_prints_usage(tmp_path: Path) -> None:
    result = engine_command(tmp_path / "zava-data", "restart")
    assert result.returncode == 2
    assert result.stderr.strip() == "usage: python -m zava_core.infra.embedded start|stop|status|uri"
    assert not (tmp_path / "zava-data").exists()


def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    # /tmp-like: someone else created the directory first. Its owner could read whatever we wrote.
    directory = tmp_path / "theirs"
    directory.mkdir()
    owner = 0 if os.getuid() != 0 else 65534
    try:
        os.chown(directory, owner, -1)
    except PermissionError:
        pytest.skip("cannot give a directory away here")
    with pytest.raises(embedded.EngineError, match="belongs to another user"):
        embedded.ensure_running(directory)
    assert sorted(directory.iterdir()) == []
