"""Secrets never leave the process: not in logs, error messages, tool output, CLI output or zava_core exceptions.

Unique marker values stand in for the secrets: a MongoDB password, OPENAI_API_KEY, AZURE_OPENAI_API_KEY and
bearer tokens. Each test drives a failure path that is likely to print them (an unreachable or refusing
MongoDB, an unreachable or key-echoing embedding provider, bad, revoked and expired HTTP tokens) and greps
everything a person or an LLM could read for the markers: caplog at DEBUG (every library's log), the
stderr and stdout of subprocesses, the text a tool caller gets, HTTP responses, and exception strings.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pymongo.uri_parser import parse_uri
from serving import serving

from mcp_servers.auth.bearer_tokens import TokenStore
from mcp_servers.customer_sales.server import build_server as build_customer_sales
from mcp_servers.sales_analysis.server import build_server as build_sales_analysis
from mcp_servers.serving.runner import build_for_transport, http_app
from zava_core.embeddings import get_embedder
from zava_core.errors import Unavailable
from zava_core.infra import db as zdb
from zava_core.infra.config import ConfigError, Settings
from zava_core.infra.redaction import redact_uri
from zava_core.scope import Identity

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RUN = uuid.uuid4().hex[:12]
PASSWORD = f"S3cr3t-P4ss-{RUN}"
OPENAI_KEY = f"sk-openai-marker-{RUN}"
AZURE_KEY = f"azure-marker-{RUN}"
BAD_TOKEN = f"zava_not-a-real-token-{RUN}"
MARKERS = (PASSWORD, OPENAI_KEY, AZURE_KEY, BAD_TOKEN)
_OURS = ("MONGODB_", "ZAVA_", "OPENAI_", "AZURE_OPENAI_")


def leaked(text: str, secrets: tuple[str, ...] = MARKERS) -> list[str]:
    """The secrets found in `text`, as written or URL-encoded."""
    return [s for s in secrets if s in text or quote(s, safe="") in text]


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record: formatted (with tracebacks) and raw message and arguments."""
    raw = [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    return caplog.text + "\n".join(raw)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unreachable_uri(password: str = PASSWORD) -> str:
    return f"mongodb://zava:{password}@127.0.0.1:{closed_port()}/"


def cli_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["ZAVA_DATA_DIR"] = str(tmp_path / "zava-data")
    env.update(values)
    return env


# --- zava_core: exceptions and logs ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_unreachable_database_is_reported_without_the_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = replace(Settings(), mongodb_uri=unreachable_uri(), mongodb_database="zava")
    with pytest.raises(Unavailable) as caught:
        await zdb.connect(settings, timeout_ms=300)
    message = str(caught.value)
    assert "cannot reach MongoDB at 127.0.0.1:" in message
    assert leaked(message) == [] and leaked(repr(caught.value)) == []
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert leaked(log_text(caplog)) == []


@pytest.mark.anyio
async def test_a_refused_login_is_reported_without_the_password(mongo_uri: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """The test server refuses these credentials (or, a real MongoDB without that user, fails auth too)."""
    caplog.set_level(logging.DEBUG)
    host = parse_uri(mongo_uri)["nodelist"][0]
    uri = f"mongodb://zava:{PASSWORD}@{host[0]}:{host[1]}/?directConnection=true"
    with pytest.raises(Unavailable) as caught:
        await zdb.connect(replace(Settings(), mongodb_uri=uri), timeout_ms=2_000)
    assert "auth" in str(caught.value).lower()
    assert leaked(str(caught.value)) == []
    assert leaked(log_text(caplog)) == []


MALFORMED = {
    "unencoded-at": f"mongodb://zava:{PASSWORD}@x@127.0.0.1:27017/",
    "port-out-of-range": f"mongodb://zava:{PASSWORD}@127.0.0.1:99999/",
    "bad-option": f"mongodb://zava:{PASSWORD}@127.0.0.1:27017/?tls=maybe",
    "unknown-auth-mechanism": f"mongodb://zava:{PASSWORD}@127.0.0.1:27017/?authMechanism=NOPE",
    "no-host": f"mongodb://zava:{PASSWORD}@/zava",
    "broken-ipv6": f"mongodb://zava:{PASSWORD}@[::1:27017/",
    "unencoded-slash": f"mongodb://zava:{PASSWORD}/x@127.0.0.1:27017/",
    "wrong-scheme": f"mongo://zava:{PASSWORD}@127.0.0.1:27017/",
}


@pytest.mark.parametrize("uri", MALFORMED.values(), ids=MALFORMED)
def test_a_malformed_connection_string_is_refused_without_the_password(uri: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"MONGODB_URI": uri}, dotenv=False)
    assert "MONGODB_URI" in str(caught.value)
    assert leaked(str(caught.value)) == [] and leaked(repr(caught.value)) == []


# Passwords PyMongo accepts in a URI (RFC 3986 sub-delims and percent-encodings), around a marker.
PASSWORD_CHARACTERS = st.sampled_from([*"abcXYZ0189-._~!$&()*+,;=%", "%40", "%3A", "%2F", "%20", "%25"])


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(before=st.lists(PASSWORD_CHARACTERS, max_size=8).map("".join),
       after=st.lists(PASSWORD_CHARACTERS, max_size=8).map("".join),
       user=st.sampled_from(["zava", "u", "a.b-c", "x%40y"]),
       tail=st.sampled_from(["127.0.0.1:27017/", "h1:1,h2:2/zava?replicaSet=rs0", "[::1]:27017/?tls=true", "host"]))
def test_redact_uri_masks_any_password_pymongo_accepts(before: str, after: str, user: str, tail: str) -> None:
    password = f"{before}{PASSWORD}{after}"
    uri = f"mongodb://{user}:{password}@{tail}"
    try:
        parse_uri(uri)
    except Exception:
        return  # PyMongo refuses it, so it never reaches a connection message
    for text in (uri, f"cannot reach MongoDB at {uri}: timeout", f"('{uri}')", f'uri="{uri}" next mongodb://h/'):
        assert PASSWORD not in redact_uri(text), text


# Accepted by PyMongo and by Settings; redact_uri's pattern alone stops at whitespace and quotes, so the configured
# password itself must be masked.
UNMASKED_PASSWORDS = {"space": f"pa ss-{PASSWORD}", "tab": f"pa\tss-{PASSWORD}", "quote": f"pa'ss-{PASSWORD}",
                      "double-quote": f'pa"ss-{PASSWORD}'}


@pytest.mark.anyio
@pytest.mark.parametrize("password", UNMASKED_PASSWORDS.values(), ids=UNMASKED_PASSWORDS)
async def test_an_unreachable_database_hides_passwords_with_spaces_or_quotes(password: str) -> None:
    uri = unreachable_uri(password)
    Settings.from_env({"MONGODB_URI": uri}, dotenv=False)  # accepted as configuration
    with pytest.raises(Unavailable) as caught:
        await zdb.connect(replace(Settings(), mongodb_uri=uri), timeout_ms=300)
    assert leaked(str(caught.value)) == []


# --- embedding providers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def echoing_provider() -> Iterator[str]:
    """An embeddings endpoint that refuses every key and quotes it back (as some gateways do; OpenAI itself
    quotes the key with all but its last four characters masked)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            key = self.headers.get("api-key") or self.headers.get("Authorization", "").removeprefix("Bearer ")
            body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}.",
                                         "type": "invalid_request_error", "code": "invalid_api_key"}}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def openai_settings(base: Settings, base_url: str) -> Settings:
    return replace(base, embedding_backend="openai", openai_api_key=OPENAI_KEY, openai_base_url=base_url + "/v1",
                   azure_openai_api_key=AZURE_KEY)


def azure_settings(base: Settings, endpoint: str) -> Settings:
    return replace(base, embedding_backend="azure-openai", azure_openai_endpoint=endpoint,
                   azure_openai_api_key=AZURE_KEY, openai_api_key=OPENAI_KEY)


@pytest.mark.anyio
async def test_an_unreachable_embedding_provider_is_reported_without_keys(seeded: Settings,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Through semantic_search_products with each provider (the OpenAI client retries 4 times first, ~8 s); the
    server keeps answering, and the analysis server (which embeds nothing) is unaffected."""
    caplog.set_level(logging.DEBUG)
    dead = f"http://127.0.0.1:{closed_port()}"
    answers: dict[str, Any] = {}

    async def ask(name: str, settings_: Settings) -> None:
        async with Client(build_customer_sales(settings_, Identity(head_office=True))) as client:
            answers[name] = await client.call_tool("semantic_search_products",
                                                   {"query_description": "my toilet keeps running"})
            answers[name + " next"] = await client.call_tool("get_product_details", {"sku": "PTDR000001"})
        async with Client(build_sales_analysis(settings_, Identity(head_office=True))) as client:
            answers[name + " date"] = await client.call_tool("get_current_utc_date", {})

    with anyio.fail_after(90):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, "openai", openai_settings(seeded, dead))
            tg.start_soon(ask, "azure", azure_settings(seeded, dead))
    for name, backend in (("openai", "openai"), ("azure", "azure-openai")):
        result = answers[name]
        text = result.content[0].text
        assert result.is_error and f"{backend} embeddings failed" in text, text
        assert leaked(text) == [] and leaked(json.dumps(result.model_dump(mode="json"))) == []
        for after in (answers[name + " next"], answers[name + " date"]):
            assert not after.is_error and leaked(json.dumps(after.model_dump(mode="json"))) == []
    assert leaked(log_text(caplog)) == []


@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["openai", "azure-openai"])
async def test_a_provider_quoting_the_key_back_does_not_pass_it_on(echoing_provider: str, backend: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    base = replace(Settings())
    settings_ = openai_settings(base, echoing_provider) if backend == "openai" \
        else azure_settings(base, echoing_provider)
    with pytest.raises(Unavailable) as caught:
        await get_embedder(settings_).embed(["stop a running toilet"])
    assert "401" in str(caught.value)
    assert leaked(str(caught.value)) == []
    assert leaked(log_text(caplog)) == []


# --- HTTP: bearer tokens ------------------------------------------------------------------------------------


@dataclass
class HttpServer:
    base: str
    store: TokenStore
    good: str
    token_id: str


@asynccontextmanager
async def http_server(settings_: Settings, tmp_path: Path) -> AsyncIterator[HttpServer]:
    """The customer-sales server as `--transport http` builds it, served by uvicorn on a free loopback port."""
    port = closed_port()
    tokens = tmp_path / "tokens.json"
    store = TokenStore(tokens)
    token_id, good = store.issue(Identity(head_office=False, store="seattle"), label="test tablet")
    args = SimpleNamespace(transport="http", host="127.0.0.1", port=port, store=None, head_office=False,
                           read_only=False)
    server = build_for_transport(build_customer_sales, replace(settings_, tokens_file=tokens), args)  # type: ignore[arg-type]
    async with serving(http_app(server, "http", "127.0.0.1"), log_level="debug") as base:
        yield HttpServer(base, store, good, token_id)


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "t", "version": "0"}}}
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.mark.anyio
async def test_bad_revoked_and_expired_tokens_are_refused_without_echo(seeded: Settings, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with http_server(seeded, tmp_path) as http:
        _expired_id, expired = http.store.issue(Identity(head_office=True), expires_days=-1 / 86400)
        revoked_id, revoked = http.store.issue(Identity(head_office=True))
        assert http.store.revoke(revoked_id)
        secrets = (*MARKERS, http.good, expired, revoked)
        async with httpx2.AsyncClient(base_url=http.base, timeout=30) as web:
            for token in (BAD_TOKEN, expired, revoked, http.good[:-1], f"{http.good} {BAD_TOKEN}"):
                response = await web.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS,
                                                                           "Authorization": f"Bearer {token}"})
                assert response.status_code == 401, (token, response.text)
                assert leaked(response.text + json.dumps(dict(response.headers)), secrets) == []
            missing = await web.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
            assert missing.status_code == 401

        # The good token works, and neither it nor the other secrets appear in what the caller reads.
        web = httpx2.AsyncClient(headers={"Authorization": f"Bearer {http.good}"}, timeout=30)
        async with web, Client(streamable_http_client(f"{http.base}/mcp", http_client=web)) as client:
            ok = await client.call_tool("get_inventory", {"sku": "PTDR000001", "store": "Seattle"})
            refused = await client.call_tool("get_inventory", {"sku": "PTDR000001", "store": "Tacoma"})
        assert not ok.is_error and refused.is_error and "outside your scope" in refused.content[0].text
        for result in (ok, refused):
            assert leaked(json.dumps(result.model_dump(mode="json")), secrets) == []
    assert leaked(log_text(caplog), secrets) == []
    stored = (tmp_path / "tokens.json").read_text()
    assert leaked(stored, (http.good, expired, revoked)) == []
    assert oct((tmp_path / "tokens.json").stat().st_mode & 0o777) == "0o600"


def test_the_tokens_cli_shows_a_token_once_and_stores_only_its_hash(seeded: Settings, tmp_path: Path) -> None:
    env = cli_env(tmp_path, ZAVA_TOKENS_FILE=str(tmp_path / "tokens.json"), MONGODB_URI=seeded.mongodb_uri or "",
                  MONGODB_DATABASE=seeded.mongodb_database)

    def tokens(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mcp_servers.tokens", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60, check=True)

    issued = tokens("issue", "--store", "seattle", "--label", "tablet 3")
    token = issued.stdout.strip()
    assert token.startswith("zava_") and len(token) > 40
    listed = tokens("list")
    token_id = issued.stderr.split()[0]
    assert token_id in listed.stdout and "store:seattle" in listed.stdout
    tokens("revoke", token_id)
    after = tokens("list")
    assert "revoked" in after.stdout
    for output in (issued.stderr, listed.stdout, listed.stderr, after.stdout, after.stderr,
                   (tmp_path / "tokens.json").read_text()):
        assert token not in output and token[5:] not in output


# --- subprocesses: servers and CLIs on their failure paths, run in parallel -----------------------------------


@dataclass
class Run:
    returncode: int | None
    stdout: str
    stderr: str
    answers: dict


def run_cli(tmp_path: Path, module: str, args: list[str], env: dict[str, str], timeout: float = 120) -> Run:
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    return Run(done.returncode, done.stdout, done.stderr, {})


def run_stdio_server(tmp_path: Path, env: dict[str, str], calls: list[tuple[str, dict]], timeout: float = 90) -> Run:
    """The customer-sales server over stdio: initialize, then `calls`; waits for each answer (or the exit)."""
    process = subprocess.Popen([sys.executable, "-m", "mcp_servers.customer_sales", "--head-office"], cwd=tmp_path,
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: queue.Queue = queue.Queue()
    errors: list[bytes] = []
    threading.Thread(target=lambda: [lines.put(x) for x in iter(process.stdout.readline, b"")] + [lines.put(None)],
                     daemon=True).start()
    threading.Thread(target=lambda: errors.extend(iter(process.stderr.readline, b"")), daemon=True).start()
    stdout: list[bytes] = []
    answers: dict = {}
    closed = threading.Event()  # stdout reached its end
    deadline = time.monotonic() + timeout

    def send(message: dict) -> None:
        with suppress(BrokenPipeError):
            process.stdin.write(json.dumps(message).encode() + b"\n")
            process.stdin.flush()

    def wait(request_id: Any) -> None:
        while request_id not in answers and time.monotonic() < deadline and not closed.is_set():
            try:
                raw = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                return
            if raw is None:
                closed.set()
                return
            stdout.append(raw)
            message = json.loads(raw)
            if "id" in message:
                answers[message["id"]] = message

    send(INITIALIZE)
    wait(1)
    if 1 in answers:
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        for number, (tool, arguments) in enumerate(calls, 2):
            send({"jsonrpc": "2.0", "id": number, "method": "tools/call",
                  "params": {"name": tool, "arguments": arguments}})
            wait(number)
    with suppress(BrokenPipeError):
        process.stdin.close()
    try:
        process.wait(timeout=max(5, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    while not closed.is_set() and (raw := lines.get(timeout=10)) is not None:
        stdout.append(raw)
    time.sleep(0.2)
    return Run(process.returncode, b"".join(stdout).decode(errors="replace"),
               b"".join(errors).decode(errors="replace"), answers)


SCENARIOS: dict[str, Callable[[Path, dict, Settings], Run]] = {}


def scenario(name: str) -> Callable:
    def register(fn: Callable[[Path, dict, Settings], Run]) -> Callable:
        SCENARIOS[name] = fn
        return fn
    return register


@scenario("mcp server, database unreachable")
def _server_without_database(tmp_path: Path, env: dict, seeded: Settings) -> Run:
    run = run_stdio_server(tmp_path, {**env, "MONGODB_URI": unreachable_uri()}, [])
    assert run.returncode not in (0, None), "the server must not start without its database"
    assert "cannot reach MongoDB at 127.0.0.1:" in run.stderr
    return run


@scenario("mcp server, embedding provider unreachable")
def _server_without_embeddings(tmp_path: Path, env: dict, seeded: Settings) -> Run:
    values = {"MONGODB_URI": str(seeded.mongodb_uri), "MONGODB_DATABASE": seeded.mongodb_database,
              "ZAVA_EMBEDDING_BACKEND": "openai", "OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
              "ZAVA_LOG_LEVEL": "DEBUG"}
    run = run_stdio_server(tmp_path, {**env, **values}, [
        ("semantic_search_products", {"query_description": "my toilet keeps running"}),
        ("get_product_details", {"sku": "PTDR000001"})])
    text = run.answers[2]["result"]["content"][0]["text"]
    assert run.answers[2]["result"]["isError"] and "openai embeddings failed" in text, text
    assert run.returncode == 0, run.stderr[-2000:]
    return run


@scenario("seeding verify, database unreachable")
def _verify(tmp_path: Path, env: dict, seeded: Settings) -> Run:
    run = run_cli(tmp_path, "seeding", ["verify"], {**env, "MONGODB_URI": unreachable_uri()})
    assert run.returncode == 2 and run.stderr.startswith("error: cannot reach MongoDB at 127.0.0.1:"), run.stderr
    return run


@scenario("mcp server at DEBUG, database unreachable, password with a space and a quote")
def _server_odd_password(tmp_path: Path, env: dict, seeded: Settings) -> Run:
    values = {"MONGODB_URI": unreachable_uri(UNMASKED_PASSWORDS["space"] + "'q"), "ZAVA_LOG_LEVEL": "DEBUG"}
    run = run_stdio_server(tmp_path, {**env, **values}, [])
    assert run.returncode not in (0, None), "the server must not start without its database"
    assert "cannot reach MongoDB at 127.0.0.1:" in run.stderr, run.stderr[-2000:]
    return run


@scenario("seeding verify, database unreachable, password with a tab")
def _verify_odd_password(tmp_path: Path, env: dict, seeded: Settings) -> Run:
    run = run_cli(tmp_path, "seeding", ["verify"], {**env, "MONGODB_URI": unreachable_uri(UNMASKED_PASSWORDS["tab"])})
    assert run.returncode == 2 and run.stderr.startswith("error: cannot reach MongoDB at 127.0.0.1:"), run.stderr
    return run


@scenario("zava_ops doctor, database unreachable, password with a double quote")
def _doctor_odd_password(tmp_path: Path, env: dict, seeded: Settings) -> Run:
    values = {"MONGODB_URI": unreachable_uri(UNMASKED_PASSWORDS["double-quote"])}
    run = run_cli(tmp_path, "zava_ops", ["doctor", "--timeout", "1"], {**env, **values})
    assert run.returncode != 0 and "FAIL" in run.stdout, run.stdout
    return run


@scenario("zava_ops doctor, database and openai unreachable")
def _doctor_openai(tmp_path: Path, env: dict, seeded: Settings) -> Run:
    values = {"MONGODB_URI": unreachable_uri(), "ZAVA_EMBEDDING_BACKEND": "openai",
              "OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"}
    run = run_cli(tmp_path, "zava_ops", ["doctor", "--timeout", "1"], {**env, **values})
    assert run.returncode != 0 and "FAIL" in run.stdout and "****" in run.stdout, run.stdout
    return run


@scenario("zava_ops doctor, wrong password and azure unreachable")
def _doctor_azure(tmp_path: Path, env: dict, seeded: Settings) -> Run:
    host = parse_uri(str(seeded.mongodb_uri))["nodelist"][0]
    values = {"MONGODB_URI": f"mongodb://zava:{PASSWORD}@{host[0]}:{host[1]}/?directConnection=true",
              "ZAVA_EMBEDDING_BACKEND": "azure-openai", "AZURE_OPENAI_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}
    run = run_cli(tmp_path, "zava_ops", ["doctor", "--timeout", "2"], {**env, **values})
    assert run.returncode != 0 and "authentication" in run.stdout, run.stdout
    return run


@pytest.fixture(scope="module")
def scenario_runs(seeded: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run | BaseException]:
    """Every scenario at once (most wait on a timeout or on the OpenAI client's retries)."""
    env = {"OPENAI_API_KEY": OPENAI_KEY, "AZURE_OPENAI_API_KEY": AZURE_KEY}

    def attempt(name: str) -> Run | BaseException:
        tmp_path = tmp_path_factory.mktemp("secrets")
        try:
            return SCENARIOS[name](tmp_path, cli_env(tmp_path, **env), seeded)
        except BaseException as exc:  # reported by the test of that scenario
            return exc

    with ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
        return dict(zip(SCENARIOS, pool.map(attempt, SCENARIOS), strict=True))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_failure_paths_of_servers_and_clis_never_print_secrets(scenario_runs: dict, name: str) -> None:
    run = scenario_runs[name]
    if isinstance(run, BaseException):
        raise run
    assert leaked(run.stdout) == [], run.stdout[-2000:]
    assert leaked(run.stderr) == [], run.stderr[-2000:]
    if name.startswith("mcp server"):
        for line in run.stdout.splitlines():  # stdio: stdout carries JSON-RPC only
            assert json.loads(line)["jsonrpc"] == "2.0", line
