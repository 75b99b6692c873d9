"""The embedded engine's files: a 0700 directory, 0600 files from creation on, credentials kept out of sight."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from zava_core.infra import embedded
from zava_core.infra.engine_files import (
    CREDENTIALS_FILE,
    ENGINE_USER,
    Credentials,
    EngineError,
    create_credentials,
    load_credentials,
    narrow,
    open_private,
    read_state,
    secure_dir,
    write_private,
)
from zava_core.infra.redaction import display_uri, redact


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The widest umask: whatever is created private is so by its own mode, not by the caller's umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_secure_dir_creates_0700_and_narrows_an_existing_directory(tmp_path: Path, open_umask: None) -> None:
    fresh = tmp_path / "a" / "data"
    secure_dir(fresh)
    assert mode(fresh) == 0o700
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    secure_dir(old)
    assert mode(old) == 0o700


def test_secure_dir_refuses_a_directory_of_another_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getuid", lambda: os.stat(tmp_path).st_uid + 1)
    with pytest.raises(EngineError, match="belongs to another user"):
        secure_dir(tmp_path)


def test_secure_dir_refuses_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises((EngineError, FileExistsError)):
        secure_dir(path)


def test_write_private_is_0600_from_creation_and_leaves_no_temporary_copy(
        tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "engine.json"
    target.write_text("old")
    target.chmod(0o644)
    seen: list[int] = []
    real_replace = os.replace

    def replace_and_look(src: str | os.PathLike, dst: str | os.PathLike) -> None:
        seen.append(mode(Path(src)))  # the copy about to become the file: already 0600, already complete
        assert Path(src).read_text() == "new"
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_and_look)
    write_private(target, "new")
    monkeypatch.undo()
    assert seen == [0o600]
    assert target.read_text() == "new" and mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine.json"]


def test_open_private_creates_0600_narrows_and_never_follows_a_symlink(tmp_path: Path, open_umask: None) -> None:
    log = tmp_path / "engine.log"
    os.close(open_private(log, os.O_WRONLY | os.O_APPEND))
    assert mode(log) == 0o600
    log.chmod(0o644)
    os.close(open_private(log, os.O_WRONLY | os.O_APPEND))
    assert mode(log) == 0o600
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("")
    planted = tmp_path / "engine.lock"
    planted.symlink_to(elsewhere)
    with pytest.raises(OSError):
        open_private(planted, os.O_RDWR)


def test_narrow_tightens_regular_files_only(tmp_path: Path) -> None:
    loose = tmp_path / "engine.json"
    loose.write_text("{}")
    loose.chmod(0o644)
    narrow(loose)
    assert mode(loose) == 0o600
    narrow(tmp_path / "missing")  # nothing to do, no error


def test_credentials_round_trip_and_stay_out_of_reprs(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / CREDENTIALS_FILE
    assert load_credentials(path) is None
    created = create_credentials(path)
    assert created.user == ENGINE_USER and len(created.password) >= 40
    assert mode(path) == 0o600
    assert load_credentials(path) == created
    assert created.password not in repr(created)
    state = embedded.EngineState(pid=1, port=27017, storage_path="/x", credentials=created)
    assert created.password not in repr(state)
    assert create_credentials(tmp_path / "other").password != created.password


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"user": "zava-engine"}', '{"user": "", "password": "x"}'])
def test_unreadable_credentials_count_as_missing(tmp_path: Path, text: str) -> None:
    path = tmp_path / CREDENTIALS_FILE
    path.write_text(text)
    assert load_credentials(path) is None  # the next start then provisions a new password


def test_engine_uri_carries_encoded_credentials_and_display_masks_them() -> None:
    credentials = Credentials(user="zava-engine", password="p@ss/w:rd?#")
    uri = embedded.engine_uri(27017, credentials)
    assert uri == ("mongodb://zava-engine:p%40ss%2Fw%3Ard%3F%23@127.0.0.1:27017/"
                   "?directConnection=true&authSource=admin")
    assert display_uri(uri) == "mongodb://***@127.0.0.1:27017/?directConnection=true&authSource=admin"
    assert "p%40ss" not in redact(f"cannot reach {uri}")
    assert embedded.engine_uri(27017) == "mongodb://127.0.0.1:27017/?directConnection=true"


def test_state_files_of_earlier_versions_read_as_started_without_auth(tmp_path: Path) -> None:
    path = tmp_path / "engine.json"
    path.write_text(json.dumps({"pid": 12, "port": 3456, "storage_path": "/s"}))
    recorded = read_state(path)
    assert recorded is not None and (recorded.pid, recorded.port, recorded.auth) == (12, 3456, False)
    path.write_text(json.dumps({"pid": 12, "port": 3456, "storage_path": "/s", "auth": True}))
    assert read_state(path).auth is True  # type: ignore[union-attr]
    path.write_text("{")
    assert read_state(path) is None
