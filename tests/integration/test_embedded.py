"""`python -m zava_core.embedded`: one engine per data directory, race-free start, stop, persistence."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymongo import MongoClient

from zava_core import embedded

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_OURS = ("MONGODB_", "ZAVA_", "OPENAI_", "AZURE_OPENAI_")


def engine_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["ZAVA_DATA_DIR"] = str(data_dir)
    return env


def engine_command(data_dir: Path, command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zava_core.embedded", command], cwd=data_dir.parent,
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


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def data_dir(tmp_path: Path):
    """A fresh data directory; whatever engine the test started on it is stopped afterwards."""
    directory = tmp_path / "zava-data"
    try:
        yield directory
    finally:
        embedded.stop(directory)
        for pid in engines_serving(directory):  # only engines on this test's own directory
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_two_concurrent_starts_share_one_engine(data_dir: Path) -> None:
    command = [sys.executable, "-m", "zava_core.embedded", "uri"]
    racers = [subprocess.Popen(command, cwd=data_dir.parent, env=engine_env(data_dir), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], [err for _, err in outputs]
    uris = [out.strip() for out, _ in outputs]
    assert uris[0] == uris[1]
    assert uris[0].startswith("mongodb://127.0.0.1:") and "directConnection=true" in uris[0]

    state = state_file(data_dir)
    assert embedded.engine_uri(state["port"]) == uris[0]
    assert pid_alive(state["pid"])
    assert engines_serving(data_dir) == [state["pid"]]
    assert embedded.ping(uris[0], timeout_s=5)


def test_status_stop_and_persistence(data_dir: Path) -> None:
    status = engine_command(data_dir, "status")
    assert status.returncode == 1 and status.stdout.strip() == "not running"

    start = engine_command(data_dir, "start")
    assert start.returncode == 0, start.stderr
    state = state_file(data_dir)
    assert start.stdout.startswith(f"running: pid {state['pid']}")

    status = engine_command(data_dir, "status")
    assert status.returncode == 0, status.stderr
    assert f"pid {state['pid']}" in status.stdout
    uri = embedded.engine_uri(state["port"])
    assert uri in status.stdout

    document = {"_id": "persist-1", "note": "written before a restart", "n": 42}
    with MongoClient(uri, serverSelectionTimeoutMS=10_000) as client:
        client["zava_engine_test"]["notes"].insert_one(document)

    stop = engine_command(data_dir, "stop")
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
    new_uri = restart.stdout.strip()
    assert state_file(data_dir)["pid"] != state["pid"]
    with MongoClient(new_uri, serverSelectionTimeoutMS=10_000) as client:
        assert client["zava_engine_test"]["notes"].find_one({"_id": "persist-1"}) == document


def test_stale_state_file_is_replaced(data_dir: Path) -> None:
    # A state file left behind by an engine that is gone (a crash, a reboot) must not be trusted.
    data_dir.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale_pid = int(dead.stdout)
    (data_dir / "engine.json").write_text(json.dumps(
        {"pid": stale_pid, "port": 1, "storage_path": str(data_dir / "secantus-data")}))
    status = engine_command(data_dir, "status")
    assert status.returncode == 1
    result = engine_command(data_dir, "uri")
    assert result.returncode == 0, result.stderr
    state = state_file(data_dir)
    assert state["pid"] != stale_pid and pid_alive(state["pid"])
    assert embedded.ping(result.stdout.strip(), timeout_s=5)


def test_unknown_command_prints_usage(tmp_path: Path) -> None:
    result = engine_command(tmp_path / "zava-data", "restart")
    assert result.returncode == 2
    assert result.stderr.strip() == "usage: python -m zava_core.embedded start|stop|status|uri"
    assert not (tmp_path / "zava-data").exists()
