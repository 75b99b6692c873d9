"""`python -m zava_ops doctor` as an operator runs it: against the seeded database, against a server with
authentication and TLS (its own engine), and against deliberately broken connection strings.

Each broken case must exit non-zero, name the failing step with its likely cause, skip what depends on
it, and never print the password.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from serving import stop_process

from zava_core.infra import embedded
from zava_core.infra.config import Settings
from zava_core.infra.privileges import assess_access
from zava_ops.doctor import STEPS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_OURS = ("MONGODB_", "ZAVA_", "OPENAI_", "AZURE_OPENAI_")
SECURED_DB = "zava_doctor"
WRITER_PASSWORD = "Wr1ter:p@ss/word"  # every character that needs encoding, so the test proves encoding works
READER_PASSWORD = "Reader-Pass-2718"
WRONG_PASSWORD = "NotTheRealOne-99"


def run_doctor(tmp_path: Path, *extra: str, **values: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["ZAVA_DATA_DIR"] = str(tmp_path / "zava-data")  # never the user's engine
    env.update(values)
    # cwd is a temporary directory, so no `.env` of the project is read.
    return subprocess.run([sys.executable, "-m", "zava_ops", "doctor", *extra], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def statuses(output: str) -> dict[str, str]:
    """Step name -> status, from the fixed-width lines `status name detail`."""
    found = {}
    for line in output.splitlines():
        name = line[6:24].strip()
        if name in STEPS:
            found[name] = line[:5].strip()
    return found


def line_of(output: str, step: str) -> str:
    """The step's line and its cause/fix lines."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line[6:24].strip() == step)
    block = [lines[start]]
    block += [line for line in lines[start + 1:start + 3] if line.lstrip().startswith(("cause:", "fix:"))]
    return "\n".join(block)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_skipped_after(found: dict[str, str], step: str) -> None:
    later = STEPS[STEPS.index(step) + 1:]
    assert all(found[name] == "skip" for name in later if name != "embeddings"), found


# --- the seeded database -------------------------------------------------------------------------

def test_every_step_passes_on_the_seeded_database(seeded: Settings, tmp_path: Path) -> None:
    result = run_doctor(tmp_path, MONGODB_URI=seeded.mongodb_uri or "", MONGODB_DATABASE=seeded.mongodb_database)
    assert result.returncode == 0, result.stdout + result.stderr
    found = statuses(result.stdout)
    assert list(found) == list(STEPS), result.stdout
    not_ok = {name: status for name, status in found.items() if status != "ok"}
    # TLS is "n/a" on the plain-TCP engine, "ok" against a TLS server (ZAVA_TEST_MONGODB_URI).
    assert not_ok in ({}, {"TLS": "n/a"}), result.stdout
    assert "everything the servers need is in place" in result.stdout
    assert "seeded (scale small" in line_of(result.stdout, "dataset")
    assert "enabled on all 8 synced collections" in line_of(result.stdout, "pre/post images")


def test_missing_openai_key_fails_the_embeddings_step_only(seeded: Settings, tmp_path: Path) -> None:
    result = run_doctor(tmp_path, MONGODB_URI=seeded.mongodb_uri or "", MONGODB_DATABASE=seeded.mongodb_database,
                        ZAVA_EMBEDDING_BACKEND="openai")
    assert result.returncode == 1, result.stdout
    found = statuses(result.stdout)
    assert found["embeddings"] == "FAIL"
    assert "OPENAI_API_KEY" in line_of(result.stdout, "embeddings")
    assert [name for name, status in found.items() if status == "FAIL"] == ["embeddings"]


def test_without_a_uri_the_embedded_engine_is_started_and_checked(tmp_path: Path) -> None:
    data_dir = tmp_path / "engine-data"
    try:
        result = run_doctor(tmp_path, ZAVA_DATA_DIR=str(data_dir), MONGODB_DATABASE="zava_doctor_empty")
    finally:
        stopped = embedded.stop(data_dir)
    assert stopped, "the doctor should have started the embedded engine"
    found = statuses(result.stdout)
    assert "the embedded engine is used (started" in line_of(result.stdout, "configuration")
    for step in ("configuration", "connection string", "DNS", "TCP", "authentication", "server version",
                 "replica set", "embeddings"):
        assert found[step] == "ok", result.stdout
    # A fresh engine holds no dataset: that is what is missing, and the exit code says so.
    assert found["dataset"] == "FAIL" and "python -m seeding" in line_of(result.stdout, "dataset")
    assert result.returncode == 1


# --- roles as Atlas reports them (connectionStatus documents; no server needed) ----------------------

def _status(roles: list[tuple[str, str]], privileges: list[dict] | None = None) -> dict:
    return {"authInfo": {"authenticatedUsers": [{"user": "u", "db": "admin"}],
                         "authenticatedUserRoles": [{"role": r, "db": d} for r, d in roles],
                         "authenticatedUserPrivileges": privileges or []}}


def test_access_from_roles_and_from_privileges() -> None:
    assert assess_access(_status([("atlasAdmin", "admin")]), "zava").coll_mod
    any_db = assess_access(_status([("readWriteAnyDatabase", "admin")]), "zava")
    assert any_db.read_write and not any_db.coll_mod  # readWrite does not include collMod
    assert not assess_access(_status([("readWrite", "other")]), "zava").read_write
    # An Atlas custom role: only its privileges tell what it grants.
    custom = _status([("zavaOperator", "admin")], [
        {"resource": {"db": "zava", "collection": ""},
         "actions": ["find", "insert", "update", "remove", "createIndex"]},
        {"resource": {"db": "other", "collection": ""}, "actions": ["collMod"]},
    ])
    access = assess_access(custom, "zava")
    assert access.read_write and not access.coll_mod
    assert not assess_access(_status([], [{"resource": {"db": "zava", "collection": ""}, "actions": ["find"]}]),
                             "zava").read_write


# --- broken connection strings ---------------------------------------------------------------------

def test_unresolvable_host_fails_at_dns(tmp_path: Path) -> None:
    password = "Secr3t-Nohost-42"
    started = time.monotonic()
    result = run_doctor(tmp_path, MONGODB_URI=f"mongodb://zava:{password}@nohost.invalid:27017/")
    assert time.monotonic() - started < 60
    assert result.returncode == 1
    found = statuses(result.stdout)
    assert found["connection string"] == "ok" and found["DNS"] == "FAIL"
    assert "does not resolve" in line_of(result.stdout, "DNS")
    assert_skipped_after(found, "DNS")
    assert "zava:****@nohost.invalid" in result.stdout
    assert password not in result.stdout + result.stderr


def test_closed_port_fails_at_tcp(tmp_path: Path) -> None:
    password = "Secr3t-Closed-43"
    port = closed_port()
    result = run_doctor(tmp_path, MONGODB_URI=f"mongodb://zava:{password}@127.0.0.1:{port}/?directConnection=true")
    assert result.returncode == 1
    found = statuses(result.stdout)
    assert found["DNS"] == "ok" and found["TCP"] == "FAIL"
    block = line_of(result.stdout, "TCP")
    assert f"127.0.0.1:{port}: connection refused" in block and "nothing listens" in block
    assert_skipped_after(found, "TCP")
    assert password not in result.stdout + result.stderr


@pytest.mark.parametrize("scheme", ["mongodb+srv", "mongodb"])
def test_unencoded_at_in_a_password_is_a_one_line_configuration_error(tmp_path: Path, scheme: str) -> None:
    # Settings checks every connection string through the one parser before any command runs (and
    # before any DNS lookup of the wrong host name "Zq9@cluster0..."), so the doctor's answer is that
    # one line; it names the fix and masks the credentials.
    host = "cluster0.example.mongodb.net" if scheme == "mongodb+srv" else f"127.0.0.1:{closed_port()}"
    result = run_doctor(tmp_path, MONGODB_URI=f"{scheme}://zava:Tr0ub4dor@Zq9@{host}/")
    assert result.returncode == 2
    assert "unencoded '@'" in result.stderr and "encode-password" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "Tr0ub4dor" not in result.stdout + result.stderr


# --- a server with authentication and TLS ----------------------------------------------------------

@dataclass(frozen=True)
class Secured:
    port: int
    ca_file: Path

    def uri(self, user: str, password: str, *, tls: str = "ca") -> str:
        options = "directConnection=true&authSource=admin"
        if tls == "ca":
            options += f"&tls=true&tlsCAFile={self.ca_file}"
        elif tls == "untrusted":
            options += "&tls=true"
        return f"mongodb://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/?{options}"


def _engine_command() -> str:
    beside = Path(sys.executable).parent / embedded.ENGINE_COMMAND
    return str(beside) if beside.exists() else (shutil.which(embedded.ENGINE_COMMAND) or embedded.ENGINE_COMMAND)


def _start(storage: Path, port: int, log: Path, *extra: str) -> subprocess.Popen:
    with open(log, "ab") as handle:
        return subprocess.Popen([_engine_command(), "--host", "127.0.0.1", "--port", str(port), "--storage-path",
                                 str(storage), "--log-level", "WARNING", *extra],
                                stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT)


def _wait_until_up(uri: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-2000:]
        client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=500)
        try:
            client.admin.command("ping")
            return
        except PyMongoError:
            time.sleep(0.2)
        finally:
            client.close()
    raise AssertionError(f"the engine did not answer within 60 s: {log.read_text(errors='replace')[-2000:]}")




def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """Our own engine: users created while it runs open, then restarted with --auth and TLS."""
    home = tmp_path_factory.mktemp("secured")
    storage, log = home / "data", home / "engine.log"
    port = closed_port()
    process = _start(storage, port, log)
    try:
        open_uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        _wait_until_up(open_uri, process, log)
        with MongoClient(open_uri) as client:
            client.admin.command("createUser", "writer", pwd=WRITER_PASSWORD,
                                 roles=[{"role": "readWrite", "db": SECURED_DB}])
            client.admin.command("createUser", "reader", pwd=READER_PASSWORD,
                                 roles=[{"role": "read", "db": SECURED_DB}])
    finally:
        stop_process(process)  # one process per storage directory: the restart needs the lock back
    cert, key = _self_signed_certificate(home)
    process = _start(storage, port, log, "--auth", "--tls-cert-file", str(cert), "--tls-key-file", str(key))
    try:
        _wait_until_up(f"mongodb://127.0.0.1:{port}/?directConnection=true&tls=true&tlsCAFile={cert}", process, log)
        yield Secured(port=port, ca_file=cert)
    finally:
        stop_process(process)


def test_wrong_password_fails_at_authentication(secured: Secured, tmp_path: Path) -> None:
    result = run_doctor(tmp_path, MONGODB_URI=secured.uri("writer", WRONG_PASSWORD), MONGODB_DATABASE=SECURED_DB)
    assert result.returncode == 1
    found = statuses(result.stdout)
    assert found["TCP"] == "ok" and found["TLS"] == "ok", result.stdout
    assert found["authentication"] == "FAIL"
    block = line_of(result.stdout, "authentication")
    assert "authentication failed for user 'writer'" in block and "encode-password" in block
    assert_skipped_after(found, "authentication")
    assert WRONG_PASSWORD not in result.stdout + result.stderr


def test_right_password_with_read_write_passes_authentication_and_roles(secured: Secured, tmp_path: Path) -> None:
    result = run_doctor(tmp_path, MONGODB_URI=secured.uri("writer", WRITER_PASSWORD), MONGODB_DATABASE=SECURED_DB)
    found = statuses(result.stdout)
    for step in ("connection string", "DNS", "TCP", "TLS", "authentication", "roles", "server version", "replica set"):
        assert found[step] == "ok", result.stdout
    assert "authenticated as writer@admin" in line_of(result.stdout, "authentication")
    assert f"readWrite@{SECURED_DB}" in line_of(result.stdout, "roles")
    assert "TLSv1" in line_of(result.stdout, "TLS")
    # The database is empty, so the run as a whole is not ready.
    assert found["dataset"] == "FAIL" and result.returncode == 1
    for secret in (WRITER_PASSWORD, quote(WRITER_PASSWORD, safe="")):
        assert secret not in result.stdout + result.stderr


def test_read_only_user_is_told_what_role_is_missing(secured: Secured, tmp_path: Path) -> None:
    result = run_doctor(tmp_path, MONGODB_URI=secured.uri("reader", READER_PASSWORD), MONGODB_DATABASE=SECURED_DB)
    assert result.returncode == 1
    found = statuses(result.stdout)
    assert found["authentication"] == "ok" and found["roles"] == "FAIL", result.stdout
    block = line_of(result.stdout, "roles")
    assert f"read@{SECURED_DB}" in block and f"at least readWrite on '{SECURED_DB}'" in block
    assert "grantRolesToUser" in block
    assert READER_PASSWORD not in result.stdout + result.stderr


def test_read_only_user_is_enough_for_read_only_servers(secured: Secured, tmp_path: Path) -> None:
    result = run_doctor(tmp_path, MONGODB_URI=secured.uri("reader", READER_PASSWORD), MONGODB_DATABASE=SECURED_DB,
                        ZAVA_READ_ONLY="1")
    found = statuses(result.stdout)
    assert found["roles"] == "ok", result.stdout
    assert "ZAVA_READ_ONLY=1" in line_of(result.stdout, "roles")


def test_untrusted_certificate_fails_at_tls(secured: Secured, tmp_path: Path) -> None:
    result = run_doctor(tmp_path, MONGODB_URI=secured.uri("writer", WRITER_PASSWORD, tls="untrusted"),
                        MONGODB_DATABASE=SECURED_DB)
    assert result.returncode == 1
    found = statuses(result.stdout)
    assert found["TCP"] == "ok" and found["TLS"] == "FAIL", result.stdout
    block = line_of(result.stdout, "TLS")
    assert "certificate not trusted" in block and "tlsCAFile" in block
    assert_skipped_after(found, "TLS")


def test_plain_connection_to_a_tls_server_suggests_tls(secured: Secured, tmp_path: Path) -> None:
    result = run_doctor(tmp_path, MONGODB_URI=secured.uri("writer", WRITER_PASSWORD, tls="none"),
                        MONGODB_DATABASE=SECURED_DB)
    assert result.returncode == 1
    found = statuses(result.stdout)
    assert found["TLS"] == "n/a" and found["authentication"] == "FAIL", result.stdout
    assert "add tls=true" in line_of(result.stdout, "authentication")
