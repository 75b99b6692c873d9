"""`python -m bench amplification [--scale small|default]`: what one store manager's run_aggregation can cost
the shared engine, and what the guard now refuses. Prints one markdown table.

On a fresh embedded engine (the only target whose memory this can read) it seeds the dataset, then for each
pipeline below: the guard's verdict for a store manager (refused, or allowed) and the time it took; then the
pipeline's run, with the engine's resident memory sampled every 20 ms (before, and its peak during the run)
and another caller's indexed read repeated throughout (its slowest answer, beside its median when idle).
A refused pipeline is run on the engine directly (maxTimeMS as run_aggregation sends it) to show what it
cost before the guard refused it; an allowed one runs through `run_aggregation` as the manager, scope and
limits included: that is what a caller can still do (SECURITY.md's gaps quote these figures).
Not a test: figures, not thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import seed
from zava_core import limits as L
from zava_core.analysis.aggregation import run_aggregation
from zava_core.analysis.guard import check_pipeline, parse_pipeline
from zava_core.context import Zava
from zava_core.errors import ZavaError
from zava_core.infra import embedded
from zava_core.infra.config import Settings
from zava_core.scope import Scope

DOUBLINGS = 25  # a ~30-character name doubled 25 times: ~1 GB


@dataclasses.dataclass
class Case:
    name: str
    collection: str
    pipeline: list[dict]


CASES = [
    Case("$concat of a field with itself, 25 stages (the report's)", "products",
         [{"$limit": 1}, {"$project": {"s": "$product_name"}},
          *[{"$set": {"s": {"$concat": ["$s", "$s"]}}}] * DOUBLINGS, {"$project": {"n": {"$strLenCP": "$s"}}}]),
    Case("$reduce keeping $$value twice, 25 elements", "products",
         [{"$limit": 1}, {"$project": {"n": {"$strLenCP": {"$reduce": {
             "input": {"$range": [0, DOUBLINGS]}, "initialValue": "$product_name",
             "in": {"$concat": ["$$value", "$$value"]}}}}}}]),
    Case("$let aliases doubling, 25 stages", "products",
         [{"$limit": 1}, {"$project": {"s": "$product_name"}},
          *[{"$set": {"s": {"$let": {"vars": {"a": "$s", "b": "$s"}, "in": {"$concat": ["$$a", "$$b"]}}}}}]
          * DOUBLINGS, {"$project": {"n": {"$strLenCP": "$s"}}}]),
    Case(f"allowed: {L.MAX_VALUE_COPIES} copies of each line's product name, all lines in one $group", "order_items",
         [{"$project": {"s": {"$concat": ["$product_name"] * L.MAX_VALUE_COPIES}}},
          {"$group": {"_id": None, "all": {"$push": "$s"}}}, {"$project": {"n": {"$size": "$all"}}}]),
    Case("allowed: $lookup without a join condition (50 orders x the store's lines)", "orders",
         [{"$limit": 50}, {"$lookup": {"from": "order_items", "pipeline": [], "as": "all"}},
          {"$project": {"n": {"$size": "$all"}}}]),
    Case("allowed: $group holding every line's fields", "order_items",
         [{"$group": {"_id": None, "all": {"$push": {"o": "$order_id", "p": "$product_name", "s": "$sku"}}}},
          {"$project": {"n": {"$size": "$all"}}}]),
]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def sample_peak(pid: int, stop: asyncio.Event) -> float:
    peak = rss_mb(pid)
    while not stop.is_set():
        peak = max(peak, rss_mb(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)
    return max(peak, rss_mb(pid))


async def reader(zava: Zava, stop: asyncio.Event) -> list[float]:
    """Another caller: an indexed read of one inventory row, back to back."""
    inventory = zava.collections.inventory
    waits = []
    while not stop.is_set():
        started = time.perf_counter()
        await inventory.find_one(inventory.unscoped(store_id="store_tacoma", product_id="prod_PTDR000001"))
        waits.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.01)
    return waits


async def measure(zava: Zava, manager: Scope, pid: int, case: Case, idle_ms: float) -> str:
    started = time.perf_counter()
    try:
        check_pipeline(case.collection, parse_pipeline(case.pipeline))
        verdict, refused = "allowed", False
    except ZavaError as exc:
        verdict, refused = f"refused: {str(exc)[:70]}...", True
    guard_ms = (time.perf_counter() - started) * 1000
    await asyncio.sleep(1.0)  # let the engine settle after the previous case
    before = rss_mb(pid)
    stop = asyncio.Event()
    peak_task = asyncio.create_task(sample_peak(pid, stop))
    read_task = asyncio.create_task(reader(zava, stop))
    started = time.perf_counter()
    try:
        if refused:  # what it cost before the guard refused it: the engine directly, as run_aggregation sent it
            target = zava.collections[case.collection]
            cursor = await target.aggregate(case.pipeline, maxTimeMS=L.AGGREGATION_MAX_TIME_MS)
            await asyncio.wait_for(cursor.to_list(), 120)
            outcome = "ran"
        else:
            await run_aggregation(zava, manager, case.collection, case.pipeline)
            outcome = "answered"
    except Exception as exc:  # the engine's own limits, the deadline: part of the figure
        outcome = f"{type(exc).__name__}"
    seconds = time.perf_counter() - started
    stop.set()
    peak, waits = await peak_task, await read_task
    worst = max(waits) if waits else float("nan")
    return (f"| {case.name} | {verdict} ({guard_ms:.1f} ms) | {'before the guard: ' if refused else ''}{outcome} "
            f"in {seconds:.1f} s | {before:,.0f} -> {peak:,.0f} MB | {worst:,.0f} ms (idle median {idle_ms:.1f}) |")


async def run(scale: str) -> str:
    with tempfile.TemporaryDirectory(prefix="zava-amplification-") as data:
        state = embedded.ensure_running(Path(data))
        try:
            settings = dataclasses.replace(Settings.from_env(), mongodb_uri=state.uri,
                                           mongodb_database="zava_amplification")
            print(f"seeding scale {scale} on a fresh embedded engine", file=sys.stderr)
            await seed(settings, scale)
            zava = await Zava.open(settings)
            try:
                manager = Scope.for_store_manager((await zava.reference.get()).stores.resolve("Seattle"))
                stop = asyncio.Event()
                idle = asyncio.create_task(reader(zava, stop))
                await asyncio.sleep(3)
                stop.set()
                idle_ms = statistics.median(await idle)
                rows = []
                for case in CASES:
                    print(f"  {case.name}", file=sys.stderr)
                    rows.append(await measure(zava, manager, state.pid, case, idle_ms))
                    await zava.aggregations.cancel_all()
            finally:
                await zava.close()
        finally:
            embedded.stop(Path(data))
    head = (f"run_aggregation amplification, scale {scale}, embedded engine, {platform.machine()}, "
            f"{os.cpu_count()} cores\n\n"
            "| pipeline (as the manager of Seattle) | guard | run | engine memory (before -> peak) | "
            "another caller's slowest read |\n|---|---|---|---|---|")
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench amplification", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "default"], default="small")
    args = parser.parse_args(argv)
    print(asyncio.run(run(args.scale)))
    return 0
