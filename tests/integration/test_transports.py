"""The customer-sales server over its real transports: stdio (a subprocess), streamable HTTP and SSE
(uvicorn inside the test, bearer tokens from a tokens file), and the start-up refusals.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.shared.message import SessionMessage
from pymongo import MongoClient
from seeded_data import SEEDED_DATABASE
from serving import serving

from mcp_servers.auth.bearer_tokens import TokenStore
from mcp_servers.customer_sales.server import build_server
from mcp_servers.serving import runner
from mcp_servers.tools.names import Server
from mcp_servers.tools.table import expected_names
from zava_core.infra.config import Settings
from zava_core.scope import Identity

pytestmark = pytest.mark.integration

ALL_STORES = ["store_bellevue", "store_everett", "store_kirkland", "store_online", "store_redmond",
              "store_seattle", "store_spokane", "store_tacoma"]
SKU = "PTDR000001"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "transport-test", "version": "0"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def stock_of(settings: Settings, sku: str) -> dict[str, int]:
    client = MongoClient(settings.mongodb_uri)
    try:
        docs = client[settings.mongodb_database].inventory.find({"product_id": f"prod_{sku}", "deleted": False})
        return {d["store_id"]: d["stock_level"] for d in docs}
    finally:
        client.close()


# --- stdio -------------------------------------------------------------------------------------


def server_env(mongo_uri: str) -> dict[str, str]:
    return {"MONGODB_URI": mongo_uri, "MONGODB_DATABASE": SEEDED_DATABASE, "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp")}


@pytest.mark.anyio
async def test_stdio_subprocess_answers_and_its_stdout_carries_only_protocol(seeded, mongo_uri, tmp_path) -> None:
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "mcp_servers.customer_sales", "--store", "seattle"],
                                   env=server_env(mongo_uri), cwd=str(tmp_path))
    stderr_path = tmp_path / "server.stderr"
    seen: list[SessionMessage | Exception] = []
    with stderr_path.open("w") as errlog, anyio.fail_after(60):
        async with stdio_client(params, errlog=errlog) as (read, write):
            # Every line the server writes on stdout passes through here, parsed (or not) by the SDK.
            relay_send, relay_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

            async def relay() -> None:
                async with relay_send:
                    async for item in read:
                        seen.append(item)
                        await relay_send.send(item)

            async with anyio.create_task_group() as tg:
                tg.start_soon(relay)
                async with ClientSession(relay_receive, write) as session:
                    init = await session.initialize()
                    tools = await session.list_tools()
                    mine = await session.call_tool("get_inventory", {"sku": SKU})
                    theirs = await session.call_tool("get_inventory", {"sku": SKU, "store": "Tacoma"})
                    unknown = await session.call_tool("get_inventory", {"sku": "ZZZZ999999"})
                tg.cancel_scope.cancel()
    assert init.server_info.name == "zava-customer-sales"
    assert sorted(t.name for t in tools.tools) == expected_names(Server.CUSTOMER_SALES)
    assert not mine.is_error
    assert mine.structured_content["stores"] == [
        {**mine.structured_content["stores"][0], "store_id": "store_seattle", "stock_level": stock_of(seeded, SKU)[
            "store_seattle"]}]
    assert theirs.is_error and "outside your scope" in theirs.content[0].text
    assert unknown.is_error and "ZZZZ999999" in unknown.content[0].text
    bad = [item for item in seen if not isinstance(item, SessionMessage)]
    assert not bad, f"non-protocol output on stdout: {bad}"
    assert len(seen) >= 5, "initialize, tools/list and three calls were answered on stdout"
    stderr = stderr_path.read_text()
    assert "Traceback" not in stderr
    assert "get_inventory" in stderr, "the server logs (tool failures at INFO) go to stderr"


@pytest.mark.anyio
async def test_stdio_stdout_holds_nothing_but_json_rpc_until_exit(seeded, mongo_uri, tmp_path) -> None:
    """Raw pipes, read to EOF: also catches output flushed at exit, which an SDK session no longer reads."""
    requests = [INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                 "params": {"name": "get_inventory", "arguments": {"sku": "ZZZZ999999"}}},
                {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                 "params": {"name": "get_inventory", "arguments": {"sku": SKU}}}]
    stderr_path = tmp_path / "server.stderr"
    raw = b""
    with stderr_path.open("w") as errlog, anyio.fail_after(60):
        async with await anyio.open_process(
                [sys.executable, "-m", "mcp_servers.customer_sales", "--store", "seattle"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=errlog, env=server_env(mongo_uri), cwd=tmp_path) as process:
            for request in requests:
                await process.stdin.send((json.dumps(request) + "\n").encode())
            while raw.count(b"\n") < 4:  # the four answers, before closing stdin (which may drop one in flight)
                raw += await process.stdout.receive()
            await process.stdin.aclose()
            try:
                while True:
                    raw += await process.stdout.receive()
            except anyio.EndOfStream:
                pass
            assert await process.wait() == 0
    frames = [json.loads(line) for line in raw.decode().split("\n") if line]  # a stray line fails here
    assert raw.endswith(b"\n") and b"\n\n" not in raw
    assert all(frame["jsonrpc"] == "2.0" for frame in frames)
    answers = {frame["id"]: frame for frame in frames if "id" in frame}
    assert sorted(answers) == [1, 2, 3, 4]
    assert sorted(t["name"] for t in answers[2]["result"]["tools"]) == expected_names(Server.CUSTOMER_SALES)
    assert answers[3]["result"]["isError"] is True
    assert answers[4]["result"]["structuredContent"]["stores"][0]["stock_level"] == stock_of(seeded, SKU)[
        "store_seattle"]
    assert "ZZZZ999999" in stderr_path.read_text(), "the failed call was logged, on stderr"


def test_stdio_without_identity_exits_at_start_with_one_line(mongo_uri, tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "mcp_servers.customer_sales"], env=server_env(mongo_uri),
                          cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "identity" in lines[0] and "--store" in lines[0]


# --- HTTP and SSE ------------------------------------------------------------------------------


def http_args(transport: str = "http", host: str = "127.0.0.1", **overrides) -> argparse.Namespace:
    return argparse.Namespace(**{"transport": transport, "host": host, "port": 8000, "store": None,
                                 "head_office": False, "read_only": False, **overrides})


class Tokens:
    def __init__(self, path: Path) -> None:
        self.store = TokenStore(path)
        self.seattle_id, self.seattle = self.store.issue(Identity(head_office=False, store="seattle"), label="seattle")
        self.office_id, self.office = self.store.issue(Identity(head_office=True), label="office")
        self.doomed_id, self.doomed = self.store.issue(Identity(head_office=False, store="tacoma"), label="doomed")
        _, self.expired = self.store.issue(Identity(head_office=False, store="seattle"), expires_days=-1 / 24)


@pytest.fixture
def http_setup(seeded: Settings, tmp_path: Path) -> tuple[Settings, Tokens]:
    settings = replace(seeded, tokens_file=tmp_path / "tokens.json")
    return settings, Tokens(settings.tokens_file)


def http_server(settings: Settings, transport: str = "http") -> MCPServer:
    return runner.build_for_transport(build_server, settings, http_args(transport))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.anyio
async def test_health_says_once_lookups_answer_from_memory(http_setup) -> None:
    """/health is 200 from the start (tools answer from the database meanwhile). No read model loads until a lookup
    reads it; each first lookup starts its model's load, `ready` is false until it has loaded (and the feed is
    current), and then the model answers."""
    settings, tokens = http_setup
    server = http_server(settings)

    async def until_ready(http: httpx2.AsyncClient, base: str) -> dict:
        for _ in range(1200):
            health = await http.get(f"{base}/health")
            assert health.status_code == 200
            if health.json()["ready"]:
                break
            await anyio.sleep(0.1)
        body = health.json()
        assert body["ready"], body
        assert body["ready_after_seconds"] <= body["up_seconds"] and body["feed"] == "following"
        return body

    async with serving(runner.http_app(server, "http", "127.0.0.1")) as base, httpx2.AsyncClient(timeout=30) as http:
        body = await until_ready(http, base)
        assert body["read_models"] == {"stock": "on first use", "customers": "on first use", "orders": "on first use"}
        models = server.startup.zava.models
        assert models.stock.rows([f"prod_{SKU}"], ALL_STORES) is None  # None: "ask the database"
        assert not (models.stock.loaded or models.customers.loaded or models.orders.loaded)

        office = httpx2.AsyncClient(headers=bearer(tokens.office), timeout=30)
        async with office, Client(streamable_http_client(f"{base}/mcp", http_client=office)) as c:
            for tool, arguments in (("get_inventory", {"sku": SKU}), ("find_customers", {"query": "cust_000001"}),
                                    ("get_customer_orders", {"customer_id": "cust_000001"})):
                first = await c.call_tool(tool, arguments)
                assert not first.is_error, first.content[0].text  # answered by the database while the model loads
        body = await until_ready(http, base)
        assert all(isinstance(seconds, float) for seconds in body["read_models"].values()), body
        assert models.stock.rows([f"prod_{SKU}"], ALL_STORES) is not None
        assert models.customers.usable() and models.orders.usable("cust_000001")


@pytest.mark.anyio
async def test_http_requires_a_valid_token(http_setup) -> None:
    settings, tokens = http_setup
    app = runner.http_app(http_server(settings), "http", "127.0.0.1")
    async with serving(app) as base, httpx2.AsyncClient(timeout=30) as http:
        health = await http.get(f"{base}/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"

        async def initialize(headers: dict[str, str]) -> httpx2.Response:
            return await http.post(f"{base}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers})

        for headers in ({}, bearer("zava_not-a-token"), bearer(tokens.expired), {"Authorization": tokens.seattle}):
            refused = await initialize(headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"].startswith("Bearer")
        for token in (tokens.seattle, tokens.office, tokens.doomed):
            assert (await initialize(bearer(token))).status_code == 200

        # Revocation through another TokenStore on the same file: the running server sees it, no restart.
        assert TokenStore(settings.tokens_file).revoke(tokens.doomed_id) is True
        assert (await initialize(bearer(tokens.doomed))).status_code == 401
        assert (await initialize(bearer(tokens.seattle))).status_code == 200


@pytest.mark.anyio
async def test_http_tokens_carry_their_scope(http_setup) -> None:
    settings, tokens = http_setup
    stock = stock_of(settings, SKU)
    app = runner.http_app(http_server(settings), "http", "127.0.0.1")
    async with serving(app) as base:
        http = httpx2.AsyncClient(headers=bearer(tokens.seattle), timeout=30)
        async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http)) as c:
            mine = await c.call_tool("get_inventory", {"sku": SKU, "store": "Seattle"})
            assert not mine.is_error
            assert [(r["store_id"], r["stock_level"]) for r in mine.structured_content["stores"]] == [
                ("store_seattle", stock["store_seattle"])]
            everything_mine = await c.call_tool("get_inventory", {"sku": SKU})
            assert [r["store_id"] for r in everything_mine.structured_content["stores"]] == ["store_seattle"]
            theirs = await c.call_tool("get_inventory", {"sku": SKU, "store": "Tacoma"})
            assert theirs.is_error and theirs.structured_content is None
            assert "outside your scope" in theirs.content[0].text
        http = httpx2.AsyncClient(headers=bearer(tokens.office), timeout=30)
        async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http)) as c:
            everything = await c.call_tool("get_inventory", {"sku": SKU})
            assert not everything.is_error
            rows = everything.structured_content["stores"]
            assert [(r["store_id"], r["stock_level"]) for r in rows] == [(s, stock[s]) for s in ALL_STORES]
            tacoma = await c.call_tool("get_inventory", {"sku": SKU, "store": "Tacoma"})
            assert [r["store_id"] for r in tacoma.structured_content["stores"]] == ["store_tacoma"]


@pytest.mark.anyio
async def test_http_refuses_an_oversized_body(http_setup) -> None:
    settings, tokens = http_setup
    app = runner.http_app(http_server(settings), "http", "127.0.0.1")

    def padded(size: int) -> bytes:
        body = json.dumps({**INITIALIZE, "params": {**INITIALIZE["params"], "padding": ""}})
        return body.replace('"padding": ""', '"padding": "' + "x" * (size - len(body)) + '"').encode()

    assert runner.MAX_BODY_BYTES == 1024 * 1024
    async with serving(app) as base, httpx2.AsyncClient(headers={**MCP_HEADERS, **bearer(tokens.seattle)},
                                                       timeout=30) as http:
        big = padded(runner.MAX_BODY_BYTES + 512 * 1024)
        assert len(big) > runner.MAX_BODY_BYTES
        too_big = await http.post(f"{base}/mcp", content=big)
        assert too_big.status_code == 413
        under = await http.post(f"{base}/mcp", content=padded(runner.MAX_BODY_BYTES - 64 * 1024))
        assert under.status_code != 413


@pytest.mark.anyio
async def test_sse_answers_with_a_valid_token(http_setup) -> None:
    settings, tokens = http_setup
    stock = stock_of(settings, SKU)
    app = runner.http_app(http_server(settings, "sse"), "sse", "127.0.0.1")
    async with serving(app) as base:
        async with httpx2.AsyncClient(timeout=30) as http:
            assert (await http.get(f"{base}/sse")).status_code == 401
            assert (await http.get(f"{base}/sse", headers=bearer("zava_wrong"))).status_code == 401
            assert (await http.get(f"{base}/health")).status_code == 200
        async with Client(sse_client(f"{base}/sse", headers=bearer(tokens.seattle), timeout=30)) as c:
            tools = (await c.list_tools()).tools
            assert sorted(t.name for t in tools) == expected_names(Server.CUSTOMER_SALES)
            mine = await c.call_tool("get_inventory", {"sku": SKU})
            assert [(r["store_id"], r["stock_level"]) for r in mine.structured_content["stores"]] == [
                ("store_seattle", stock["store_seattle"])]
            theirs = await c.call_tool("get_inventory", {"sku": SKU, "store": "Kirkland"})
            assert theirs.is_error and "outside your scope" in theirs.content[0].text


# --- start-up refusals -------------------------------------------------------------------------


def offline_settings(tmp_path: Path) -> Settings:
    """Settings whose database is never contacted: build_for_transport only builds, it does not connect."""
    return replace(Settings(), mongodb_uri="mongodb://127.0.0.1:9/", tokens_file=tmp_path / "tokens.json",
                   data_dir=tmp_path)


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_refuses_to_listen_beyond_loopback_without_tokens(tmp_path, transport) -> None:
    settings = offline_settings(tmp_path)
    with pytest.raises(SystemExit) as refused:
        runner.build_for_transport(build_server, settings, http_args(transport, host="0.0.0.0"))
    assert "0.0.0.0" in str(refused.value.code) and "tokens" in str(refused.value.code)

    # Only revoked tokens count as none.
    store = TokenStore(settings.tokens_file)
    token_id, _ = store.issue(Identity(head_office=True))
    store.revoke(token_id)
    with pytest.raises(SystemExit, match="tokens"):
        runner.build_for_transport(build_server, settings, http_args(transport, host="0.0.0.0"))

    # With a live token it builds; on loopback it builds without one.
    store.issue(Identity(head_office=False, store="seattle"))
    assert isinstance(runner.build_for_transport(build_server, settings, http_args(transport, host="0.0.0.0")),
                      MCPServer)
    empty = replace(settings, tokens_file=tmp_path / "none.json")
    assert isinstance(runner.build_for_transport(build_server, empty, http_args(transport)), MCPServer)


@pytest.mark.parametrize("transport", ["http", "sse"])
@pytest.mark.parametrize("who", [{"store": "seattle"}, {"head_office": True}])
def test_refuses_launch_identities_on_http(tmp_path, transport, who) -> None:
    with pytest.raises(SystemExit) as refused:
        runner.build_for_transport(build_server, offline_settings(tmp_path), http_args(transport, **who))
    message = str(refused.value.code)
    assert "--store" in message and "bearer tokens" in message


def test_stdio_needs_an_identity_in_process(tmp_path) -> None:
    with pytest.raises(SystemExit) as refused:
        runner.build_for_transport(build_server, offline_settings(tmp_path), http_args("stdio"))
    assert "identity" in str(refused.value.code)
    built = runner.build_for_transport(build_server, offline_settings(tmp_path), http_args("stdio", store="tacoma"))
    assert isinstance(built, MCPServer)
