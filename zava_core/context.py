"""`Zava`: everything one process holds to answer queries, each part typed, with its lifetime here.

Created once per process (the MCP server's lifespan, a CLI run) and closed on shutdown.

| part | what it is | lifetime and refresh |
|---|---|---|
| `client`, `db` | the PyMongo async client, the dataset's database | the process |
| `reference` | stores, categories, products (small) | reloaded after `reference_data.TTL_SECONDS` |
| `cube` | the `sales_monthly` rollup as numpy arrays | at start (disk copy in data dir/cache); changes per ask |
| `catalog` | live products: name search, BM25 index | on change: change stream, else version query (catalog_index) |
| `search` | the embedder and the vector index | server start (warm-up) or first use; `vectors.RELOAD_SECONDS` |
| `order_locks` | a lock per store for `create_order` | the process: a store's orders one at a time |
| `order_date_ranges` | first and last order date per store set | `schemas.DATE_RANGE_TTL` seconds |
| `aggregations` | the `run_aggregation` pipelines running, per caller | until the engine answers each |
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from zava_core.analysis.cube import CubeCache
from zava_core.analysis.inflight import InFlight
from zava_core.directory import ReferenceData
from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.retail.catalog_index import CatalogIndex

CUBE_SNAPSHOT_DIR = "cache"  # under the data directory: the cube's disk copy (see analysis/cube_snapshot)

if TYPE_CHECKING:
    from zava_core.retail.vectors import SemanticSearch


@dataclass
class Zava:
    settings: Settings
    client: AsyncMongoClient
    db: AsyncDatabase
    reference: ReferenceData
    cube: CubeCache = field(init=False)
    catalog: CatalogIndex = field(init=False)
    order_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    order_date_ranges: dict[tuple[str, ...], tuple[float, list[str]]] = field(default_factory=dict)
    aggregations: InFlight = field(default_factory=InFlight)
    _search: SemanticSearch | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.cube = CubeCache(self.db, self.settings.data_dir / CUBE_SNAPSHOT_DIR)
        self.catalog = CatalogIndex(self.db)

    @classmethod
    async def open(cls, settings: Settings) -> Zava:
        client = await zdb.connect(settings)
        database = zdb.database(client, settings)
        return cls(settings=settings, client=client, db=database, reference=ReferenceData(database))

    @property
    def search(self) -> SemanticSearch:
        if self._search is None:
            from zava_core.embeddings import get_embedder
            from zava_core.retail.vectors import SemanticSearch  # lazy: the embedder may lack a setting

            self._search = SemanticSearch(self, get_embedder(self.settings))
        return self._search

    def store_lock(self, store_id: str) -> asyncio.Lock:
        return self.order_locks.setdefault(store_id, asyncio.Lock())

    async def close(self) -> None:
        await self.aggregations.cancel_all()  # pipelines the engine was still running past their deadline
        await self.catalog.close()
        await self.client.close()
