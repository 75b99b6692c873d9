"""Search quality and speed: `python -m bench search [--scale default] [--backends static onnx-minilm] [--half ...]`.

Runs every query of the evaluation set (tests/data/search_eval.json) through `semantic_search_products` on
the in-process MCP client, per embedding backend and mode, and prints recall@5, MRR@10 and p50 latency on
the train half and on the frozen test half side by side (the metrics and the split: bench/search_eval.py);
then how the default mode answers when it has no good answer (the queries for things Zava does not sell, and
the graded ones it misses), the start-up figures, `get_products_by_name`'s p50, and where the time of both
searches goes (bench/search_latency.py). Seeds a scratch database `zava_bench_search` (on a fresh embedded
engine, or MONGODB_URI; `--data-dir` keeps the engine's data for re-runs). Not a test: goals are reported,
never failed. Fusion and confidence settings are chosen by `python -m bench search-tune`, on the train half only.
Queries run with similarity_threshold 0, so every mode ranks the whole catalog.
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
from collections import defaultdict
from pathlib import Path

from bench import readiness
from bench.search_eval import (
    EVAL_PATH,
    FROZEN_ON,
    HALVES,
    EvalQuery,
    Unanswerable,
    expand,
    load_eval,
    load_unanswerable,
    score,
    summarise,
)
from bench.search_latency import NAME_QUERIES, SEARCH_QUERIES, breakdown

MODES = ("semantic", "hybrid")
GOALS = {"semantic p50 ms": 5.0, "name p50 ms": 5.0, "first search ms": 100.0}


@dataclasses.dataclass
class Run:
    label: str
    rows: list[tuple[EvalQuery, dict[str, float]]]  # every query with its scores
    latencies_ms: list[float]
    confidence: dict[str, str] = dataclasses.field(default_factory=dict)  # query id -> the result's confidence

    def metrics(self, half: str | None = None) -> dict[str, float]:
        return summarise([row for q, row in self.rows if half is None or q.half == half])

    def by_kind(self, half: str | None = None) -> dict[str, dict[str, float]]:
        kinds: dict[str, list[dict[str, float]]] = defaultdict(list)
        for q, row in self.rows:
            if half is None or q.half == half:
                kinds[q.kind].append(row)
        return {kind: summarise(rows) for kind, rows in sorted(kinds.items())}

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


async def evaluate(client, queries: list[EvalQuery], skus_by_type: dict[str, set[str]], mode: str,
                   label: str) -> Run:
    rows, latencies, levels = [], [], {}
    for q in queries:
        args = {"query_description": q.query, "max_rows": 10, "similarity_threshold": 0, "mode": mode}
        started = time.perf_counter()
        result = await client.call_tool("semantic_search_products", args)
        latencies.append((time.perf_counter() - started) * 1000)
        if result.is_error:
            raise RuntimeError(f"{q.id} {q.query!r}: {result.content[0].text}")
        skus = [p["sku"] for p in result.structured_content["products"]]
        rows.append((q, score(skus, expand(q.exact, skus_by_type), expand(q.acceptable, skus_by_type))))
        levels[q.id] = result.structured_content["confidence"]
    return Run(label, rows, latencies, levels)


@dataclasses.dataclass
class Quality:
    """When search has no good answer (default mode): figures per half."""
    unanswerable_flagged: dict[str, float]  # half -> share of unanswerable queries answered low or none
    with_suggestions: dict[str, float]  # half -> share of those that came with suggested product types
    good_kept_high: dict[str, float]  # half -> share of queries with an exact answer in the top 5 answered high
    misses_flagged: dict[str, float]  # half -> share of graded queries without one answered low or none


async def quality(client, run: Run, unanswerable: list[Unanswerable]) -> Quality:
    levels: dict[str, tuple[str, bool]] = {}
    for u in unanswerable:
        result = await client.call_tool("semantic_search_products", {"query_description": u.query, "max_rows": 10})
        out = result.structured_content
        levels[u.id] = (out["confidence"], bool(out["suggested_product_types"]))

    def share(values: list[bool]) -> float:
        return sum(values) / len(values) if values else float("nan")

    def per_half(select) -> dict[str, float]:
        return {half: share(select(half)) for half in HALVES}

    return Quality(
        per_half(lambda h: [levels[u.id][0] != "high" for u in unanswerable if u.half == h]),
        per_half(lambda h: [levels[u.id][1] for u in unanswerable if u.half == h and levels[u.id][0] != "high"]),
        per_half(lambda h: [run.confidence[q.id] == "high" for q, r in run.rows if q.half == h and r["hit@5"]]),
        per_half(lambda h: [run.confidence[q.id] != "high" for q, r in run.rows if q.half == h and not r["hit@5"]]))


async def timed_calls(client, tool: str, argument_sets: list[dict], iterations: int) -> list[float]:
    for args in argument_sets[:2]:
        await client.call_tool(tool, args)
    samples = []
    for i in range(iterations):
        started = time.perf_counter()
        result = await client.call_tool(tool, argument_sets[i % len(argument_sets)])
        samples.append((time.perf_counter() - started) * 1000)
        if result.is_error:
            raise RuntimeError(result.content[0].text)
    return samples


async def measure_backend(settings, backend: str, queries, unanswerable, skus_by_type, iterations: int,
                          ) -> tuple[list[Run], dict, Quality]:
    from mcp import Client

    from mcp_servers.customer_sales.server import build_server
    from seeding.pipeline import SeedReport, embed_products
    from seeding.progress import Reporter
    from zava_core.embeddings import get_embedder
    from zava_core.infra import db as zdb
    from zava_core.scope import Identity
    from zava_core.store import Collections

    settings = dataclasses.replace(settings, embedding_backend=backend)
    embedder = get_embedder(settings)  # raises when the backend's extra is missing
    client = await zdb.connect(settings)
    try:
        with Reporter(quiet=True) as reporter:
            await embed_products(Collections(zdb.database(client, settings)), embedder, reporter, SeedReport())
    finally:
        await client.close()
    started = time.perf_counter()
    server = build_server(settings, Identity(head_office=True))
    async with Client(server) as mcp:
        ready = time.perf_counter()
        # Timed once its read models answer (stock for every search): the start is reported, not averaged in.
        startup_report = await readiness.in_process(server, f"customer-sales ({backend})")
        # The SDK client imports jsonschema and compiles a validator on its first tool call (~0.2 s, client
        # side): pay that on another tool, so the timed call is the server's first search.
        await mcp.call_tool("get_product_details", {"sku": "PTDR000001"})
        asked = time.perf_counter()
        await mcp.call_tool("semantic_search_products", {"query_description": "fix a leaky faucet"})
        startup = {"server start ms": (ready - started) * 1000, "first search ms": (time.perf_counter() - asked) * 1000,
                   "read models ready after ms": (startup_report.get("ready_after_seconds") or 0.0) * 1000}
        runs = [await evaluate(mcp, queries, skus_by_type, mode, f"{backend} {mode}") for mode in MODES]
        found = await quality(mcp, runs[-1], unanswerable)
        if backend == "static":
            runs.insert(0, await evaluate(mcp, queries, skus_by_type, "lexical", "lexical (BM25 alone)"))
            defaults = [{"query_description": q} for q in SEARCH_QUERIES]
            startup["semantic p50 ms"] = statistics.median(
                await timed_calls(mcp, "semantic_search_products", defaults, iterations))
            startup["name p50 ms"] = statistics.median(await timed_calls(
                mcp, "get_products_by_name", [{"product_name": n} for n in NAME_QUERIES], iterations))
    if backend == "static":
        startup.update({f"in process: {k}": v for k, v in (await breakdown(settings, iterations)).items()})
    return runs, startup, found


def render(scale: str, target: str, runs: list[Run], missing: dict[str, str], startup: dict[str, dict],
           found: dict[str, Quality], count: int) -> str:
    lines = [f"# Search benchmark: scale {scale}, {target}", "",
             f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}; {count} queries "
             f"({EVAL_PATH.name}, split frozen {FROZEN_ON}), in-process MCP client, head office", "",
             "| backend and mode | train recall@5 | train MRR@10 | **test recall@5** | **test MRR@10** | test hit@5 "
             "| p50 ms | p95 ms |", "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        p95 = sorted(run.latencies_ms)[round(0.95 * (len(run.latencies_ms) - 1))]
        train, test = (run.metrics(h) or dict.fromkeys(("recall@5", "mrr@10", "hit@5"), float("nan")) for h in HALVES)
        lines.append(f"| {run.label} | {train['recall@5']:.3f} | {train['mrr@10']:.3f} | {test['recall@5']:.3f} "
                     f"| {test['mrr@10']:.3f} | {test['hit@5']:.3f} | {run.p50:.1f} | {p95:.1f} |")
    lines += [f"| {backend} | not available: {why} | | | | | | |" for backend, why in missing.items()]
    for half in HALVES:
        kinds = sorted({k for run in runs for k in run.by_kind(half)})
        lines += ["", f"recall@5 / MRR@10 by kind of query, {half} half:", "",
                  "| backend and mode | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        for run in runs:
            by_kind = run.by_kind(half)
            cells = [f"{by_kind[k]['recall@5']:.2f} / {by_kind[k]['mrr@10']:.2f}" if k in by_kind else ""
                     for k in kinds]
            lines.append(f"| {run.label} | " + " | ".join(cells) + " |")
    lines += ["", "When search has no good answer (hybrid, the default mode; train / test):", "",
              "| backend | things Zava does not sell: answered low or none | ... with suggested types "
              "| good answers (exact in top 5) answered high | graded queries without one: answered low |",
              "|---|---|---|---|---|"]
    for backend, q in found.items():
        cells = [" / ".join(f"{v[h]:.2f}" for h in HALVES) for v in (q.unanswerable_flagged, q.with_suggestions,
                                                                       q.good_kept_high, q.misses_flagged)]
        lines.append(f"| {backend} | " + " | ".join(cells) + " |")
    lines += ["", "| start-up and lookups | ms | goal |", "|---|---|---|"]
    for backend, figures in startup.items():
        for name, value in figures.items():
            goal = GOALS.get(name)
            verdict = "" if goal is None else f"{'met' if value <= goal else 'MISSED'} (<= {goal:g})"
            lines.append(f"| {backend}: {name} | {value:.1f} | {verdict} |")
    return "\n".join(lines) + "\n"


async def seed_once(settings, scale: str) -> None:
    """Seed the scratch database, resuming (or skipping) a complete earlier seed of the same parameters."""
    from bench.harness import AS_OF
    from seeding.catalog_loader import load_catalog
    from seeding.generate import Generator
    from seeding.pipeline import seed_database
    from seeding.progress import Reporter
    from zava_core.embeddings import get_embedder
    from zava_core.infra import db as zdb
    from zava_core.store import Collections

    client = await zdb.connect(settings)
    try:
        with Reporter(quiet=True) as reporter:
            generator = Generator(load_catalog(), scale=scale, seed=1, as_of=AS_OF)
            await seed_database(Collections(zdb.database(client, settings)), generator,
                                embedder=get_embedder(settings), drop=False, reporter=reporter)
    finally:
        await client.close()


async def run(args: argparse.Namespace) -> str:
    from zava_core.infra import db as zdb
    from zava_core.infra import embedded
    from zava_core.infra.config import Settings
    from zava_core.store import Collections

    base = dataclasses.replace(Settings.from_env(), embedding_backend="static")
    with contextlib.ExitStack() as stack:
        if base.mongodb_uri:
            settings = dataclasses.replace(base, mongodb_database="zava_bench_search")
            target = "MongoDB at MONGODB_URI"
        else:
            data_dir = Path(args.data_dir) if args.data_dir else Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="zava-bench-search-")))
            state = embedded.ensure_running(data_dir)
            stack.callback(embedded.stop, data_dir)
            settings = dataclasses.replace(base, mongodb_uri=state.uri, mongodb_database="zava_bench_search")
            target = "embedded engine (SecantusDB)"
        print(f"seeding scale {args.scale} on the {target}", file=sys.stderr)
        await seed_once(settings, args.scale)
        client = await zdb.connect(settings)
        try:
            skus_by_type: dict[str, set[str]] = defaultdict(set)
            products = Collections(zdb.database(client, settings)).products
            async for p in products.find({"deleted": False}, {"sku": 1, "type_name": 1}):
                skus_by_type[p["type_name"]].add(p["sku"])
        finally:
            await client.close()
        queries, unanswerable = load_eval(half=args.half), load_unanswerable(half=args.half)
        runs: list[Run] = []
        missing: dict[str, str] = {}
        startup: dict[str, dict] = {}
        found: dict[str, Quality] = {}
        for backend in args.backends:
            print(f"measuring {backend}", file=sys.stderr)
            try:
                backend_runs, startup[backend], found[backend] = await measure_backend(
                    settings, backend, queries, unanswerable, skus_by_type, args.iterations)
            except (ImportError, RuntimeError, OSError) as exc:
                missing[backend] = str(exc).splitlines()[0][:120]
                continue
            runs += backend_runs
        text = render(args.scale, target, runs, missing, startup, found, len(queries))
        if args.output:
            Path(args.output).write_text(text)
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench search", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "default", "full"], default="default")
    parser.add_argument("--backends", nargs="+", default=["static", "onnx-minilm"])
    parser.add_argument("--iterations", type=int, default=40, help="timed calls for the lookup p50s")
    parser.add_argument("--output", help="also write the table to this file")
    parser.add_argument("--data-dir", help="keep the embedded engine's data here (a re-run skips seeding)")
    parser.add_argument("--half", choices=HALVES, help="one half only (while developing: train)")
    args = parser.parse_args(argv)
    print(asyncio.run(run(args)))
    return 0
