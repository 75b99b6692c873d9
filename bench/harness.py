"""The benchmark harness: `python -m bench [--scale default] [--iterations 30] [--output bench/results]`.

On a fresh embedded engine (or the server in MONGODB_URI, in a scratch database) it seeds the
dataset, then measures and prints one markdown table:

- generation time (CPU only) and seeding throughput per collection;
- p50/p95 of every tool of both servers through the in-process MCP client;
- a few tools over stdio and over Streamable HTTP (transport overhead);
- create_order throughput with 1 and 16 concurrent callers;
- each analysis tool beside the naive `$group` over order_items it replaces.

It writes the table (results.md) and a latency chart (latency.png) to the output folder. Not a
test: there are goals, not thresholds; a miss is reported, not failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from bench import quiet_request_logs, readiness
from mcp_servers.auth.bearer_tokens import TokenStore
from mcp_servers.customer_sales.server import build_server as build_customer_sales
from mcp_servers.sales_analysis.server import build_server as build_sales_analysis
from seeding.catalog_loader import load_catalog
from seeding.generate import Generator
from seeding.pipeline import SeedReport, seed_database
from seeding.progress import Reporter
from zava_core.embeddings import get_embedder
from zava_core.infra import db as zdb
from zava_core.infra import embedded
from zava_core.infra.config import Settings
from zava_core.scope import Identity
from zava_core.store import Collections, Handle

AS_OF = date(2026, 11, 1)
GOALS = {"lookup": (15, 60), "analysis": (250, None), "semantic": (25, None), "create_order": (30, None)}
# #29: these lookups answer from the read models: p50 at most 1 ms in process.
MEMORY_LOOKUPS = {"get_inventory", "get_product_details", "get_products_by_name", "find_customers",
                  "get_customer_orders"}
MEMORY_LOOKUP_P50_MS = 1.0
ORDERS_PER_SECOND_GOAL = 200  # #29: create_order with 16 concurrent callers


@dataclasses.dataclass
class Timing:
    group: str  # lookup | analysis | semantic | write | transport
    name: str
    samples_ms: list[float]
    note: str = ""
    server_ms: list[float] = dataclasses.field(default_factory=list)  # inside the server's call_tool

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def timed(fn: Callable[[int], Awaitable[object]], iterations: int, warmup: int = 2) -> list[float]:
    for i in range(warmup):
        await fn(-1 - i)
    samples = []
    for i in range(iterations):
        started = time.perf_counter()
        await fn(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def call_ok(client: Client, name: str, arguments: dict) -> dict:
    result = await client.call_tool(name, arguments)
    if result.is_error:
        raise RuntimeError(f"{name}{arguments} failed: {result.content[0].text}")
    return result.structured_content or {}


# --- setup --------------------------------------------------------------------------------------


def generation_seconds(scale: str) -> float:
    started = time.perf_counter()
    generator = Generator(load_catalog(), scale=scale, seed=1, as_of=AS_OF)
    for _ in generator.customer_batches():
        pass
    for _ in generator.order_chunks():
        pass
    generator.inventory_documents()
    return time.perf_counter() - started


async def seed(settings: Settings, scale: str) -> SeedReport:
    client = await zdb.connect(settings)
    try:
        with Reporter(quiet=True) as reporter:
            return await seed_database(Collections(zdb.database(client, settings)),
                                       Generator(load_catalog(), scale=scale, seed=1, as_of=AS_OF),
                                       embedder=get_embedder(settings), drop=True, reporter=reporter)
    finally:
        await client.close()


async def sample_arguments(settings: Settings) -> dict:
    """Real SKUs, customers and orders to ask about, read once."""
    client = await zdb.connect(settings)
    try:
        c = Collections(zdb.database(client, settings))
        skus = [p["sku"] for p in await c.products.find({}, {"sku": 1}).limit(40).to_list()]
        customers = await c.customers.find({"primary_store_id": "store_seattle"},
                                           {"last_name": 1}).limit(20).to_list()
        stocked = await c.inventory.find({"store_id": "store_seattle", "stock_level": {"$gte": 500}},
                                         {"sku": 1}).limit(20).to_list()
        spread = await c.inventory.find({"store_id": "store_seattle", "stock_level": {"$gte": 100}},
                                        {"sku": 1}).limit(400).to_list()
        return {"skus": skus, "customers": [c["_id"] for c in customers],
                "names": [c["last_name"] for c in customers], "stocked": [r["sku"] for r in stocked],
                "spread": [r["sku"] for r in spread]}
    finally:
        await client.close()


# --- measurements ---------------------------------------------------------------------------------


def customer_sales_calls(a: dict) -> list[tuple[str, str, Callable[[int], dict]]]:
    pick = lambda xs, i: xs[i % len(xs)]  # noqa: E731
    return [
        ("lookup", "get_products_by_name", lambda i: {"product_name": ["hammer", "drill", "paint", "hose"][i % 4]}),
        ("lookup", "get_product_details", lambda i: {"sku": pick(a["skus"], i)}),
        ("lookup", "get_inventory", lambda i: {"sku": pick(a["skus"], i)}),
        ("lookup", "get_low_stock_items", lambda i: {"store": "Seattle"}),
        ("lookup", "find_customers", lambda i: {"query": pick(a["names"], i)}),
        ("lookup", "get_customer_orders", lambda i: {"customer_id": pick(a["customers"], i)}),
        ("semantic", "semantic_search_products",
         lambda i: {"query_description": ["my toilet keeps running", "cut plywood sheets", "stain a deck",
                                          "hang a heavy mirror"][i % 4]}),
        ("write", "move_inventory", lambda i: {"sku": pick(a["skus"], i), "store": "Seattle", "aisle": "A01",
                                               "shelf": "S1", "bin": f"B{i % 50:02d}"}),
        ("write", "update_stock_count", lambda i: {"sku": pick(a["skus"], i), "store": "Seattle",
                                                   "counted_quantity": 900 + i % 7}),
        ("create_order", "create_order", lambda i: order_arguments(a, i)),
    ]


def order_arguments(a: dict, i: int, pool: str = "stocked") -> dict:
    """Two lines from `pool`: "stocked", 20 well-stocked SKUs (concurrent orders often share a stock row: write
    conflicts, retried), or "spread", the store's SKUs with 100+ in stock (orders rarely share a row)."""
    skus = a[pool]
    second = (i + 7) if pool == "stocked" else (i * 7 + 3)
    return {"customer_id": a["customers"][i % len(a["customers"])], "store": "Seattle",
            "items": [{"sku": skus[i % len(skus)], "quantity": 1}, {"sku": skus[second % len(skus)], "quantity": 2}],
            "idempotency_key": f"bench-{time.time_ns()}-{i}"}


ANALYSIS_CALLS: list[tuple[str, dict, list[dict]]] = [
    ("sales_summary by store (all time)", {"group_by": "store"},
     [{"$match": {"deleted": False}}, {"$group": {"_id": "$store_id", "revenue": {"$sum": "$total_amount"}}}]),
    ("sales_summary by category, 2025", {"group_by": "category", "start_date": "2025-01-01",
                                         "end_date": "2025-12-31"},
     [{"$match": {"deleted": False, "order_date": {"$gte": "2025-01-01", "$lt": "2026-01-01"}}},
      {"$group": {"_id": "$category_id", "revenue": {"$sum": "$total_amount"}}}]),
    ("sales_summary top products by units", {"group_by": "product", "metrics": ["units"], "top_n": 10},
     [{"$match": {"deleted": False}}, {"$group": {"_id": "$product_id", "units": {"$sum": "$quantity"}}},
      {"$sort": {"units": -1}}, {"$limit": 10}]),
    ("sales_summary store x category, 3 metrics, Q3 2025",
     {"group_by": ["store", "category"], "metrics": ["revenue", "units", "gross_margin_percent"],
      "start_date": "2025-07-01", "end_date": "2025-09-30", "top_n": 100},
     [{"$match": {"deleted": False, "order_date": {"$gte": "2025-07-01", "$lt": "2025-10-01"}}},
      {"$group": {"_id": {"store": "$store_id", "category": "$category_id"}, "revenue": {"$sum": "$total_amount"},
                  "units": {"$sum": "$quantity"}, "cost": {"$sum": {"$multiply": ["$unit_cost", "$quantity"]}}}}]),
    ("sales_trend by month", {"period": "month"},
     [{"$match": {"deleted": False}}, {"$group": {"_id": {"$substrCP": ["$order_date", 0, 7]},
                                                  "revenue": {"$sum": "$total_amount"}}}]),
    ("seasonal_profile garden", {"category": "garden & outdoor"},
     [{"$match": {"deleted": False, "category_id": "cat_garden_outdoor"}},
      {"$group": {"_id": {"$substrCP": ["$order_date", 5, 2]}, "revenue": {"$sum": "$total_amount"}}}]),
]
ANALYSIS_TOOL = {"sales_summary": "sales_summary", "sales_trend": "sales_trend", "seasonal_profile": "seasonal_profile"}


async def measure_tools(settings: Settings, args: dict, iterations: int, naive_runs: int,
                        starts: list[str]) -> list[Timing]:
    timings: list[Timing] = []
    server = build_customer_sales(settings, Identity(head_office=True))
    async with Client(server) as client:
        starts.append(readiness.describe(await readiness.in_process(server, "customer-sales (in process)")))
        inside = time_inside(server)
        for group, name, make in customer_sales_calls(args):
            inside.clear()
            samples = await timed(lambda i, n=name, m=make: call_ok(client, n, m(i)), iterations)
            timings.append(Timing(group, name, samples, server_ms=inside[-len(samples):]))
    server = build_sales_analysis(settings, Identity(head_office=True))
    async with Client(server) as client:
        starts.append(readiness.describe(await readiness.in_process(server, "sales-analysis (in process)")))
        for label, arguments, naive in ANALYSIS_CALLS:
            tool = label.split(" ")[0]
            samples = await timed(lambda i, t=tool, a=arguments: call_ok(client, t, a), iterations)
            note = ""
            if naive_runs:
                naive_ms = await naive_group(settings, naive, naive_runs)
                note = (f"naive $group {statistics.median(naive_ms):,.0f} ms "
                        f"({statistics.median(naive_ms) / statistics.median(samples):,.0f}x)")
            timings.append(Timing("analysis", label, samples, note=note))
        samples = await timed(lambda i: call_ok(client, "get_current_utc_date", {}), iterations)
        timings.append(Timing("lookup", "get_current_utc_date", samples))  # lives on sales-analysis
        for label, name, arguments in (
            ("inventory_health (all stores)", "inventory_health", {}),
            ("inventory_health (one store)", "inventory_health", {"store": "Seattle"}),
            ("get_collection_schemas", "get_collection_schemas", {"collections": []}),
            ("run_aggregation orders per store", "run_aggregation",
             {"collection": "sales_monthly", "pipeline": '[{"$group": {"_id": "$store_id", '
                                                         '"orders": {"$sum": "$totals.orders"}}}]'}),
        ):
            samples = await timed(lambda i, n=name, a=arguments: call_ok(client, n, a), iterations)
            timings.append(Timing("analysis", label, samples))
    return timings


def time_inside(server: Any) -> list[float]:
    """Record how long each tool call spends inside the server (its call_tool: the tool, its result's conversion and
    fencing), so a table can tell the server's time from the MCP round trip and the client's validation of the
    result against the tool's output schema."""
    inside: list[float] = []
    original = server.call_tool

    async def call_tool(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            inside.append((time.perf_counter() - started) * 1000)

    server.call_tool = call_tool
    return inside


async def naive_group(settings: Settings, pipeline: list[dict], runs: int) -> list[float]:
    client = await zdb.connect(settings)
    try:
        lines = Collections(zdb.database(client, settings)).order_items
        return await timed(lambda i: _aggregate(lines, pipeline), runs, warmup=0)
    finally:
        await client.close()


async def _aggregate(lines: Handle, pipeline: list[dict]) -> list:
    return await (await lines.aggregate(pipeline)).to_list()


ORDER_RUNS = ((1, "stocked"), (16, "stocked"), (16, "spread"))  # (concurrent callers, SKU pool)


async def measure_order_throughput(settings: Settings, args: dict, orders: int,
                                   starts: list[str]) -> list[tuple[int, str, float, float, float]]:
    """(concurrent callers, SKU pool, orders per second, p50 ms, p95 ms) per ORDER_RUNS."""
    out = []
    server = build_customer_sales(settings, Identity(head_office=True))
    async with Client(server) as client:
        starts.append(readiness.describe(await readiness.in_process(server, "customer-sales (orders)")))
        for callers, pool in ORDER_RUNS:
            latencies: list[float] = []
            counter = iter(range(orders))

            async def worker(client=client, counter=counter, latencies=latencies, pool=pool) -> None:
                for i in counter:
                    started = time.perf_counter()
                    await call_ok(client, "create_order", order_arguments(args, i, pool))
                    latencies.append((time.perf_counter() - started) * 1000)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(callers)))
            elapsed = time.perf_counter() - started
            ordered = sorted(latencies)
            out.append((callers, f"{pool} ({len(args[pool])} SKUs)", orders / elapsed, statistics.median(latencies),
                        ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]))
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure_transports(settings: Settings, args: dict, iterations: int, starts: list[str]) -> list[Timing]:
    """The same calls over stdio (a subprocess) and Streamable HTTP (uvicorn on loopback)."""
    calls = [("get_inventory", lambda i: {"sku": args["skus"][i % len(args["skus"])]}),
             ("semantic_search_products", lambda i: {"query_description": "fix a leaky faucet"})]
    timings: list[Timing] = []
    env = {**{k: v for k, v in os.environ.items() if k.startswith(("ZAVA_", "OPENAI_", "AZURE_"))},
           "MONGODB_URI": settings.mongodb_uri or "", "MONGODB_DATABASE": settings.mongodb_database,
           "ZAVA_LOG_LEVEL": "WARNING"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_servers.customer_sales",
                                                                 "--head-office"], env=env)
    async with Client(params) as client:
        for name, make in calls:
            samples = await timed(lambda i, n=name, m=make: call_ok(client, n, m(i)), iterations)
            timings.append(Timing("transport", f"{name} (stdio)", samples))
    timings += await _http_timings(settings, calls, iterations, starts)
    return timings


async def _http_timings(settings: Settings, calls, iterations: int, starts: list[str]) -> list[Timing]:
    import httpx2
    import uvicorn
    from mcp.client.streamable_http import streamable_http_client

    from mcp_servers.serving.runner import build_for_transport, http_app

    with tempfile.TemporaryDirectory() as tmp:
        store = TokenStore(Path(tmp) / "tokens.json")
        _, token = store.issue(Identity(head_office=True))
        port = _free_port()
        # Built as `--transport http` builds it: bearer tokens from this run's own tokens file.
        cli = argparse.Namespace(transport="http", host="127.0.0.1", port=port, store=None, head_office=False,
                                 read_only=False, stateless=False)
        server = build_for_transport(build_customer_sales, dataclasses.replace(settings, tokens_file=store.path), cli)
        web = uvicorn.Server(uvicorn.Config(http_app(server, "http", "127.0.0.1"), host="127.0.0.1", port=port,
                                            log_level="warning", lifespan="on"))
        task = asyncio.create_task(web.serve())
        while not web.started:
            await asyncio.sleep(0.02)
        timings = []
        try:
            starts.append(readiness.describe(await readiness.over_http(f"http://127.0.0.1:{port}",
                                                                       "customer-sales (http)")))
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            async with http, Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as c:
                for name, make in calls:
                    samples = await timed(lambda i, n=name, m=make: call_ok(c, n, m(i)), iterations)
                    timings.append(Timing("transport", f"{name} (http)", samples))
        finally:
            web.should_exit = True
            await task
        return timings


# --- report -------------------------------------------------------------------------------------


def goal_text(timing: Timing) -> str:
    if timing.name in MEMORY_LOOKUPS and timing.group == "lookup":
        met = timing.p50 <= MEMORY_LOOKUP_P50_MS
        return f"{'met' if met else 'MISSED'} (p50 <= {MEMORY_LOOKUP_P50_MS:g})"
    key = "create_order" if timing.name == "create_order" else timing.group
    if key not in GOALS:
        return ""
    p50_goal, p95_goal = GOALS[key]
    ok = timing.p50 <= p50_goal and (p95_goal is None or timing.p95 <= p95_goal)
    target = f"p50 <= {p50_goal}" + (f", p95 <= {p95_goal}" if p95_goal else "")
    return f"{'met' if ok else 'MISSED'} ({target})"


def render(scale: str, target: str, gen_s: float | None, report: SeedReport | None, timings: list[Timing],
           throughput: list[tuple[int, str, float, float, float]], starts: list[str]) -> str:
    lines = [f"# Benchmark: scale {scale}, {target}", "",
             f"{date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
             "", "## Generation and seeding", "", "| step | documents | seconds | docs/s |", "|---|---|---|---|",
             *([f"| generation (CPU only) | | {gen_s:.1f} | |"] if gen_s is not None else [])]
    if report is not None:
        for name, count in report.counts.items():
            seconds = report.seconds.get(name)
            rate = f"{count / seconds:,.0f}" if seconds else ""
            lines.append(f"| {name} | {count:,} | {seconds or 0:.1f} | {rate} |")
        for name in ("indexes", "rollups"):
            if name in report.seconds:
                lines.append(f"| {name} | | {report.seconds[name]:.1f} | |")
        lines.append(f"| **seeding total** | {sum(report.counts.values()):,} | {report.total_seconds:.1f} | |")
    lines += ["", "## Server starts (measured once ready: lookups from memory)", ""]
    lines += [f"- {start}" for start in starts]
    lines += ["", f"Load average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1 / 5 / 15 min)."]
    lines += ["", "## Tools (in-process MCP client unless noted)", "",
              "| group | tool | p50 ms | p95 ms | in the server p50 ms | n | goal | note |",
              "|---|---|---|---|---|---|---|---|"]
    for t in timings:
        inside = f"{statistics.median(t.server_ms):.2f}" if t.server_ms else ""
        lines.append(f"| {t.group} | {t.name} | {t.p50:.2f} | {t.p95:.1f} | {inside} | {len(t.samples_ms)} "
                     f"| {goal_text(t)} | {t.note} |")
    lines += ["", "## create_order throughput", "",
              "| concurrent callers | SKUs ordered | orders/s | p50 ms | p95 ms |", "|---|---|---|---|---|"]
    lines += [f"| {c} | {pool} | {rate:.1f} | {p50:.1f} | {p95:.1f} |" for c, pool, rate, p50, p95 in throughput]
    lines += ["", f"Goal (#29): at least {ORDERS_PER_SECOND_GOAL} orders/s with 16 concurrent callers."]
    return "\n".join(lines) + "\n"


def chart(timings: list[Timing], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [t.name for t in timings]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(names) + 1.2))
    y = range(len(names))
    ax.barh(y, [t.p95 for t in timings], color="#c9d7ea", label="p95")
    ax.barh(y, [t.p50 for t in timings], color="#2a6fbb", label="p50")
    ax.set_yticks(list(y), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.legend(loc="lower right")
    ax.set_title("Zava MCP tool latency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def run(args: argparse.Namespace) -> str:
    quiet_request_logs()
    base = Settings.from_env()
    with contextlib.ExitStack() as stack:
        if args.existing:  # the configured database as it is (MONGODB_URI, or the engine under ZAVA_DATA_DIR)
            settings, target = base, f"the existing database {base.mongodb_database} (not re-seeded)"
        elif base.mongodb_uri:
            settings = dataclasses.replace(base, mongodb_database="zava_bench")
            target = "MongoDB at MONGODB_URI"
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zava-bench-")))
            state = embedded.ensure_running(data_dir)
            stack.callback(embedded.stop, data_dir)
            settings = dataclasses.replace(base, mongodb_uri=state.uri, mongodb_database="zava_bench")
            target = "embedded engine (SecantusDB)"
        print(f"benchmarking scale {args.scale} on the {target}", file=sys.stderr)
        gen_s = None if args.existing else generation_seconds(args.scale)
        report = None if args.existing else await seed(settings, args.scale)
        if report is not None:
            print(f"seeded in {report.total_seconds:.1f} s; measuring tools", file=sys.stderr)
        sample = await sample_arguments(settings)
        starts: list[str] = []
        timings = await measure_tools(settings, sample, args.iterations, args.naive_runs, starts)
        timings += await measure_transports(settings, sample, max(5, args.iterations // 2), starts)
        throughput = await measure_order_throughput(settings, sample, args.orders, starts)
        text = render(args.scale, target, gen_s, report, timings, throughput, starts)
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.md").write_text(text)
        (out / "timings.json").write_text(json.dumps([dataclasses.asdict(t) for t in timings], indent=1))
        chart(timings, out / "latency.png")
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "default", "full"], default="default")
    parser.add_argument("--iterations", type=int, default=30, help="timed calls per tool")
    parser.add_argument("--naive-runs", type=int, default=1, help="runs of each naive $group (0: none)")
    parser.add_argument("--existing", action="store_true",
                        help="measure the configured database as it is instead of seeding a fresh one "
                             "(its data changes: the benchmark writes orders)")
    parser.add_argument("--orders", type=int, default=64, help="orders per create_order throughput run")
    parser.add_argument("--output", default="bench/results", help="folder for results.md and latency.png")
    args = parser.parse_args(argv)
    print(asyncio.run(run(args)))
    return 0
