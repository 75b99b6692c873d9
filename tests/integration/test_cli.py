"""`python -m seeding` as a user runs it: one-line errors, verify's summary, refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from seeded_data import SEEDED_DATABASE, TEST_AS_OF, TEST_SEED

from seeding.verify import collect_checks
from zava_core.model import META, STATE_ID
from zava_core.store import Collections

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_OURS = ("MONGODB_", "ZAVA_", "OPENAI_", "AZURE_OPENAI_")


def cli_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The caller's environment without any of our settings, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["ZAVA_DATA_DIR"] = str(tmp_path / "zava-data")  # never the user's engine
    env.update(values)
    return env


def run_module(module: str, tmp_path: Path, args: list[str], **values: str) -> subprocess.CompletedProcess:
    # cwd is a temporary directory, so no `.env` of the project is read.
    return subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, env=cli_env(tmp_path, **values),
                          capture_output=True, text=True, timeout=300, check=False)


def run_seeding(tmp_path: Path, args: list[str], **values: str) -> subprocess.CompletedProcess:
    return run_module("seeding", tmp_path, args, **values)


def run_ops(tmp_path: Path, args: list[str], **values: str) -> subprocess.CompletedProcess:
    return run_module("zava_ops", tmp_path, args, **values)


@pytest.mark.parametrize("command", ["doctor", "indexes", "change-streams", "clear", "ditto-config", "ditto-check",
                                     "encode-password"])
def test_operator_commands_moved_say_where(tmp_path: Path, command: str) -> None:
    """An operator command asked of `python -m seeding` names its new home in one line, and nothing runs."""
    result = run_seeding(tmp_path, [command, "list"] if command == "indexes" else [command])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: `{command}` moved: run `python -m zava_ops {command}{' list' if command == 'indexes' else ''}`"]


SMALL_RUN = ["--scale", "small", "--seed", str(TEST_SEED), "--as-of", TEST_AS_OF.isoformat(), "--skip-embeddings",
             "--quiet"]


@pytest.mark.parametrize(
    ("args", "variable", "value", "secret"),
    [
        (SMALL_RUN, "MONGODB_URI", "http://db.example.com:27017", None),
        (SMALL_RUN, "MONGODB_URI", "mongodb://admin:Zp@ssw0rd@db.example.com:27017/", "ssw0rd"),
        (SMALL_RUN, "MONGODB_URI", "mongodb://admin:Zsecret9@db.example.com:99999/", "Zsecret9"),
        (SMALL_RUN, "MONGODB_DATABASE", "zava.test", None),
        (SMALL_RUN, "ZAVA_EMBEDDING_BACKEND", "word2vec", None),
        (["verify"], "MONGODB_URI", "mongodb://admin:Zp@ssw0rd@db.example.com:27017/", "ssw0rd"),
        (["embed"], "MONGODB_URI", "mongo://db.example.com", None),
    ],
    ids=["scheme", "unencoded-at", "bad-port", "database", "backend", "verify", "embed"],
)
def test_malformed_setting_is_one_line_on_stderr(tmp_path: Path, args: list[str], variable: str, value: str,
                                                 secret: str | None) -> None:
    result = run_seeding(tmp_path, args, **{variable: value})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert variable in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    if secret:
        assert secret not in result.stderr
    assert not (tmp_path / "zava-data").exists(), "no engine is started for a malformed setting"


@pytest.mark.anyio
@pytest.mark.parametrize("quiet", [False, True], ids=["full", "quiet"])
async def test_verify_prints_the_checks_and_their_summary(mongo_uri: str, seeded_db, tmp_path: Path,
                                                          quiet: bool) -> None:
    checks = await collect_checks(Collections(seeded_db))
    failed = [c for c in checks if not c.ok]
    args = ["verify", "--quiet"] if quiet else ["verify"]
    result = await anyio.to_thread.run_sync(lambda: run_seeding(
        tmp_path, args, MONGODB_URI=mongo_uri, MONGODB_DATABASE=SEEDED_DATABASE))
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    summary = f"{len(checks) - len(failed)} of {len(checks)} checks within tolerance"
    if failed:
        summary += f"; {len(failed)} off: {', '.join(c.name for c in failed)}"
    assert lines[-1] == summary
    # A correct dataset passes every check, and verify says so with exit 0.
    assert not failed
    assert result.returncode == 0
    shown = lines[:-1]
    expected = [c for c in checks if not quiet or not c.ok]
    assert len(shown) == len(expected)
    for line, check in zip(shown, expected, strict=True):
        assert line.startswith("ok  " if check.ok else "FAIL")
        assert check.name in line


@pytest.mark.anyio
async def test_same_parameters_again_is_reported_as_already_seeded(mongo_uri: str, seeded_db, tmp_path: Path) -> None:
    before = await seeded_db.get_collection(META).find_one({"_id": STATE_ID})
    result = await anyio.to_thread.run_sync(lambda: run_seeding(
        tmp_path, SMALL_RUN, MONGODB_URI=mongo_uri, MONGODB_DATABASE=SEEDED_DATABASE))
    assert result.returncode == 0, result.stderr
    assert "already holds this dataset" in result.stdout
    assert await seeded_db.get_collection(META).find_one({"_id": STATE_ID}) == before


@pytest.mark.anyio
async def test_other_parameters_are_refused_with_exit_3(mongo_uri: str, seeded_db, tmp_path: Path) -> None:
    before = await seeded_db.get_collection(META).find_one({"_id": STATE_ID})
    orders_before = await seeded_db.orders.count_documents({})
    other = [*SMALL_RUN]
    other[other.index("--seed") + 1] = str(TEST_SEED + 1)
    result = await anyio.to_thread.run_sync(lambda: run_seeding(
        tmp_path, other, MONGODB_URI=mongo_uri, MONGODB_DATABASE=SEEDED_DATABASE))
    assert result.returncode == 3, result.stderr
    refusal = [line for line in result.stderr.splitlines() if line.startswith("refused: ")]
    assert len(refusal) == 1 and "--drop" in refusal[0]
    assert "Traceback" not in result.stderr
    assert await seeded_db.get_collection(META).find_one({"_id": STATE_ID}) == before
    assert await seeded_db.orders.count_documents({}) == orders_before
