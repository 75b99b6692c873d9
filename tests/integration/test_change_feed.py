"""The change feed against writers that are not our tools: store devices through Ditto's MongoDB Connector
(tests/ditto_connector.py: real offline Ditto peers running our DQL, merged as Ditto merges, written as the
connector writes), on a dataset of its own (`zava_test_feed`).

Every expectation is computed from the documents (tests/feed_checks.py `recompute`: the order lines net of
cancels and returns, summed line by line), or from what the devices did (stock before plus or minus their units),
never taken from a tool's answer or from the rollup arithmetic. A feed runs in each test: an in-process MCP
server's, or a `Zava` opened with `start_feed()` (one per replica). Waiting is `until_settled` (the rollups hold
the orders as they stand) or a feed's `wait_until`, bounded: a feed that does not fold fails the test.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import AsyncIterator, Iterable

import anyio
import pytest
from ditto_connector import Connector, Write
from feed_checks import (
    SETTLE_S,
    Shop,
    assert_rollups_hold,
    conflicts,
    eventually,
    first_month,
    forgotten,
    found,
    level,
    month_start,
    order_documents,
    order_ids,
    recompute,
    running_feed,
    watching,
)
from folding import until_settled
from mcp import Client
from polling import eventually as holds_within
from pymongo import AsyncMongoClient, MongoClient
from pymongo.database import Database
from pymongo.errors import AutoReconnect
from seeded_data import FEED_DATABASE, seed_small

from mcp_servers.customer_sales.server import build_server as customer_sales
from mcp_servers.sales_analysis.server import build_server as sales_analysis
from zava_core.context import Zava
from zava_core.errors import Unavailable
from zava_core.feed import fold
from zava_core.feed.stream import FOLD_TOKEN_ID
from zava_core.infra.config import Settings
from zava_core.infra.timeutil import now_iso
from zava_core.model import new_order_id
from zava_core.scope import Identity
from zava_ditto import dql

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

pytest.importorskip("ditto", reason="the Ditto SDK (pip install --pre dittolive-ditto, extra `ditto`) has no wheel "
                                    "for this platform; it needs Linux glibc >= 2.35 or macOS, Python 3.10-3.13")

HEAD_OFFICE = Identity(head_office=True)


# --- the dataset, the devices, the store they are in -------------------------------------------------------------


@pytest.fixture(scope="module")
def settings(mongo_uri: str) -> Settings:
    """The `small` dataset in a database of its own: these tests write orders, stock and rollups."""
    return seed_small(mongo_uri, FEED_DATABASE)


@pytest.fixture(scope="module")
def db(settings: Settings):
    with MongoClient(settings.mongodb_uri) as client:
        yield client[settings.mongodb_database]


@pytest.fixture
async def connector(settings: Settings) -> AsyncIterator[Connector]:
    client = AsyncMongoClient(settings.mongodb_uri)
    try:
        yield Connector(client[settings.mongodb_database])
    finally:
        await client.close()


@pytest.fixture(scope="module")
def shop(db: Database) -> Shop:
    physical = sorted(s["_id"] for s in db.stores.find({"is_online": False}))
    return Shop(db, physical[-1])


# --- (a) device sales reach analysis ----------------------------------------------------------------------------


def last_day(day: str) -> str:
    return f"{day[:8]}{calendar.monthrange(int(day[:4]), int(day[5:7]))[1]:02d}"


def range_figures(db: Database, store_id: str, start: str, end: str, without: Iterable[str] = ()) -> dict:
    """orders, units and revenue of one store over [start, end] (dates), from the documents."""
    cells = recompute(db, [store_id], f"{start}T00:00:00Z", f"{end}T23:59:59~", without)["month"].values()
    return {"orders": len(set().union(*(c["orders"] for c in cells))), "units": sum(c["units"] for c in cells),
            "revenue": sum(c["revenue"] for c in cells)}


async def summary(client: Client, store_id: str, start: str, end: str) -> dict[str, float]:
    result = await client.call_tool("sales_summary", {
        "group_by": "store", "metrics": ["revenue", "units", "orders"], "stores": [store_id],
        "start_date": start, "end_date": end})
    assert not result.is_error, result.content[0].text
    rows = result.structured_content["rows"]
    return rows[0]["values"] if rows else {"orders": 0, "units": 0, "revenue": 0.0}


async def test_device_sales_reach_sales_summary_for_the_day_month_and_year_and_get_inventory(
        settings: Settings, db: Database, connector: Connector, shop: Shop) -> None:
    skus = shop.skus(2)
    before = {sku: level(db, shop.store_id, sku) for sku in skus}
    store_manager = Identity(head_office=False, store=shop.store["short_name"])
    async with Client(sales_analysis(settings, HEAD_OFFICE)) as analysis, \
            Client(customer_sales(settings, store_manager)) as till:
        async with connector.apart(1, shop.subscriptions(skus)) as (device,):
            order, lines = await device.sell(shop.customers[0], shop.store_id, [(skus[0], 2), (skus[1], 1)])
            writes = await connector.plan()
        # The connector keeps no order across documents: here the lines reach MongoDB before their header.
        writes.sort(key=lambda w: w.collection != "order_items")
        assert [w.collection for w in writes[:3]] == ["order_items", "order_items", "orders"]
        await connector.write(writes)
        await until_settled(settings, [order["order_id"]], SETTLE_S)

        day = order["order_date"][:10]
        own = {"orders": 1, "units": 3, "revenue": sum(line["total_amount"] for line in lines)}
        for name, (start, end) in {"day": (day, day), "month": (day[:8] + "01", last_day(day)),
                                   "year": (day[:4] + "-01-01", day[:4] + "-12-31")}.items():
            expected = range_figures(db, shop.store_id, start, end)
            answered: list[dict] = []

            async def agrees(start: str = start, end: str = end, expected: dict = expected,
                             answered: list[dict] = answered) -> bool:
                # The fold may be another server's (the till's): this one's cube hears of the rollup's change
                # from its own feed a moment later. Derived data follows within the feed's lag, not at once.
                answered[:] = [await summary(analysis, shop.store_id, start, end)]
                return (answered[0]["orders"], answered[0]["units"]) == (expected["orders"], expected["units"])

            assert await holds_within(agrees, SETTLE_S), (name, answered, expected)
            answer = answered[0]
            assert answer["revenue"] == pytest.approx(expected["revenue"], abs=0.01), name
            # The three ranges agree on the order: each holds it once, on top of what it held without it.
            without = range_figures(db, shop.store_id, start, end, without=[order["order_id"]])
            assert (answer["orders"] - without["orders"], answer["units"] - without["units"]) == (1, 3), name
            assert answer["revenue"] - without["revenue"] == pytest.approx(own["revenue"], abs=0.01), name

        for sku, sold in ((skus[0], 2), (skus[1], 1)):
            shown: list[int] = []

            async def sold_shows(sku: str = sku, sold: int = sold, shown: list[int] = shown) -> bool:
                # The till's stock model follows its own feed: within the feed's lag of the connector's write.
                result = await till.call_tool("get_inventory", {"sku": sku})
                assert not result.is_error, result.content[0].text
                shown[:] = [r["stock_level"] for r in result.structured_content["stores"]
                            if r["store_id"] == shop.store_id]
                return shown == [before[sku] - sold]

            assert await holds_within(sold_shows, SETTLE_S), (sku, shown, before[sku] - sold)
    assert_rollups_hold(db, [shop.store_id], month_start(order["order_date"]))


# --- (b) two devices cancel one order, (c) two devices sell the last unit ---------------------------------------


async def sold_and_synced(connector: Connector, shop: Shop, items: list[tuple[str, int]]) -> tuple[dict, list[dict]]:
    """An order made on a device and synced: what the next devices find in MongoDB."""
    async with connector.apart(1, shop.subscriptions(sku for sku, _ in items)) as (device,):
        order, lines = await device.sell(shop.customers[1], shop.store_id, items)
        await connector.sync()
    return order, lines


async def test_two_devices_cancelling_one_order_count_it_zero_and_record_one_double_cancel(
        settings: Settings, db: Database, connector: Connector, shop: Shop) -> None:
    (sku,) = shop.skus(1)
    async with running_feed(settings) as zava:
        order, _ = await sold_and_synced(connector, shop, [(sku, 3)])
        order_id = order["order_id"]
        synced_level = level(db, shop.store_id, sku)
        async with connector.apart(2, shop.subscriptions([sku], [order_id])) as (a, b):
            assert await a.cancel(order_id, shop.store_id), "each device sees the order completed"
            assert await b.cancel(order_id, shop.store_id)
            await connector.sync()
        await until_settled(settings, [order_id], SETTLE_S)
        (conflict,) = await found(zava, 1, kind="double_cancel", order_id=order_id)

    stored = db.orders.find_one({"_id": order_id})
    assert (stored["status"], stored["cancel_count"]) == ("cancelled", 2)
    assert level(db, shop.store_id, sku) == synced_level + 3 + 3, "each device put the 3 units back"
    assert (conflict["store_id"], conflict["correction"], conflict["status"]) == (shop.store_id, {sku: -3}, "open")
    assert db.sales_folds.find_one({"_id": order_id})["applied"] == []
    assert recompute(db, [shop.store_id], month_start(order["order_date"]), without=[order_id]) == \
        recompute(db, [shop.store_id], month_start(order["order_date"])), "the order counts nothing"
    assert_rollups_hold(db, [shop.store_id], month_start(order["order_date"]))


async def test_a_store_manager_lists_a_double_cancel_and_resolves_it_once(
        settings: Settings, db: Database, connector: Connector, shop: Shop) -> None:
    """The manager's side of #28's conflicts, over MCP: the store's manager sees the conflict, another store's
    manager neither sees nor resolves it, resolving takes the restocked units off once, a retry moves nothing."""
    (sku,) = shop.skus(1)
    manager = Identity(head_office=False, store=shop.store_id.removeprefix("store_"))
    other_store = next(s["_id"] for s in db.stores.find({"is_online": False}) if s["_id"] != shop.store_id)
    stranger = Identity(head_office=False, store=other_store.removeprefix("store_"))
    async with running_feed(settings) as zava:
        order, _ = await sold_and_synced(connector, shop, [(sku, 2)])
        order_id = order["order_id"]
        synced_level = level(db, shop.store_id, sku)
        async with connector.apart(2, shop.subscriptions([sku], [order_id])) as (a, b):
            assert await a.cancel(order_id, shop.store_id) and await b.cancel(order_id, shop.store_id)
            await connector.sync()
        (conflict,) = await found(zava, 1, kind="double_cancel", order_id=order_id)
    assert level(db, shop.store_id, sku) == synced_level + 4, "each device put the 2 units back"

    async with Client(customer_sales(settings, stranger)) as client:
        listed = await client.call_tool("list_sync_conflicts", {"status": "all", "max_rows": 100})
        assert conflict["_id"] not in [c["conflict_id"] for c in listed.structured_content["conflicts"]]
        refused = await client.call_tool("resolve_sync_conflict", {"conflict_id": conflict["_id"]})
        assert refused.is_error and refused.content[0].text.startswith("not_found: ")
    async with Client(customer_sales(settings, manager)) as client:
        listed = await client.call_tool("list_sync_conflicts", {"max_rows": 100})
        (shown,) = [c for c in listed.structured_content["conflicts"] if c["conflict_id"] == conflict["_id"]]
        assert (shown["kind"], shown["order_id"], shown["correction"]) == ("double_cancel", order_id, {sku: -2})
        first = await client.call_tool("resolve_sync_conflict", {"conflict_id": conflict["_id"], "note": "recount"})
        assert not first.is_error, first.content[0].text
        again = await client.call_tool("resolve_sync_conflict", {"conflict_id": conflict["_id"]})
        assert not again.is_error, again.content[0].text

    assert (first.structured_content["moved"], first.structured_content["replayed"]) == ({sku: -2}, False)
    assert (again.structured_content["moved"], again.structured_content["replayed"]) == ({sku: -2}, True)
    assert level(db, shop.store_id, sku) == synced_level + 2, "the double restock taken off once"
    movements = list(db.stock_movements.find({"reference": conflict["_id"], "kind": "correction"}))
    assert len(movements) == 1 and movements[0]["store_id"] == shop.store_id
    assert db.sync_conflicts.find_one({"_id": conflict["_id"]})["status"] == "resolved"


async def test_two_devices_selling_the_last_unit_count_both_sales_and_record_negative_stock(
        settings: Settings, db: Database, connector: Connector, shop: Shop) -> None:
    (sku,) = shop.skus(1)
    db.inventory.update_one({"store_id": shop.store_id, "sku": sku}, {"$set": {"stock_level": 1}})  # a count
    async with running_feed(settings) as zava:
        async with connector.apart(2, shop.subscriptions([sku])) as (a, b):
            first, _ = await a.sell(shop.customers[2], shop.store_id, [(sku, 1)])
            second, _ = await b.sell(shop.customers[3], shop.store_id, [(sku, 1)])
            await connector.sync()
        ids = [first["order_id"], second["order_id"]]
        await until_settled(settings, ids, SETTLE_S)
        (conflict,) = await found(zava, 1, kind="negative_stock", sku=sku)

    assert level(db, shop.store_id, sku) == -1
    assert (conflict["store_id"], conflict["correction"]) == (shop.store_id, {sku: 1})
    for order_id in ids:  # both sales counted, one unit each
        assert [line["quantity"] for line in db.sales_folds.find_one({"_id": order_id})["applied"]] == [1]
    assert_rollups_hold(db, [shop.store_id], month_start(first["order_date"]))


async def test_a_return_beyond_what_was_bought_is_counted_once_and_recorded(
        settings: Settings, db: Database, connector: Connector, shop: Shop) -> None:
    kept_sku, sku = shop.skus(2)
    async with running_feed(settings) as zava:
        order, lines = await sold_and_synced(connector, shop, [(kept_sku, 1), (sku, 2)])
        order_id = order["order_id"]
        line = next(ln for ln in lines if ln["sku"] == sku)
        synced_level = level(db, shop.store_id, sku)
        async with connector.apart(2, shop.subscriptions([kept_sku, sku], [order_id])) as (a, b):
            assert await a.take_back(order_id, shop.store_id, line, 2)  # all that was bought, on one device
            assert await b.take_back(order_id, shop.store_id, line, 1)  # one more on another, apart
            await connector.sync()
        await until_settled(settings, [order_id], SETTLE_S)
        (conflict,) = await found(zava, 1, kind="over_return", order_id=order_id)

    assert db.orders.find_one({"_id": order_id})["returned_quantities"] == {sku: 3}
    assert level(db, shop.store_id, sku) == synced_level + 3
    assert (conflict["sku"], conflict["correction"]) == (sku, {sku: -1})
    # The line is out once (not -1 unit); the other line still counts.
    assert [(a["sku"], a["quantity"]) for a in db.sales_folds.find_one({"_id": order_id})["applied"]] == [
        (kept_sku, 1)]
    assert_rollups_hold(db, [shop.store_id], month_start(order["order_date"]))


async def test_a_line_for_a_sku_the_catalog_lacks_is_counted_and_recorded(
        settings: Settings, db: Database, connector: Connector, shop: Shop) -> None:
    (sku,) = shop.skus(1)
    known = db.products.find_one({"sku": sku})
    unknown = {**known, "_id": "prod_ZZZZ999999", "product_id": "prod_ZZZZ999999", "sku": "ZZZZ999999",
               "product_name": "A product only the device knows"}
    assert db.products.find_one({"sku": unknown["sku"]}) is None
    async with running_feed(settings) as zava:
        async with connector.apart(1, shop.subscriptions([sku]), extra={"products": [unknown]}) as (device,):
            order, lines = await device.sell(shop.customers[4], shop.store_id, [(sku, 1), (unknown["sku"], 2)])
            await connector.sync()
        await until_settled(settings, [order["order_id"]], SETTLE_S)
        (conflict,) = await found(zava, 1, kind="unknown_sku", order_id=order["order_id"])
        assert await conflicts(zava, kind="unknown_sku", sku=sku) == []

    line = next(ln for ln in lines if ln["sku"] == unknown["sku"])
    assert conflict["_id"].endswith(line["_id"]) and conflict["sku"] == unknown["sku"]
    assert conflict["correction"] == {}
    assert_rollups_hold(db, [shop.store_id], month_start(order["order_date"]))  # in the totals, as sold


# --- (d) a burst across a restart, (e) two replicas ------------------------------------------------------------


async def burst(connector: Connector, shop: Shop, skus: list[str], orders: int, devices: int = 2) -> list[Write]:
    """Device orders, a few of them then cancelled or partly returned on the device that made them: the writes the
    connector makes for them, in the order it makes them."""
    rng = random.Random(orders)
    async with connector.apart(devices, shop.subscriptions(skus)) as peers:
        for n in range(orders):
            device = peers[n % devices]
            items = [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, rng.randint(1, 2))]
            order, lines = await device.sell(rng.choice(shop.customers), shop.store_id, items)
            if n % 7 == 3:
                assert await device.cancel(order["order_id"], shop.store_id)
            elif n % 5 == 2:
                assert await device.take_back(order["order_id"], shop.store_id, lines[0], 1)
        return await connector.plan()


async def test_a_burst_interrupted_by_a_restart_is_folded_once(
        settings: Settings, db: Database, connector: Connector, shop: Shop) -> None:
    writes = await burst(connector, shop, shop.skus(4), orders=24)
    ids = order_ids(writes)
    third = len(writes) // 3
    async with running_feed(settings) as first:
        before_restart = watching(first)
        await connector.write(writes[:third])
        await eventually(first, lambda: _folded_some(first), "the first process folded part of the burst")
        await connector.write(writes[third:2 * third])  # the process stops with these events in flight
    await connector.write(writes[2 * third:])  # written while no feed runs
    async with running_feed(settings) as second:
        after_restart = watching(second)
        await until_settled(settings, ids, SETTLE_S)
        assert second.feed is not None and second.feed.state.started_from == "stored token"
    # Each process did part of the burst, and the second resumed where the first stopped (no gap).
    assert before_restart and after_restart - before_restart
    assert before_restart | after_restart >= order_documents(writes)
    assert_counted_once(db, shop, writes)


async def test_orders_trickling_in_while_the_feed_is_busy_are_folded_together(
        settings: Settings, db: Database, connector: Connector, shop: Shop) -> None:
    writes = await burst(connector, shop, shop.skus(4), orders=16)
    by_order: dict[str, list[Write]] = {}  # the connector's order and line writes, grouped by order
    for write in writes:
        if write.collection in ("orders", "order_items"):
            order_id = write.doc["_id"] if write.collection == "orders" else write.doc["order_id"]
            by_order.setdefault(order_id, []).append(write)
    assert len(by_order) == 16
    await connector.write([w for w in writes if w.collection not in ("orders", "order_items")])  # the stock
    async with running_feed(settings) as zava:
        assert zava.feed is not None
        before = zava.feed.state.folds
        for order_writes in by_order.values():  # one device order synced every 40 ms: ~0.6 s of trickle
            await connector.write(order_writes)
            await anyio.sleep(0.04)
        await until_settled(settings, by_order, SETTLE_S)
        folds = zava.feed.state.folds - before
    # A fold per arriving order would be 16 (each rewrites the store's month and day cells); gathered for
    # FOLD_GATHER_SECONDS they are a few. Each order is still counted once.
    assert 1 <= folds <= len(by_order) // 2, folds
    assert_counted_once(db, shop, writes)


def assert_counted_once(db: Database, shop: Shop, writes: list[Write]) -> None:
    """The touched cells equal the recomputation, and the fold records hold exactly the orders that count (a
    device order cancelled or wholly returned before it synced never counted, and needs none)."""
    assert_rollups_hold(db, [shop.store_id], first_month(writes))
    ids = order_ids(writes)
    counting = set().union(*(c["orders"] for c in recompute(db, [shop.store_id], first_month(writes))["month"]
                             .values())) & set(ids)
    held = {r["_id"] for r in db.sales_folds.find({"_id": {"$in": ids}, "applied.0": {"$exists": True}})}
    assert held == counting
    assert len(counting) < len(ids), "the burst has orders that never counted"


async def _folded_some(zava: Zava) -> bool:
    return zava.feed is not None and zava.feed.state.folded_orders > 0


async def test_two_replicas_consuming_one_burst_fold_each_order_once(
        settings: Settings, db: Database, connector: Connector, shop: Shop) -> None:
    writes = await burst(connector, shop, shop.skus(4), orders=30, devices=3)
    ids = order_ids(writes)
    async with running_feed(settings) as one, running_feed(settings) as two:
        seen = [watching(one), watching(two)]
        await connector.write(writes)
        await until_settled(settings, ids, SETTLE_S)

        async def both_read_it() -> bool:
            return all(s >= order_documents(writes) for s in seen)
        await eventually(one, both_read_it, "both replicas read the whole burst")
        for zava in (one, two):
            assert zava.feed is not None and zava.feed.state.errors == 0, zava.feed.state.last_error
    assert_counted_once(db, shop, writes)


# --- without a position: a rebuild -----------------------------------------------------------------------------


async def test_a_feed_whose_position_the_server_forgot_rebuilds_the_rollups(
        settings: Settings, db: Database, connector: Connector, shop: Shop) -> None:
    """(Without any stored position the same rebuild runs, saying "rebuild (no token)": one rebuild here, ~15 s.)"""
    stored = db.zava_feed.find_one({"_id": FOLD_TOKEN_ID})
    assert stored and stored["token"], "seeding and the feeds before stored a position"
    # Rollups that drifted (a lost write, say): a rebuild must not start from them.
    month = db.sales_monthly.find_one({"store_id": shop.store_id}, sort=[("month", -1)])
    db.sales_monthly.update_one({"_id": month["_id"]}, {"$inc": {"totals.revenue": 1000, "totals.orders": 3}})
    db.sales_daily.update_one({"store_id": shop.store_id}, {"$inc": {"totals.units": 5}})
    db.zava_feed.update_one({"_id": FOLD_TOKEN_ID}, {"$set": {"token": forgotten(stored["token"])}})
    # The records it writes are the ground for later folds: a device's cancel of an order it made earlier is then
    # taken out once (not folded against a record that says nothing was counted).
    device_order = db.sales_folds.find_one({"store_id": shop.store_id, "applied.0": {"$exists": True}})
    async with running_feed(settings) as zava:
        assert zava.feed is not None

        async def rebuilt() -> bool:
            return zava.feed.state.mode == "following" and zava.feed.state.started_from.startswith("rebuild")
        await eventually(zava, rebuilt, "a rebuild")
        assert zava.feed.state.started_from == "rebuild (token expired)"
        assert db.zava_feed.find_one({"_id": FOLD_TOKEN_ID})["token"] != stored["token"]
        assert assert_rollups_hold(db, db.stores.distinct("_id")) > 1000
        async with connector.apart(1, shop.subscriptions(
                [a["sku"] for a in device_order["applied"]], [device_order["_id"]])) as (device,):
            assert await device.cancel(device_order["_id"], shop.store_id)
            await connector.sync()
        await until_settled(settings, [device_order["_id"]], SETTLE_S)
    assert_rollups_hold(db, [shop.store_id])


# --- a fold that fails --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [AutoReconnect("connection reset"), Unavailable("the sales fold was not written")],
                         ids=["driver error", "transaction failed"])
async def test_a_fold_that_fails_is_redone_from_the_last_handled_position(
        settings: Settings, db: Database, shop: Shop, failure: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    """A script's order whose every event is in the first batch the feed reads; that batch's fold fails once."""
    products = [db.products.find_one({"sku": sku}) for sku in shop.skus(2)]
    order, lines = dql.order_documents(new_order_id(), db.customers.find_one({"_id": shop.customers[5]}),
                                       shop.store, [(products[0], 1), (products[1], 2)], now_iso())
    db.orders.insert_one(order)
    db.order_items.insert_many(lines)
    real, failed = fold.fold_orders, []

    async def once_failing(*args, **kwargs):
        if not failed:
            failed.append(failure)
            raise failure
        return await real(*args, **kwargs)

    monkeypatch.setattr(fold, "fold_orders", once_failing)
    async with running_feed(settings) as zava:
        await until_settled(settings, [order["order_id"]], SETTLE_S)
        assert zava.feed is not None and zava.feed.running
        assert (failed, zava.feed.state.errors) == ([failure], 1)
    assert_rollups_hold(db, [shop.store_id], month_start(order["order_date"]))


async def test_a_line_a_script_wrote_without_its_cost_does_not_stop_the_feed(settings: Settings, db: Database,
                                                                             shop: Shop) -> None:
    """Before, the fold of its batch raised (None x quantity) and the feed stopped, in every process, for good."""
    products = [db.products.find_one({"sku": sku}) for sku in shop.skus(2)]
    customer = db.customers.find_one({"_id": shop.customers[5]})
    bad, bad_lines = dql.order_documents(new_order_id(), customer, shop.store, [(products[0], 1)], now_iso())
    del bad_lines[0]["unit_cost"]  # a script's line without its cost
    good, good_lines = dql.order_documents(new_order_id(), customer, shop.store, [(products[1], 2)], now_iso())
    async with running_feed(settings) as zava:
        for order, lines in ((bad, bad_lines), (good, good_lines)):
            db.orders.insert_one(order)
            db.order_items.insert_many(lines)
        await until_settled(settings, [good["order_id"], bad["order_id"]], SETTLE_S)
        assert zava.feed is not None and zava.feed.running
    assert [(a["sku"], a["quantity"]) for a in db.sales_folds.find_one({"_id": good["order_id"]})["applied"]] == [
        (products[1]["sku"], 2)]
