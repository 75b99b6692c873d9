"""The seeding run: generate in bulk, load in large unordered batches, then index and configure.

Safety: it never writes into dataset or rollup collections that hold documents it did not write (other
collections in the database are left alone), and only `--drop` deletes. A run
records its parameters and progress in `zava_meta`; an interrupted run with the same parameters
resumes (collections already complete are skipped, the rest are re-inserted with duplicate keys
ignored, which is exact because every `_id` is deterministic).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import anyio
from pymongo.errors import BulkWriteError

from seeding.catalog_loader import Catalog
from seeding.generate import Generator
from seeding.progress import Reporter
from seeding.synonyms import curated_mappings, load_synonyms
from zava_core.analysis.rollups import GRAINS, ROLLUP_COLLECTIONS, RollupAccumulator, write_rollups
from zava_core.embeddings import Embedder, product_text
from zava_core.errors import ErrorCode, ZavaError
from zava_core.feed.stream import store_position
from zava_core.infra import db as zdb
from zava_core.infra.timeutil import now_iso
from zava_core.model import DATASET, FEED, JOURNALS, META, SEARCH, STATE_ID, embedding_document
from zava_core.store import Collections, Handle, duplicate_keys_only, setup

Rollups = dict[str, RollupAccumulator]  # grain -> the rollup summed while the orders load
T = TypeVar("T")
JOURNAL_COLLECTIONS = tuple(spec.name for spec in JOURNALS)
SEARCH_COLLECTIONS = tuple(spec.name for spec in SEARCH)


class SeedingRefused(ZavaError, RuntimeError):
    """Seeding would overwrite or mix with data it did not write; the message says how to proceed."""

    code = ErrorCode.CONFLICT


@dataclass
class SeedReport:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    resumed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    generation_seconds: float = 0.0
    total_seconds: float = 0.0
    already_complete: bool = False


def run_params(catalog: Catalog, scale: str, seed: int, as_of: date) -> dict[str, Any]:
    return {"scale": scale, "seed": seed, "as_of": as_of.isoformat(), "catalog": catalog.content_hash}


async def seed_database(
    collections: Collections, generator: Generator, *, embedder: Embedder | None, drop: bool, reporter: Reporter,
) -> SeedReport:
    """Seed through the handles' raw collections (bulk inserts, no per-document rules)."""
    report = SeedReport()
    started = time.perf_counter()
    params = run_params(generator.catalog, generator.scale, generator.seed, generator.as_of)
    db, meta = collections.db, collections.meta
    if drop:
        # The journals go too: their records point at orders and stock of the dataset being replaced. So do
        # search's collections: the synonyms are reloaded from the catalog source (an operator's own mappings
        # are lost with them), and the misses were counted against the catalog being replaced.
        for name in (*DATASET, *ROLLUP_COLLECTIONS, *JOURNAL_COLLECTIONS, *SEARCH_COLLECTIONS, META, FEED):
            await db.drop_collection(name)
        reporter.note(f"dropped the dataset in database {db.name!r}")
    state = await meta.find_one({"_id": STATE_ID})
    present = {name: await collections[name].estimated_document_count() for name in DATASET}
    if state is not None and not any(present.values()):
        state = None  # our own bookkeeping outlived the dataset (dropped by hand): start afresh
    if state is None:
        # The rollup is replaced at the end of a run: without a seeding record it is not ours to replace.
        foreign = {name: n for name in ROLLUP_COLLECTIONS
                   if (n := await collections[name].estimated_document_count())}
        if foreign:
            held = ", ".join(f"{k} {v:,}" for k, v in foreign.items())
            raise SeedingRefused(f"database {db.name!r} already holds documents not written by seeding ({held}); "
                                 "nothing was changed. Use --drop to replace them, or set MONGODB_DATABASE to "
                                 "another name")
    if any(present.values()):
        _check_resumable(db.name, state, params, present)
    # The curated synonym mappings that are missing (a dataset seeded before they existed gets them too);
    # mappings already there, an operator's included, are left alone.
    loaded = await load_synonyms(collections.search_synonyms,
                                 curated_mappings(generator.catalog, stamped_at=generator.as_of_instant),
                                 replace=False)
    if loaded["inserted"]:
        report.notes.append(f"synonym mappings: {loaded['inserted']} curated ones loaded into search_synonyms")
    if any(present.values()) and state and state.get("status") == "complete":
        report.already_complete = True
        return report
    if state is None:
        state = {"_id": STATE_ID, "params": params, "status": "running", "done": {}, "order_chunks_done": 0,
                 "started_at": now_iso()}
        await meta.replace_one({"_id": STATE_ID}, state, upsert=True)
    done: dict[str, int] = dict(state.get("done", {}))

    async def mark_done(name: str, count: int) -> None:
        done[name] = count
        report.counts[name] = count
        await meta.update_one({"_id": STATE_ID}, {"$set": {f"done.{name}": count}})

    reference = {
        "stores": generator.store_documents,
        "categories": generator.category_documents,
        "product_types": generator.product_type_documents,
        "products": generator.product_documents,
        "inventory": generator.inventory_documents,
    }
    for name, make in reference.items():
        if name in done:
            report.skipped.append(name)
            continue
        docs = make()
        report.counts[name] = await _load(collections, name, iter([docs]), len(docs), reporter, report,
                                          name in present and present[name] > 0)
        await mark_done(name, len(docs))

    gen_started = time.perf_counter()
    await anyio.to_thread.run_sync(lambda: generator.order_plans)  # plan once; the batches below reuse it
    report.generation_seconds += time.perf_counter() - gen_started

    if "customers" in done:
        report.skipped.append("customers")
    else:
        count = await _load(collections, "customers", generator.customer_batches(), generator.customer_count, reporter,
                            report, present["customers"] > 0)
        await mark_done("customers", count)

    rollups = {grain: RollupAccumulator(grain) for grain in GRAINS}
    if "orders" in done and "order_items" in done:
        report.skipped += ["orders", "order_items"]
        await anyio.to_thread.run_sync(_accumulate, rollups, generator.order_chunks())
    else:
        await _load_orders(collections, generator, state, reporter, report, mark_done, rollups)

    # Seeded documents are stamped from the as-of instant, not the wall clock, so the same seed and as-of
    # date give the same documents byte for byte (re-embeds by `seeding embed` keep the wall clock).
    stamped_at = generator.as_of_instant
    if embedder is not None:
        await embed_products(collections, embedder, reporter, report, stamped_at=stamped_at)
    else:
        report.notes.append("embeddings skipped: run `python -m seeding embed` before using semantic search")

    # The rollups' documents are built in a thread while the engine builds the indexes (2 s at the default scale).
    building = asyncio.ensure_future(anyio.to_thread.run_sync(
        lambda: {grain: accumulator.documents(stamped_at) for grain, accumulator in rollups.items()}))
    try:
        caps_replica_set = await _configure(collections, reporter, report)
    except BaseException:
        building.cancel()
        raise
    cells = await building
    rollup_started = time.perf_counter()
    written = await write_rollups(collections, cells)
    report.seconds["rollups"] = time.perf_counter() - rollup_started
    report.notes.append("rollups: " + ", ".join(f"{name} {n:,} cells" for name, n in written.items())
                        + f" ({report.seconds['rollups']:.1f} s)")
    # The change feed of the servers started next folds from here on (our rollups are complete up to now).
    if caps_replica_set and await store_position(collections):
        report.notes.append("change feed position stored: servers fold every later write, whoever makes it")
    await meta.update_one({"_id": STATE_ID}, {"$set": {"status": "complete", "finished_at": now_iso()}})
    report.total_seconds = time.perf_counter() - started
    return report


def _check_resumable(db_name: str, state: dict | None, params: dict, present: dict[str, int]) -> None:
    held = ", ".join(f"{k} {v:,}" for k, v in present.items() if v)
    if state is None:
        raise SeedingRefused(
            f"database {db_name!r} already holds documents not written by seeding ({held}); "
            "nothing was changed. Use --drop to replace them, or set MONGODB_DATABASE to another name"
        )
    if state.get("params") != params:
        old = state.get("params", {})
        raise SeedingRefused(
            f"database {db_name!r} holds a dataset seeded with scale={old.get('scale')} seed={old.get('seed')} "
            f"as-of={old.get('as_of')}; nothing was changed. Re-run with --drop to rebuild it with the new "
            "parameters, or pass the same ones to resume"
        )


async def _load(
    collections: Collections, name: str, batches: Iterator[list[dict]], total: int, reporter: Reporter,
    report: SeedReport, resuming: bool,
) -> int:
    if resuming:
        report.resumed.append(name)
    task = reporter.start(name, total)
    count = 0

    def advanced(batch: list[dict]) -> None:
        nonlocal count
        count += len(batch)
        reporter.advance(task, len(batch))

    await _pipelined(batches, lambda batch: _insert(collections[name], batch), advanced)
    report.seconds[name] = reporter.finish(task, name, count)
    return count


async def _pipelined(items: Iterator[T], write: Callable[[T], Awaitable[object]], done: Callable[[T], None]) -> None:
    """Produce the next item in a worker thread while the previous one is written to the server.

    On failure the in-flight write is let finish before the error propagates, so nothing writes after
    the caller has seen the error (the item is valid; a re-run skips it as duplicates).
    """
    pending: asyncio.Task | None = None
    try:
        while (item := await anyio.to_thread.run_sync(next, items, None)) is not None:
            if pending:
                await pending
            pending = asyncio.create_task(write(item))
            done(item)
    except BaseException:
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)
        raise
    if pending:
        await pending


async def _insert(collection: Handle, docs: list[dict]) -> int:
    """Insert unordered; duplicate keys (a resumed batch) are expected and skipped."""
    if not docs:
        return 0
    try:
        result = await collection.insert_many(docs, ordered=False, bypass_document_validation=True)
        return len(result.inserted_ids)
    except BulkWriteError as exc:
        if not duplicate_keys_only(exc):
            raise
        return int(exc.details.get("nInserted", 0))


async def _load_orders(collections: Collections, generator: Generator, state: dict, reporter: Reporter,
                       report: SeedReport, mark_done, rollups: Rollups) -> None:
    meta, orders_, items_ = collections.meta, collections.orders, collections.order_items
    start_chunk = int(state.get("order_chunks_done", 0))
    if start_chunk:
        report.resumed += ["orders", "order_items"]
        skipped = (c for c in generator.order_chunks() if c[0] < start_chunk)
        await anyio.to_thread.run_sync(_accumulate, rollups, skipped)
    plans = generator.order_plans
    orders_task = reporter.start("orders", len(plans))
    items_task = reporter.start("order_items", int(len(plans) * 2.1))
    reporter.advance(orders_task, min(start_chunk * 2000, len(plans)))
    chunks = _accumulating(rollups, generator.order_chunks(start_chunk))

    async def write(chunk: int, orders: list[dict], items: list[dict]) -> None:
        await _insert(items_, items)  # lines first: an order never appears without its lines
        await _insert(orders_, orders)
        await meta.update_one({"_id": STATE_ID}, {"$set": {"order_chunks_done": chunk + 1}})

    def advanced(produced: tuple[int, list[dict], list[dict]]) -> None:
        reporter.advance(orders_task, len(produced[1]))
        reporter.advance(items_task, len(produced[2]))

    await _pipelined(chunks, lambda produced: write(*produced), advanced)
    report.seconds["orders"] = reporter.finish(orders_task, "orders", await orders_.count_documents({}))
    report.seconds["order_items"] = reporter.finish(items_task, "order_items", await items_.count_documents({}))
    await mark_done("orders", await orders_.count_documents({}))
    await mark_done("order_items", await items_.count_documents({}))


def _accumulate(rollups: Rollups, chunks: Iterator[tuple[int, list[dict], list[dict]]]) -> None:
    for _ in _accumulating(rollups, chunks):
        pass


def _accumulating(rollups: Rollups, chunks: Iterator[tuple[int, list[dict], list[dict]]]):
    """Pass chunks through, summing each order's lines (generated contiguously) into the rollups."""
    for chunk in chunks:
        lines = chunk[2]
        start = 0
        for end in range(1, len(lines) + 1):
            if end == len(lines) or lines[end]["order_id"] != lines[start]["order_id"]:
                for accumulator in rollups.values():
                    accumulator.add_order(lines[start:end])
                start = end
        yield chunk


async def embed_products(collections: Collections, embedder: Embedder, reporter: Reporter, report: SeedReport, *,
                         stamped_at: str | None = None) -> int:
    """(Re)embed every product whose stored vector is missing or from another model; `created_at` is
    `stamped_at` (seeding: the as-of instant) or the wall clock (a re-embed)."""
    collection, catalog = collections.product_embeddings, collections.products
    current = {d["_id"] async for d in collection.find({"model": embedder.model}, {"_id": 1})}
    products = [p async for p in catalog.find(catalog.unscoped(),
                                              {"product_id": 1, "sku": 1, "product_name": 1, "description": 1})]
    todo = [p for p in products if p["product_id"] not in current]
    task = reporter.start("product_embeddings", len(todo))
    started_at = stamped_at or now_iso()
    for start in range(0, len(todo), 128):
        batch = todo[start:start + 128]
        texts = [product_text(p["product_name"], p["description"]) for p in batch]
        vectors = await embedder.embed(texts)
        docs = [embedding_document(product, backend=embedder.backend, model=embedder.model,
                                   dimensions=embedder.dimensions, vector=vector, text=text, created_at=started_at)
                for product, text, vector in zip(batch, texts, vectors, strict=True)]
        # Delete then insert, in bulk: an upsert per product made this step 4-5 s of a small seed on the
        # embedded engine. An interrupted batch leaves products without a vector, which the next run embeds.
        await collection.delete_many({"_id": {"$in": [doc["_id"] for doc in docs]}})
        await collection.insert_many(docs, ordered=False)
        reporter.advance(task, len(batch))
    report.seconds["product_embeddings"] = reporter.finish(task, "product_embeddings", len(todo))
    report.counts["product_embeddings"] = len(products)
    if not todo:
        report.skipped.append("product_embeddings")
    return len(todo)


async def _configure(collections: Collections, reporter: Reporter, report: SeedReport) -> bool:
    """Indexes, pre/post images, search indexes; whether the server is a replica set (change streams)."""
    started = time.perf_counter()
    created = await setup.create_indexes(collections)
    report.seconds["indexes"] = time.perf_counter() - started
    report.notes.append(f"indexes: {len(created)} ensured in {report.seconds['indexes']:.1f} s")
    caps = await zdb.capabilities(collections.products)
    if caps.replica_set:
        changed, refused = await setup.enable_pre_post_images(collections)
        report.notes.append(
            f"change-stream pre/post images enabled on {len(changed)} synced collections"
            + (f"; the server refused: {refused}" if refused else "")
        )
    else:
        report.notes.append("not a replica set: change streams (and Ditto's connector) are unavailable here")
    if caps.search_indexes:
        dims = await collections.product_embeddings.find_one({}, {"dimensions": 1})
        if dims:
            outcome = await setup.create_vector_index(collections, int(dims["dimensions"]))
            report.notes.append(f"Atlas vector search index {outcome}")
            from zava_core.retail.atlas_search import create_text_index  # hybrid search's text side

            report.notes.append(f"Atlas text search index {await create_text_index(collections.product_embeddings)}")
    else:
        report.notes.append("the server offers no search indexes: semantic search uses the in-memory index")
    return caps.replica_set
