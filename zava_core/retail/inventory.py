"""Inventory for the Worker app: stock and shelf location per store, low-stock alerts, moves and counts."""

from __future__ import annotations

import re

from pydantic import Field

from zava_core.context import Zava
from zava_core.errors import InvalidArgument, NotFound
from zava_core.infra.timeutil import now_iso
from zava_core.limits import LOCATION_PART_MAX_CHARS, LOW_STOCK_THRESHOLD, MAX_COUNTED_QUANTITY, MAX_THRESHOLD
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta

_LOCATION_PART = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9-]{{0,{LOCATION_PART_MAX_CHARS - 1}}}$")


class Location(Out):
    aisle: str
    shelf: str
    bin: str


class InventoryRow(Out):
    store_id: str
    store_name: str
    stock_level: int
    low_stock: bool = Field(description=f"stock_level <= {LOW_STOCK_THRESHOLD}")
    location: Location
    last_counted: str


class InventoryReport(Out):
    sku: str
    product_name: str
    total_units: int
    stores: list[InventoryRow]


class LowStockItem(Out):
    store_id: str
    sku: str
    product_name: str
    category: str
    stock_level: int
    location: Location


class LowStockReport(Out):
    threshold: int
    items: list[LowStockItem]
    meta: ListMeta


class MoveResult(Out):
    sku: str
    store_id: str
    previous_location: Location
    location: Location
    updated_at: str


class StockCountResult(Out):
    sku: str
    store_id: str
    previous_stock_level: int
    stock_level: int
    difference: int
    last_counted: str


def _row(doc: dict, store_name: str) -> InventoryRow:
    return InventoryRow(store_id=doc["store_id"], store_name=store_name, stock_level=doc["stock_level"],
                        low_stock=doc["stock_level"] <= LOW_STOCK_THRESHOLD, location=Location(**doc["location"]),
                        last_counted=doc["last_counted"])


async def get_inventory(zava: Zava, scope: Scope, sku: str, store: str | None = None) -> InventoryReport:
    reference = await zava.reference.get()
    product = reference.product_by_sku(sku)
    store_ids = scope.stores(store, reference.stores)
    docs = zava.models.use("stock").rows([product["product_id"]], store_ids)
    if docs is None:
        inventory = zava.collections.inventory
        query = inventory.live(scope, stores=store_ids, product_id=product["product_id"])
        docs = await inventory.find(query).to_list()
    docs.sort(key=lambda d: d["store_id"])
    rows = [_row(d, reference.stores.get(d["store_id"]).store_name) for d in docs]
    return InventoryReport(sku=product["sku"], product_name=product["product_name"],
                           total_units=sum(r.stock_level for r in rows), stores=rows)


async def get_low_stock_items(zava: Zava, scope: Scope, store: str | None = None,
                              threshold: int = LOW_STOCK_THRESHOLD, category: str | None = None,
                              max_rows: int = 20) -> LowStockReport:
    limit, note = cap_rows(max_rows)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= MAX_THRESHOLD:
        raise InvalidArgument(f"threshold must be a whole number from 0 to {MAX_THRESHOLD}")
    reference = await zava.reference.get()
    store_ids = scope.stores(store, reference.stores)
    category_id = reference.category_id(category) if category else None
    docs = zava.models.use("stock").at_or_below(threshold, store_ids)
    if docs is None:
        inventory = zava.collections.inventory
        docs = await inventory.find(inventory.live(scope, stores=store_ids, stock_level={"$lte": threshold})).to_list()
    docs.sort(key=lambda d: (d["stock_level"], d["sku"]))
    if category_id:  # filtered here so the query stays on its index (inventory is 3,392 rows at most)
        docs = [d for d in docs if d["category_id"] == category_id]
    items = []
    for doc in docs[:limit]:
        product = reference.products[doc["product_id"]]
        items.append(LowStockItem(store_id=doc["store_id"], sku=doc["sku"], product_name=product["product_name"],
                                  category=product["category_name"], stock_level=doc["stock_level"],
                                  location=Location(**doc["location"])))
    return LowStockReport(threshold=threshold, items=items, meta=list_meta(len(items), total=len(docs), notes=[note]))


async def stock_row(zava: Zava, scope: Scope, sku: str, store: str) -> tuple[dict, dict]:
    if not store or not str(store).strip():
        raise InvalidArgument("store is required, e.g. 'Seattle'")
    reference = await zava.reference.get()
    product = reference.product_by_sku(sku)
    (store_id,) = scope.stores(store, reference.stores)
    inventory = zava.collections.inventory
    doc = await inventory.find_one(inventory.live(scope, store_id=store_id, product_id=product["product_id"]))
    if doc is None:
        raise NotFound(f"{product['sku']} is not stocked at {store_id}")
    return product, doc


def location_part(name: str, value: str) -> str:
    text = str(value).strip().upper()
    if not _LOCATION_PART.match(text):
        raise InvalidArgument(f"{name} must be 1-{LOCATION_PART_MAX_CHARS} letters, digits or '-', e.g. A07, S3, B12")
    return text


async def move_inventory(zava: Zava, scope: Scope, sku: str, store: str, aisle: str, shelf: str,
                         bin: str) -> MoveResult:
    new = Location(aisle=location_part("aisle", aisle), shelf=location_part("shelf", shelf),
                   bin=location_part("bin", bin))
    product, doc = await stock_row(zava, scope, sku, store)
    updated_at = now_iso()
    # Each key of the location map is set on its own, so Ditto merges it per key.
    with zava.models.freshness.writing(("inventory", doc["store_id"], doc["product_id"])):
        await zava.collections.inventory.update_one(
            {"_id": doc["_id"]},
            {"$set": {"location.aisle": new.aisle, "location.shelf": new.shelf, "location.bin": new.bin,
                      "updated_at": updated_at}},
        )
    return MoveResult(sku=product["sku"], store_id=doc["store_id"], previous_location=Location(**doc["location"]),
                      location=new, updated_at=updated_at)


async def update_stock_count(zava: Zava, scope: Scope, sku: str, store: str, counted_quantity: int) -> StockCountResult:
    if isinstance(counted_quantity, bool) or not isinstance(counted_quantity, int) \
            or not 0 <= counted_quantity <= MAX_COUNTED_QUANTITY:
        raise InvalidArgument(f"counted_quantity must be a whole number from 0 to {MAX_COUNTED_QUANTITY}")
    product, doc = await stock_row(zava, scope, sku, store)
    counted_at = now_iso()
    # A count sets an absolute level, so the level read just before is the one it replaces.
    with zava.models.freshness.writing(("inventory", doc["store_id"], doc["product_id"])):
        await zava.collections.inventory.update_one(
            {"_id": doc["_id"]},
            {"$set": {"stock_level": counted_quantity, "last_counted": counted_at, "updated_at": counted_at}},
        )
    previous = int(doc["stock_level"])
    return StockCountResult(sku=product["sku"], store_id=doc["store_id"], previous_stock_level=previous,
                            stock_level=counted_quantity, difference=counted_quantity - previous,
                            last_counted=counted_at)
