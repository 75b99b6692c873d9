"""Search quality and speed: `python -m bench search [--scale default] [--backends static onnx-minilm]`.

Runs every query of the evaluation set (tests/data/search_eval.json) through
`semantic_search_products` on the in-process MCP client, per embedding backend and mode, and prints
recall@5, MRR@10 and p50 latency side by side; then the start-up figures (first search after the
server starts) and `get_products_by_name`'s p50. Seeds a scratch database `zava_bench_search` (on a
fresh embedded engine, or MONGODB_URI; `--data-dir` keeps the engine's data for re-runs). Not a test:
goals are reported, never failed.

Metrics (per query, then averaged):
- recall@5: the share of the query's exact answers in the top 5, out of min(5, number of exact answers);
- MRR@10: 1/rank of the first answer in the top 10, an acceptable answer counting half (0 if none);
- hit@5: 1 if any exact answer is in the top 5.
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

from bench.search_eval import EVAL_PATH, EvalQuery, expand, load_eval, score, summarise

MODES = ("semantic", "hybrid")
NAME_QUERIES = ("hammer", "drill", "paint", "hose")  # the main harness' lookups
GOALS = {"recall@5": 0.95, "mrr@10": 0.85, "semantic p50 ms": 10.0, "name p50 ms": 5.0, "first search ms": 100.0}


@dataclasses.dataclass
class Run:
    label: str
    metrics: dict[str, float]
    by_kind: dict[str, dict[str, float]]
    latencies_ms: list[float]
    note: str = ""

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


async def evaluate(client, queries: list[EvalQuery], skus_by_type: dict[str, set[str]], mode: str,
                   label: str) -> Run:
    rows, kinds, latencies = [], defaultdict(list), []
    for q in queries:
        args = {"query_description": q.query, "max_rows": 10, "similarity_threshold": 0, "mode": mode}
        started = time.perf_counter()
        result = await client.call_tool("semantic_search_products", args)
        latencies.append((time.perf_counter() - started) * 1000)
        if result.is_error:
            raise RuntimeError(f"{q.id} {q.query!r}: {result.content[0].text}")
        skus = [p["sku"] for p in result.structured_content["products"]]
        row = score(skus, expand(q.exact, skus_by_type), expand(q.acceptable, skus_by_type))
        rows.append(row)
        kinds[q.kind].append(row)
    return Run(label, summarise(rows), {k: summarise(v) for k, v in sorted(kinds.items())}, latencies)


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


async def measure_backend(settings, backend: str, queries, skus_by_type, iterations: int) -> tuple[list[Run], dict]:
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
    async with Client(build_server(settings, Identity(head_office=True))) as mcp:
        ready = time.perf_counter()
        # The SDK client imports jsonschema and compiles a validator on its first tool call (~0.2 s, client
        # side): pay that on another tool, so the timed call is the server's first search.
        await mcp.call_tool("get_current_utc_date", {})
        asked = time.perf_counter()
        await mcp.call_tool("semantic_search_products", {"query_description": "fix a leaky faucet"})
        startup = {"server start ms": (ready - started) * 1000, "first search ms": (time.perf_counter() - asked) * 1000}
        runs = [await evaluate(mcp, queries, skus_by_type, mode, f"{backend} {mode}") for mode in MODES]
        if backend == "static":
            runs.insert(0, await evaluate(mcp, queries, skus_by_type, "lexical", "lexical (BM25 alone)"))
            defaults = [{"query_description": q} for q in ("my toilet keeps running", "cut plywood sheets",
                                                           "stain a deck", "hang a heavy mirror")]
            startup["semantic p50 ms"] = statistics.median(
                await timed_calls(mcp, "semantic_search_products", defaults, iterations))
            startup["name p50 ms"] = statistics.median(await timed_calls(
                mcp, "get_products_by_name", [{"product_name": n} for n in NAME_QUERIES], iterations))
    if backend == "static":
        startup.update({f"in process: {k}": v for k, v in (await breakdown(settings, iterations)).items()})
    return runs, startup


async def breakdown(settings, iterations: int) -> dict[str, float]:
    """p50 of each part of a search and a name lookup, called in process without MCP (head office)."""
    from zava_core.context import Zava
    from zava_core.retail import products, search
    from zava_core.scope import Scope

    zava = await Zava.open(dataclasses.replace(settings, embedding_backend="static"))
    try:
        scope = Scope.for_head_office((await zava.reference.get()).stores)
        catalog = await zava.catalog.get()
        await zava.search.prepare()
        queries = ["my toilet keeps running", "cut plywood sheets", "stain a deck", "hang a heavy mirror"]
        parts: dict[str, list[float]] = defaultdict(list)
        for i in range(iterations):
            text = queries[i % 4]
            started = time.perf_counter()
            _, ranked = await search.rank_products(zava, text, "hybrid", 30.0, catalog)
            parts["search: rank (BM25 + embed + vectors + RRF)"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await products.stock_by_product(zava, scope, [pid for pid, _, _ in ranked[:10]])
            parts["search: live stock read, 10 products"].append(time.perf_counter() - started)
            started = time.perf_counter()
            matches = products.match_products(await zava.catalog.get(), NAME_QUERIES[i % 4])
            parts["name: match in the catalog index"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await products.stock_by_product(zava, scope, [p["product_id"] for p in matches[:20]])
            parts["name: live stock read, up to 20 products"].append(time.perf_counter() - started)
        return {name: statistics.median(v) * 1000 for name, v in parts.items()}
    finally:
        await zava.close()


def render(scale: str, target: str, runs: list[Run], missing: dict[str, str], startup: dict[str, dict],
           count: int) -> str:
    lines = [f"# Search benchmark: scale {scale}, {target}", "",
             f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}; {count} queries "
             f"({EVAL_PATH.name}), in-process MCP client, head office", "",
             "| backend and mode | recall@5 | MRR@10 | hit@5 | p50 ms | p95 ms |", "|---|---|---|---|---|---|"]
    for run in runs:
        p95 = sorted(run.latencies_ms)[round(0.95 * (len(run.latencies_ms) - 1))]
        m = run.metrics
        lines.append(f"| {run.label} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} | {m['hit@5']:.3f} | {run.p50:.1f} "
                     f"| {p95:.1f} |")
    lines += [f"| {backend} | not available: {why} | | | | |" for backend, why in missing.items()]
    kinds = sorted({k for run in runs for k in run.by_kind})
    lines += ["", "recall@5 / MRR@10 by kind of query:", "",
              "| backend and mode | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for run in runs:
        cells = [f"{run.by_kind[k]['recall@5']:.2f} / {run.by_kind[k]['mrr@10']:.2f}" if k in run.by_kind else ""
                 for k in kinds]
        lines.append(f"| {run.label} | " + " | ".join(cells) + " |")
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
            products = zdb.database(client, settings)["products"]
            async for p in products.find({"deleted": False}, {"sku": 1, "type_name": 1}):
                skus_by_type[p["type_name"]].add(p["sku"])
        finally:
            await client.close()
        queries = load_eval()
        runs: list[Run] = []
        missing: dict[str, str] = {}
        startup: dict[str, dict] = {}
        for backend in args.backends:
            print(f"measuring {backend}", file=sys.stderr)
            try:
                backend_runs, startup[backend] = await measure_backend(settings, backend, queries, skus_by_type,
                                                                       args.iterations)
            except (ImportError, RuntimeError, OSError) as exc:
                missing[backend] = str(exc).splitlines()[0][:120]
                continue
            runs += backend_runs
        text = render(args.scale, target, runs, missing, startup, len(queries))
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
    args = parser.parse_args(argv)
    print(asyncio.run(run(args)))
    return 0
