"""Serving from a cluster: stateless replicas behind one client, the Host check, /metrics, traces, and the
token store in MongoDB that every replica reads."""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import uuid
from contextlib import AsyncExitStack
from dataclasses import replace

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo import MongoClient
from serving import serving

from mcp_servers.auth.token_store import MongoTokenStore
from mcp_servers.customer_sales.server import build_server
from mcp_servers.serving import runner
from zava_core.infra.config import ServingSettings, Settings
from zava_core.model.collections import QUERYABLE, TOKENS
from zava_core.scope import Identity

pytestmark = pytest.mark.integration

SKU = "PTDR000001"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "deploy-test", "version": "0"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def http_args(**overrides) -> argparse.Namespace:
    return argparse.Namespace(**{"transport": "http", "host": "127.0.0.1", "port": 8000, "store": None,
                                 "head_office": False, "read_only": False, "stateless": True, **overrides})


def mongo_tokens(settings: Settings) -> Settings:
    return replace(settings, serving=ServingSettings(token_store="mongodb"))


class Alternating(httpx2.AsyncBaseTransport):
    """One client's requests sent to each replica in turn, as a round-robin load balancer does."""

    def __init__(self, bases: list[str]) -> None:
        self.bases = itertools.cycle(bases)
        self.sent: list[str] = []
        self.calls: list[tuple[str, bool]] = []  # (replica, carries requestState) per tools/call
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        base = httpx2.URL(next(self.bases))
        request.url = request.url.copy_with(host=base.host, port=base.port)
        request.headers["host"] = f"{base.host}:{base.port}"
        self.sent.append(f"{base.port}")
        if b'"tools/call"' in request.content:
            self.calls.append((f"{base.port}", b'"requestState"' in request.content))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.anyio
async def test_two_stateless_replicas_answer_one_client_and_one_order_per_key(writable) -> None:
    settings = mongo_tokens(writable)
    tokens = MongoTokenStore(settings)
    _, token = tokens.issue(Identity(head_office=False, store="seattle"), label="replicas")
    database = MongoClient(writable.mongodb_uri)[writable.mongodb_database]
    customer = database.customers.find_one({"deleted": False, "stores_shopped.store_seattle": {"$exists": True}})
    assert customer is not None
    key = f"replica-{uuid.uuid4().hex}"
    order = {"customer_id": customer["_id"], "store": "seattle", "items": [{"sku": SKU, "quantity": 1}],
             "idempotency_key": key}
    async with AsyncExitStack() as stack:
        bases = [await stack.enter_async_context(serving(runner.http_app(
            runner.build_for_transport(build_server, settings, http_args()), "http", "127.0.0.1", stateless=True)))
            for _ in range(2)]
        assert bases[0] != bases[1]
        balancer = Alternating(bases)
        http = httpx2.AsyncClient(transport=balancer, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        async with http, Client(streamable_http_client(f"{bases[0]}/mcp", http_client=http)) as client:
            reads = [await client.call_tool("get_inventory", {"sku": SKU}) for _ in range(4)]
            first = await client.call_tool("create_order", order)
            retry = await client.call_tool("create_order", order)  # the next request: the other replica
        assert all(not r.is_error for r in reads)
        assert {r.structured_content["stores"][0]["store_id"] for r in reads} == {"store_seattle"}
        assert not first.is_error and not retry.is_error, (first.content, retry.content)
        assert first.structured_content["order"]["order_id"] == retry.structured_content["order"]["order_id"]
        assert (first.structured_content["replayed"], retry.structured_content["replayed"]) == (False, True)
        assert len(set(balancer.sent)) == 2, "requests reached both replicas"
    assert database.orders.count_documents({"idempotency_key": key}) == 1
    tokens.close()


@pytest.mark.anyio
@pytest.mark.parametrize("shared_keys", [True, False])
async def test_a_confirmation_answered_on_another_replica(writable, shared_keys) -> None:
    """2026-07-28: the confirmation comes back as a second tools/call carrying sealed state. With
    ZAVA_REQUEST_STATE_KEYS any replica opens it; with each process's own key the other replica cannot."""
    keys = ("k" * 40,) if shared_keys else ()
    settings = replace(writable, serving=ServingSettings(token_store="mongodb", request_state_keys=keys))
    tokens = MongoTokenStore(settings)
    _, token = tokens.issue(Identity(head_office=False, store="seattle"), label="confirm")
    asked: list[str] = []

    async def confirm(context, params):
        from mcp_types import ElicitResult

        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    level = 11 if shared_keys else 12
    count = {"sku": "PTDR000003", "store": "Seattle", "counted_quantity": level}
    async with AsyncExitStack() as stack:
        bases = [await stack.enter_async_context(serving(runner.http_app(
            runner.build_for_transport(build_server, settings, http_args()), "http", "127.0.0.1", stateless=True)))
            for _ in range(2)]
        balancer = Alternating(bases)
        http = httpx2.AsyncClient(transport=balancer, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        async with http, Client(streamable_http_client(f"{bases[0]}/mcp", http_client=http), mode="2026-07-28",
                                elicitation_callback=confirm) as client:
            balancer.calls.clear()
            if shared_keys:
                result = await client.call_tool("update_stock_count", count)
            else:
                with pytest.raises(MCPError, match="Invalid or expired requestState"):
                    await client.call_tool("update_stock_count", count)
        assert asked, "the user was asked"
        (asker, first_state), (answerer, second_state) = balancer.calls
        assert asker != answerer and (first_state, second_state) == (False, True), \
            "asked by one replica, answered to the other"
    if shared_keys:
        assert not result.is_error, result.content
        assert result.structured_content["stock_level"] == level
    stored = MongoClient(writable.mongodb_uri)[writable.mongodb_database].inventory.find_one(
        {"product_id": "prod_PTDR000003", "store_id": "store_seattle"})
    assert (stored["stock_level"] == level) is shared_keys, "refused: nothing was changed"
    tokens.close()


@pytest.mark.anyio
async def test_host_check_metrics_and_revocation_seen_by_every_replica(writable) -> None:
    settings = mongo_tokens(writable)
    tokens = MongoTokenStore(settings)
    token_id, token = tokens.issue(Identity(head_office=True), label="metrics")
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    async with AsyncExitStack() as stack:
        bases = [await stack.enter_async_context(serving(runner.http_app(
            runner.build_for_transport(build_server, settings, http_args()), "http", "127.0.0.1", stateless=True,
            security=runner.transport_security(settings, "127.0.0.1")))) for _ in range(2)]
        async with httpx2.AsyncClient(timeout=30) as http:
            for base in bases:
                assert (await http.post(f"{base}/mcp", json=INITIALIZE, headers=headers)).status_code == 200
                rebound = await http.post(f"{base}/mcp", json=INITIALIZE, headers={**headers, "Host": "evil.example"})
                assert rebound.status_code == 421, "another Host is refused (DNS rebinding)"
                for path in ("/health", "/metrics"):  # they answered any Host, a rebinding page's included
                    assert (await http.get(f"{base}{path}", headers={"Host": "evil.example"})).status_code == 421
                    assert (await http.get(f"{base}{path}")).status_code == 200
                    # The kubelet's probes and Prometheus come by the pod's address: no name, no rebinding.
                    for pod in ("10.1.2.3:8000", "[fd00::7]:8000"):
                        assert (await http.get(f"{base}{path}", headers={"Host": pod})).status_code == 200
                assert (await http.post(f"{base}/mcp", json=INITIALIZE,
                                        headers={**headers, "Host": "10.1.2.3:8000"})).status_code == 421
            # Revoked through another store object (another replica, or the CLI): both refuse it at once.
            assert MongoTokenStore(settings).revoke(token_id)
            for base in bases:
                assert (await http.post(f"{base}/mcp", json=INITIALIZE, headers=headers)).status_code == 401
            text = (await http.get(f"{bases[0]}/metrics")).text
    assert 'zava_auth_failures_total{reason="invalid"}' in text
    assert "zava_tool_call_seconds_bucket" in text and "zava_database_errors_total" in text
    assert "zava_cube_age_seconds" in text
    tokens.close()

    configured = replace(settings, serving=replace(settings.serving, allowed_hosts=("zava.example.com",)))
    security = runner.transport_security(configured, "0.0.0.0")
    assert security is not None and security.allowed_hosts == ["zava.example.com"]
    assert runner.transport_security(settings, "0.0.0.0") is None  # beyond loopback, unset: off (and said so)


@pytest.mark.anyio
async def test_metrics_count_tool_calls_by_outcome(seeded, tmp_path) -> None:
    from mcp_servers.serving.metrics import REGISTRY

    def count(tool: str, outcome: str) -> float:
        value = REGISTRY.get_sample_value("zava_tool_calls_total", {"server": "zava-customer-sales", "tool": tool,
                                                                     "outcome": outcome})
        return value or 0.0

    # The outcome label is the error's code (zava_core.errors.ErrorCode), the one the reply's text starts with.
    before = {k: count(*k) for k in (("get_inventory", "ok"), ("get_inventory", "out_of_scope"),
                                     ("get_inventory", "invalid_argument"), ("get_inventory", "unknown_argument"),
                                     ("get_inventory", "not_found"), ("unknown", "unknown_tool"))}
    async with Client(build_server(seeded, Identity(head_office=False, store="seattle"))) as client:
        replies = [await client.call_tool("get_inventory", {"sku": SKU}),
                   await client.call_tool("get_inventory", {"sku": SKU, "store": "Tacoma"}),  # outside the scope
                   await client.call_tool("get_inventory", {"sku": 5}),
                   await client.call_tool("get_inventory", {"sku": SKU, "stores": ["Seattle"]}),
                   await client.call_tool("get_inventory", {"sku": "ZZZZ999999"}),
                   await client.call_tool("no_such_tool_" + uuid.uuid4().hex, {})]
    after = {k: count(*k) for k in before}
    assert {k: after[k] - before[k] for k in before} == {k: 1.0 for k in before}
    for reply, (_, outcome) in zip(replies[1:], list(before)[1:], strict=True):
        assert reply.is_error and reply.content[0].text.startswith(f"{outcome}: "), reply.content[0].text


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.mark.anyio
async def test_spans_per_tool_and_per_query_without_argument_values(writable, spans) -> None:
    # A tool that always reads and writes the database (lookups may answer from the read models, querying nothing).
    spans.clear()
    async with Client(build_server(writable, Identity(head_office=False, store="seattle"))) as client:
        result = await client.call_tool("move_inventory", {"sku": SKU, "store": "Seattle", "aisle": "A07",
                                                           "shelf": "S2", "bin": "B11"})
    assert not result.is_error, result.content[0].text
    finished = spans.get_finished_spans()
    tool = [s for s in finished if s.name == "tools/call move_inventory"]
    assert len(tool) == 1
    queries = [s for s in finished if s.attributes.get("db.system.name") == "mongodb"
               and s.attributes.get("zava.tool") == "move_inventory"]
    assert queries, [s.name for s in finished]
    for span in queries:
        assert span.attributes["zava.scope"] == "store_seattle"
        assert span.context.trace_id == tool[0].context.trace_id, "query spans sit under the tool's span"
        assert all(SKU not in str(value) for value in span.attributes.values()), "no argument value in a span"


def test_token_collection_is_outside_what_callers_can_query() -> None:
    assert TOKENS not in QUERYABLE


def test_tokens_cli_against_mongodb(writable) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "MONGODB_URI": writable.mongodb_uri,
           "MONGODB_DATABASE": writable.mongodb_database, "ZAVA_TOKEN_STORE": "mongodb"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mcp_servers.tokens", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    issued = cli("issue", "--store", "Everett", "--label", "cli-mongo")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    token_id = issued.stderr.split()[0]
    assert "zava_tokens collection" in issued.stderr
    store = MongoTokenStore(mongo_tokens(writable))
    assert store.lookup(token) == Identity(head_office=False, store="everett")
    listed = cli("list")
    assert token_id in listed.stdout and token not in listed.stdout
    assert cli("revoke", token_id).returncode == 0
    assert store.lookup(token) is None
    assert store.check(token).startswith(f"revoked token: {token_id} was revoked")  # what the 401 will say
    assert store.check("zava_" + "n" * 43).startswith("invalid token: no such token")
    raw = MongoClient(writable.mongodb_uri)[writable.mongodb_database][TOKENS].find_one({"_id": token_id})
    assert token not in str(raw), "only the hash is stored"
    store.close()


def test_stateless_is_for_streamable_http_only(tmp_path) -> None:
    settings = replace(Settings(), mongodb_uri="mongodb://127.0.0.1:9/", tokens_file=tmp_path / "tokens.json")
    with pytest.raises(SystemExit, match="--stateless applies to --transport http"):
        runner.build_for_transport(build_server, settings, http_args(transport="sse"))


@pytest.mark.anyio
async def test_served_process_logs_json_and_exports_traces_over_otlp(writable, tmp_path) -> None:
    """The real entry point: ZAVA_LOG_FORMAT=json makes every stderr line (uvicorn's too) a JSON object, and
    OTEL_EXPORTER_OTLP_ENDPOINT sends the spans to a collector (here one on 127.0.0.1)."""
    import socket

    import anyio
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from mcp_servers.auth.bearer_tokens import TokenStore

    received: list[bytes] = []

    async def collect(request: Request) -> Response:
        received.append(await request.body())
        return Response(b"", media_type="application/x-protobuf")

    _, token = TokenStore(tmp_path / "tokens.json").issue(Identity(head_office=False, store="seattle"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with serving(Starlette(routes=[Route("/v1/traces", collect, methods=["POST"])])) as collector:
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "MONGODB_URI": writable.mongodb_uri,
               "MONGODB_DATABASE": writable.mongodb_database, "ZAVA_TOKENS_FILE": str(tmp_path / "tokens.json"),
               "ZAVA_LOG_FORMAT": "json", "OTEL_EXPORTER_OTLP_ENDPOINT": collector}
        stderr_path = tmp_path / "server.stderr"
        with stderr_path.open("w") as stderr:
            process = subprocess.Popen([sys.executable, "-m", "mcp_servers.customer_sales", "--transport", "http",
                                        "--port", str(port), "--stateless"], env=env, stderr=stderr, cwd=tmp_path)
            try:
                base = f"http://127.0.0.1:{port}"
                async with httpx2.AsyncClient(timeout=10) as http:
                    with anyio.fail_after(60):
                        while True:
                            try:
                                if (await http.get(f"{base}/health?access_token=zava_secretish")).status_code == 200:
                                    break
                            except httpx2.HTTPError:
                                await anyio.sleep(0.2)
                    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                            # a tool that always queries the database (lookups may answer from memory)
                            "params": {"name": "move_inventory", "arguments": {
                                "sku": SKU, "store": "Seattle", "aisle": "A07", "shelf": "S2", "bin": "B12"}}}
                    answer = await http.post(f"{base}/mcp", json=call,
                                             headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"})
                    assert answer.status_code == 200 and "error" not in answer.json(), answer.text
            finally:
                process.terminate()
                await anyio.to_thread.run_sync(process.wait, 30)
    import json

    lines = [line for line in stderr_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # a line that is not JSON fails here
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any("/health" in r["message"] for r in access)
    assert all("access_token" not in r["message"] for r in records), "no query string in the access lines"
    assert token not in stderr_path.read_text()
    assert received, "spans were exported to the collector at exit"
    exported = b"".join(received)
    assert b"tools/call move_inventory" in exported and b"zava.scope" in exported
    assert SKU.encode() not in exported, "no argument value in an exported span"


@pytest.mark.anyio
async def test_cube_age_appears_once_the_analysis_server_loaded_it(seeded, tmp_path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from mcp_servers.auth.bearer_tokens import TokenStore
    from mcp_servers.sales_analysis.server import build_server as build_analysis

    settings = replace(seeded, tokens_file=tmp_path / "tokens.json")
    _, token = TokenStore(settings.tokens_file).issue(Identity(head_office=True))

    def cube_ages(text: str) -> list[float]:
        return [sample.value for family in text_string_to_metric_families(text)
                if family.name == "zava_cube_age_seconds" for sample in family.samples]

    app = runner.http_app(runner.build_for_transport(build_analysis, settings, http_args()), "http", "127.0.0.1",
                          stateless=True)
    async with serving(app) as base, httpx2.AsyncClient(timeout=60) as raw:
        assert cube_ages((await raw.get(f"{base}/metrics")).text) == [], "no cube loaded yet"
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
        async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
            trend = await client.call_tool("sales_trend", {"period": "month"})
        assert not trend.is_error, trend.content
        ages = cube_ages((await raw.get(f"{base}/metrics")).text)
        assert len(ages) == 1 and 0 <= ages[0] < 60
