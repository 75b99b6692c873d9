"""`python -m bench peer [--scale small|default]`: the same questions to the PostgreSQL original and to us.

It installs nothing. It needs a PostgreSQL server (`--dsn` or ZAVA_PEER_PG_DSN; default the local
socket of Debian's `postgresql` service as the current OS user), or `--private-cluster` to start a
throwaway one from the installed server binaries. It seeds the same generated dataset (same seed and
as-of date) into a fresh embedded engine (or MONGODB_URI, database `zava_peer`) and, with COPY, into
the original's schema in the database `zava_peer`; asks every question both ways, checks the answers
agree to the cent (each difference is a `mismatch` line, and the exit status is 1), and prints the
timings as a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import asyncpg
from mcp import Client

from bench import readiness
from bench.harness import AS_OF, call_ok, seed, time_inside, timed
from bench.peer import compare, loader, questions
from bench.peer.cluster import private_cluster
from bench.peer.convert import SUPER_MANAGER_UUID, rls_user_id
from bench.peer.table import Row, percentile, render
from mcp_servers.customer_sales.server import build_server as build_customer_sales
from mcp_servers.sales_analysis.server import build_server as build_sales_analysis
from seeding.catalog_loader import load_catalog
from seeding.generate import Generator
from zava_core.infra import embedded
from zava_core.infra.config import Settings
from zava_core.scope import Identity

DEFAULT_DSN = "postgresql:///postgres?host=/var/run/postgresql"
DATABASE = "zava_peer"
BUILDERS = {"customer_sales": build_customer_sales, "sales_analysis": build_sales_analysis}
# The original's pool (sales_analysis_postgres.py: create_pool), plus its application role so RLS applies.
POOL_SETTINGS = {"jit": "off", "work_mem": "4MB", "statement_timeout": "30s", "role": "store_manager"}


async def ask_original(pool: asyncpg.Pool, rls: str, sql: str, params: Sequence) -> list[asyncpg.Record]:
    """What the original's execute_query does: set the RLS id on the session, run the SQL, format compact JSON."""
    async with pool.acquire() as conn:
        await conn.execute("SELECT set_config('app.current_rls_user_id', $1, false)", rls)
        rows = await conn.fetch(sql, *params)
    columns = list(rows[0].keys()) if rows else []
    json.dumps({"c": columns, "r": [[r[c] for c in columns] for r in rows], "n": len(rows)},
               separators=(",", ":"), default=str)
    return rows


async def ask_ours(client: Client, calls: Sequence[tuple[str, dict]]) -> list[dict]:
    return [await call_ok(client, tool, arguments) for tool, arguments in calls]


class Clients:
    """One in-process MCP client per (server, identity), opened on first use and used once the server is ready
    (its lookups answer from memory: bench/readiness.py); `starts` says how long each took."""

    def __init__(self, settings: Settings, stack: contextlib.AsyncExitStack) -> None:
        self.settings, self.stack, self.open = settings, stack, {}
        self.starts: list[str] = []
        self.inside: dict[int, list[float]] = {}  # id(client) -> ms inside its server, per tool call

    async def get(self, server: str, store: str | None) -> Client:
        key = (server, store)
        if key not in self.open:
            identity = Identity(head_office=True) if store is None else Identity(head_office=False, store=store)
            built = BUILDERS[server](self.settings, identity)
            inside = time_inside(built)
            self.open[key] = await self.stack.enter_async_context(Client(built))
            self.inside[id(self.open[key])] = inside
            label = f"{server} ({store or 'head office'})"
            self.starts.append(f"{label}: {readiness.describe(await readiness.in_process(built, label))}")
        return self.open[key]


async def summary_has_new_shape(client: Client) -> bool:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    return "metrics" in (tools["sales_summary"].input_schema or {}).get("properties", {})


async def compare_and_time(question: questions.Question, client: Client, pool: asyncpg.Pool, rls: str,
                           iterations: int, inside: list[float]) -> tuple[Row, list[str]]:
    ours = question.ours(await ask_ours(client, question.calls))
    theirs = question.theirs(await ask_original(pool, rls, question.sql, question.params))
    problems = compare.mismatches(f"{question.name} ({question.identity})", ours, theirs)
    inside.clear()
    ours_ms = await timed(lambda i: ask_ours(client, question.calls), iterations)
    calls = len(question.calls)  # a question of several tool calls: their times inside the server, summed per run
    runs = inside[-iterations * calls:]
    server_ms = [sum(runs[i:i + calls]) for i in range(0, len(runs), calls)]
    original_ms = await timed(lambda i: ask_original(pool, rls, question.sql, question.params), iterations)
    status = "MISMATCH" if problems else f"same ({len(theirs)} row{'' if len(theirs) == 1 else 's'})"
    name = question.name + (f" ({question.note})" if question.note else "")
    return Row(name, question.identity, ours_ms, original_ms, status, question.group, server_ms), problems


async def run(args: argparse.Namespace) -> int:
    base = Settings.from_env()
    with contextlib.ExitStack() as stack:
        dsn = args.dsn
        if args.private_cluster:
            dsn = stack.enter_context(private_cluster())
        if base.mongodb_uri:
            settings = dataclasses.replace(base, mongodb_database=DATABASE)
            target = "MongoDB at MONGODB_URI"
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zava-peer-")))
            state = embedded.ensure_running(data_dir)
            stack.callback(embedded.stop, data_dir)
            settings = dataclasses.replace(base, mongodb_uri=state.uri, mongodb_database=DATABASE)
            target = "embedded engine (SecantusDB)"
        await (await asyncpg.connect(dsn)).close()  # fail fast, before minutes of seeding
        log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
        log(f"bench peer: scale {args.scale}; ours on the {target}; the original on PostgreSQL")
        report = await seed(settings, args.scale)
        log(f"ours seeded in {report.total_seconds:.1f} s")
        generator = Generator(load_catalog(), scale=args.scale, seed=1, as_of=AS_OF)
        loaded = await loader.load(dsn, args.pg_database, generator)
        log(f"the original loaded in {loaded.total_seconds:.1f} s ("
            + ", ".join(f"{k} {v:.1f} s" for k, v in loaded.seconds.items()) + "): "
            + ", ".join(f"{k} {v:,}" for k, v in loaded.counts.items()))
        sample = questions.pick_sample(generator)
        stores = {s["store_id"]: s["store_name"] for s in generator.store_documents()}
        return await _ask_all(args, settings, dsn, sample, stores, loaded, target)


@dataclasses.dataclass
class Answers:
    rows: list[Row]
    problems: list[str]
    server_version: str
    mcp_floor_ms: list[float]
    starts: list[str] = dataclasses.field(default_factory=list)


def open_pool(dsn: str, database: str) -> asyncpg.pool.Pool:
    return asyncpg.create_pool(dsn, database=database, min_size=1, max_size=3, command_timeout=30,
                               server_settings=POOL_SETTINGS)


async def answer_all(settings: Settings, dsn: str, database: str, sample: questions.Sample,
                     stores: Mapping[str, str], iterations: int, only: str = "") -> Answers:
    """Every question both ways: compared, then timed. `stores`: our store id -> name."""
    rows: list[Row] = []
    problems: list[str] = []
    async with open_pool(dsn, database) as pool, contextlib.AsyncExitStack() as stack:
        clients = Clients(settings, stack)
        analysis = await clients.get("sales_analysis", None)
        new_shape = await summary_has_new_shape(analysis)
        for question in questions.build(sample, new_shape):
            if only and only.lower() not in question.name.lower():
                continue
            rls = SUPER_MANAGER_UUID if question.store is None else str(rls_user_id(stores[f"store_{question.store}"]))
            client = await clients.get(question.server, question.store)
            started = time.perf_counter()
            row, found = await compare_and_time(question, client, pool, rls, iterations, clients.inside[id(client)])
            print(f"  {question.name} ({question.identity}): {time.perf_counter() - started:.1f} s"
                  + (f", {len(found)} mismatch line(s)" if found else ""), file=sys.stderr, flush=True)
            rows.append(row)
            problems += found
        async with pool.acquire() as conn:
            vector = await loader.vector_extension_available(conn)
            version = await conn.fetchval("SHOW server_version")
        rows.append(Row("semantic search", "head office", status=(
            "not compared: pgvector is installed here, but this benchmark does not load embeddings into it yet"
            if vector else "not compared: pgvector is not installed on this PostgreSQL (Debian does not package it)")))
        floor = await timed(lambda i: call_ok(analysis, "get_current_utc_date", {}), iterations)
        starts = clients.starts
    return Answers(rows, problems, version, floor, starts)


async def _ask_all(args: argparse.Namespace, settings: Settings, dsn: str, sample: questions.Sample,
                   stores: Mapping[str, str], loaded: loader.LoadReport, target: str) -> int:
    answers = await answer_all(settings, dsn, args.pg_database, sample, stores, args.iterations, args.only)
    heading = (f"## Side by side with the PostgreSQL original: scale {args.scale}\n\n"
               f"{date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
               f"ours: {target}, tools through the in-process MCP client; the original: PostgreSQL "
               f"{answers.server_version}, its SQL through asyncpg (pool as the original configures it, RLS id set "
               f"per call). {loaded.counts.get('orders', 0):,} orders, {loaded.counts.get('order_items', 0):,} order "
               f"lines; {args.iterations} timed runs per question after 2 warm-ups; times in ms. Our in-process MCP "
               f"round trip alone (get_current_utc_date): p50 {percentile(answers.mcp_floor_ms, 50):.2f} ms; "
               "\"inside the server\" is our server's own time (the tool, its result's conversion and fence), "
               "without that round trip and the SDK client's validation of each result against the tool's output "
               "schema (jsonschema, in the client). "
               f"Load average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1 / 5 / 15 min).\n\n"
               "Our servers were timed once ready (lookups from memory):\n"
               + "\n".join(f"- {start}" for start in answers.starts))
    for line in answers.problems:
        print(line)
    print(render(answers.rows, heading))
    if answers.problems:
        print(f"{len(answers.problems)} mismatch line(s): the two sides disagree", file=sys.stderr)
    return 1 if answers.problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench peer", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "default"], default="default")
    parser.add_argument("--dsn", default=os.environ.get("ZAVA_PEER_PG_DSN", DEFAULT_DSN),
                        help="PostgreSQL to load and query (env ZAVA_PEER_PG_DSN); the user needs CREATEDB and "
                             "CREATEROLE, or superuser")
    parser.add_argument("--private-cluster", action="store_true",
                        help="start a throwaway cluster from the installed server binaries instead of --dsn")
    parser.add_argument("--pg-database", default=DATABASE, help="database bench peer creates (and re-creates)")
    parser.add_argument("--iterations", type=int, default=20, help="timed runs per question and side")
    parser.add_argument("--only", default="", help="ask only the questions whose name contains this text")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except (OSError, asyncpg.PostgresError, loader.PeerDatabaseRefused, RuntimeError) as exc:
        if isinstance(exc, OSError) and not args.private_cluster:
            print(f"bench peer: cannot reach PostgreSQL at {args.dsn}: {exc}. Install and start it "
                  "(README, Performance), pass --dsn, or use --private-cluster", file=sys.stderr)
        else:
            print(f"bench peer: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
