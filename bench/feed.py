"""`python -m bench feed`: how long until an order written by another writer is visible in analysis.

Against the configured database (MONGODB_URI / MONGODB_DATABASE, or the embedded engine; seed it first), it starts
the sales-analysis server (`--transport http --stateless`) on 127.0.0.1 with a head-office token in a private tokens
file, and connects the MCP SDK client over Streamable HTTP. Then, one at a time, it writes an order straight into
MongoDB in the shape the store devices' DQL makes (`zava_ditto.dql.order_documents`: the header, then each line, one
document per write, as Ditto's connector writes them) for a store nobody else sells at, and asks `sales_summary` for
that store's current month, back to back, until the month holds the order (one more order, its revenue added). The
current month is answered from the rollup, which only the server's change feed brings up to date; a range inside
the month would read the order lines and see the order at once.

Latency = from the last write's acknowledgement to the first answer that holds the order (so it includes one
`sales_summary` call). Two phases: idle, then while `python -m bench load` runs against the same database (its
customer-sales server, a second process with its own feed, takes 32 clients' reads and create_orders at Seattle).
Prints p50, p95, p99 and max per phase, and what one `sales_summary` call takes meanwhile (the part of the latency
that is asking, not waiting). Goal: p99 <= 1 s. Every request goes to 127.0.0.1 only, and the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from pymongo import AsyncMongoClient, MongoClient

from bench import readiness
from bench.load import HOST, _free_port
from bench.load import STORE as LOAD_STORE
from mcp_servers.auth.bearer_tokens import TokenStore
from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.infra.timeutil import now_iso
from zava_core.model import new_order_id
from zava_core.scope import Identity
from zava_ditto import dql

GOAL_P99_MS = 1000.0
VISIBLE_TIMEOUT_S = 15.0  # past this a write counts as not seen (and is reported)


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    asks_ms: list[float] = field(default_factory=list)  # every sales_summary call's own duration
    missed: int = 0
    note: str = ""
    load_average: float = 0.0

    def percentile(self, share: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.latencies_ms if values is None else values)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


@dataclass
class World:
    """What the writes are made of, read once from the database."""

    store: dict
    customers: list[dict]
    products: list[dict]
    orders: int  # the dataset's size, for the report


def _world(settings: Settings, store_name: str | None) -> World:
    client = MongoClient(zdb.resolve_uri(settings))
    try:
        db = client[settings.mongodb_database]
        stores = [s for s in db.stores.find({"is_online": False, "deleted": False}).sort("_id")
                  if s["short_name"].lower() != LOAD_STORE]
        if store_name:
            stores = [s for s in stores if store_name.lower() in (s["_id"], s["short_name"].lower())]
        if not stores:
            raise SystemExit(f"error: no physical store {store_name or ''} other than {LOAD_STORE} in database "
                             f"{settings.mongodb_database}: seed it first")
        store = stores[0]
        customers = list(db.customers.find({"primary_store_id": store["_id"], "deleted": False}).limit(50))
        products = list(db.products.find({"deleted": False}).sort("_id").limit(200))
        orders = db.orders.estimated_document_count()
    finally:
        client.close()
    return World(store, customers, products, orders)


def _month(now: str) -> tuple[str, str]:
    year, month = int(now[:4]), int(now[5:7])
    return f"{now[:7]}-01", f"{now[:7]}-{calendar.monthrange(year, month)[1]:02d}"


async def _figures(client: Client, store_id: str, month: tuple[str, str], asks: list[float]
                   ) -> tuple[float, float] | None:
    """The store's orders and revenue this month; None when the call failed on the way (a timeout on a saturated
    machine): the caller asks again until its deadline."""
    started = time.perf_counter()
    try:
        result = await client.call_tool("sales_summary", {
            "group_by": "store", "metrics": ["orders", "revenue"], "stores": [store_id],
            "start_date": month[0], "end_date": month[1]})
    except (httpx2.HTTPError, MCPError):
        return None
    asks.append((time.perf_counter() - started) * 1000)
    if result.is_error:
        raise SystemExit(f"error: sales_summary failed: {result.content[0].text}")
    rows = result.structured_content["rows"]
    return (rows[0]["values"]["orders"], rows[0]["values"]["revenue"]) if rows else (0, 0.0)


async def _one_write(client: Client, db, world: World, number: int, asks: list[float]) -> float | None:
    """Write one order as a device's would arrive; milliseconds until sales_summary holds it (None: not seen)."""
    now = now_iso()
    month = _month(now)
    before = None
    for _ in range(5):  # the figures before the write (a failed ask is asked again, not counted against the feed)
        before = before or await _figures(client, world.store["_id"], month, [])
    if before is None:
        return None
    orders_before, revenue_before = before
    products = [world.products[(number * 7 + k) % len(world.products)] for k in range(1 + number % 3)]
    customer = world.customers[number % len(world.customers)]
    order, lines = dql.order_documents(new_order_id(), customer, world.store,
                                       [(p, 1 + (number + k) % 2) for k, p in enumerate(products)], now)
    await db.orders.insert_one(order)
    for line in lines:
        await db.order_items.insert_one(line)
    written = time.perf_counter()
    while time.perf_counter() - written < VISIBLE_TIMEOUT_S:
        now_figures = await _figures(client, world.store["_id"], month, asks)
        if now_figures is None:
            continue
        orders, revenue = now_figures
        if orders >= orders_before + 1 and abs(revenue - revenue_before - order["total"]) < 0.005:
            return (time.perf_counter() - written) * 1000
    return None


async def _phase(phase: Phase, client: Client, db, world: World, writes: int,
                 load: subprocess.Popen | None = None) -> None:
    phase.load_average = os.getloadavg()[0]
    for number in range(writes):
        if load is not None and load.poll() is not None:
            phase.note = f"bench load ended after {number} writes"
            break
        latency = await _one_write(client, db, world, number, phase.asks_ms)
        if latency is None:
            phase.missed += 1
        else:
            phase.latencies_ms.append(latency)


async def run(writes: int, clients: int, store_name: str | None, with_load: bool) -> int:
    settings = Settings.from_env()
    world = _world(settings, store_name)
    phases = [Phase("idle")]
    load_output = ""
    with tempfile.TemporaryDirectory() as private:
        tokens = TokenStore(Path(private) / "tokens.json")
        _, token = tokens.issue(Identity(head_office=True), label="bench feed")
        port = _free_port()
        env = {**os.environ, "ZAVA_TOKENS_FILE": str(tokens.path), "ZAVA_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen([sys.executable, "-m", "mcp_servers.sales_analysis", "--transport", "http",
                                   "--host", HOST, "--port", str(port), "--stateless"], env=env)
        mongo = AsyncMongoClient(zdb.resolve_uri(settings))
        try:
            base = f"http://{HOST}:{port}"
            await readiness.over_http(base, "sales-analysis (http)", alive=lambda: server.poll() is None)
            db = mongo[settings.mongodb_database]
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=VISIBLE_TIMEOUT_S)
            async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
                for warm in range(3):  # the cube loads, the feed follows: not measured
                    await _one_write(client, db, world, -1 - warm, [])
                started = time.monotonic()
                await _phase(phases[0], client, db, world, writes)
                if with_load:
                    # Long enough for the same number of writes at up to three times the idle pace, plus its start.
                    seconds = max(30, min(600, int(3 * (time.monotonic() - started)) + 15))
                    phases.append(Phase(f"under bench load ({clients} clients)"))
                    load = subprocess.Popen([sys.executable, "-m", "bench", "load", "--clients", str(clients),
                                             "--seconds", str(seconds)], env={**os.environ},
                                            stdout=subprocess.PIPE, text=True, start_new_session=True)
                    try:
                        await asyncio.sleep(8)  # its server starts and its clients ramp up
                        await _phase(phases[1], client, db, world, writes, load)
                        load_output = (await asyncio.to_thread(load.communicate, timeout=seconds + 120))[0]
                    finally:
                        _stop(load)
        finally:
            await mongo.close()
            server.terminate()
            server.wait(timeout=30)
    _print(settings, world, writes, phases, load_output)
    return 0


def _stop(load: subprocess.Popen) -> None:
    """Stop bench load early (an error here) with the server it started: they are one process group of their own
    (SIGTERM to bench load alone would leave its server running)."""
    if load.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(load.pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the server shuts down gracefully after bench load is gone
        try:
            os.killpg(load.pid, 0)
        except ProcessLookupError:
            break
        load.poll()
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(load.pid, signal.SIGKILL)
    load.wait()


def _print(settings: Settings, world: World, writes: int, phases: list[Phase], load_output: str) -> None:
    print(f"bench feed: database {settings.mongodb_database} ({world.orders:,} orders), store "
          f"{world.store['store_name']}, {writes} writes per phase, each an order written straight into MongoDB "
          "(header, then each line) and asked for through sales_summary (current month) over Streamable HTTP; "
          f"{os.cpu_count()} cores")
    print()
    print("| phase | load avg | seen | p50 ms | p95 ms | p99 ms | max ms | one ask p50 / p99 ms | goal p99 <= 1 s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for phase in phases:
        seen = f"{len(phase.latencies_ms)}/{len(phase.latencies_ms) + phase.missed}"
        p99 = phase.percentile(0.99)
        verdict = "met" if phase.latencies_ms and not phase.missed and p99 <= GOAL_P99_MS else "missed"
        asks = f"{phase.percentile(0.5, phase.asks_ms):.0f} / {phase.percentile(0.99, phase.asks_ms):.0f}"
        print(f"| {phase.name} | {phase.load_average:.1f} | {seen} | {phase.percentile(0.5):.0f} | "
              f"{phase.percentile(0.95):.0f} | {p99:.0f} | {max(phase.latencies_ms, default=float('nan')):.0f} | "
              f"{asks} | {verdict} |")
        if phase.note:
            print(f"  note: {phase.note}")
    if load_output:
        print()
        print("the load meanwhile (python -m bench load):")
        print(load_output.rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench feed")
    parser.add_argument("--writes", type=int, default=100, help="orders written per phase")
    parser.add_argument("--clients", type=int, default=32, help="bench load's clients in the second phase")
    parser.add_argument("--store", help="the store written to (a physical one other than bench load's Seattle)")
    parser.add_argument("--no-load", action="store_true", help="the idle phase only")
    args = parser.parse_args(argv)
    if not (1 <= args.writes <= 10_000 and 1 <= args.clients <= 256):
        raise SystemExit("error: --writes 1..10000, --clients 1..256")
    return asyncio.run(run(args.writes, args.clients, args.store, not args.no_load))


if __name__ == "__main__":
    raise SystemExit(main())
