"""What a new user meets first, walked the way they walk it: servers launched as MCP clients launch them
(a default environment: PATH and HOME plus what the config's `env` block gives), the tokens CLI, the first
requests over HTTP and the errors a model reads back.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ElicitResult
from pymongo import MongoClient
from seeded_data import SEEDED_DATABASE
from serving import serving

from mcp_servers.auth.bearer_tokens import TokenStore
from mcp_servers.customer_sales.server import build_server as build_customer_sales
from mcp_servers.runtime.replies import unfenced
from mcp_servers.serving import http as zhttp
from zava_core.infra.config import Settings
from zava_core.scope import Identity

pytestmark = pytest.mark.integration

SERVERS = ("mcp_servers.customer_sales", "mcp_servers.sales_analysis")
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "first-use", "version": "0"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def launch_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """What Claude Desktop gives a launched server: PATH and HOME, plus the entry's `env` block."""
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ZAVA_DATA_DIR": str(tmp_path / "data"), **values}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, check=False)


# --- start-up failures: one line, never a traceback ----------------------------------------------


def test_a_server_that_cannot_start_says_why_in_one_line(mongo_uri: str, seeded: Settings, tmp_path: Path) -> None:
    empty = f"zava_empty_{uuid.uuid4().hex[:8]}"
    unreachable = f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=1500"
    cases = {  # (module, arguments, env) -> what the line must say
        (module, case): (args, env, expected)
        for module in SERVERS
        for case, args, env, expected in (
            ("empty database", ["--store", "seattle"],
             {"MONGODB_URI": mongo_uri, "MONGODB_DATABASE": empty}, "holds no stores: seed it with"),
            ("unknown store", ["--store", "narnia"],
             {"MONGODB_URI": mongo_uri, "MONGODB_DATABASE": SEEDED_DATABASE}, "unknown store 'narnia'"),
            ("unreachable database", ["--head-office"], {"MONGODB_URI": unreachable}, "cannot reach MongoDB"),
            ("port taken over HTTP", ["--transport", "http", "--port", "{taken}"],
             {"MONGODB_URI": mongo_uri, "MONGODB_DATABASE": SEEDED_DATABASE}, "--port"),
        )
    }
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])

        def attempt(key):
            args, env, _ = cases[key]
            args = [a.replace("{taken}", port) for a in args]
            return run(["-m", key[0], *args], launch_env(tmp_path, **env), tmp_path)

        with ThreadPoolExecutor(max_workers=4) as pool:
            done = dict(zip(cases, pool.map(attempt, cases), strict=True))
    for key, outcome in done.items():
        lines = outcome.stderr.strip().splitlines()
        errors = [line for line in lines if line.startswith("error: ")]
        assert outcome.returncode != 0, (key, outcome.stderr[-500:])
        assert outcome.stdout == "", key  # on stdio, stdout is the protocol's
        assert len(errors) == 1 and cases[key][2] in errors[0], (key, outcome.stderr[-2000:])
        assert "Traceback" not in outcome.stderr and "ExceptionGroup" not in outcome.stderr, key


def test_the_readme_smoke_run_says_each_server_did_not_start_in_a_line_not_a_traceback(mongo_uri: str,
                                                                                      tmp_path: Path) -> None:
    """The last step of the README's first command (`python -m mcp_servers.smoke`), on a database nobody seeded:
    each server says why on stderr, the smoke run says which did not start, and exits non-zero."""
    env = launch_env(tmp_path, MONGODB_URI=mongo_uri, MONGODB_DATABASE=f"zava_empty_{uuid.uuid4().hex[:8]}")
    outcome = run(["-m", "mcp_servers.smoke"], env, tmp_path)
    assert outcome.returncode == 1, outcome.stderr[-1000:]
    said = outcome.stdout + outcome.stderr
    assert "Traceback" not in said and "ExceptionGroup" not in said, said[-2000:]
    assert [line for line in outcome.stderr.splitlines() if "holds no stores: seed it with" in line], outcome.stderr
    for server in ("customer_sales", "sales_analysis"):
        assert f"{server}: did not start" in outcome.stdout, outcome.stdout


def test_over_http_an_empty_database_still_starts_and_says_to_seed(mongo_uri: str, tmp_path: Path) -> None:
    port = free_port()
    env = launch_env(tmp_path, MONGODB_URI=mongo_uri, MONGODB_DATABASE=f"zava_empty_{uuid.uuid4().hex[:8]}")
    with open(tmp_path / "stderr", "w") as errors:
        process = subprocess.Popen([sys.executable, "-m", "mcp_servers.sales_analysis", "--transport", "http",
                                    "--port", str(port)], env=env, cwd=tmp_path, stderr=errors,
                                   stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "stderr").read_text()
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        time.sleep(1)  # the warm-up runs in the background after start
    finally:
        process.terminate()
        process.wait(timeout=30)
    log = (tmp_path / "stderr").read_text()
    assert "holds no stores: seed it with `python -m seeding`" in log
    assert "seeding embed" not in log


# --- HTTP: quiet, masked access lines; 401s a client can show; slow headers cut off ------------------


@pytest.mark.anyio
async def test_http_requests_leave_one_masked_access_line_each(seeded: Settings, tmp_path: Path) -> None:
    tokens = TokenStore(tmp_path / "tokens.json")
    _, token = tokens.issue(Identity(head_office=False, store="seattle"))
    port = free_port()
    env = launch_env(tmp_path, MONGODB_URI=seeded.mongodb_uri or "", MONGODB_DATABASE=SEEDED_DATABASE,
                     ZAVA_TOKENS_FILE=str(tokens.path), ZAVA_LOG_LEVEL="WARNING")
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "stderr", "w") as errors:
        process = subprocess.Popen([sys.executable, "-m", "mcp_servers.customer_sales", "--transport", "http",
                                    "--port", str(port)], env=env, cwd=tmp_path, stderr=errors,
                                   stdout=subprocess.DEVNULL)
    try:
        async with httpx2.AsyncClient(timeout=30) as http:
            with anyio.fail_after(60):
                while True:
                    assert process.poll() is None, (tmp_path / "stderr").read_text()
                    with contextlib.suppress(httpx2.TransportError):
                        if (await http.get(f"{base}/health")).status_code == 200:
                            break
                    await anyio.sleep(0.2)
            in_query = await http.post(f"{base}/mcp?access_token={token}", json=INITIALIZE, headers=MCP_HEADERS)
            assert in_query.status_code == 401  # tokens travel in the header only
            for _ in range(3):
                wrong = await http.post(f"{base}/mcp", json=INITIALIZE,
                                        headers={**MCP_HEADERS, "Authorization": "Bearer zava_" + "x" * 43})
                assert wrong.status_code == 401
                assert wrong.json()["error"]["message"].startswith("invalid token: no such token was issued here")
                assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
            none = await http.post(f"{base}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
            assert none.json()["error"]["message"].startswith("authentication required")
        # What an MCP 2.x client shows for a wrong token: the reason, not "Server returned an error response".
        wrong_client = httpx2.AsyncClient(headers={"Authorization": "Bearer zava_" + "y" * 43}, timeout=30)
        with pytest.raises(Exception) as refused:
            async with wrong_client, Client(streamable_http_client(f"{base}/mcp", http_client=wrong_client)):
                pass
        failure = refused.value
        while isinstance(failure, BaseExceptionGroup):  # the SDK's task groups wrap the client's error
            failure = failure.exceptions[0]
        assert type(failure).__name__ == "MCPError" and "invalid token: no such token" in str(failure)
        good = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        async with good, Client(streamable_http_client(f"{base}/mcp", http_client=good)) as client:
            for _ in range(5):
                assert not (await client.call_tool("get_inventory", {"sku": "PTDR000001"})).is_error
    finally:
        process.terminate()
        process.wait(timeout=30)
    log = (tmp_path / "stderr").read_text()
    assert "Logging error" not in log and "Traceback" not in log, log[:3000]
    assert token not in log and token[5:] not in log
    assert "?access_token" not in log


def test_uvicorn_access_lines_are_masked_and_lose_their_query_string() -> None:
    """At INFO, through the filter and record factory the servers install (the formatter unpacks the args)."""
    import logging

    from zava_core.infra.redaction import install_log_redaction

    original = logging.getLogRecordFactory()
    install_log_redaction(Settings())
    try:
        zhttp.uvicorn_config(lambda *a: None, "127.0.0.1", 0, "INFO")
        access = logging.getLogger("uvicorn.access")
        record = access.makeRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                                   ("127.0.0.1:1", "GET", "/sse?session=1&token=zava_" + "a" * 43, "1.1", 200),
                                   None)
        assert all(f.filter(record) for f in access.filters)
        formatted = access.handlers[0].format(record)
    finally:
        logging.setLogRecordFactory(original)
    assert '"GET /sse HTTP/1.1" 200' in formatted and "zava_a" not in formatted


@pytest.mark.anyio
async def test_a_connection_that_sends_its_headers_too_slowly_is_closed(monkeypatch) -> None:
    monkeypatch.setattr(zhttp, "HEADER_TIMEOUT_S", 0.5)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async with serving(app, lifespan="off") as base:
        port = int(base.rsplit(":", 1)[1])
        slow = await anyio.connect_tcp("127.0.0.1", port)
        await slow.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the headers never finish
        started = time.monotonic()
        with anyio.fail_after(5):
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
                while True:
                    await anyio.sleep(0.1)
                    await slow.send(b"X")  # a byte at a time, as a slow-header attack sends
                    chunk = await slow.receive()
                    if not chunk:
                        break
        assert time.monotonic() - started < 3
        # A prompt request on a fresh connection is served, and again on the same one after the response.
        async with httpx2.AsyncClient() as http:
            for _ in range(2):
                assert (await http.get(f"{base}/")).text == "ok"


# --- the tokens CLI -------------------------------------------------------------------------------


def test_tokens_issue_prints_only_the_token_and_checks_the_store(seeded: Settings, tmp_path: Path) -> None:
    env = launch_env(tmp_path, MONGODB_URI=seeded.mongodb_uri or "", MONGODB_DATABASE=SEEDED_DATABASE,
                     ZAVA_TOKENS_FILE=str(tmp_path / "tokens.json"))

    def tokens(*args: str) -> subprocess.CompletedProcess:
        return run(["-m", "mcp_servers.tokens", *args], env, tmp_path)

    issued = tokens("issue", "--store", "Zava Retail Seattle", "--expires-days", "30")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert issued.stdout == token + "\n" and token.startswith("zava_")  # TOKEN=$(... issue ...) captures it
    assert "store:seattle" in issued.stderr and token not in issued.stderr
    assert TokenStore(tmp_path / "tokens.json").lookup(token) == Identity(head_office=False, store="seattle")

    for args, says in ((("--store", "narnia"), "unknown store 'narnia'"),
                       (("--store", "seattle", "--expires-days", "0"), "at least 1"),
                       (("--store", "seattle", "--expires-days", "-3"), "at least 1")):
        refused = tokens("issue", *args)
        assert refused.returncode == 2 and refused.stdout == "", args
        assert refused.stderr.count("\n") == 1 and says in refused.stderr, refused.stderr
    assert len(TokenStore(tmp_path / "tokens.json").entries()) == 1, "nothing was issued for a refused call"

    # An expired token is listed as expired, with its expiry; a revoked one as revoked.
    store = TokenStore(tmp_path / "tokens.json")
    store.issue(Identity(head_office=True), expires_days=-1 / 24, label="old")
    listed = tokens("list").stdout.splitlines()
    old = next(line for line in listed if line.endswith("old"))
    assert " expired " in old and "expires 20" in old
    current = next(line for line in listed if "store:seattle" in line)
    assert " active " in current
    assert oct((tmp_path / "tokens.json").stat().st_mode & 0o777) == "0o600"


# --- what the model reads ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_tool_errors_a_model_can_act_on(seeded: Settings) -> None:
    async with Client(build_customer_sales(seeded, Identity(head_office=False, store="seattle"))) as client:
        bad = await client.call_tool("create_order", {"customer_id": "c", "store": "Seattle",
                                                      "items": [{"sku": "PTDR000001", "quantity": True}],
                                                      "idempotency_key": "key-12345678"})
        assert bad.is_error
        lines = bad.content[0].text.splitlines()
        assert "- customer_id: must be at least 5 characters" in lines[1:][0]
        assert any(line.startswith("- items[0].quantity: must be a whole number") for line in lines)
        assert "https://" not in bad.content[0].text

        long = await client.call_tool("semantic_search_products", {"query_description": "drill",
                                                                    "category": "x" * 500_000})
        assert long.is_error and len(long.content[0].text) < 500

        found = await client.call_tool("get_products_by_name", {"product_name": "drill", "max_rows": 2})
        assert not found.is_error
        text = found.content[0].text
        assert text.startswith("The data below comes from the Zava database") and "<untrusted-user-data-" in text
        import json

        assert json.loads(unfenced(text)) == found.structured_content  # the same data, fenced

    no_key = replace(seeded, embedding_backend="openai", openai_api_key=None)
    async with Client(build_customer_sales(no_key, Identity(head_office=True))) as client:
        missing = await client.call_tool("semantic_search_products", {"query_description": "fix a leaking tap"})
        assert missing.is_error and "OPENAI_API_KEY" in missing.content[0].text


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])  # an input_required round (2026-07-28), a request mid-call
async def test_writes_ask_the_user_to_confirm_where_the_client_can(writable: Settings, mode: str) -> None:
    sku, store = "PTDR000002", "store_seattle"

    def stock() -> int:
        with MongoClient(writable.mongodb_uri) as mongo:
            doc = mongo[writable.mongodb_database].inventory.find_one({"product_id": f"prod_{sku}",
                                                                        "store_id": store})
            return int(doc["stock_level"])

    asked: list[str] = []

    def answering(action: str, confirm: bool = True):
        async def callback(context, params) -> ElicitResult:
            asked.append(params.message)
            return ElicitResult(action=action, content={"confirm": confirm} if action == "accept" else None)
        return callback

    count = {"sku": sku, "store": "Seattle", "counted_quantity": 0}
    manager = Identity(head_office=False, store="seattle")
    before = stock()
    for action, confirm in (("decline", True), ("cancel", True), ("accept", False)):
        async with Client(build_customer_sales(writable, manager), mode=mode,
                          elicitation_callback=answering(action, confirm)) as client:
            refused = await client.call_tool("update_stock_count", {**count, "counted_quantity": before + 7})
        assert refused.is_error and "not confirmed" in refused.content[0].text and "nothing was changed" in \
            refused.content[0].text
        assert stock() == before
    assert asked and all(f"({sku}) at Zava Retail Seattle from {before} to {before + 7} units" in m for m in asked)
    async with Client(build_customer_sales(writable, manager), mode=mode,
                      elicitation_callback=answering("accept")) as client:
        done = await client.call_tool("update_stock_count", {**count, "counted_quantity": before + 7})
    assert not done.is_error and stock() == before + 7
    # A client without elicitation (most agent frameworks) writes as before.
    async with Client(build_customer_sales(writable, manager), mode=mode) as client:
        assert not (await client.call_tool("update_stock_count", {**count, "counted_quantity": before})).is_error
    assert stock() == before
