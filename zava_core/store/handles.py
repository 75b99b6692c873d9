"""`Collections(db)`: one `Handle` per collection of the model, built from its spec.

A `Handle` is PyMongo's `AsyncCollection` (every driver method, typed) plus the two rules each read
needs, from the collection's spec: what is live (`deleted: false`, the soft delete of the Ditto-ready
model) and which documents a scope may see (`Scope.filter` by the spec's `store_scope`).

    inventory = zava.collections.inventory
    rows = await inventory.find(inventory.live(scope, product_id=pid)).to_list()

`live(scope, ...)` is for a caller's reads; `unscoped(...)` for the process's own work (the rollup fold,
seeding's checks, an indexed read whose rows are then checked one by one with `visible`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from zava_core.model import ALL_SPECS, CHANGE_STREAM_MARKER, FEED, META, TOKENS, CollectionSpec
from zava_core.scope import Scope


class CollectionRules:
    """What a read of one collection must say, from its spec: live documents, and the scope's share of them.
    `Handle` adds it to the driver's collection; the tests' in-memory fakes add it to theirs."""

    spec: CollectionSpec

    def live(self, scope: Scope, /, *, stores: Iterable[str] | None = None, **fields: Any) -> dict[str, Any]:
        """The filter of the live documents matching `fields` that `scope` (narrowed to `stores`) may see.

        A `store_id` among `fields` of a store-scoped collection narrows the scope too: it can never name a
        store outside it (the filter then matches nothing).
        """
        if self.spec.store_scope == "store_id" and "store_id" in fields:
            store = fields.pop("store_id")
            if not isinstance(store, str):
                raise TypeError("pass several stores as stores=[...], not as a store_id condition")
            stores = [store] if stores is None else [s for s in stores if s == store]
        return {**fields, "deleted": False, **scope.filter(self.spec.store_scope, stores)}

    def scan(self, filter: Mapping[str, Any], projection: Mapping[str, Any] | None = None) -> Any:
        """A read of many documents for the process's own memory (a load), `spec.scan_batch` a round trip, so
        the load's memory is the batch's, not the driver's 16 MB batches'. Iterate it with `async for`."""
        return self.find(filter, projection).batch_size(self.spec.scan_batch)  # type: ignore[attr-defined]

    def unscoped(self, **fields: Any) -> dict[str, Any]:
        """The filter of the live documents matching `fields`, whatever their store."""
        return {**fields, "deleted": False}

    def visible(self, scope: Scope, doc: dict[str, Any] | None) -> bool:
        """Whether `doc` (as read, or None) is live and `scope` may see it: `live`'s rule on one document."""
        return doc is not None and not doc.get("deleted") and scope.sees(self.spec.store_scope, doc)


class Handle(CollectionRules, AsyncCollection):
    """One collection of the model: the driver's collection, its spec, and its live/visible rules."""

    def __init__(self, database: AsyncDatabase, spec: CollectionSpec) -> None:
        super().__init__(database, spec.name)
        self.spec = spec


class Collections:
    """Every collection the code reads or writes, as typed attributes (built from `model.ALL_SPECS`)."""

    stores: Handle
    categories: Handle
    product_types: Handle
    products: Handle
    product_embeddings: Handle
    customers: Handle
    inventory: Handle
    orders: Handle
    order_items: Handle
    sales_monthly: Handle
    sales_daily: Handle
    stock_movements: Handle
    sales_folds: Handle
    sync_conflicts: Handle
    search_synonyms: Handle
    search_misses: Handle
    till_lookups: Handle

    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self._handles = {name: Handle(db, spec) for name, spec in ALL_SPECS.items()}
        for name, handle in self._handles.items():
            setattr(self, name, handle)
        # Bookkeeping without a document model (names from the model): seeding's state, the HTTP tokens
        # (ZAVA_TOKEN_STORE=mongodb), the change-stream test's marker, the change feed's resume token.
        self.meta: AsyncCollection = db.get_collection(META)
        self.feed: AsyncCollection = db.get_collection(FEED)
        self.tokens: AsyncCollection = db.get_collection(TOKENS)
        self.change_stream_marker: AsyncCollection = db.get_collection(CHANGE_STREAM_MARKER)

    def __getitem__(self, name: str) -> Handle:
        """The handle of a collection named at run time (a caller's `collection` argument, a list of names)."""
        try:
            return self._handles[name]
        except KeyError:
            raise KeyError(f"no collection {name!r} in the model") from None

    def of(self, spec: CollectionSpec) -> Handle:
        return self._handles[spec.name]

    def __iter__(self) -> Iterator[Handle]:
        return iter(self._handles.values())
