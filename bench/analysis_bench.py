"""The analysis benchmark: `python -m bench.analysis_bench [--iterations 30] [--startups 3]`.

On the dataset the environment points at (MONGODB_URI, or the embedded engine of ZAVA_DATA_DIR; seed it
first with `python -m seeding --scale default`), it prints two markdown tables:

- multi-dimension `sales_summary` questions through the in-process MCP client (p50/p95), each beside the
  naive `$group` over order_items that answers the same question;
- the first answers after a server starts: `python -m mcp_servers.sales_analysis` launched over stdio as
  Claude Desktop launches it, timed from launch to "ready" (the initialize handshake answered) and then each
  first call, once without the cube's disk snapshot (it loads from the rollup) and then with it.

Not a test: the goals are printed beside the figures, a miss is reported, not failed. `bench.harness`
includes the same questions in its full run (QUESTIONS).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time

from mcp import Client, StdioServerParameters

from bench.harness import Timing, call_ok, naive_group, timed
from mcp_servers.sales_analysis.server import build_server
from zava_core.context import CUBE_SNAPSHOT_DIR
from zava_core.infra.config import Settings
from zava_core.scope import Identity

GOAL_MS = 50  # p50 of a two-dimension, three-metric question at the default scale
FIRST_ANSWER_GOAL_MS = 500  # the first analysis answer after the server says it is ready
Q3 = {"$gte": "2025-07-01", "$lt": "2025-10-01"}
Q3_LAST_YEAR = {"$gte": "2024-07-01", "$lt": "2024-10-01"}
THREE_METRICS = {"revenue": {"$sum": "$total_amount"}, "units": {"$sum": "$quantity"},
                 "cost": {"$sum": {"$multiply": ["$unit_cost", "$quantity"]}}}
BY_STORE_CATEGORY = {"store": "$store_id", "category": "$category_id"}

# (label, sales_summary arguments, the naive pipelines over order_items that answer the same question)
QUESTIONS: list[tuple[str, dict, list[list[dict]]]] = [
    ("store x category, 3 metrics, Q3 2025",
     {"group_by": ["store", "category"], "metrics": ["revenue", "units", "gross_margin_percent"],
      "start_date": "2025-07-01", "end_date": "2025-09-30", "top_n": 100},
     [[{"$match": {"deleted": False, "order_date": Q3}}, {"$group": {"_id": BY_STORE_CATEGORY, **THREE_METRICS}}]]),
    ("store x category, 3 metrics, Q3 2025 vs Q3 2024",
     {"group_by": ["store", "category"], "metrics": ["revenue", "units", "gross_margin_percent"],
      "start_date": "2025-07-01", "end_date": "2025-09-30", "top_n": 100, "compare_to": "previous_year"},
     [[{"$match": {"deleted": False, "order_date": window}}, {"$group": {"_id": BY_STORE_CATEGORY, **THREE_METRICS}}]
      for window in (Q3, Q3_LAST_YEAR)]),
    ("category x month, 3 metrics, 2025",
     {"group_by": ["category", "month"], "metrics": ["revenue", "gross_margin", "discount_total"],
      "start_date": "2025-01-01", "end_date": "2025-12-31", "top_n": 100},
     [[{"$match": {"deleted": False, "order_date": {"$gte": "2025-01-01", "$lt": "2026-01-01"}}},
       {"$group": {"_id": {"category": "$category_id", "month": {"$substrCP": ["$order_date", 0, 7]}},
                   "revenue": {"$sum": "$total_amount"}, "discount": {"$sum": "$discount_amount"},
                   "cost": {"$sum": {"$multiply": ["$unit_cost", "$quantity"]}}}}]]),
    ("store x product_type, 3 metrics, 2025",
     {"group_by": ["store", "product_type"], "metrics": ["units", "revenue", "gross_margin_percent"],
      "start_date": "2025-01-01", "end_date": "2025-12-31", "top_n": 100},
     # order_items carry no type: the naive form groups by product (types are summed from its 424 x 8 rows)
     [[{"$match": {"deleted": False, "order_date": {"$gte": "2025-01-01", "$lt": "2026-01-01"}}},
       {"$group": {"_id": {"store": "$store_id", "product": "$product_id"}, **THREE_METRICS}}]]),
]


async def measure_questions(settings: Settings, iterations: int, naive_runs: int) -> list[Timing]:
    timings = []
    async with Client(build_server(settings, Identity(head_office=True))) as client:
        await call_ok(client, "sales_summary", {"group_by": "store"})  # the cube in memory, as a running server
        for label, arguments, pipelines in QUESTIONS:
            samples = await timed(lambda i, a=arguments: call_ok(client, "sales_summary", a), iterations)
            naive = 0.0
            for pipeline in pipelines:  # the comparison window is a second $group
                naive += statistics.median(await naive_group(settings, pipeline, naive_runs))
            timings.append(Timing("analysis", label, samples,
                                  note=f"naive $group {naive:,.0f} ms ({naive / statistics.median(samples):,.0f}x)"))
    return timings


def _server_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith(("ZAVA_", "MONGODB_"))}
    env.update({"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
                "ZAVA_DATA_DIR": str(settings.data_dir), "ZAVA_LOG_LEVEL": "WARNING"})
    return env


async def first_answers(settings: Settings, keep_snapshot: bool) -> dict[str, float]:
    """Launch the server over stdio; seconds to ready, then milliseconds of each first call."""
    if not keep_snapshot:
        shutil.rmtree(settings.data_dir / CUBE_SNAPSHOT_DIR, ignore_errors=True)
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_servers.sales_analysis",
                                                                 "--head-office"], env=_server_env(settings))
    started = time.perf_counter()
    async with Client(params) as client:
        out = {"ready_s": time.perf_counter() - started}
        for name, tool, arguments in (
            ("first sales_summary", "sales_summary", {"group_by": "category", "start_date": "2025-01-01",
                                                      "end_date": "2025-12-31", "top_n": 3}),
            ("first sales_trend", "sales_trend", {"period": "year"}),
            ("store x category vs last year", "sales_summary", QUESTIONS[1][1]),
        ):
            t0 = time.perf_counter()
            await call_ok(client, tool, arguments)
            out[name] = (time.perf_counter() - t0) * 1000
        await asyncio.sleep(3)  # let a snapshot written in the background finish before the server stops
    return out


def render(timings: list[Timing], startups: list[tuple[str, dict[str, float]]]) -> str:
    lines = ["## sales_summary: several dimensions and metrics in one call (in-process MCP client)", "",
             "| question | p50 ms | p95 ms | n | goal | note |", "|---|---|---|---|---|---|"]
    for t in timings:
        goal = f"{'met' if t.p50 <= GOAL_MS else 'MISSED'} (p50 <= {GOAL_MS})" if "3 metrics" in t.name else ""
        lines.append(f"| {t.name} | {t.p50:.1f} | {t.p95:.1f} | {len(t.samples_ms)} | {goal} | {t.note} |")
    lines += ["", "## First answers after the server starts (stdio, as Claude Desktop launches it)", "",
              "| start | ready s | first sales_summary ms | first sales_trend ms | store x category vs last year ms "
              "| goal |", "|---|---|---|---|---|---|"]
    for label, r in startups:
        first = r["first sales_summary"]
        goal = f"{'met' if first <= FIRST_ANSWER_GOAL_MS else 'MISSED'} (first answer <= {FIRST_ANSWER_GOAL_MS} ms)"
        lines.append(f"| {label} | {r['ready_s']:.2f} | {first:.0f} | {r['first sales_trend']:.0f} "
                     f"| {r['store x category vs last year']:.0f} | {goal} |")
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> str:
    settings = Settings.from_env()  # without MONGODB_URI, the embedded engine of ZAVA_DATA_DIR
    timings = await measure_questions(settings, args.iterations, args.naive_runs)
    startups = [("no snapshot (cube read from the rollup)", await first_answers(settings, keep_snapshot=False))]
    for i in range(args.startups):
        startups.append((f"snapshot on disk, run {i + 1}", await first_answers(settings, keep_snapshot=True)))
    return render(timings, startups)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.analysis_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30, help="timed calls per question")
    parser.add_argument("--naive-runs", type=int, default=1, help="runs of each naive $group")
    parser.add_argument("--startups", type=int, default=3, help="server starts with the snapshot on disk")
    print(asyncio.run(run(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
