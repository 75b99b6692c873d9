"""The product catalog held in memory per process: name search, the BM25 index and product display.

424 products that change rarely: reading them per call costs the engine ~15-20 ms, holding them costs
a few MB. The refresh rule, in one place:

- where the process runs the change feed (`zava_core.feed`, the servers do), its `products` events mark the
  snapshot stale (`on_changes`) and the next call reloads it; elsewhere on a server with change streams (a
  replica set, the embedded engine included), a stream of its own on `products` does the same (events that
  arrive during a load count against the load that follows);
- elsewhere, a version query (document count and latest `updated_at`) runs at most every
  `VERSION_CHECK_SECONDS`, and a change of version reloads;
- either way, a snapshot older than `FULL_RELOAD_SECONDS` is reloaded (a backstop for edits that
  neither the stream nor the version can see, e.g. a stream that died quietly).

Stock is never held here: callers read it live (`products.stock_by_product`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence

import anyio
from pymongo.errors import PyMongoError

from zava_core.errors import NotFound
from zava_core.infra import db as zdb
from zava_core.retail.lexical import LexicalIndex, documents_from_products
from zava_core.store import Handle

VERSION_CHECK_SECONDS = 5.0
FULL_RELOAD_SECONDS = 300.0
_LEXICAL_CACHE_SIZE = 4
log = logging.getLogger(__name__)


class CatalogSnapshot:
    """One consistent view of the live products; the BM25 index is built on first use."""

    def __init__(self, products: Mapping[str, dict], version: tuple) -> None:
        self.products = dict(products)  # product_id -> document
        self.version = version
        self.by_sku = {p["sku"]: p for p in self.products.values()}
        self.search_text = {pid: f"{p['sku']} {p['product_name']} {p['description']}".lower()
                            for pid, p in self.products.items()}
        self.names = {pid: p["product_name"].lower() for pid, p in self.products.items()}

    @functools.cached_property
    def lexical(self) -> LexicalIndex:
        return _lexical_index(self.products)


_lexical_cache: dict[str, LexicalIndex] = {}


def _lexical_index(products: Mapping[str, dict]) -> LexicalIndex:
    """Built once per distinct catalog content in the process (tests open many servers on one catalog)."""
    fields = [(pid, p["product_name"], p.get("type_name"), p.get("category_name"), p.get("description"),
               p.get("specifications")) for pid, p in sorted(products.items())]
    key = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    index = _lexical_cache.get(key)
    if index is None:
        index = LexicalIndex(documents_from_products(products[pid] for pid in sorted(products)))
        if len(_lexical_cache) >= _LEXICAL_CACHE_SIZE:
            _lexical_cache.pop(next(iter(_lexical_cache)))
        _lexical_cache[key] = index
    return index


class CatalogIndex:
    """`get()` returns the current snapshot, reloading it by the rule above."""

    def __init__(self, products: Handle, *, use_change_stream: bool | None = None) -> None:
        self._products = products
        self._use_change_stream = use_change_stream  # None: decide from the server
        self._snapshot: CatalogSnapshot | None = None
        self._loaded_at = 0.0
        self._checked_at = 0.0
        self._changes = 0  # change events seen so far
        self._changes_at_load = 0
        self._stream = None
        self._watcher: asyncio.Task | None = None
        self._fed: Callable[[], bool] | None = None
        self._started = False
        self._lock = anyio.Lock()

    @property
    def refresh_rule(self) -> str:
        return "change-stream" if self._watching else "version-check"

    @property
    def _watching(self) -> bool:
        if self._fed is not None:
            return self._fed()
        return self._watcher is not None and not self._watcher.done()

    def follow(self, following: Callable[[], bool]) -> None:
        """Take change events from the process's change feed (`on_changes`) instead of a stream of its own;
        `following()` says whether the feed is delivering (when not, the version check applies)."""
        self._fed = following

    async def on_changes(self, events: Sequence[dict]) -> None:
        self._changes += len(events)

    async def get(self) -> CatalogSnapshot:
        if self._snapshot is not None and not await self._stale():
            return self._snapshot
        async with self._lock:
            if self._snapshot is None or await self._stale():
                await self._start_watching()
                changes = self._changes
                products = {d["_id"]: d async for d in self._products.find(self._products.unscoped())}
                if not products:
                    raise NotFound("the database holds no products: seed it first with `python -m seeding`")
                version = await self._version() if not self._watching else ()
                self._snapshot = CatalogSnapshot(products, version)
                self._changes_at_load = changes
                self._loaded_at = self._checked_at = time.monotonic()
        return self._snapshot

    async def warm(self) -> None:
        """Load the snapshot and build its BM25 index (server start)."""
        snapshot = await self.get()
        await anyio.to_thread.run_sync(lambda: snapshot.lexical)

    async def _stale(self) -> bool:
        now = time.monotonic()
        if self._snapshot is None or now - self._loaded_at > FULL_RELOAD_SECONDS:
            return True
        if self._watching:
            return self._changes != self._changes_at_load
        if now - self._checked_at < VERSION_CHECK_SECONDS:
            return False
        self._checked_at = now
        return await self._version() != self._snapshot.version

    async def _version(self) -> tuple:
        stage = {"$group": {"_id": None, "count": {"$sum": 1}, "latest": {"$max": "$updated_at"}}}
        rows = await (await self._products.aggregate([stage])).to_list()
        return (rows[0]["count"], rows[0]["latest"]) if rows else (0, None)

    async def _start_watching(self) -> None:
        if self._started or self._fed is not None:
            return
        self._started = True
        wanted = self._use_change_stream
        if wanted is None:
            wanted = (await zdb.capabilities(self._products)).replica_set  # change streams need one
        if not wanted:
            return
        try:
            self._stream = await self._products.watch()
        except PyMongoError as exc:  # a server that lists a replica set but refuses streams
            log.info("no change stream on products (%s); checking a version instead", exc)
            return
        self._watcher = asyncio.create_task(self._drain(), name="zava-catalog-watch")

    async def _drain(self) -> None:
        try:
            async for _ in self._stream:
                self._changes += 1
        except PyMongoError as exc:
            log.info("the products change stream ended (%s); checking a version instead", exc)
        finally:
            self._changes += 1  # whatever happened meanwhile is unknown: reload once

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, PyMongoError):
                await self._watcher
        if self._stream is not None:
            with contextlib.suppress(PyMongoError):
                await self._stream.close()
