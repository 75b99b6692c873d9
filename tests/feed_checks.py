"""What the change-feed tests check against, computed from the documents (never from the rollup arithmetic or a
tool's answer), and the feeds they run: tests/integration/test_change_feed.py.

- `recompute`: the monthly and daily cells of some stores, summed line by line from the live lines of live orders
  (a cancelled order counts nothing; a line's returned units are taken off, the line gone once all came back);
  `assert_rollups_hold` compares `sales_monthly` and `sales_daily` with it, cell by cell.
- `running_feed`: a process's context with its change feed (a replica); `eventually`, `found`, `watching`: waiting
  on a feed and seeing what it handled.
- `Shop`: one store, its customers and well-stocked SKUs, each test taking SKUs of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

import bson
import pytest
from bson import Timestamp
from bson.errors import InvalidBSON
from ditto_connector import Write
from pymongo.database import Database

from zava_core.context import Zava
from zava_core.infra.config import Settings

SETTLE_S = 30.0


class Shop:
    """One physical store, its customers and well-stocked products, each test taking SKUs of its own (so one
    test's stock never moves another's)."""

    def __init__(self, db: Database, store_id: str) -> None:
        self.store = db.stores.find_one({"_id": store_id})
        self.store_id = store_id
        self.customers = [c["_id"] for c in db.customers.find({"primary_store_id": store_id}).sort("_id").limit(6)]
        rows = db.inventory.find({"store_id": store_id, "stock_level": {"$gte": 20}, "deleted": False}).sort("sku")
        self._skus = iter([r["sku"] for r in rows])

    def skus(self, n: int) -> list[str]:
        return [next(self._skus) for _ in range(n)]

    def subscriptions(self, skus: Iterable[str], order_ids: Iterable[str] = ()) -> dict[str, dict]:
        """What a device of this store holds: the store, its customers, the products sold and their stock here,
        and the orders it acts on with their lines."""
        skus, order_ids = sorted(skus), sorted(order_ids)
        subs = {"stores": {"_id": self.store_id}, "customers": {"_id": {"$in": self.customers}},
                "products": {"sku": {"$in": skus}}, "inventory": {"store_id": self.store_id, "sku": {"$in": skus}}}
        if order_ids:
            subs |= {"orders": {"_id": {"$in": order_ids}}, "order_items": {"order_id": {"$in": order_ids}}}
        return subs


def level(db: Database, store_id: str, sku: str) -> int:
    return db.inventory.find_one({"store_id": store_id, "sku": sku})["stock_level"]


def order_ids(writes: Iterable[Write]) -> list[str]:
    return sorted({w.doc_id for w in writes if w.collection == "orders"})


# --- what the rollups must hold, from the documents ---------------------------------------------------------------


def recompute(db: Database, store_ids: Iterable[str], lo: str, hi: str = "~", without: Iterable[str] = ()
              ) -> dict[str, dict[str, dict]]:
    """The monthly and daily cells of these stores for order dates in [lo, hi), summed from the live lines of live
    orders: nothing for a cancelled order, a line's returned units taken off (the line gone once all came back).
    `without`: orders left out (what the cells would hold had they never been written)."""
    left_out = set(without)
    where = {"store_id": {"$in": sorted(store_ids)}, "order_date": {"$gte": lo, "$lt": hi}}
    lines = list(db.order_items.find({**where, "deleted": False}))
    orders = {o["_id"]: o for o in db.orders.find(where)}  # an order and its lines share store and date
    cells: dict[str, dict[str, dict]] = {"month": {}, "day": {}}
    for line in lines:
        order = orders.get(line["order_id"])
        if order is None or order.get("deleted") or order["status"] == "cancelled" or order["_id"] in left_out:
            continue
        returned = (order.get("returned_quantities") or {}).get(line["sku"], 0)
        kept = line["quantity"] - returned
        if kept <= 0:
            continue
        revenue = line["total_amount"] if not returned else \
            round(line["unit_price"] * kept * (1 - line["discount_percent"] / 100), 2)
        for grain, width in (("month", 7), ("day", 10)):
            cell = cells[grain].setdefault(f"{line['store_id']}|{line['order_date'][:width]}", {
                "orders": set(), "revenue": 0.0, "units": 0, "lines": 0, "products": defaultdict(int)})
            cell["orders"].add(line["order_id"])
            cell["revenue"] += revenue
            cell["units"] += kept
            cell["lines"] += 1
            cell["products"][line["product_id"]] += kept
    return cells


def assert_rollups_hold(db: Database, store_ids: Iterable[str], lo: str = "") -> int:
    """Every cell of these stores from `lo` on, both grains, equals the recomputation; how many cells compared."""
    store_ids = sorted(store_ids)
    expected = recompute(db, store_ids, lo)
    compared = 0
    for grain, rollup, width in (("month", db.sales_monthly, 7), ("day", db.sales_daily, 10)):
        stored = {d["_id"]: d for d in rollup.find({"store_id": {"$in": store_ids},
                                                    grain: {"$gte": lo[:width]}})}
        for cell_id in sorted(set(stored) | set(expected[grain])):
            want = expected[grain].get(cell_id, {"orders": set(), "revenue": 0.0, "units": 0, "lines": 0,
                                                 "products": {}})
            doc = stored.get(cell_id, {"totals": {}, "products": {}})
            totals = doc["totals"]
            got = (totals.get("orders", 0), totals.get("units", 0), totals.get("lines", 0))
            assert got == (len(want["orders"]), want["units"], want["lines"]), (grain, cell_id, got)
            assert totals.get("revenue", 0) == pytest.approx(want["revenue"], abs=0.05), (grain, cell_id)
            products = {p: f["units"] for p, f in doc["products"].items() if f.get("units")}
            assert products == dict(want["products"]), (grain, cell_id)
            compared += 1
    return compared


def month_start(timestamp: str) -> str:
    return timestamp[:7] + "-01T00:00:00Z"


# --- feeds ------------------------------------------------------------------------------------------------------


@asynccontextmanager
async def running_feed(settings: Settings) -> AsyncIterator[Zava]:
    """A process's context with its change feed (what a server's lifespan starts), closed at the end."""
    zava = await Zava.open(settings)
    try:
        await zava.start_feed()
        yield zava
    finally:
        await zava.close()


async def eventually(zava: Zava, ready: Callable[[], Awaitable[bool]], what: str) -> None:
    assert zava.feed is not None
    assert await zava.feed.wait_until(ready, timeout=SETTLE_S), f"{what}: not within {SETTLE_S:g} s"


async def conflicts(zava: Zava, **where: object) -> list[dict]:
    return await zava.collections.sync_conflicts.find(where).to_list()


async def found(zava: Zava, count: int, **where: object) -> list[dict]:
    """The conflicts matching `where`, once the feed has recorded `count` of them."""
    async def ready() -> bool:
        return len(await conflicts(zava, **where)) >= count
    await eventually(zava, ready, f"{count} conflict(s) {where}")
    return await conflicts(zava, **where)


def first_month(writes: list[Write]) -> str:
    return month_start(min(w.doc["order_date"] for w in writes if w.collection == "orders"))


def watching(zava: Zava) -> set[str]:
    """The ids of the orders and order lines whose events this process's feed handles from now on."""
    seen: set[str] = set()

    async def note(events: list[dict]) -> None:
        seen.update(str(event["documentKey"]["_id"]) for event in events)

    assert zava.feed is not None
    zava.feed.subscribe(("orders", "order_items"), note)
    return seen


def order_documents(writes: list[Write]) -> set[str]:
    return {w.doc_id for w in writes if w.collection in ("orders", "order_items")}


def forgotten(token: dict) -> dict:
    """A resume token for a position the server no longer holds (older than its history), from a real one. The
    embedded engine's token is a BSON document with its oplog sequence `s`; MongoDB's is a KeyString whose cluster
    time follows the leading type byte 0x82."""
    data = bytes.fromhex(token["_data"])
    try:
        return {"_data": bson.encode({**bson.decode(data), "s": 0, "t": Timestamp(1, 1)}).hex()}
    except InvalidBSON:
        return {"_data": token["_data"][:2] + "0000000100000001" + token["_data"][18:]}
