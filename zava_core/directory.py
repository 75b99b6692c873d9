"""Reference data held in memory: stores, categories, product types and the 424-product catalog.

It changes rarely and every tool needs it (store names, SKU to product, prices), so each process
loads it once (a few milliseconds) and reloads it after `TTL_SECONDS`, instead of paying a round
trip per lookup. Store-scoped data (stock, orders, customers) is never cached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio

from zava_core import hints
from zava_core.errors import InvalidArgument, NotFound, echo
from zava_core.model.ids import category_slug, normal_sku
from zava_core.scope import StoreDirectory, StoreRef
from zava_core.store import Collections

TTL_SECONDS = 300.0


@dataclass(frozen=True)
class ReferenceSnapshot:
    stores: StoreDirectory
    categories: dict[str, dict]  # category_id -> document
    types: dict[str, dict]  # type_id -> document
    products: dict[str, dict]  # product_id -> document
    by_sku: dict[str, dict]
    search_text: dict[str, str]  # product_id -> lower-case "sku name description"

    def product_by_sku(self, sku: str) -> dict:
        product = self.by_sku.get(normal_sku(sku))
        if product is None:
            raise NotFound(hints.NO_SKU(sku=echo(sku)))
        return product

    def category_id(self, name: str) -> str:
        """Resolve a category by id or name, any case (`power tools`, `POWER TOOLS`, `cat_power_tools`)."""
        wanted = " ".join(str(name).lower().replace("_", " ").split())
        for category_id, doc in self.categories.items():
            if wanted in {doc["category_name"].lower(), category_id.replace("_", " "),
                          category_slug(category_id).replace("_", " ")}:
                return category_id
        valid = ", ".join(sorted(d["category_name"] for d in self.categories.values()))
        raise InvalidArgument(f"unknown category {echo(name)}; use one of: {valid}")


class ReferenceData:
    """The process-wide cache; `get()` returns a snapshot, reloading it when stale."""

    def __init__(self, collections: Collections, ttl: float = TTL_SECONDS, *, empty: str | None = None) -> None:
        self._collections = collections
        # Said when the database holds no stores: where it was looked for, and the usual cause (infra/db.py).
        self._empty = empty or (f"the database {collections.db.name!r} holds no stores: seed it first with "
                                "`python -m seeding`")
        self._ttl = ttl
        self._snapshot: ReferenceSnapshot | None = None
        self._loaded_at = 0.0
        self._lock = anyio.Lock()

    async def get(self) -> ReferenceSnapshot:
        if self._snapshot is None or time.monotonic() - self._loaded_at > self._ttl:
            async with self._lock:
                if self._snapshot is None or time.monotonic() - self._loaded_at > self._ttl:
                    self._snapshot = await self._load()
                    self._loaded_at = time.monotonic()
        return self._snapshot

    async def _load(self) -> ReferenceSnapshot:
        c = self._collections
        stores = [StoreRef(d["store_id"], d["store_name"], d["short_name"], d["is_online"])
                  async for d in c.stores.find(c.stores.unscoped())]
        if not stores:
            raise NotFound(self._empty)
        categories = {d["_id"]: d async for d in c.categories.find(c.categories.unscoped())}
        types = {d["_id"]: d async for d in c.product_types.find(c.product_types.unscoped())}
        products = {d["_id"]: d async for d in c.products.find(c.products.unscoped())}
        return ReferenceSnapshot(
            stores=StoreDirectory(stores), categories=categories, types=types, products=products,
            by_sku={p["sku"]: p for p in products.values()},
            search_text={pid: f"{p['sku']} {p['product_name']} {p['description']}".lower()
                         for pid, p in products.items()},
        )
