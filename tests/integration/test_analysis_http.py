"""The sales-analysis server over HTTP, built as `python -m mcp_servers.sales_analysis --transport http|sse`
builds it (runner.build_for_transport, the tokens file, MAX_BODY_BYTES) and served by uvicorn in the test.

Every request needs a known, unexpired, unrevoked bearer token (401 otherwise, revocation without a
restart); the token's store is the caller's scope, request by request; bodies over MAX_BODY_BYTES get
413; /health answers without a token. The figures a store token sees are compared with sums computed
here from the seeded documents.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from pymongo import MongoClient
from serving import serving as serve_app
from serving import stop_process

from mcp_servers.auth.bearer_tokens import TokenStore
from mcp_servers.sales_analysis.server import build_server
from mcp_servers.serving.runner import MAX_BODY_BYTES, build_for_transport, http_app
from zava_core.infra.config import Settings
from zava_core.limits import HARD_CAP
from zava_core.scope import Identity

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SEATTLE, TACOMA = "store_seattle", "store_tacoma"
ALL_STORES = ("store_bellevue", "store_everett", "store_kirkland", "store_online", "store_redmond",
              "store_seattle", "store_spokane", "store_tacoma")
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "zava-http-test", "version": "1"}}}
ANALYSIS_TOOLS = {"get_current_utc_date", "get_collection_schemas", "sales_summary", "export_sales_summary",
                  "sales_trend", "seasonal_profile", "inventory_health", "run_aggregation"}


# --- fixtures ----------------------------------------------------------------------------------


@dataclass
class Tokens:
    path: Path
    ids: dict[str, str]  # name -> token id
    values: dict[str, str]  # name -> the bearer token

    def __getitem__(self, name: str) -> str:
        return self.values[name]


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    """A tokens file issued through TokenStore, as `python -m mcp_servers.tokens issue` does."""
    path = tmp_path / "tokens.json"
    store = TokenStore(path)
    out = Tokens(path, {}, {})
    for name, identity, days in [("seattle", Identity(False, "seattle"), None),
                                 ("tacoma", Identity(False, "Tacoma"), 90),
                                 ("head_office", Identity(True), None),
                                 ("atlantis", Identity(False, "atlantis"), None),
                                 ("expired", Identity(False, "seattle"), -1),
                                 ("revoked", Identity(False, "seattle"), None),
                                 ("to_revoke", Identity(False, "seattle"), None)]:
        out.ids[name], out.values[name] = store.issue(identity, expires_days=days, label=name)
    assert TokenStore(path).revoke(out.ids["revoked"])
    return out


@pytest.fixture(scope="module")
def figures(seeded: Settings) -> dict[str, dict[str, float]]:
    """Per store, from the order lines and orders themselves: revenue, units, lines, orders."""
    client: MongoClient = MongoClient(seeded.mongodb_uri)
    try:
        db = client[seeded.mongodb_database]
        out: dict[str, dict[str, Any]] = {}
        for line in db.order_items.find({"deleted": False}, {"store_id": 1, "order_id": 1, "quantity": 1,
                                                                  "total_amount": 1}):
            store = out.setdefault(line["store_id"], {"revenue": 0.0, "units": 0, "lines": 0, "order_ids": set()})
            store["revenue"] += line["total_amount"]
            store["units"] += line["quantity"]
            store["lines"] += 1
            store["order_ids"].add(line["order_id"])
        for store_id, store in out.items():
            store["orders"] = len(store.pop("order_ids"))
            store["order_docs"] = db.orders.count_documents({"store_id": store_id, "deleted": False})
            store["name"] = db.stores.find_one({"_id": store_id})["store_name"]
        assert sorted(out) == list(ALL_STORES)
        return out
    finally:
        client.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(settings: Settings, tokens: Tokens, transport: str = "http") -> AsyncIterator[str]:
    """The server as the runner builds it for `transport`, on uvicorn in this event loop; yields its base URL."""
    args = argparse.Namespace(transport=transport, host=HOST, port=8000, store=None, head_office=False,
                              read_only=False)
    server = build_for_transport(build_server, replace(settings, tokens_file=tokens.path), args)
    async with serve_app(http_app(server, transport, HOST)) as base:  # what runner.main serves
        yield base


@asynccontextmanager
async def connect(base: str, token: str, transport: str = "http") -> AsyncIterator[Client]:
    """An SDK client that sends `token` as a bearer token on every request."""
    headers = {"Authorization": f"Bearer {token}"}
    if transport == "http":
        http = httpx2.AsyncClient(headers=headers, timeout=120)
        async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
            yield client
    else:
        async with Client(sse_client(f"{base}/sse", headers=headers, timeout=30)) as client:
            yield client


async def call_ok(client: Client, tool: str, args: dict) -> dict:
    result = await client.call_tool(tool, args)
    assert not result.is_error, f"{tool}({args}): {result.content[0].text}"
    return result.structured_content


async def call_refused(client: Client, tool: str, args: dict, *fragments: str) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, f"{tool}({args}) should be refused, got {result.structured_content}"
    assert result.structured_content is None
    text = result.content[0].text
    for fragment in fragments:
        assert fragment in text, text
    return text


def store_ids_in(value: Any) -> set[str]:
    """Every store id named anywhere in a result (in any key or string, at any depth)."""
    if isinstance(value, dict):
        return set().union(*(store_ids_in(v) for v in value.values()), *(store_ids_in(k) for k in value))
    if isinstance(value, list):
        return set().union(*(store_ids_in(v) for v in value))
    if isinstance(value, str):
        return {store_id for store_id in ALL_STORES if store_id in value}
    return set()


def assert_401(response: httpx2.Response, case: str = "") -> None:
    assert response.status_code == 401, (case, response.status_code, response.text[:300])
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["error"]["code"] == -32001  # a JSON-RPC error an MCP client shows
    assert "result" not in response.text and "store_" not in response.text


# --- health and authentication -----------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_health_answers_without_a_token(seeded: Settings, tokens: Tokens, transport: str) -> None:
    async with serving(seeded, tokens, transport) as base, httpx2.AsyncClient() as http:
        response = await http.get(f"{base}/health")
        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["server"]) == ("ok", "zava-sales-analysis")
        # Readiness says what has loaded, never data: only these fields (startup.py).
        assert set(body) <= {"status", "server", "ready", "ready_after_seconds", "up_seconds", "feed", "read_models",
                             "warm_ups_done"} and isinstance(body["ready"], bool)
        assert "store_" not in response.text
        # The same server refuses its MCP endpoint to the same anonymous caller.
        endpoint = "/mcp" if transport == "http" else "/sse"
        assert_401(await (http.post(f"{base}{endpoint}", json=INITIALIZE, headers=ACCEPT) if transport == "http"
                          else http.get(f"{base}{endpoint}")))


async def test_missing_wrong_expired_or_revoked_token_gets_401(seeded: Settings, tokens: Tokens) -> None:
    seattle = tokens["seattle"]
    refused = {
        "missing": None,
        "wrong": "Bearer zava_" + "A" * 43,
        "truncated": f"Bearer {seattle[:-1]}",
        "longer": f"Bearer {seattle}x",
        "sha256 of the token (what the file stores)": "Bearer " + json.loads(tokens.path.read_text())["tokens"][0][
            "sha256"],
        "no scheme": seattle,
        "basic scheme": "Basic " + base64.b64encode(f"seattle:{seattle}".encode()).decode(),
        "empty bearer": "Bearer",
        "expired": f"Bearer {tokens['expired']}",
        "revoked": f"Bearer {tokens['revoked']}",
    }
    async with serving(seeded, tokens) as base, httpx2.AsyncClient(timeout=60) as http:
        ok = await http.post(f"{base}/mcp", json=INITIALIZE, headers={**ACCEPT, "Authorization": f"Bearer {seattle}"})
        assert ok.status_code == 200, ok.text
        session = ok.headers["mcp-session-id"]
        for case, authorization in refused.items():
            headers = {**ACCEPT, **({"Authorization": authorization} if authorization is not None else {})}
            assert_401(await http.post(f"{base}/mcp", json=INITIALIZE, headers=headers), case)
            # Inside a session opened with a good token, a request with a bad one is refused as well.
            call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": "sales_summary", "arguments": {"group_by": "store"}}}
            response = await http.post(f"{base}/mcp", json=call, headers={**headers, "mcp-session-id": session})
            assert_401(response, case)
        for method in ("GET", "DELETE"):
            assert_401(await http.request(method, f"{base}/mcp", headers={"mcp-session-id": session}))


async def test_revocation_and_expiry_apply_to_the_next_request_without_a_restart(seeded: Settings,
                                                                                  tokens: Tokens) -> None:
    store = TokenStore(tokens.path)
    async with serving(seeded, tokens) as base:
        async with connect(base, tokens["to_revoke"]) as client:
            out = await call_ok(client, "sales_summary", {"group_by": "store"})
            assert out["stores"] == [SEATTLE]
            assert TokenStore(tokens.path).revoke(tokens.ids["to_revoke"])  # as `tokens revoke` would, elsewhere
            # The SDK client surfaces the 401 with its reason; no result comes back.
            with pytest.raises(MCPError, match="revoked token: tok_") as raised:
                await client.call_tool("sales_summary", {"group_by": "store"})
            assert "store_" not in str(raised.value)
        # Issued now, while the server runs (it reads the store per request): good for five seconds.
        _, expiring = store.issue(Identity(False, "seattle"), expires_days=5 / 86400, label="five seconds")
        issued = time.time()
        async with httpx2.AsyncClient(timeout=60) as http:
            for token in (tokens["to_revoke"], expiring):
                headers = {**ACCEPT, "Authorization": f"Bearer {token}"}
                if token == expiring:
                    assert time.time() - issued < 5, "the machine is too slow for a five-second token"
                    assert (await http.post(f"{base}/mcp", json=INITIALIZE, headers=headers)).status_code == 200
                    await anyio.sleep(max(0.0, issued + 5.5 - time.time()))
                assert_401(await http.post(f"{base}/mcp", json=INITIALIZE, headers=headers))
            # Other tokens are unaffected.
            good = await http.post(f"{base}/mcp", json=INITIALIZE,
                                   headers={**ACCEPT, "Authorization": f"Bearer {tokens['seattle']}"})
            assert good.status_code == 200


# --- scope per token ---------------------------------------------------------------------------


async def assert_sees_only_seattle(client: Client, figures: dict) -> None:
    own = figures[SEATTLE]
    summary = await call_ok(client, "sales_summary", {"group_by": "store", "top_n": HARD_CAP,
                                                      "metrics": ["revenue", "units", "orders"]})
    assert summary["stores"] == [SEATTLE]
    assert [row["group"]["store"] for row in summary["rows"]] == [own["name"]]
    assert summary["totals"]["revenue"] == pytest.approx(own["revenue"], abs=0.01)
    assert summary["totals"]["units"] == own["units"]
    assert summary["totals"]["orders"] == own["orders"]
    for stores in (["Tacoma"], [TACOMA], ["Seattle", "Tacoma"], ["zava retail tacoma"]):
        await call_refused(client, "sales_summary", {"group_by": "store", "stores": stores}, "outside your scope")

    health = await call_ok(client, "inventory_health", {"max_rows": HARD_CAP})
    assert health["stores"] == [SEATTLE]
    assert {item["store_id"] for item in health["at_risk"] + health["slow_movers"]} == {SEATTLE}
    for store in ("Tacoma", TACOMA, "Zava Retail Online"):
        await call_refused(client, "inventory_health", {"store": store}, "outside your scope")

    for collection, pipeline in [
        ("orders", [{"$match": {"store_id": TACOMA}}]),
        ("order_items", [{"$match": {"store_id": {"$ne": SEATTLE}}}, {"$limit": 5}]),
        ("inventory", [{"$match": {"store_id": TACOMA}}]),
        ("sales_monthly", [{"$match": {"store_id": TACOMA}}]),
    ]:
        out = await call_ok(client, "run_aggregation", {"collection": collection, "pipeline": pipeline})
        assert out["rows"] == [], (collection, pipeline)
    grouped = await call_ok(client, "run_aggregation", {
        "collection": "orders", "pipeline": [{"$group": {"_id": "$store_id", "n": {"$sum": 1}}}]})
    assert grouped["rows"] == [{"_id": SEATTLE, "n": own["order_docs"]}]
    joined = await call_ok(client, "run_aggregation", {"collection": "orders", "max_rows": 5, "pipeline": json.dumps([
        {"$limit": 5},
        {"$lookup": {"from": "inventory", "pipeline": [{"$match": {"store_id": TACOMA}}], "as": "tacoma_stock"}},
        {"$lookup": {"from": "orders", "localField": "customer_id", "foreignField": "customer_id",
                     "as": "all_orders"}}])})
    assert joined["rows"] and store_ids_in(joined["rows"]) == {SEATTLE}


async def test_a_seattle_token_sees_only_seattle(seeded: Settings, tokens: Tokens, figures: dict) -> None:
    async with serving(seeded, tokens) as base:
        async with connect(base, tokens["seattle"]) as client:
            assert {t.name for t in (await client.list_tools()).tools} == ANALYSIS_TOOLS
            await assert_sees_only_seattle(client, figures)
        # The control: the same calls with a head-office token do reach the other stores.
        async with connect(base, tokens["head_office"]) as client:
            summary = await call_ok(client, "sales_summary", {"group_by": "store", "top_n": HARD_CAP})
            assert summary["stores"] == sorted(figures)
            assert summary["totals"]["revenue"] == pytest.approx(sum(f["revenue"] for f in figures.values()),
                                                                 abs=0.05)
            tacoma = await call_ok(client, "run_aggregation", {"collection": "orders",
                                                               "pipeline": [{"$match": {"store_id": TACOMA}}]})
            assert tacoma["rows"] and store_ids_in(tacoma["rows"]) == {TACOMA}
            health = await call_ok(client, "inventory_health", {"store": "Tacoma"})
            assert health["stores"] == [TACOMA]


async def test_two_store_tokens_at_once_each_see_their_own_store(seeded: Settings, tokens: Tokens,
                                                                 figures: dict) -> None:
    """The scope comes from each request's token, not from the process or the session."""
    seen: dict[str, list[tuple[list[str], float]]] = {"seattle": [], "tacoma": []}

    async def ask(base: str, name: str) -> None:
        async with connect(base, tokens[name]) as client:
            for _ in range(4):
                out = await call_ok(client, "sales_summary", {"group_by": "store"})
                seen[name].append((out["stores"], out["totals"]["revenue"]))

    async with serving(seeded, tokens) as base, anyio.create_task_group() as group:
        for name in seen:
            group.start_soon(ask, base, name)
    for name, store_id in (("seattle", SEATTLE), ("tacoma", TACOMA)):
        assert len(seen[name]) == 4
        for stores, revenue in seen[name]:
            assert stores == [store_id]
            assert revenue == pytest.approx(figures[store_id]["revenue"], abs=0.01)


async def test_a_token_for_a_store_that_does_not_exist_gets_no_data(seeded: Settings, tokens: Tokens) -> None:
    async with serving(seeded, tokens) as base, connect(base, tokens["atlantis"]) as client:
        for tool, args in [("sales_summary", {"group_by": "store"}), ("inventory_health", {}),
                           ("run_aggregation", {"collection": "orders", "pipeline": []}),
                           ("get_collection_schemas", {"collections": ["orders"]})]:
            await call_refused(client, tool, args, "unknown store 'atlantis'")


# --- limits ------------------------------------------------------------------------------------


def padded_initialize(size: int) -> bytes:
    """An initialize request padded to exactly `size` bytes."""
    empty = json.dumps({**INITIALIZE, "params": {**INITIALIZE["params"], "pad": ""}}).encode()
    body = json.dumps({**INITIALIZE, "params": {**INITIALIZE["params"], "pad": "x" * (size - len(empty))}}).encode()
    assert len(body) == size
    return body


async def test_oversized_bodies_are_refused_with_413(seeded: Settings, tokens: Tokens) -> None:
    auth = {**ACCEPT, "Authorization": f"Bearer {tokens['seattle']}"}
    over = padded_initialize(MAX_BODY_BYTES + 1)

    async def chunked(body: bytes) -> AsyncIterator[bytes]:  # no Content-Length: the size is only known by reading
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    async with serving(seeded, tokens) as base, httpx2.AsyncClient(timeout=60) as http:
        at_limit = await http.post(f"{base}/mcp", content=padded_initialize(MAX_BODY_BYTES), headers=auth)
        assert at_limit.status_code == 200, at_limit.text[:300]
        declared = await http.post(f"{base}/mcp", content=over, headers=auth)
        assert declared.status_code == 413
        streamed = await http.post(f"{base}/mcp", content=chunked(over), headers=auth)
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413
        huge = await http.post(f"{base}/mcp", content=padded_initialize(8 * MAX_BODY_BYTES), headers=auth)
        assert huge.status_code == 413
        # Without a token the answer is 401: the body of an anonymous caller is never read.
        assert_401(await http.post(f"{base}/mcp", content=over, headers=ACCEPT))
        # The server still serves normal requests afterwards.
        assert (await http.post(f"{base}/mcp", json=INITIALIZE, headers=auth)).status_code == 200


def server_env(tmp_path: Path, settings: Settings, tokens: Tokens) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "ZAVA_", "OPENAI_", "AZURE_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(MONGODB_URI=settings.mongodb_uri or "", MONGODB_DATABASE=settings.mongodb_database,
               ZAVA_TOKENS_FILE=str(tokens.path), ZAVA_DATA_DIR=str(tmp_path / "zava-data"), ZAVA_LOG_LEVEL="WARNING")
    return env


async def test_the_command_line_server_applies_the_same_rules(seeded: Settings, tokens: Tokens,
                                                              tmp_path: Path) -> None:
    """`python -m mcp_servers.sales_analysis --transport http` itself: the limit the fixtures above mirror is
    the one runner.main passes, and the tokens file of ZAVA_TOKENS_FILE is the one read."""
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mcp_servers.sales_analysis", "--transport", "http", "--port", str(port)],
            cwd=tmp_path, env=server_env(tmp_path, seeded, tokens), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    auth = {**ACCEPT, "Authorization": f"Bearer {tokens['seattle']}"}
    try:
        async with httpx2.AsyncClient(timeout=60) as http:
            with anyio.fail_after(60):
                while True:
                    assert process.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
                    with contextlib.suppress(httpx2.TransportError):
                        if (await http.get(f"{base}/health")).status_code == 200:
                            break
                    await anyio.sleep(0.2)
            assert_401(await http.post(f"{base}/mcp", json=INITIALIZE, headers=ACCEPT))
            assert_401(await http.post(f"{base}/mcp", json=INITIALIZE,
                                       headers={**ACCEPT, "Authorization": f"Bearer {tokens['revoked']}"}))
            at_limit = await http.post(f"{base}/mcp", content=padded_initialize(MAX_BODY_BYTES), headers=auth)
            assert at_limit.status_code == 200, at_limit.text[:300]
            over = await http.post(f"{base}/mcp", content=padded_initialize(MAX_BODY_BYTES + 1), headers=auth)
            assert over.status_code == 413
        async with connect(base, tokens["seattle"]) as client:
            out = await call_ok(client, "sales_summary", {"group_by": "store"})
            assert out["stores"] == [SEATTLE]
    finally:
        stop_process(process)


# --- SSE ---------------------------------------------------------------------------------------


async def test_sse_works_with_a_token_and_keeps_the_scope(seeded: Settings, tokens: Tokens, figures: dict) -> None:
    async with serving(seeded, tokens, "sse") as base:
        async with httpx2.AsyncClient(timeout=60) as http:
            assert_401(await http.get(f"{base}/sse"))
            assert_401(await http.get(f"{base}/sse", headers={"Authorization": f"Bearer {tokens['revoked']}"}))
            assert_401(await http.post(f"{base}/messages/?session_id=0123", json=INITIALIZE))
            oversized = await http.post(f"{base}/messages/?session_id=0123",
                                        content=padded_initialize(MAX_BODY_BYTES + 1),
                                        headers={"Authorization": f"Bearer {tokens['seattle']}",
                                                 "Content-Type": "application/json"})
            assert oversized.status_code == 413
        async with connect(base, tokens["seattle"], "sse") as client:
            assert {t.name for t in (await client.list_tools()).tools} == ANALYSIS_TOOLS
            await assert_sees_only_seattle(client, figures)
        async with connect(base, tokens["tacoma"], "sse") as client:
            summary = await call_ok(client, "sales_summary", {"group_by": "store"})
            assert summary["stores"] == [TACOMA]
            assert summary["totals"]["revenue"] == pytest.approx(figures[TACOMA]["revenue"], abs=0.01)
