"""Collection facts, defined once: id field, Ditto id mapping, synced or not, store scope, indexes,
map fields and relationships of every collection. Seeding, index creation, the scope rule, the
schema descriptions and the Ditto connector configuration all read from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from zava_core.model.documents import (
    TIMESTAMP_PATTERN,
    Category,
    Customer,
    Inventory,
    Order,
    OrderItem,
    Product,
    ProductEmbedding,
    ProductType,
    SalesDaily,
    SalesFold,
    SalesMonthly,
    SearchMiss,
    StockMovement,
    Store,
    SyncConflict,
    SynonymMapping,
    TillLookup,
)

Direction = Literal[1, -1]


@dataclass(frozen=True)
class IndexSpec:
    keys: tuple[tuple[str, Direction], ...]
    unique: bool = False
    sparse: bool = False
    purpose: str = ""

    @property
    def name(self) -> str:
        return "_".join(f"{k}_{d}" for k, d in self.keys)


StoreScope = Literal["store_id", "customer", "none"]


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    model: type[BaseModel]
    id_field: str
    synced: bool
    ditto_id: Literal["match_ids", "field"]
    description: str
    store_scope: StoreScope = "none"
    indexes: tuple[IndexSpec, ...] = ()
    map_fields: tuple[str, ...] = ()
    relationships: tuple[str, ...] = ()
    # Documents per round trip when a process reads the whole collection (`Handle.scan`: a read model's or the
    # cube's load). The driver's own batches run to 16 MB, decoded at once: an order book load peaked 90 MB
    # higher with them, and what decoding allocates the allocator keeps. At most ~1 MB a batch (0.3-0.5 MB typical).
    scan_batch: int = 1000

    @property
    def ditto_id_fields(self) -> tuple[str, ...]:
        return ("_id",) if self.ditto_id == "match_ids" else (self.id_field,)

    @property
    def timestamp_fields(self) -> tuple[str, ...]:
        return tuple(
            name for name, info in self.model.model_fields.items()
            if any(getattr(m, "pattern", None) == TIMESTAMP_PATTERN for m in info.metadata)
        )


def _ix(*keys: tuple[str, Direction], unique: bool = False, sparse: bool = False, purpose: str = "") -> IndexSpec:
    return IndexSpec(keys=tuple(keys), unique=unique, sparse=sparse, purpose=purpose)


# Index rule: `deleted` follows the equality keys, and every query's filter uses only the fields of
# one index (in its prefix). The embedded engine plans an index only when it covers the whole
# filter (with `deleted` outside the index, a lookup fell from 1.3 ms to a 100 ms collection scan);
# a real MongoDB is just as happy with these shapes.
COLLECTIONS: tuple[CollectionSpec, ...] = (
    CollectionSpec(
        "stores", Store, "store_id", synced=True, ditto_id="field",
        description="The seven Washington stores and the online store",
        map_fields=("location",),
    ),
    CollectionSpec(
        "categories", Category, "category_id", synced=True, ditto_id="match_ids",
        description="The nine product categories with their monthly seasonality",
        map_fields=("seasonal_multipliers",),
    ),
    CollectionSpec(
        "product_types", ProductType, "type_id", synced=True, ditto_id="match_ids",
        description="Product types within categories",
        relationships=("category_id -> categories",),
    ),
    CollectionSpec(
        "products", Product, "product_id", synced=True, ditto_id="field",
        description="The catalog: SKU, name, description, price, specifications",
        indexes=(
            _ix(("sku", 1), unique=True, purpose="SKUs are unique"),
            _ix(("category_id", 1), ("deleted", 1)),
        ),
        map_fields=("specifications",),
        relationships=("category_id -> categories", "type_id -> product_types"),
    ),
    CollectionSpec(
        "product_embeddings", ProductEmbedding, "product_id", synced=False, ditto_id="field",
        description="One embedding per product for semantic search (stays in MongoDB)",
        indexes=(_ix(("model", 1), ("deleted", 1), purpose="load one model's vectors"),),
        relationships=("product_id -> products",),
    ),
    CollectionSpec(
        "customers", Customer, "customer_id", synced=True, ditto_id="field",
        description="Customers with their home store and the stores they shopped at",
        store_scope="customer",
        indexes=(
            _ix(("email", 1), ("deleted", 1), purpose="find by e-mail (prefix range)"),
            _ix(("phone", 1), ("deleted", 1), purpose="find by phone"),
            _ix(("last_name_lower", 1), ("deleted", 1), ("first_name_lower", 1), purpose="find by name"),
            _ix(("first_name_lower", 1), ("deleted", 1), purpose="find by first name"),
        ),
        map_fields=("stores_shopped",),
        relationships=("primary_store_id -> stores",),
    ),
    CollectionSpec(
        "inventory", Inventory, "inventory_id", synced=True, ditto_id="match_ids",
        description="Stock per store and product, with its shelf location",
        store_scope="store_id",
        indexes=(
            _ix(("store_id", 1), ("product_id", 1), unique=True, purpose="one row per store and product"),
            _ix(("product_id", 1), ("deleted", 1), ("store_id", 1), ("stock_level", 1),
                purpose="stock of products, and the guarded decrement of create_order"),
            _ix(("store_id", 1), ("deleted", 1), ("stock_level", 1), purpose="low-stock alerts of a store"),
            _ix(("deleted", 1), ("stock_level", 1), purpose="low-stock alerts across stores"),
        ),
        map_fields=("location",),
        relationships=("store_id -> stores", "product_id -> products"),
    ),
    CollectionSpec(
        "orders", Order, "order_id", synced=True, ditto_id="field",
        description="Order headers with denormalized customer and store names and totals",
        store_scope="store_id",
        indexes=(
            # Ascending: the embedded engine drops rows from a descending string index when a bound is a
            # prefix of the stored values ("2026-01-01" against "2026-01-01T09:12:00Z").
            _ix(("store_id", 1), ("deleted", 1), ("order_date", 1), purpose="orders of a store by date"),
            _ix(("customer_id", 1), ("deleted", 1), ("store_id", 1), ("order_date", 1),
                purpose="a customer's recent orders (within a store)"),
            _ix(("idempotency_key", 1), unique=True, sparse=True,
                purpose="create_order returns the first order for a repeated key"),
        ),
        relationships=("customer_id -> customers", "store_id -> stores", "order_items.order_id -> orders"),
    ),
    CollectionSpec(
        "order_items", OrderItem, "order_item_id", synced=True, ditto_id="match_ids",
        description="Order lines (their own collection: Ditto syncs them per store without a join)",
        store_scope="store_id",
        # Each index costs ~8 s to build over 220K lines on the embedded engine: only what queries use.
        indexes=(
            _ix(("order_id", 1), ("deleted", 1), purpose="an order's lines"),
            _ix(("store_id", 1), ("deleted", 1), ("order_date", 1),
                purpose="recent demand and date-range analysis per store"),
        ),
        relationships=("order_id -> orders", "product_id -> products", "store_id -> stores"),
    ),
)

# Not part of the synced dataset: derived from orders and order_items by the sales fold (zava_core.feed.fold),
# whoever wrote them, kept in MongoDB only.
ROLLUPS: tuple[CollectionSpec, ...] = (
    CollectionSpec(
        "sales_monthly", SalesMonthly, "_id", synced=False, ditto_id="match_ids",
        description="Sales rollup: one document per store and month (net of cancels and returns; kept by the "
                    "change feed whoever writes the orders)",
        store_scope="store_id",
        indexes=(_ix(("store_id", 1), ("deleted", 1), ("month", 1)),
                 _ix(("updated_at", 1), purpose="changed cells since a time")),
        map_fields=("categories", "products"),
        relationships=("store_id -> stores", "categories keys -> categories", "products keys -> products"),
        scan_batch=25,  # a month cell holds every product sold in it: 21 KB on average, up to 47 KB (default scale)
    ),
    CollectionSpec(
        "sales_daily", SalesDaily, "_id", synced=False, ditto_id="match_ids",
        description="Sales rollup: one document per store and day, for ranges that start or end inside a month",
        store_scope="store_id",
        indexes=(_ix(("store_id", 1), ("deleted", 1), ("day", 1)),
                 _ix(("updated_at", 1), purpose="changed cells since a time")),
        map_fields=("categories", "products"),
        relationships=("store_id -> stores", "categories keys -> categories", "products keys -> products"),
        scan_batch=150,  # a day cell holds the products sold that day: 2.4 KB on average, up to 5.6 KB
    ),
)


# Not part of the synced dataset: the server's own records. The store operations' journal (written by the
# customer-sales tools, never seeded: devices change stock through counters; this is the server's trail and
# its idempotency keys), what the sales fold holds of each order, the conflicts of offline writers, and the
# audit of the till.
JOURNALS: tuple[CollectionSpec, ...] = (
    CollectionSpec(
        "stock_movements", StockMovement, "movement_id", synced=False, ditto_id="match_ids",
        description="Stock moved by cancel_order, return_items, transfer_stock and receive_stock (one per call)",
        store_scope="store_id",
        indexes=(
            _ix(("idempotency_key", 1), unique=True,
                purpose="the same key twice replays the first movement (concurrent duplicates collide)"),
            _ix(("store_id", 1), ("deleted", 1), ("created_at", 1), purpose="a store's movements by date"),
        ),
        map_fields=("lines",),
        relationships=("store_id -> stores", "to_store_id -> stores", "order_id -> orders"),
    ),
    CollectionSpec(
        "sales_folds", SalesFold, "order_id", synced=False, ditto_id="field",
        description="Per order, the net lines the rollups hold: the sales fold's exactly-once marker (seeded orders "
                    "without one are held as seeded)",
        store_scope="store_id",
        relationships=("order_id -> orders", "store_id -> stores"),
    ),
    CollectionSpec(
        "sync_conflicts", SyncConflict, "conflict_id", synced=False, ditto_id="field",
        description="What offline writers did that no rule allows (a double cancel, a return beyond what was bought, "
                    "stock below zero, a line for an unknown SKU), with the correction a manager applies",
        store_scope="store_id",
        indexes=(_ix(("store_id", 1), ("deleted", 1), ("status", 1), ("found_at", 1),
                     purpose="a store's open conflicts, oldest first"),),
        map_fields=("correction",),
        relationships=("store_id -> stores", "order_id -> orders"),
    ),
    CollectionSpec(
        "till_lookups", TillLookup, "lookup_id", synced=False, ditto_id="match_ids",
        description="The audit of till lookups of other stores' customers (who, when, which customer; no contact "
                    "details): find_customers counts a store's recent ones against its limit, and create_order "
                    "sells to another store's customer only after one",
        store_scope="store_id",
        indexes=(
            _ix(("store_id", 1), ("deleted", 1), ("at", 1), purpose="a store's lookups in the last hour (its limit)"),
            _ix(("store_id", 1), ("customer_id", 1), ("deleted", 1), ("at", 1),
                purpose="whether a store looked a customer up at the till lately (create_order)"),
        ),
        relationships=("store_id -> stores", "customer_id -> customers"),
    ),
)

# Not part of the synced dataset: what product search reads and records besides the catalog (docs/search.md).
SEARCH: tuple[CollectionSpec, ...] = (
    CollectionSpec(
        "search_synonyms", SynonymMapping, "_id", synced=False, ditto_id="match_ids",
        description="Synonym mappings in Atlas Search's format (equivalent, explicit): seeded from "
                    "seeding/catalog/synonyms.json, editable by operators; read by the in-memory BM25 and by $search",
    ),
    CollectionSpec(
        "search_misses", SearchMiss, "_id", synced=False, ditto_id="match_ids",
        description="Shopper queries without a good answer, counted per store (what shoppers ask for and the "
                    "catalog lacks)",
        store_scope="store_id",
        indexes=(_ix(("store_id", 1), ("deleted", 1), ("count", -1), purpose="a store's most asked misses"),),
    ),
)
SYNONYMS = SEARCH[0].name
SEARCH_MISSES = SEARCH[1].name

SPECS: dict[str, CollectionSpec] = {spec.name: spec for spec in COLLECTIONS}
QUERYABLE: dict[str, CollectionSpec] = {spec.name: spec for spec in (*COLLECTIONS, *ROLLUPS)}
# Every collection with a document model: the dataset, the rollup, the journals, search's own collections
# (zava_core.store builds one handle per entry).
ALL_SPECS: dict[str, CollectionSpec] = {spec.name: spec for spec in (*COLLECTIONS, *ROLLUPS, *JOURNALS, *SEARCH)}
SYNCED_COLLECTIONS: tuple[str, ...] = tuple(spec.name for spec in COLLECTIONS if spec.synced)

# The dataset: the collections seeding generates (the rollup is derived from them).
DATASET: tuple[str, ...] = tuple(spec.name for spec in COLLECTIONS)
# Bookkeeping outside the synced set: seeding's resumable state lives in META under STATE_ID.
META = "zava_meta"
STATE_ID = "seeding"
# Outside the synced set and outside QUERYABLE (run_aggregation cannot read it): the HTTP bearer tokens
# (hashes only) when ZAVA_TOKEN_STORE=mongodb, so every replica sees an issue or a revocation at once.
TOKENS = "zava_tokens"
# A scratch collection `python -m zava_ops change-streams test` writes one marker document into (and drops).
CHANGE_STREAM_MARKER = "zava_change_stream_test"
# The change feed's bookkeeping: the resume token of the sales fold and its progress (zava_core.feed).
FEED = "zava_feed"
# Bookkeeping collections without a document model: outside the synced set and outside QUERYABLE.
BOOKKEEPING: tuple[str, ...] = (META, TOKENS, CHANGE_STREAM_MARKER, FEED)
# The Atlas Vector Search index on product_embeddings (where the server offers search indexes).
VECTOR_INDEX_NAME = "product_embeddings_vector"
