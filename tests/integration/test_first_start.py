"""A first start, item by item, each done the way a user or an MCP client does it: the process launched with a
default environment (PATH and HOME, plus what a client's `env` block would give), its stderr read as they read
it, and HTTP asked as a browser or an SDK client asks.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import PromptReference
from seeded_data import SEEDED_DATABASE, drop_after

from mcp_servers.auth.bearer_tokens import TokenStore
from zava_core import limits as L
from zava_core.infra.config import Settings
from zava_core.scope import Identity

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "first-start", "version": "0"}}}
APP_ORIGIN = "https://app.example.com"


def launch_env(home: Path, **values: str) -> dict[str, str]:
    """What an MCP client gives a launched server: PATH and HOME, plus its `env` block."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), **values}


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def engine_status(data_dir: Path, home: Path) -> str:
    return run(["-m", "zava_core.infra.embedded", "status"], launch_env(home, ZAVA_DATA_DIR=str(data_dir))).stdout


# --- an empty database, and the engine a failed start leaves behind --------------------------------------


def test_an_empty_database_says_where_it_looked_and_leaves_no_engine_it_started(tmp_path: Path) -> None:
    """Claude Desktop's entry without ZAVA_DATA_DIR (or seeding into another directory): the server looks in a
    data directory that holds nothing. It says which, and the engine it started for that is stopped again."""
    data_dir = tmp_path / "elsewhere"
    env = launch_env(tmp_path, ZAVA_DATA_DIR=str(data_dir))
    failed = run(["-m", "mcp_servers.sales_analysis", "--head-office"], env)
    assert failed.returncode != 0 and failed.stdout == ""
    (line,) = failed.stderr.strip().splitlines()
    assert line.startswith(f"error: the database 'zava' in the embedded engine at {data_dir} holds no stores")
    assert "python -m seeding" in line and "ZAVA_DATA_DIR" in line and "`env` block" in line
    assert (data_dir / "engine-credentials.json").exists(), "the server did start an engine there"
    assert engine_status(data_dir, tmp_path).startswith("not running")

    # An engine the server did not start (seeding's, another server's) is left running.
    assert run(["-m", "zava_core.infra.embedded", "start"], env).returncode == 0
    try:
        again = run(["-m", "mcp_servers.customer_sales", "--store", "seattle"], env)
        assert again.returncode != 0 and "holds no stores" in again.stderr
        assert engine_status(data_dir, tmp_path).startswith("running")
    finally:
        run(["-m", "zava_core.infra.embedded", "stop"], env)


def test_an_engine_another_process_of_ours_uses_is_not_stopped(tmp_path: Path) -> None:
    """Both servers start at once: the one that fails stops the engine it started only if the other one does not
    use it (each process of ours holds a lease on the engine while it runs)."""
    data_dir = str(tmp_path / "data")
    env = launch_env(tmp_path)
    starter = subprocess.Popen([sys.executable, "-c", STARTER, data_dir], cwd=ROOT, env=env, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    holder = None
    try:
        assert starter.stdout.readline().strip() == "started"
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, data_dir], cwd=ROOT, env=env, text=True,
                                  stdout=subprocess.PIPE)
        assert holder.stdout.readline().strip() == "using it"
        starter.stdin.write("fail now\n")
        starter.stdin.flush()
        assert starter.stdout.readline().strip() == "stopped: []"  # the holder still uses it
        assert engine_status(Path(data_dir), tmp_path).startswith("running")
    finally:
        for process in (starter, holder):
            if process is not None:
                process.kill()
                process.wait()
    # Once nobody else uses it, a process that started one and failed does stop it.
    alone = run(["-c", STARTER + "\n", data_dir], env)  # finds it running: it did not start this one
    assert alone.stdout.splitlines() == ["started", "stopped: []"]
    run(["-m", "zava_core.infra.embedded", "stop"], launch_env(tmp_path, ZAVA_DATA_DIR=data_dir))
    fresh = run(["-c", STARTER, data_dir], env)
    assert fresh.stdout.splitlines() == ["started", f"stopped: ['{data_dir}']"]
    assert engine_status(Path(data_dir), tmp_path).startswith("not running")


# A process that needs the engine (starting it if none runs), then fails on a line of stdin (or at once).
STARTER = """import sys
from pathlib import Path
from zava_core.infra import embedded
embedded.ensure_running(Path(sys.argv[1]))
print("started", flush=True)
sys.stdin.readline()
print("stopped:", [str(p) for p in embedded.stop_if_started_here()], flush=True)"""
HOLDER = """import sys, time
from pathlib import Path
from zava_core.infra import embedded
embedded.ensure_running(Path(sys.argv[1]))
print("using it", flush=True)
time.sleep(120)"""


# --- an unreachable MONGODB_URI: one line, the host, the reason, what to check ----------------------------


@contextlib.contextmanager
def listener(answer: bytes | None) -> Iterator[int]:
    """A TCP port that answers every connection with `answer` (then closes), or, with None, never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = sock.accept()
                if answer is None:
                    continue  # keep it open, say nothing
                conn.recv(4096)
                conn.sendall(answer)
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        sock.close()


def test_an_unreachable_database_is_one_line_with_the_host_the_reason_and_what_to_check(mongo_uri: str,
                                                                                         tmp_path: Path) -> None:
    engine = re.search(r"@?(127\.0\.0\.1:\d+)", mongo_uri).group(1)
    wrong_password = re.sub(r"://([^:/@]+):[^@]+@", r"://\1:wrong-password@", mongo_uri) \
        if "@" in mongo_uri else f"mongodb://nobody:wrong@{engine}/?authSource=admin&directConnection=true"
    with listener(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n") as http_port, \
            listener(None) as silent_port:
        closed = free_port()
        cases = {
            "refused": (f"mongodb://127.0.0.1:{closed}/", f"127.0.0.1:{closed}", "connection refused"),
            "dns": ("mongodb://no-such-host.invalid:27017/", "no-such-host.invalid:27017", "(DNS)"),
            "srv dns": ("mongodb+srv://no-such-cluster.invalid/", "no-such-cluster.invalid", "(DNS)"),
            "tls": (f"mongodb://127.0.0.1:{http_port}/?tls=true", f"127.0.0.1:{http_port}", "TLS handshake failed"),
            "auth": (wrong_password, engine, "authentication failed"),
            "timeout": (f"mongodb://127.0.0.1:{silent_port}/?directConnection=true", f"127.0.0.1:{silent_port}",
                        "no answer within 3 s (timeout)"),
        }

        def attempt(case: str) -> subprocess.CompletedProcess:
            uri = cases[case][0]  # a short wait, set in the string as a user may set it
            uri += ("&" if "?" in uri else ("?" if uri.endswith("/") else "/?")) + "serverSelectionTimeoutMS=3000"
            env = launch_env(tmp_path, MONGODB_URI=uri, ZAVA_DATA_DIR=str(tmp_path / "data"))
            return run(["-m", "mcp_servers.customer_sales", "--head-office"], env)

        with ThreadPoolExecutor(max_workers=len(cases)) as pool:
            done = dict(zip(cases, pool.map(attempt, cases), strict=True))
    for case, outcome in done.items():
        _, host, reason = cases[case]
        lines = outcome.stderr.strip().splitlines()
        assert outcome.returncode != 0 and len(lines) == 1, (case, outcome.stderr[-1500:])
        line = lines[0]
        assert len(line) <= 200, (case, len(line), line)
        assert line.startswith(f"error: cannot reach MongoDB at {host}: ") and reason in line, (case, line)
        assert "; check " in line and "Topology" not in line and "wrong-password" not in line, (case, line)


# --- one HTTP server, started as a user starts it ---------------------------------------------------------


@dataclass(frozen=True)
class Served:
    base: str
    token: dict[str, str]
    stderr: Path


@pytest.fixture(scope="module")
def served(seeded: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`python -m mcp_servers.sales_analysis --transport http` with tokens issued, expired and revoked through
    the tokens CLI (and the store, for one already past its expiry), and a web app's origin allowed."""
    home = tmp_path_factory.mktemp("first-http")
    env = launch_env(home, MONGODB_URI=seeded.mongodb_uri or "", MONGODB_DATABASE=SEEDED_DATABASE,
                     ZAVA_TOKENS_FILE=str(home / "tokens.json"), ZAVA_DATA_DIR=str(home / "data"),
                     ZAVA_ALLOWED_ORIGINS=APP_ORIGIN)
    token = {}
    for name in ("valid", "revoked"):
        issued = run(["-m", "mcp_servers.tokens", "issue", "--store", "seattle", "--label", name], env)
        assert issued.returncode == 0, issued.stderr
        token[name] = issued.stdout.strip()
    revoked_id = next(e["id"] for e in TokenStore(home / "tokens.json").entries() if e["label"] == "revoked")
    assert run(["-m", "mcp_servers.tokens", "revoke", revoked_id], env).returncode == 0
    token["expired"] = TokenStore(home / "tokens.json").issue(Identity(head_office=False, store="seattle"),
                                                              expires_days=-1 / 1440, label="expired")[1]
    port = free_port()
    stderr = home / "stderr"
    with open(stderr, "w") as errors:
        process = subprocess.Popen([sys.executable, "-m", "mcp_servers.sales_analysis", "--transport", "http",
                                    "--port", str(port)], env=env, cwd=ROOT, stderr=errors, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while f"{base}/mcp" not in stderr.read_text():
            assert process.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, "the server never said where it listens"
            time.sleep(0.1)
        yield Served(base, token, stderr)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_http_says_where_it_serves_and_answers_there(served: Served) -> None:
    base = served.base
    (line,) = [ln for ln in served.stderr.read_text().splitlines() if "/mcp" in ln]
    assert line == f"zava-sales-analysis: Streamable HTTP at {base}/mcp (health {base}/health, metrics {base}/metrics)"
    assert httpx2.get(f"{base}/health", timeout=10).json()["status"] == "ok"
    assert "zava_" in httpx2.get(f"{base}/metrics", timeout=10).text


def test_sse_says_where_it_serves(seeded: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = launch_env(tmp_path, MONGODB_URI=seeded.mongodb_uri or "", MONGODB_DATABASE=SEEDED_DATABASE,
                     ZAVA_DATA_DIR=str(tmp_path / "data"), ZAVA_METRICS="0")
    process = subprocess.Popen([sys.executable, "-m", "mcp_servers.customer_sales", "--transport", "sse", "--port",
                                str(port)], env=env, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        lines = iter(process.stderr.readline, "")
        said = next(line for line in lines if "zava-customer-sales:" in line)
        assert said.strip() == f"zava-customer-sales: SSE at {base}/sse (health {base}/health)"  # metrics off
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_401_says_whether_the_token_is_wrong_expired_or_revoked(served: Served) -> None:
    expected = {"wrong": "invalid token: no such token was issued here",
                "expired": "expired token: tok_", "revoked": "revoked token: tok_"}
    for case, says in expected.items():
        token = served.token.get(case, "zava_" + "w" * 43)
        response = httpx2.post(f"{served.base}/mcp", json=INITIALIZE, timeout=10,
                               headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"})
        assert response.status_code == 401, case
        message = response.json()["error"]["message"]
        assert message.startswith(says) and "python -m mcp_servers.tokens issue" in message, (case, message)
        challenge = response.headers["www-authenticate"]
        assert 'error="invalid_token"' in challenge and f'error_description="{says}' in challenge, challenge
    assert re.search(r"expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", httpx2.post(
        f"{served.base}/mcp", json=INITIALIZE, timeout=10,
        headers={**MCP_HEADERS, "Authorization": f"Bearer {served.token['expired']}"}).json()["error"]["message"])


def test_a_browser_client_gets_its_preflight_answered_only_from_an_allowed_origin(served: Served) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version"}
    allowed = httpx2.options(f"{served.base}/mcp", headers={**preflight, "Origin": APP_ORIGIN}, timeout=10)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert {"authorization", "content-type", "mcp-protocol-version"} <= {
        h.strip() for h in allowed.headers["access-control-allow-headers"].split(",")}
    for stranger in ("https://evil.example", "http://localhost:5173"):  # loopback too: only the listed origin
        refused = httpx2.options(f"{served.base}/mcp", headers={**preflight, "Origin": stranger}, timeout=10)
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        assert "ZAVA_ALLOWED_ORIGINS" in refused.json()["error_description"]
    # The request itself, as the browser sends it after the preflight: readable, session id included.
    posted = httpx2.post(f"{served.base}/mcp", json=INITIALIZE, timeout=10, headers={
        **MCP_HEADERS, "Origin": APP_ORIGIN, "Authorization": f"Bearer {served.token['valid']}"})
    assert posted.status_code == 200 and posted.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "Mcp-Session-Id" in posted.headers["access-control-expose-headers"]
    unauthorized = httpx2.post(f"{served.base}/mcp", json=INITIALIZE, timeout=10,
                               headers={**MCP_HEADERS, "Origin": APP_ORIGIN})
    assert unauthorized.status_code == 401 and unauthorized.headers["access-control-allow-origin"] == APP_ORIGIN


def test_over_http_the_server_names_its_version(served: Served) -> None:
    async def initialize() -> str:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {served.token['valid']}"}) as http, \
                Client(streamable_http_client(f"{served.base}/mcp", http_client=http)) as client:
            return client.server_info.version

    assert anyio.run(initialize) == version("zava-mcp")


# --- the tokens CLI: short-lived tokens ------------------------------------------------------------------


def test_tokens_issue_expires_in_minutes_hours_or_days(seeded: Settings, tmp_path: Path) -> None:
    env = launch_env(tmp_path, MONGODB_URI=seeded.mongodb_uri or "", MONGODB_DATABASE=SEEDED_DATABASE,
                     ZAVA_TOKENS_FILE=str(tmp_path / "tokens.json"), ZAVA_DATA_DIR=str(tmp_path / "data"))
    said = []
    for duration, seconds in (("10m", 600), ("12h", 43_200), ("90d", 7_776_000)):
        before = time.time()
        issued = run(["-m", "mcp_servers.tokens", "issue", "--store", "seattle", "--expires-in", duration,
                      "--label", duration], env)
        assert issued.returncode == 0, issued.stderr
        entry = next(e for e in TokenStore(tmp_path / "tokens.json").entries() if e["label"] == duration)
        assert before + seconds - 1 <= entry["expires_at"] <= time.time() + seconds + 1
        said.append(f"expires {time.strftime('%Y-%m-%dT%H:%M', time.gmtime(entry['expires_at']))}")
        assert said[-1] in issued.stderr  # when it ends, said at issue
    listed = run(["-m", "mcp_servers.tokens", "list"], env).stdout
    assert all(expiry in listed for expiry in said)
    for bad in ("10x", "0m", "-5h"):
        refused = run(["-m", "mcp_servers.tokens", "issue", "--store", "seattle", f"--expires-in={bad}"], env)
        assert refused.returncode == 2 and refused.stdout == "", bad
        assert refused.stderr.count("\n") == 1 and "e.g. 10m, 12h or 90d" in refused.stderr, refused.stderr
    assert len(TokenStore(tmp_path / "tokens.json").entries()) == 3


# --- over stdio, as Claude Desktop launches it ----------------------------------------------------------


def test_over_stdio_stores_complete_by_the_start_of_their_names_and_the_version_is_the_packages(
        seeded: Settings, tmp_path: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_servers.sales_analysis", "--head-office"],
                                   env=launch_env(tmp_path, MONGODB_URI=seeded.mongodb_uri or "",
                                                  MONGODB_DATABASE=SEEDED_DATABASE,
                                                  ZAVA_DATA_DIR=str(tmp_path / "data")), cwd=str(ROOT))
    review = PromptReference(type="ref/prompt", name="weekly_store_review")

    async def session() -> tuple[str, dict[str, list[str]]]:
        async with Client(stdio_client(params)) as client:
            offered = {}
            for typed in ("s", "S", "sea", "store_t", "zava retail b", "o", "x"):
                result = await client.complete(review, {"name": "store", "value": typed})
                offered[typed] = result.completion.values
            return client.server_info.version, offered

    server_version, offered = anyio.run(session)
    assert server_version == version("zava-mcp")
    assert offered == {"s": ["Seattle", "Spokane"], "S": ["Seattle", "Spokane"], "sea": ["Seattle"],
                       "store_t": ["Tacoma"], "zava retail b": ["Bellevue"], "o": ["Online"], "x": []}


# --- seeding's first line, and what the README promises ----------------------------------------------------


def test_seedings_first_line_is_one_line_that_names_where_it_writes(mongo_uri: str, tmp_path: Path) -> None:
    database = "zava_first_line"
    env = launch_env(tmp_path, MONGODB_URI=mongo_uri, MONGODB_DATABASE=database, COLUMNS="60")
    process = subprocess.Popen([sys.executable, "-m", "seeding", "--scale", "small", "--skip-embeddings"], env=env,
                               cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        first = process.stderr.readline().rstrip("\n")
    finally:
        process.kill()
        process.wait()
        from pymongo import MongoClient

        with MongoClient(mongo_uri) as mongo:
            drop_after(mongo, database)
    host = re.search(r"(127\.0\.0\.1:\d+)", mongo_uri).group(1)
    assert re.fullmatch(rf"seeding small \(seed \d+, as of \d{{4}}-\d\d-\d\d\) into the database '{database}' at "
                        rf"{re.escape(host)}", first), first


def test_the_readme_says_what_a_first_user_needs(served: Served, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"at least {L.IDEMPOTENCY_KEY_MIN_CHARS} characters" in readme  # the idempotency key
    assert "--scale small" in readme and "small machine" in readme
    assert "--expires-in" in readme and "how to read the reason" in readme.lower()
    # The MCP SDK 2.x client example runs as written, against a live server.
    example = re.search(r"<!-- client example: MCP SDK 2\.x -->\n```python\n(.*?)```", readme, re.DOTALL)
    assert example, "the README's MCP SDK 2.x client example"
    script = tmp_path / "client.py"
    script.write_text(example.group(1))
    ran = run([str(script)], {**launch_env(tmp_path), "ZAVA_URL": f"{served.base}/mcp",
                              "ZAVA_TOKEN": served.token["valid"]}, timeout=60)
    assert ran.returncode == 0, ran.stderr[-1500:]
    assert json.loads(ran.stdout)["stores"] == ["store_seattle"]
    assert "<!-- client example: MCP SDK 1.x -->" in readme and "httpx.AsyncClient" in readme
