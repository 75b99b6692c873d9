"""`Zava`: everything one process holds to answer queries, each part typed, with its lifetime here.

Created once per process (the MCP server's lifespan, a CLI run) and closed on shutdown.

| part | what it is | lifetime and refresh |
|---|---|---|
| `client`, `db` | the PyMongo async client, the dataset's database | the process |
| `collections` | one typed handle per collection (`zava_core.store`) | the process |
| `transactions` | the one transaction helper, with its per-store queues of writers | the process |
| `order_batches` | per store, the orders waiting to share the next transaction (group commit) | until each commits |
| `reference` | stores, categories, products (small) | reloaded after `directory.TTL_SECONDS` |
| `cube` | the `sales_monthly` rollup as numpy arrays | at start (disk copy in data dir/cache); changes per ask |
| `day_cells` | `sales_daily` cells read for partial months, kept once read | dropped per change by the feed |
| `catalog` | live products: name search, BM25 indexes | on change: change stream, else version query (watched.py) |
| `synonyms` | the synonym mappings, compiled for BM25 | on change: change stream, else a digest every few seconds |
| `misses` | search misses being recorded behind the answer | until each write returns; `close()` waits for them |
| `search` | the embedder and the vector index | server start (warm-up) or first use; `vectors.RELOAD_SECONDS` |
| `feed` | the change feed: folds orders into the rollups, records conflicts | `start_feed()` until `close()` |
| `models` | read models: stock, customers, customers' orders (`zava_core.readmodels`) | on first use, then the feed |
| `order_date_ranges` | first and last order date per store set | `schemas.DATE_RANGE_TTL` seconds |
| `aggregations` | the `run_aggregation` pipelines running, per caller | until the engine answers each |
| `exports` | CSV exports of analysis answers, per scope | `limits.EXPORT_TTL_SECONDS`, oldest first past a byte cap |

The parts below the context (cube, catalog, synonyms, search, reference) take the collections they read, never
the context itself, so nothing they import climbs back up to here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from zava_core.analysis.cube import CubeCache
from zava_core.analysis.day_cells import DayCells
from zava_core.analysis.export_store import Exports
from zava_core.analysis.inflight import InFlight
from zava_core.directory import ReferenceData
from zava_core.feed.stream import ChangeFeed
from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.limits import MAX_ORDERS_PER_TRANSACTION
from zava_core.readmodels import ReadModels
from zava_core.retail.catalog_index import CatalogIndex
from zava_core.retail.order_batch import OrderDesk
from zava_core.retail.search_misses import MissRecorder
from zava_core.retail.synonym_index import SynonymIndex
from zava_core.retail.vectors import SemanticSearch
from zava_core.store import Collections, GroupCommit, Transactions

CUBE_SNAPSHOT_DIR = "cache"  # under the data directory: the cube's disk copy (see analysis/cube_snapshot)


@dataclass
class Zava:
    settings: Settings
    client: AsyncMongoClient
    db: AsyncDatabase
    collections: Collections
    transactions: Transactions
    reference: ReferenceData
    cube: CubeCache = field(init=False)
    day_cells: DayCells = field(init=False)
    catalog: CatalogIndex = field(init=False)
    models: ReadModels = field(init=False)
    synonyms: SynonymIndex = field(init=False)
    misses: MissRecorder = field(default_factory=MissRecorder)
    order_date_ranges: dict[tuple[str, ...], tuple[float, list[str]]] = field(default_factory=dict)
    aggregations: InFlight = field(default_factory=InFlight)
    feed: ChangeFeed | None = None
    exports: Exports = field(default_factory=Exports)
    order_batches: GroupCommit = field(init=False)
    _search: SemanticSearch | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.cube = CubeCache(self.collections.sales_monthly, self.settings.data_dir / CUBE_SNAPSHOT_DIR)
        self.day_cells = DayCells(self.collections.sales_daily)
        self.catalog = CatalogIndex(self.collections.products)
        self.models = ReadModels(self.collections)
        self.transactions.around = self.models.freshness.transaction  # a write is in flight until its run ends
        self.synonyms = SynonymIndex(self.collections.search_synonyms)
        desk = OrderDesk(self.collections, self.transactions, self.models.freshness)
        self.order_batches = GroupCommit(desk.place, MAX_ORDERS_PER_TRANSACTION)

    @classmethod
    async def open(cls, settings: Settings) -> Zava:
        client = await zdb.connect(settings)
        collections = Collections(zdb.database(client, settings))
        return cls(settings=settings, client=client, db=collections.db, collections=collections,
                   transactions=Transactions(client),
                   reference=ReferenceData(collections, empty=zdb.nothing_seeded(settings)))

    @property
    def search(self) -> SemanticSearch:
        if self._search is None:
            from zava_core.embeddings import get_embedder  # lazy: the embedder may lack a setting

            self._search = SemanticSearch(self.collections, get_embedder(self.settings))
        return self._search

    async def start_feed(self, models: tuple[str, ...] = ("stock",)) -> ChangeFeed:
        """Follow the database: fold every order change into the rollups (whoever wrote it) and keep the in-memory
        structures current, `models` among them (each loaded on its first use: `zava_core.readmodels`). One per
        process; a server starts it, a CLI run need not."""
        if self.feed is None:
            self.feed = feed = ChangeFeed(self.collections, self.transactions)
            for watched in (self.catalog, self.synonyms):
                feed.subscribe((watched.collection_name,), watched.on_changes)
                watched.follow(feed.current)
            feed.subscribe(("sales_monthly",), self.cube.on_changes)
            feed.subscribe(("sales_daily",), self.day_cells.on_changes)
            rollups_followed = lambda: self.models.freshness.following() and feed.rollups_current()  # noqa: E731
            self.cube.follow(rollups_followed)
            self.day_cells.follow(rollups_followed)
            self.models.attach(feed, models)
        await self.feed.start()
        return self.feed

    async def close(self) -> None:
        await self.order_batches.close()  # the orders being written finish first
        await self.models.close()
        if self.feed is not None:
            await self.feed.close()
        await self.aggregations.cancel_all()  # pipelines the engine was still running past their deadline
        await self.misses.close()
        await self.catalog.close()
        await self.synonyms.close()
        await self.client.close()
