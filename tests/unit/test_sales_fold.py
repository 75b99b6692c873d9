"""The sales fold (zava_core.feed.fold) on the in-memory fakes: exactly once per change, whoever wrote the order.

Every expected cell is written out by hand from the lines' prices (2 units at 10.00, cost 6.00: revenue 20.00,
cost 12.00), never from the rollup arithmetic. The concurrent folder is staged by handing the fold a record
older than the stored one, which is what a replica that read before another committed sees.
"""

from __future__ import annotations

import copy

import mongomock
import pytest
from fakes import FakeCollections, FakeCursor, FakeTransactions

from zava_core.feed import fold
from zava_core.model import ids, order_header, order_line

pytestmark = pytest.mark.anyio

STORE = "store_seattle"
WHEN = "2026-12-07T10:15:00Z"
MONTH_CELL, DAY_CELL = f"{STORE}|2026-12", f"{STORE}|2026-12-07"
PRODUCT = {"product_id": "prod_PTDR000001", "sku": "PTDR000001", "product_name": "Cordless Drill",
           "category_id": "cat_power_tools", "type_id": "type_drills", "cost": 6.0}
DEVICE_ORDER = "ord_0123456789abcdef"  # new_order_id's shape: 16 hex digits
SEEDED_ORDER = ids.seeded_order_id(0)


def an_order(order_id: str, quantity: int = 2, **extra: object) -> tuple[dict, dict]:
    line = order_line(line_id=f"line-{order_id}", order_id=order_id, store_id=STORE, customer_id="cust_000001",
                      order_date=WHEN, product=PRODUCT, quantity=quantity, unit_price=10.0)
    header = order_header(order_id=order_id, customer_id="cust_000001", customer_name="Ada Lovelace", store_id=STORE,
                          store_name="Zava Retail Seattle", order_date=WHEN, status="completed", lines=[line], **extra)
    return header, line


def figures(units: int, orders: int) -> dict[str, float]:
    """What `units` of the drill at 10.00 (cost 6.00, no discount) in `orders` orders add to a cell."""
    return {"orders": orders, "revenue": 10.0 * units, "gross": 10.0 * units, "discount": 0, "cost": 6.0 * units,
            "units": units, "lines": orders}


def cell_totals(collections: FakeCollections, rollup: str, cell_id: str) -> dict[str, float]:
    doc = collections[rollup].inner.find_one({"_id": cell_id}) or {"totals": {}}
    return {k: doc["totals"].get(k, 0) for k in ("orders", "revenue", "gross", "discount", "cost", "units", "lines")}


def assert_cells_hold(collections: FakeCollections, units: int, orders: int) -> None:
    for rollup, cell in (("sales_monthly", MONTH_CELL), ("sales_daily", DAY_CELL)):
        assert cell_totals(collections, rollup, cell) == pytest.approx(figures(units, orders)), rollup
        doc = collections[rollup].inner.find_one({"_id": cell}) or {"products": {}, "categories": {}}
        if units or orders:
            assert doc["products"]["prod_PTDR000001"]["units"] == units
            assert doc["categories"]["cat_power_tools"]["revenue"] == pytest.approx(10.0 * units)


def world(*docs: tuple[str, dict]) -> tuple[FakeCollections, FakeTransactions]:
    collections = FakeCollections()
    for name, doc in docs:
        collections[name].inner.insert_one(copy.deepcopy(doc))
    return collections, FakeTransactions(collections)


async def test_a_device_order_without_a_record_is_added_once() -> None:
    header, line = an_order(DEVICE_ORDER)
    collections, transactions = world(("orders", header), ("order_items", line))
    outcome = await fold.fold_orders(collections, transactions, [DEVICE_ORDER], seeded=1)
    assert (outcome.orders, outcome.changed) == (1, 1)
    assert_cells_hold(collections, units=2, orders=1)
    record = collections.sales_folds.inner.find_one({"_id": DEVICE_ORDER})
    assert (record["version"], record["store_id"], [a["quantity"] for a in record["applied"]]) == (1, STORE, [2])


async def test_folding_twice_changes_nothing() -> None:
    header, line = an_order(DEVICE_ORDER)
    collections, transactions = world(("orders", header), ("order_items", line))
    await fold.fold_orders(collections, transactions, [DEVICE_ORDER], seeded=1)
    before = collections.snapshot()
    again = await fold.fold_orders(collections, transactions, [DEVICE_ORDER, DEVICE_ORDER], seeded=1)
    assert again.changed == 0
    assert collections.snapshot() == before
    assert await fold.settled(collections, [DEVICE_ORDER], seeded=1)


async def test_a_line_that_arrives_before_its_header_waits_for_it() -> None:
    header, line = an_order(DEVICE_ORDER)
    collections, transactions = world(("order_items", line))
    assert (await fold.fold_orders(collections, transactions, [DEVICE_ORDER], seeded=1)).changed == 0
    assert_cells_hold(collections, units=0, orders=0)
    collections.orders.inner.insert_one(header)
    assert not await fold.settled(collections, [DEVICE_ORDER], seeded=1)
    await fold.fold_orders(collections, transactions, [DEVICE_ORDER], seeded=1)
    assert_cells_hold(collections, units=2, orders=1)


async def test_a_line_the_arithmetic_cannot_count_is_left_out_and_the_rest_folds() -> None:
    header, line = an_order(DEVICE_ORDER)
    broken = {**line, "_id": "line-broken", "order_item_id": "line-broken", "quantity": "two"}  # a script's line
    del broken["unit_cost"]
    collections, transactions = world(("orders", header), ("order_items", line), ("order_items", broken))
    assert (await fold.fold_orders(collections, transactions, [DEVICE_ORDER], seeded=1)).changed == 1
    assert_cells_hold(collections, units=2, orders=1)
    assert await fold.settled(collections, [DEVICE_ORDER], seeded=1)


def seeded_world(status: str = "completed", **extra: object) -> tuple[FakeCollections, FakeTransactions]:
    """A seeded order as seeding leaves it: no record, and its whole lines already in the rollups."""
    header, line = an_order(SEEDED_ORDER, **extra)
    header["status"] = status
    sold = figures(2, 1)
    cells = [{"_id": cell, "store_id": STORE, "month": "2026-12", "year": 2026,
              **({"day": "2026-12-07"} if daily else {}), "totals": dict(sold),
              "categories": {"cat_power_tools": dict(sold)}, "products": {"prod_PTDR000001": dict(sold)},
              "deleted": False, "updated_at": WHEN}
             for cell, daily in ((MONTH_CELL, False), (DAY_CELL, True))]
    return world(("orders", header), ("order_items", line), ("sales_monthly", cells[0]), ("sales_daily", cells[1]))


async def test_a_seeded_order_is_held_as_seeded_until_it_changes() -> None:
    collections, transactions = seeded_world()
    assert await fold.settled(collections, [SEEDED_ORDER], seeded=1)
    assert (await fold.fold_orders(collections, transactions, [SEEDED_ORDER], seeded=1)).changed == 0
    assert_cells_hold(collections, units=2, orders=1)
    assert collections.sales_folds.inner.count_documents({}) == 0
    # Beyond the seeded count, the same id shape is an order seeding never folded: held as nothing.
    assert not await fold.settled(collections, [SEEDED_ORDER], seeded=0)


async def test_a_seeded_order_cancelled_is_taken_out() -> None:
    collections, transactions = seeded_world(status="cancelled")
    assert (await fold.fold_orders(collections, transactions, [SEEDED_ORDER], seeded=1)).changed == 1
    assert_cells_hold(collections, units=0, orders=0)
    assert collections.sales_folds.inner.find_one({"_id": SEEDED_ORDER})["applied"] == []


async def test_a_return_beyond_what_was_bought_takes_the_line_out_once() -> None:
    collections, transactions = seeded_world(returned_quantities={"PTDR000001": 3})
    await fold.fold_orders(collections, transactions, [SEEDED_ORDER], seeded=1)
    assert_cells_hold(collections, units=0, orders=0)  # not -1 unit: the line leaves, nothing more
    collections.orders.inner.update_one({"_id": SEEDED_ORDER}, {"$set": {"returned_quantities.PTDR000001": 1}})
    await fold.fold_orders(collections, transactions, [SEEDED_ORDER], seeded=1)
    assert_cells_hold(collections, units=1, orders=1)


def stale_reads(collections: FakeCollections, records: list[dict]) -> list[int]:
    """The next fold reads `records` as the fold records (what it saw before a concurrent folder committed);
    later reads see the stored ones. Returns the list the stale reads are counted in."""
    stale = mongomock.MongoClient().db.stale
    if records:
        stale.insert_many(copy.deepcopy(records))
    handle, real_find, served = collections.sales_folds, collections.sales_folds.find, []

    def find(filter=None, projection=None, **kwargs):
        if not served:
            served.append(1)
            return FakeCursor(stale.find(dict(filter or {}), projection))
        return real_find(filter, projection, **kwargs)

    handle.find = find  # type: ignore[method-assign]
    return served


async def test_a_fold_against_a_stale_record_version_is_refused_and_redone() -> None:
    header, line = an_order(DEVICE_ORDER)
    collections, transactions = world(("orders", header), ("order_items", line))
    await fold.fold_orders(collections, transactions, [DEVICE_ORDER], seeded=1)
    first_record = collections.sales_folds.inner.find_one({"_id": DEVICE_ORDER})
    # The order is cancelled; one replica folds the cancel (record version 2, the units out) ...
    collections.orders.inner.update_one({"_id": DEVICE_ORDER}, {"$set": {"status": "cancelled"}})
    await fold.fold_orders(collections, transactions, [DEVICE_ORDER], seeded=1)
    assert_cells_hold(collections, units=0, orders=0)
    # ... while another read version 1: its write is refused, it reads again and finds nothing left to do.
    served = stale_reads(collections, [first_record])
    attempts = transactions.attempts
    assert (await fold.fold_orders(collections, transactions, [DEVICE_ORDER], seeded=1)).changed == 0
    assert served == [1]
    assert transactions.attempts == attempts + 2
    assert_cells_hold(collections, units=0, orders=0)  # taken out once, not twice
    assert collections.sales_folds.inner.find_one({"_id": DEVICE_ORDER})["version"] == 2


async def test_a_folder_that_saw_no_record_meets_the_first_ones_and_counts_nothing_more() -> None:
    header, line = an_order(DEVICE_ORDER)
    collections, transactions = world(("orders", header), ("order_items", line))
    await fold.fold_orders(collections, transactions, [DEVICE_ORDER], seeded=1)
    stale_reads(collections, [])  # the second replica read before the first inserted the record
    attempts = transactions.attempts
    assert (await fold.fold_orders(collections, transactions, [DEVICE_ORDER], seeded=1)).changed == 0
    assert transactions.attempts == attempts + 2  # a duplicate key, then the redo
    assert_cells_hold(collections, units=2, orders=1)
