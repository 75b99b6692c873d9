"""`python -m bench load`: concurrent agents against the customer-sales server over Streamable HTTP, on loopback.

Starts the server (`--transport http --stateless`) as a subprocess on 127.0.0.1 against the configured database
(MONGODB_URI / MONGODB_DATABASE, or the embedded engine), issues it a store-manager token in a private tokens
file, and runs N clients (default 32) for a bounded time (default 60 s): each sends JSON-RPC tools/call requests
back to back, a mix of reads and create_order (each with a fresh idempotency key). Prints throughput, latency
percentiles for reads and for orders (and per tool), and errors. Goal: 0 errors, reads p95 <= 100 ms at 32 clients
on 2 cores. `--stateful` serves with sessions instead, for comparison. Every request goes to 127.0.0.1 only, and the
run stops by itself. The clients run in this process: on a 2-core machine they take their share of the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx2
from pymongo import MongoClient

from bench import procstat, readiness
from mcp_servers.auth.bearer_tokens import TokenStore
from zava_core.infra import db as zdb
from zava_core.infra import embedded
from zava_core.infra.config import Settings
from zava_core.scope import Identity

HOST = "127.0.0.1"
STORE = "seattle"
PROTOCOL = "2025-11-25"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
           "MCP-Protocol-Version": PROTOCOL}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _sample(settings: Settings) -> tuple[list[str], list[str]]:
    """SKUs and customers to ask about, read once from the database."""
    client = MongoClient(zdb.resolve_uri(settings))
    try:
        db = client[settings.mongodb_database]
        skus = [p["sku"] for p in db.products.find({"deleted": False}, {"sku": 1}).limit(200)]
        customers = [c["_id"] for c in db.customers.find({"deleted": False}, {"_id": 1}).limit(200)]
    finally:
        client.close()
    if not skus or not customers:
        raise SystemExit(f"error: database {settings.mongodb_database} has no products or customers: seed it first")
    return skus, customers


def _call(rng: random.Random, skus: list[str], customers: list[str], order_share: float) -> tuple[str, str, dict]:
    if rng.random() < order_share:
        return "order", "create_order", {"customer_id": rng.choice(customers), "store": STORE,
                                         "items": [{"sku": rng.choice(skus), "quantity": 1}],
                                         "idempotency_key": f"load-{uuid.uuid4().hex}"}
    name, arguments = rng.choice([
        ("get_inventory", {"sku": rng.choice(skus)}),
        ("get_product_details", {"sku": rng.choice(skus)}),
        ("get_products_by_name", {"product_name": rng.choice(["drill", "paint", "hammer", "saw", "brush"])}),
        ("get_customer_orders", {"customer_id": rng.choice(customers)}),
        ("get_low_stock_items", {}),
    ])
    return "read", name, arguments


def _answer(response: httpx2.Response) -> dict:
    """The JSON-RPC answer, from a JSON body (stateless) or the one SSE event of a stateful server."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1]) if data else {}
    return response.json()


async def _session(http: httpx2.AsyncClient, url: str) -> None:
    """A stateful server wants initialize first; its session id goes on every later request."""
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": PROTOCOL, "capabilities": {},
                       "clientInfo": {"name": "bench", "version": "0"}}}
    response = await http.post(url, json=init)
    response.raise_for_status()
    http.headers["mcp-session-id"] = response.headers["mcp-session-id"]
    await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"})


async def _first_use(base: str, token: str, sku: str, customer_id: str, stateful: bool, alive) -> None:
    """Each read model loads on the first lookup that reads it (zava_core.readmodels): make one such call per model,
    then wait until /health is ready again, so the run measures the server with every read model loaded."""
    first_calls = (("get_inventory", {"sku": sku}), ("find_customers", {"query": customer_id}),
                   ("get_customer_orders", {"customer_id": customer_id}))
    async with httpx2.AsyncClient(timeout=60, headers={**HEADERS, "Authorization": f"Bearer {token}"}) as http:
        if stateful:
            await _session(http, f"{base}/mcp")
        for number, (tool, arguments) in enumerate(first_calls, 1):
            response = await http.post(f"{base}/mcp", json={
                "jsonrpc": "2.0", "id": number, "method": "tools/call",
                "params": {"name": tool, "arguments": arguments}})
            response.raise_for_status()
    await readiness.over_http(base, "customer-sales (http, read models loaded)", alive=alive)


async def _client(number: int, url: str, token: str, until: float, skus: list[str], customers: list[str],
                  order_share: float, results: dict[str, list[float]], errors: list[str], stateful: bool) -> None:
    rng = random.Random(number)
    headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(timeout=30, headers=headers) as http:
        if stateful:
            await _session(http, url)
        request_id = 0
        while time.monotonic() < until:
            kind, name, arguments = _call(rng, skus, customers, order_share)
            request_id += 1
            body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                    "params": {"name": name, "arguments": arguments}}
            started = time.perf_counter()
            try:
                response = await http.post(url, json=body)
                elapsed = time.perf_counter() - started
                answer = _answer(response) if response.status_code == 200 else {}
                # A tool's refusal (out of stock, say) is an answer; a protocol or HTTP failure is an error.
                if response.status_code != 200 or "error" in answer:
                    errors.append(f"{name}: HTTP {response.status_code} {str(answer.get('error'))[:120]}")
                    continue
                refused = bool(answer["result"].get("isError"))
                results.setdefault(f"{kind}-refused" if refused else kind, []).append(elapsed)
                results.setdefault(f"  {name}", []).append(elapsed)  # per tool, answered or refused
            except httpx2.HTTPError as exc:
                errors.append(f"{name}: {type(exc).__name__}")


async def _watch_ready(base: str, until: float, seen: list[bool]) -> None:
    """Once a second: does the server still answer lookups from memory (its feed current) under this load?"""
    async with httpx2.AsyncClient(timeout=5) as http:
        while time.monotonic() < until:
            try:
                seen.append(bool((await http.get(f"{base}/health")).json().get("ready")))
            except (httpx2.HTTPError, ValueError):
                seen.append(False)
            await asyncio.sleep(1.0)


async def _server_figures(base: str) -> dict[str, float]:
    """From /metrics: per tool, seconds spent inside the server's tool handler (sum and count), and the feed's lag."""
    from prometheus_client.parser import text_string_to_metric_families

    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.get(f"{base}/metrics")
    if response.status_code != 200:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name in ("zava_tool_call_seconds_sum", "zava_tool_call_seconds_count"):
                out[f"{sample.labels['tool']}:{sample.name.rsplit('_', 1)[1]}"] = sample.value
            elif sample.name == "zava_feed_lag_seconds":
                out[f"feed lag {sample.labels['quantile']}"] = sample.value
    return out


def _engine_pid(settings: Settings) -> int | None:
    if settings.mongodb_uri:
        return None  # a server elsewhere: its CPU is not ours to read
    state = embedded.running_state(settings.data_dir)
    return state.pid if state is not None else None


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


async def run(clients: int, seconds: float, order_share: float, stateful: bool = False) -> int:
    settings = Settings.from_env()
    skus, customers = _sample(settings)
    with tempfile.TemporaryDirectory() as private:
        tokens = TokenStore(Path(private) / "tokens.json")
        _, token = tokens.issue(Identity(head_office=False, store=STORE), label="bench load")
        port = _free_port()
        env = {**os.environ, "ZAVA_TOKENS_FILE": str(tokens.path), "ZAVA_LOG_LEVEL": "WARNING"}
        command = [sys.executable, "-m", "mcp_servers.customer_sales", "--transport", "http", "--host", HOST,
                   "--port", str(port), *([] if stateful else ["--stateless"])]
        process = subprocess.Popen(command, env=env)
        try:
            base = f"http://{HOST}:{port}"
            try:
                start = await readiness.over_http(base, "customer-sales (http)", alive=lambda: process.poll() is None)
                await _first_use(base, token, skus[0], customers[0], stateful, alive=lambda: process.poll() is None)
            except readiness.NotReady as exc:
                raise SystemExit(f"error: {exc}") from None
            results: dict[str, list[float]] = {}
            errors: list[str] = []
            ready_seen: list[bool] = []
            pids = {"server": process.pid, "engine": _engine_pid(settings), "load generator": os.getpid()}
            cpu_before = {name: procstat.cpu_seconds(pid) if pid else None for name, pid in pids.items()}
            figures_before = await _server_figures(base)
            started = time.monotonic()
            until = started + seconds
            await asyncio.gather(_watch_ready(base, until, ready_seen),
                                 *(_client(n, f"{base}/mcp", token, until, skus, customers, order_share, results,
                                           errors, stateful) for n in range(clients)))
            wall = time.monotonic() - started
            cpu = {name: (procstat.cpu_seconds(pid) or 0.0) - (cpu_before[name] or 0.0)
                   for name, pid in pids.items() if pid and cpu_before[name] is not None}
            memory = procstat.memory_mb(process.pid)
            figures = await _server_figures(base)
        finally:
            process.terminate()
            process.wait(timeout=30)
    total = sum(len(v) for k, v in results.items() if not k.startswith(" ")) + len(errors)
    print(f"load: {clients} clients, {'stateful sessions' if stateful else 'stateless'}, {wall:.0f} s, "
          f"database {settings.mongodb_database}, "
          f"{total} calls, {total / wall:.0f} calls/s, {len(errors)} errors; load average {procstat.load_average()}")
    print(f"  start: {readiness.describe(start)}")
    print(f"  during the run: lookups from memory (/health ready) in {sum(ready_seen)} of {len(ready_seen)} "
          f"checks, one a second")
    print("  CPU during the run: " + ", ".join(f"{name} {seconds:.0f} s ({seconds / wall:.0%} of a core)"
                                                for name, seconds in cpu.items())
          + (f"; server RSS {memory['VmRSS']:.0f} MB" if memory else ""))
    if figures:
        print(f"  feed lag (commit to handled) at the end: last {figures.get('feed lag last', 0) * 1000:.0f} ms, "
              f"p99 of recent batches {figures.get('feed lag 0.99', 0) * 1000:.0f} ms")
    tools = sorted(k for k in results if k.startswith(" "))
    for kind in ("read", "order", "read-refused", "order-refused", *tools):
        values = results.get(kind, [])
        if values:
            inside = _inside_ms(kind.strip(), figures_before, figures)
            print(f"  {kind:<13} {len(values):>6} calls  p50 {_percentile(values, .50):6.1f} ms  "
                  f"p95 {_percentile(values, .95):6.1f} ms  p99 {_percentile(values, .99):6.1f} ms"
                  + (f"  (in the tool handler: mean {inside:.1f} ms)" if inside is not None else ""))
    for line in sorted(set(errors))[:10]:
        print(f"  error: {line}")
    return 1 if errors else 0


def _inside_ms(tool: str, before: dict[str, float], after: dict[str, float]) -> float | None:
    """Mean ms a call of `tool` spent in the server's handler during the run (the rest is HTTP, MCP and queueing)."""
    count = after.get(f"{tool}:count", 0.0) - before.get(f"{tool}:count", 0.0)
    if count <= 0:
        return None
    return (after.get(f"{tool}:sum", 0.0) - before.get(f"{tool}:sum", 0.0)) / count * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench load")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--order-share", type=float, default=0.05, help="share of calls that are create_order")
    parser.add_argument("--stateful", action="store_true", help="serve with sessions instead of --stateless")
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 256 and 1 <= args.seconds <= 600 and 0 <= args.order_share <= 1):
        raise SystemExit("error: --clients 1..256, --seconds 1..600, --order-share 0..1")
    return asyncio.run(run(args.clients, args.seconds, args.order_share, args.stateful))


if __name__ == "__main__":
    raise SystemExit(main())
