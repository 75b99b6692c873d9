"""The product catalog held in memory per process: name search, the BM25 indexes and product display.

424 products that change rarely: reading them per call costs the engine ~15-20 ms, holding them costs
a few MB. The refresh rule (a change stream on `products`, else a version query, and a full reload at
least every five minutes) is `watched.py`'s.

Stock is never held here: callers read it live (`products.stock_units`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping

import anyio

from zava_core.errors import NotFound
from zava_core.retail.lexical import LexicalIndex, documents_from_products
from zava_core.retail.watched import WatchedCollection, count_and_latest
from zava_core.store import Handle

_LEXICAL_CACHE_SIZE = 8  # two indexes (full, titles) per catalog content


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
        return _lexical_index(self.products, titles_only=False)

    @functools.cached_property
    def position(self) -> dict[str, int]:
        """product_id -> its place in the BM25 indexes' document order (what per-product arrays are aligned to)."""
        return {key: i for i, key in enumerate(self.lexical.keys)}

    @functools.cached_property
    def types(self) -> list[str]:
        """Each product's type, in the BM25 indexes' document order."""
        return [self.products[key]["type_name"] for key in self.lexical.keys]

    @functools.cached_property
    def titles(self) -> LexicalIndex:
        """BM25 over names and types only, in the same document order: where synonym phrases match first."""
        return _lexical_index(self.products, titles_only=True)


_lexical_cache: dict[str, LexicalIndex] = {}


def _lexical_index(products: Mapping[str, dict], titles_only: bool) -> LexicalIndex:
    """Built once per distinct catalog content in the process (tests open many servers on one catalog)."""
    fields = [(pid, p["product_name"], p.get("type_name"), p.get("category_name"), p.get("description"),
               p.get("specifications")) for pid, p in sorted(products.items())]
    key = hashlib.sha256(json.dumps([titles_only, fields], sort_keys=True, default=str).encode()).hexdigest()
    index = _lexical_cache.get(key)
    if index is None:
        index = LexicalIndex(documents_from_products((products[pid] for pid in sorted(products)), titles_only))
        if len(_lexical_cache) >= _LEXICAL_CACHE_SIZE:
            _lexical_cache.pop(next(iter(_lexical_cache)))
        _lexical_cache[key] = index
    return index


class CatalogIndex(WatchedCollection[CatalogSnapshot]):
    """`get()` returns the current snapshot of the live products (`watched.py` says when it reloads)."""

    def __init__(self, products: Handle, *, use_change_stream: bool | None = None) -> None:
        super().__init__(products, _snapshot, query=products.unscoped(), version=count_and_latest,
                         use_change_stream=use_change_stream)

    async def warm(self) -> None:
        """Load the snapshot and build its BM25 indexes (server start)."""
        snapshot = await self.get()
        await anyio.to_thread.run_sync(lambda: (snapshot.lexical, snapshot.titles))


def _snapshot(documents: list[dict], version: tuple) -> CatalogSnapshot:
    if not documents:
        raise NotFound("the database holds no products: seed it first with `python -m seeding`")
    return CatalogSnapshot({d["_id"]: d for d in documents}, version)
