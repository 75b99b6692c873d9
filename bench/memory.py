"""`python -m bench memory`: each server's resident memory once everything it loads at start is loaded.

Starts each server as `--transport http` on loopback (as deployed) against the configured database
(MONGODB_URI, or the embedded engine under ZAVA_DATA_DIR), waits for /health to say ready (customer-sales: stock,
the customer directory and the order book in memory; sales-analysis: the cube), asks each a few questions so
first-call caches fill, and prints RSS (now and peak) per server with the load figures /health reports. Linux only
(/proc). Goal (#29): at most 250 MB per server at the full scale.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import httpx2
from pymongo import MongoClient

from bench import procstat, readiness
from bench.load import HEADERS, HOST, _answer, _free_port
from mcp_servers.auth.bearer_tokens import TokenStore
from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.scope import Identity

GOAL_MB = 250
SERVERS = {
    "customer-sales": ("mcp_servers.customer_sales",
                       [("get_products_by_name", {"product_name": "drill"}), ("get_inventory", {"sku": None}),
                        ("find_customers", {"query": "smith"}), ("get_customer_orders", {"customer_id": None}),
                        ("semantic_search_products", {"query_description": "fix a leaky faucet"})]),
    "sales-analysis": ("mcp_servers.sales_analysis",
                       [("sales_summary", {"group_by": ["store", "category"]}),
                        ("sales_summary", {"group_by": "product", "top_n": 10}),
                        ("sales_trend", {"period": "month"}), ("inventory_health", {})]),
}


def _sample(settings: Settings) -> dict[str, str]:
    client = MongoClient(zdb.resolve_uri(settings))
    try:
        db = client[settings.mongodb_database]
        return {"sku": db.products.find_one({"deleted": False}, {"sku": 1})["sku"],
                "customer_id": db.customers.find_one({"deleted": False}, {"_id": 1})["_id"],
                "orders": db.orders.estimated_document_count()}
    finally:
        client.close()


async def _measure(name: str, module: str, calls: list[tuple[str, dict]], sample: dict, token_file: Path,
                   token: str) -> dict:
    port = _free_port()
    env = {**os.environ, "ZAVA_TOKENS_FILE": str(token_file), "ZAVA_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", module, "--transport", "http", "--host", HOST,
                                "--port", str(port), "--stateless"], env=env)
    try:
        base = f"http://{HOST}:{port}"
        start = await readiness.over_http(base, name, alive=lambda: process.poll() is None)
        at_ready = procstat.memory_mb(process.pid) or {}
        async with httpx2.AsyncClient(timeout=60, headers={**HEADERS, "Authorization": f"Bearer {token}"}) as http:
            for i, (tool, arguments) in enumerate(calls):
                filled = {k: (sample[k] if v is None else v) for k, v in arguments.items()}
                answer = _answer(await http.post(f"{base}/mcp", json={
                    "jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": tool, "arguments": filled}}))
                if "error" in answer or answer.get("result", {}).get("isError"):
                    raise SystemExit(f"error: {name} {tool} failed: {str(answer)[:200]}")
        # Each read model started loading with the first call that read it (zava_core.readmodels): measure them loaded.
        await readiness.over_http(base, f"{name} (after the calls)", alive=lambda: process.poll() is None)
        after = procstat.memory_mb(process.pid) or {}
        return {"server": name, "start": readiness.describe(start), "ready_rss": at_ready.get("VmRSS"),
                "rss": after.get("VmRSS"), "peak": after.get("VmHWM")}
    finally:
        process.terminate()
        process.wait(timeout=30)


async def run(only: str) -> int:
    settings = Settings.from_env()
    sample = _sample(settings)
    rows = []
    with tempfile.TemporaryDirectory() as private:
        tokens = TokenStore(Path(private) / "tokens.json")
        _, token = tokens.issue(Identity(head_office=True), label="bench memory")
        for name, (module, calls) in SERVERS.items():
            if only and only != name:
                continue
            rows.append(await _measure(name, module, calls, sample, tokens.path, token))
    print(f"## Server memory: {sample['orders']:,} orders in {settings.mongodb_database}\n\n"
          f"{date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {procstat.load_average()}. RSS in MB (Linux VmRSS; peak: VmHWM); goal <= {GOAL_MB} MB.\n\n"
          "| server | RSS when ready | RSS after a few questions | peak RSS | goal | start |\n"
          "|---|---|---|---|---|---|")
    for row in rows:
        met = "met" if row["peak"] is not None and row["peak"] <= GOAL_MB else "MISSED"
        print(f"| {row['server']} | {row['ready_rss']:.0f} | {row['rss']:.0f} | {row['peak']:.0f} | {met} "
              f"| {row['start']} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench memory", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SERVERS), default="", help="measure one server")
    args = parser.parse_args(argv)
    if platform.system() != "Linux":
        raise SystemExit("error: bench memory reads /proc (Linux only)")
    try:
        return asyncio.run(run(args.only))
    except readiness.NotReady as exc:
        raise SystemExit(f"error: {exc}") from None
