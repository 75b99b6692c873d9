"""Every edge-app statement of zava_ditto.dql, run on a real Ditto small peer.

A sample exported from the seeded database (every store, category and product type; the products of
two categories; their inventory in three stores; one customer with their orders and lines) is loaded
into a fresh offline peer per test, as the MongoDB Connector would deliver it. Expected values come
from the exported MongoDB documents, never from the peer's own output.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pymongo import MongoClient

from zava_core.infra.config import Settings
from zava_core.infra.timeutil import now_iso
from zava_core.model import Order, OrderItem, new_order_id
from zava_ditto import dql

pytestmark = pytest.mark.integration

ditto = pytest.importorskip(
    "ditto", reason="the Ditto SDK (pip install --pre dittolive-ditto, extra `ditto`) has no wheel for this "
                    "platform; it needs Linux glibc >= 2.35 or macOS, Python 3.10-3.13")
from ditto import Ditto, DittoConfig, DittoConfigConnect  # noqa: E402

SAMPLE_STORES = 3
SAMPLE_CATEGORIES = 2


@dataclass
class Sample:
    docs: dict[str, list[dict]]
    store_ids: list[str]
    customer: dict

    def of(self, collection: str, **where: object) -> list[dict]:
        return [d for d in self.docs[collection] if all(d.get(k) == v for k, v in where.items())]

    def one(self, collection: str, **where: object) -> dict:
        (doc,) = self.of(collection, **where)
        return doc


@pytest.fixture(scope="module")
def sample(seeded: Settings) -> Sample:
    """Read-only export from the seeded database."""
    with MongoClient(seeded.mongodb_uri, tz_aware=True) as client:
        db = client[seeded.mongodb_database]
        stores = list(db.stores.find({"deleted": False}).sort("_id", 1))
        categories = list(db.categories.find({"deleted": False}).sort("_id", 1))
        category_ids = [c["_id"] for c in categories[:SAMPLE_CATEGORIES]]
        products = list(db.products.find({"category_id": {"$in": category_ids}, "deleted": False}))
        # A customer with several orders, so "recent orders" has something to sort.
        (busy,) = db.orders.aggregate([
            {"$group": {"_id": "$customer_id", "n": {"$sum": 1}}}, {"$match": {"n": {"$gte": 3}}},
            {"$sort": {"_id": 1}}, {"$limit": 1},
        ]).to_list()
        customer = db.customers.find_one({"_id": busy["_id"]})
        orders = list(db.orders.find({"customer_id": customer["_id"]}))
        lines = list(db.order_items.find({"order_id": {"$in": [o["_id"] for o in orders]}}))
        others = [s["_id"] for s in stores if s["_id"] != customer["primary_store_id"]]
        store_ids = [customer["primary_store_id"], *others[:SAMPLE_STORES - 1]]
        inventory = list(db.inventory.find({"store_id": {"$in": store_ids},
                                            "product_id": {"$in": [p["_id"] for p in products]}}))
        docs = {
            "stores": stores, "categories": categories,
            "product_types": list(db.product_types.find()), "products": products, "customers": [customer],
            "inventory": inventory, "orders": orders, "order_items": lines,
        }
    assert len(inventory) == len(products) * SAMPLE_STORES
    return Sample(docs=docs, store_ids=store_ids, customer=customer)


@pytest.fixture
async def peer(sample: Sample, tmp_path: Path) -> AsyncIterator[Ditto]:
    """A fresh offline small peer holding the sample."""
    config = DittoConfig(database_id=str(uuid.uuid4()), connect=DittoConfigConnect.small_peers_only(),
                         persistence_directory=str(tmp_path / "ditto"))
    async with Ditto.open(config) as device:
        await load(device, sample.docs)
        yield device


async def load(device: Ditto, docs: dict[str, list[dict]]) -> None:
    for collection, rows in docs.items():
        statement = dql.load_statement(collection)
        for doc in rows:
            await run(device, statement, doc=doc)


async def run(device: Ditto, statement: dql.Statement, **args: object) -> list[dict]:
    with await device.store.execute(statement.dql, statement.args(**args)) as result:
        return [item.value for item in result.items]


async def mutate(device: Ditto, statement: dql.Statement, **args: object) -> list[object]:
    with await device.store.execute(statement.dql, statement.args(**args)) as result:
        return [doc_id.value for doc_id in result.mutated_document_ids()]


def inventory_row(doc: dict) -> dict:
    return {k: doc[k] for k in ("_id", "store_id", "product_id", "sku", "stock_level", "location",
                                "last_counted", "updated_at")}


# --- the statements themselves -------------------------------------------------------------------


def test_arguments_are_checked_against_placeholders() -> None:
    assert dql.WORKER_LOW_STOCK.params == ("store_id", "threshold", "limit")
    with pytest.raises(ValueError, match="missing"):
        dql.WORKER_LOW_STOCK.args(store_id="store_seattle", threshold=5)
    with pytest.raises(ValueError, match="unexpected"):
        dql.WORKER_FIND_BY_SKU.args(store_id="store_seattle", sku="X", skus="Y")


def test_stock_changes_only_through_counter_operations() -> None:
    writers = [s for s in (*dql.STATEMENTS, dql.mark_store_shopped("store_seattle"), dql.record_return("PTDR000001"))
               if s.mutates]
    assert writers, "the module has write statements"
    for statement in writers:
        assert not re.search(r"\bstock_level\s*=(?!=)", statement.dql), statement.name
        if "stock_level" in statement.dql:
            assert "(stock_level COUNTER)" in statement.dql, statement.name
    assert "RESTART WITH" in dql.WORKER_RECORD_COUNT.dql
    assert "INCREMENT BY :delta" in dql.DECREMENT_STOCK.dql
    assert "INCREMENT BY :units" in dql.RESTOCK.dql
    assert "MAP(PTDR000001 COUNTER)" in dql.record_return("PTDR000001").dql


def test_map_keys_spliced_into_dql_must_be_identifiers() -> None:
    with pytest.raises(ValueError):
        dql.mark_store_shopped("store_x = 1, deleted = true")
    with pytest.raises(ValueError):
        dql.load_statement("orders; DROP")
    for bad in ("ptdr000001", "PTDR000001 COUNTER)) SET deleted = true", "PTDR00001"):
        with pytest.raises(ValueError):
            dql.record_return(bad)


def test_like_patterns_take_wildcards_literally() -> None:
    assert dql.like_pattern(" Hammer ") == "%Hammer%"
    assert dql.like_pattern("50%_off!") == "%50!%!_off!!%"
    assert dql.prefix_pattern("O'Br") == "o'br%"


# --- Worker app --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_worker_finds_a_product_and_its_location_in_the_store(peer: Ditto, sample: Sample) -> None:
    for store_id in sample.store_ids:
        expected = sample.of("inventory", store_id=store_id)[0]
        rows = await run(peer, dql.WORKER_FIND_BY_SKU, store_id=store_id, sku=expected["sku"])
        assert rows == [inventory_row(expected)]
    # A soft-deleted line is invisible.
    target = sample.of("inventory", store_id=sample.store_ids[0])[1]
    await peer.store.execute("UPDATE inventory SET deleted = true WHERE _id = :id", {"id": target["_id"]})
    assert await run(peer, dql.WORKER_FIND_BY_SKU, store_id=target["store_id"], sku=target["sku"]) == []


@pytest.mark.anyio
async def test_worker_locates_products_found_by_name(peer: Ditto, sample: Sample) -> None:
    store_id = sample.store_ids[1]
    word = sample.docs["products"][0]["product_name"].split()[-1]
    found = await run(peer, dql.SEARCH_PRODUCTS, pattern=dql.like_pattern(word), limit=100)
    ids = [p["product_id"] for p in found]
    assert ids, word
    rows = await run(peer, dql.WORKER_LOCATE_PRODUCTS, store_id=store_id, product_ids=ids)
    expected = sorted((d for d in sample.of("inventory", store_id=store_id) if d["product_id"] in ids),
                      key=lambda d: d["sku"])
    assert rows == [inventory_row(d) for d in expected]


@pytest.mark.anyio
async def test_worker_low_stock_lists_the_emptiest_lines_of_the_store(peer: Ditto, sample: Sample) -> None:
    store_id = sample.store_ids[2]
    mine = sorted(sample.of("inventory", store_id=store_id), key=lambda d: (d["stock_level"], d["sku"]))
    threshold = mine[5]["stock_level"]  # at least six lines qualify, not all of them
    expected = [(d["stock_level"], d["sku"]) for d in mine if d["stock_level"] <= threshold]
    assert 6 <= len(expected) < len(mine)
    rows = await run(peer, dql.WORKER_LOW_STOCK, store_id=store_id, threshold=threshold, limit=100)
    assert [(r["stock_level"], r["sku"]) for r in rows] == expected
    assert {r["store_id"] for r in rows} == {store_id}
    first = await run(peer, dql.WORKER_LOW_STOCK, store_id=store_id, threshold=threshold, limit=3)
    assert [(r["stock_level"], r["sku"]) for r in first] == expected[:3]


@pytest.mark.anyio
async def test_worker_moves_stock_by_updating_location_keys(peer: Ditto, sample: Sample) -> None:
    line = sample.of("inventory", store_id=sample.store_ids[0])[3]
    elsewhere = sample.one("inventory", store_id=sample.store_ids[1], product_id=line["product_id"])
    now = now_iso()
    new = {"aisle": "Z9", "shelf": "S4", "bin": "B12"}
    changed = await mutate(peer, dql.WORKER_MOVE_STOCK, store_id=line["store_id"], product_id=line["product_id"],
                           now=now, **new)
    assert changed == [line["_id"]]
    (row,) = await run(peer, dql.WORKER_FIND_BY_SKU, store_id=line["store_id"], sku=line["sku"])
    assert row["location"] == new
    assert row["updated_at"] == now
    assert row["stock_level"] == line["stock_level"]
    (other,) = await run(peer, dql.WORKER_FIND_BY_SKU, store_id=elsewhere["store_id"], sku=elsewhere["sku"])
    assert other == inventory_row(elsewhere)


@pytest.mark.anyio
async def test_worker_count_restarts_the_counter_and_later_sales_still_add_up(peer: Ditto, sample: Sample) -> None:
    line = sample.of("inventory", store_id=sample.store_ids[0])[4]
    counted = line["stock_level"] + 17
    now = now_iso()
    where = {"store_id": line["store_id"], "product_id": line["product_id"]}
    assert await mutate(peer, dql.WORKER_RECORD_COUNT, counted=counted, now=now, **where) == [line["_id"]]
    (row,) = await run(peer, dql.WORKER_FIND_BY_SKU, store_id=line["store_id"], sku=line["sku"])
    assert (row["stock_level"], row["last_counted"]) == (counted, now)
    # Still a counter after RESTART WITH: two sales both count.
    await mutate(peer, dql.DECREMENT_STOCK, delta=-2, now=now, **where)
    await mutate(peer, dql.DECREMENT_STOCK, delta=-3, now=now, **where)
    (row,) = await run(peer, dql.WORKER_FIND_BY_SKU, store_id=line["store_id"], sku=line["sku"])
    assert row["stock_level"] == counted - 5


@pytest.mark.anyio
async def test_increment_needs_a_field_created_as_a_counter(peer: Ditto, sample: Sample) -> None:
    """Why load_statement declares stock_level a COUNTER: a plain number loses its value on INCREMENT."""
    template = sample.of("inventory", store_id=sample.store_ids[0])[0]
    plain = dict(template, _id="line-plain", product_id="prod_plain", stock_level=40)
    counter = dict(template, _id="line-counter", product_id="prod_counter", stock_level=40)
    await peer.store.execute("INSERT INTO inventory DOCUMENTS (:doc)", {"doc": plain})
    await run(peer, dql.load_statement("inventory"), doc=counter)
    for doc in (plain, counter):
        await mutate(peer, dql.DECREMENT_STOCK, delta=-1, now=now_iso(), store_id=doc["store_id"],
                     product_id=doc["product_id"])
    levels = {}
    for doc in (plain, counter):
        with await peer.store.execute("SELECT stock_level FROM inventory WHERE _id = :id", {"id": doc["_id"]}) as rows:
            (levels[doc["_id"]],) = [r.value["stock_level"] for r in rows.items]
    assert levels == {"line-plain": -1, "line-counter": 39}


# --- Sales Rep app -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_sales_rep_browses_the_catalog_a_page_at_a_time(peer: Ditto, sample: Sample) -> None:
    categories = await run(peer, dql.LIST_CATEGORIES)
    assert [c["category_name"] for c in categories] == sorted(c["category_name"] for c in sample.docs["categories"])
    category_id = sample.docs["products"][0]["category_id"]
    expected = sorted((p["product_name"], p["sku"], p["base_price"]) for p in sample.of("products",
                                                                                       category_id=category_id))
    pages = []
    for offset in range(0, len(expected), 10):
        page = await run(peer, dql.BROWSE_PRODUCTS, category_id=category_id, limit=10, offset=offset)
        assert len(page) == min(10, len(expected) - offset)
        pages += page
    assert [(p["product_name"], p["sku"], p["base_price"]) for p in pages] == expected


@pytest.mark.anyio
async def test_sales_rep_searches_products_by_name_offline(peer: Ditto, sample: Sample) -> None:
    product = sample.docs["products"][7]
    word = max(product["product_name"].split(), key=len)
    rows = await run(peer, dql.SEARCH_PRODUCTS, pattern=dql.like_pattern(word.upper()), limit=50)
    expected = sorted(p["product_name"] for p in sample.docs["products"]
                      if word.lower() in p["product_name"].lower())
    assert product["product_name"] in expected
    assert [r["product_name"] for r in rows] == expected[:50]
    # The user's % and _ are literal characters, not wildcards.
    for text in ("_", "%"):
        literal = [p for p in sample.docs["products"] if text in p["product_name"]]
        assert len(await run(peer, dql.SEARCH_PRODUCTS, pattern=dql.like_pattern(text), limit=500)) == len(literal)
    assert await run(peer, dql.SEARCH_PRODUCTS, pattern="%_%", limit=500), "an unescaped _ would match everything"


@pytest.mark.anyio
async def test_sales_rep_checks_availability_across_stores(peer: Ditto, sample: Sample) -> None:
    product = sample.docs["products"][3]
    rows = await run(peer, dql.AVAILABILITY, product_id=product["product_id"])
    expected = sorted((d["store_id"], d["stock_level"], d["location"])
                      for d in sample.of("inventory", product_id=product["product_id"]))
    assert [(r["store_id"], r["stock_level"], r["location"]) for r in rows] == expected
    assert len(rows) == SAMPLE_STORES
    names = {s["store_id"]: s["store_name"] for s in await run(peer, dql.LIST_STORES)}
    assert names == {s["store_id"]: s["store_name"] for s in sample.docs["stores"]}
    (one,) = await run(peer, dql.PRODUCT_BY_SKU, sku=product["sku"])
    assert one["specifications"] == product["specifications"]


@pytest.mark.anyio
async def test_sales_rep_finds_a_customer_and_their_orders(peer: Ditto, sample: Sample) -> None:
    customer = sample.customer
    found = await run(peer, dql.FIND_CUSTOMERS, prefix=dql.prefix_pattern(customer["last_name"][:3]), limit=20)
    assert [c["customer_id"] for c in found] == [customer["customer_id"]]
    (full,) = await run(peer, dql.CUSTOMER_BY_ID, customer_id=customer["customer_id"])
    assert full["stores_shopped"] == customer["stores_shopped"]
    orders = await run(peer, dql.CUSTOMER_ORDERS, customer_id=customer["customer_id"], limit=50)
    expected = sorted(sample.docs["orders"], key=lambda o: o["order_date"], reverse=True)
    assert [(o["order_id"], o["total"], o["store_name"]) for o in orders] == [
        (o["order_id"], o["total"], o["store_name"]) for o in expected]
    latest = expected[0]
    lines = await run(peer, dql.ORDER_LINES, order_id=latest["order_id"])
    assert [(ln["sku"], ln["quantity"], ln["total_amount"]) for ln in lines] == sorted(
        (ln["sku"], ln["quantity"], ln["total_amount"]) for ln in sample.of("order_items", order_id=latest["order_id"]))
    assert len(lines) == latest["item_count"]


async def create_order(device: Ditto, order: dict, items: list[dict], store_id: str, now: str) -> None:
    """The Sales Rep app's order: header, lines, counter decrements and the customer's store map, atomically."""
    async def scope(tx) -> None:
        async def exec_(statement: dql.Statement, **args: object) -> None:
            (await tx.execute(statement.dql, statement.args(**args))).close()

        await exec_(dql.INSERT_ORDER, order=order)  # first: a repeated order id fails before any stock moves
        for item in items:
            await exec_(dql.INSERT_ORDER_ITEM, line=item)
            await exec_(dql.DECREMENT_STOCK, delta=-item["quantity"], now=now, store_id=store_id,
                        product_id=item["product_id"])
        await exec_(dql.mark_store_shopped(store_id), now=now, customer_id=order["customer_id"])

    await device.store.transaction(scope)


@pytest.mark.anyio
async def test_sales_rep_creates_an_order_with_lines_and_counter_decrements(peer: Ditto, sample: Sample) -> None:
    store_id = sample.store_ids[1]
    store = sample.one("stores", store_id=store_id)
    stocked = [d for d in sample.of("inventory", store_id=store_id) if d["stock_level"] >= 5][:2]
    products = [sample.one("products", product_id=d["product_id"]) for d in stocked]
    quantities = [2, 3]
    ids = [p["product_id"] for p in products]
    before = {r["product_id"]: r["stock_level"] for r in await run(
        peer, dql.STOCK_FOR_ORDER, store_id=store_id, product_ids=ids)}
    assert before == {d["product_id"]: d["stock_level"] for d in stocked}

    now = now_iso()
    order, items = dql.order_documents(new_order_id(), sample.customer, store,
                                       list(zip(products, quantities, strict=True)), now)
    Order.model_validate(order)  # the same shape MongoDB holds
    for item in items:
        OrderItem.model_validate(item)
    await create_order(peer, order, items, store_id, now)

    (header,) = await run(peer, dql.CUSTOMER_ORDERS, customer_id=sample.customer["customer_id"], limit=1)
    assert (header["order_id"], header["total"]) == (order["order_id"], round(sum(
        p["base_price"] * q for p, q in zip(products, quantities, strict=True)), 2))
    lines = await run(peer, dql.ORDER_LINES, order_id=order["order_id"])
    assert sorted((ln["sku"], ln["quantity"]) for ln in lines) == sorted(
        (p["sku"], q) for p, q in zip(products, quantities, strict=True))
    after = {r["product_id"]: r["stock_level"] for r in await run(
        peer, dql.STOCK_FOR_ORDER, store_id=store_id, product_ids=ids)}
    assert after == {pid: before[pid] - q for pid, q in zip(ids, quantities, strict=True)}
    (customer,) = await run(peer, dql.CUSTOMER_BY_ID, customer_id=sample.customer["customer_id"])
    expected_shopped = {store_id: now, **sample.customer["stores_shopped"]}  # an earlier first date is kept
    assert customer["stores_shopped"] == expected_shopped

    # Retrying the same order (same id) fails as a whole: no second decrement, no duplicate line.
    _, retry_items = dql.order_documents(order["order_id"], sample.customer, store,
                                         list(zip(products, quantities, strict=True)), now)
    with pytest.raises(ditto.DittoError):
        await create_order(peer, order, retry_items, store_id, now)
    again = {r["product_id"]: r["stock_level"] for r in await run(
        peer, dql.STOCK_FOR_ORDER, store_id=store_id, product_ids=ids)}
    assert again == after
    assert len(await run(peer, dql.ORDER_LINES, order_id=order["order_id"])) == len(items)


@pytest.mark.anyio
async def test_every_statement_runs_on_the_peer(peer: Ditto, sample: Sample) -> None:
    """A smoke pass over STATEMENTS, so a statement added without a test still meets the real parser."""
    line = sample.of("inventory", store_id=sample.store_ids[0])[0]
    product = sample.one("products", product_id=line["product_id"])
    order = sample.docs["orders"][0]
    now = now_iso()
    values = {
        "store_id": line["store_id"], "sku": line["sku"], "product_id": line["product_id"],
        "product_ids": [line["product_id"]], "threshold": 10_000, "limit": 5, "offset": 0, "aisle": "A1",
        "shelf": "S1", "bin": "B1", "now": now, "counted": 9, "delta": -1, "category_id": product["category_id"],
        "pattern": dql.like_pattern(product["product_name"][:4]), "prefix": dql.prefix_pattern("a"),
        "customer_id": order["customer_id"], "order_id": order["order_id"], "units": 1, "reason": "smoke",
        "email": sample.customer["email"], "phone": sample.customer["phone"],
        "cancellable": dql.CANCELLABLE_STATUSES, "returnable": dql.RETURNABLE_STATUSES,
    }
    store = next(s for s in sample.docs["stores"] if not s["is_online"])
    new_order, new_items = dql.order_documents(new_order_id(), sample.customer, store, [(product, 1)], now)
    values |= {"order": new_order, "line": new_items[0]}
    # The store operations act on the order the smoke pass inserted (INSERT_ORDER runs before them); the status
    # statement re-sets the status it finds (it only has to match a row here, not make a legal move).
    on_new_order = {"order_id": new_order["order_id"], "store_id": store["store_id"]}
    overrides = {"order_for_change": on_new_order, "cancel_order": on_new_order,
                 "update_order_status": {**on_new_order, "from_status": "completed", "status": "completed"}}
    for statement in dql.STATEMENTS:
        args = {**values, **overrides.get(statement.name, {})}
        with await peer.store.execute(statement.dql, statement.args(
                **{name: args[name] for name in statement.params})) as result:
            if statement.mutates:
                assert result.mutated_document_ids(), statement.name
            elif statement.collection != "customers":
                assert result.items, statement.name


# --- store operations ------------------------------------------------------------------------------------


async def levels_of(device: Ditto, store_id: str, product_ids: list[str]) -> dict[str, int]:
    return {r["product_id"]: r["stock_level"] for r in await run(
        device, dql.STOCK_FOR_ORDER, store_id=store_id, product_ids=product_ids)}


async def sell(device: Ditto, sample: Sample, store_id: str, quantities: list[int]) -> tuple[dict, list[dict]]:
    """An order at `store_id` made on the device as the Sales Rep app makes it."""
    store = sample.one("stores", store_id=store_id)
    stocked = [d for d in sample.of("inventory", store_id=store_id) if d["stock_level"] >= 5][:len(quantities)]
    products = [sample.one("products", product_id=d["product_id"]) for d in stocked]
    now = now_iso()
    order, items = dql.order_documents(new_order_id(), sample.customer, store,
                                       list(zip(products, quantities, strict=True)), now)
    await create_order(device, order, items, store_id, now)
    return order, items


async def cancel_on_device(device: Ditto, order_id: str, store_id: str, reason: str) -> bool:
    """The apps' cancel, in one transaction: the guarded status change first, then the units kept back on the
    shelf; a cancel that matches nothing (already cancelled) restocks nothing."""
    cancelled = False

    async def scope(tx) -> None:
        nonlocal cancelled
        now = now_iso()
        with await tx.execute(dql.ORDER_FOR_CHANGE.dql, dql.ORDER_FOR_CHANGE.args(
                order_id=order_id, store_id=store_id)) as result:
            (order,) = [item.value for item in result.items]
        with await tx.execute(dql.ORDER_LINES.dql, dql.ORDER_LINES.args(order_id=order_id)) as result:
            lines = [item.value for item in result.items]
        with await tx.execute(dql.CANCEL_ORDER.dql, dql.CANCEL_ORDER.args(
                now=now, reason=reason, order_id=order_id, store_id=store_id,
                cancellable=dql.CANCELLABLE_STATUSES)) as result:
            cancelled = bool(result.mutated_document_ids())
        if not cancelled:
            return
        returned = order.get("returned_quantities") or {}
        for line in lines:
            kept = line["quantity"] - returned.get(line["sku"], 0)
            if kept:
                (await tx.execute(dql.RESTOCK.dql, dql.RESTOCK.args(
                    units=kept, now=now, store_id=store_id, product_id=line["product_id"]))).close()

    await device.store.transaction(scope)
    return cancelled


async def return_on_device(device: Ditto, order_id: str, store_id: str, line: dict, units: int) -> bool:
    returned = False

    async def scope(tx) -> None:
        nonlocal returned
        now = now_iso()
        statement = dql.record_return(line["sku"])
        with await tx.execute(statement.dql, statement.args(units=units, now=now, order_id=order_id,
                                                            store_id=store_id,
                                                            returnable=dql.RETURNABLE_STATUSES)) as result:
            returned = bool(result.mutated_document_ids())
        if returned:
            (await tx.execute(dql.RESTOCK.dql, dql.RESTOCK.args(units=units, now=now, store_id=store_id,
                                                                product_id=line["product_id"]))).close()

    await device.store.transaction(scope)
    return returned


@pytest.mark.anyio
async def test_a_cancel_puts_the_units_back_once_and_keeps_the_order(peer: Ditto, sample: Sample) -> None:
    store_id = sample.store_ids[0]
    before_sale = await levels_of(peer, store_id, [d["product_id"] for d in sample.of("inventory", store_id=store_id)])
    order, items = await sell(peer, sample, store_id, [2, 3])
    ids = [item["product_id"] for item in items]
    assert await return_on_device(peer, order["order_id"], store_id, items[1], 1)
    assert await cancel_on_device(peer, order["order_id"], store_id, "customer changed their mind")
    assert await levels_of(peer, store_id, ids) == {pid: before_sale[pid] for pid in ids}
    assert not await cancel_on_device(peer, order["order_id"], store_id, "twice"), "a second cancel matches nothing"
    assert await levels_of(peer, store_id, ids) == {pid: before_sale[pid] for pid in ids}
    (header,) = await run(peer, dql.ORDER_FOR_CHANGE, order_id=order["order_id"], store_id=store_id)
    assert header["status"] == "cancelled"
    assert len(await run(peer, dql.ORDER_LINES, order_id=order["order_id"])) == 2, "soft: the lines stay"
    assert not await return_on_device(peer, order["order_id"], store_id, items[0], 1), "no returns once cancelled"
    (stored,) = await run(peer, dql.CUSTOMER_ORDERS, customer_id=sample.customer["customer_id"], limit=1)
    assert stored["status"] == "cancelled"


@pytest.mark.anyio
async def test_returns_add_up_per_line_in_the_map_and_restock(peer: Ditto, sample: Sample) -> None:
    store_id = sample.store_ids[1]
    order, items = await sell(peer, sample, store_id, [4, 2])
    ids = [item["product_id"] for item in items]
    after_sale = await levels_of(peer, store_id, ids)
    for line, units in ((items[0], 1), (items[0], 2), (items[1], 2)):
        assert await return_on_device(peer, order["order_id"], store_id, line, units)
    (header,) = await run(peer, dql.ORDER_FOR_CHANGE, order_id=order["order_id"], store_id=store_id)
    assert header["returned_quantities"] == {items[0]["sku"]: 3, items[1]["sku"]: 2}
    assert header["status"] == "completed"
    assert await levels_of(peer, store_id, ids) == {ids[0]: after_sale[ids[0]] + 3, ids[1]: after_sale[ids[1]] + 2}


@pytest.mark.anyio
async def test_an_online_order_moves_only_from_the_status_it_leaves(peer: Ditto, sample: Sample) -> None:
    online = next(s for s in sample.docs["stores"] if s["is_online"])
    product = sample.docs["products"][0]
    now = now_iso()
    order, _ = dql.order_documents(new_order_id(), sample.customer, online, [(product, 1)], now)
    assert order["status"] == "processing"
    await run(peer, dql.INSERT_ORDER, order=order)
    where = {"order_id": order["order_id"], "store_id": online["store_id"], "now": now}
    assert await mutate(peer, dql.UPDATE_ORDER_STATUS, status="shipped", from_status="processing", **where)
    assert not await mutate(peer, dql.UPDATE_ORDER_STATUS, status="delivered", from_status="processing", **where)
    assert await mutate(peer, dql.UPDATE_ORDER_STATUS, status="delivered", from_status="shipped", **where)
    (header,) = await run(peer, dql.ORDER_FOR_CHANGE, order_id=order["order_id"], store_id=online["store_id"])
    assert header["status"] == "delivered"


@pytest.mark.anyio
async def test_a_transfer_and_a_delivery_move_the_counters(peer: Ditto, sample: Sample) -> None:
    source, destination = sample.store_ids[0], sample.store_ids[2]
    row = next(d for d in sample.of("inventory", store_id=source) if d["stock_level"] >= 6)
    product_id = row["product_id"]
    there = sample.one("inventory", store_id=destination, product_id=product_id)
    now = now_iso()

    async def transfer(tx) -> None:
        (await tx.execute(dql.DECREMENT_STOCK.dql, dql.DECREMENT_STOCK.args(
            delta=-4, now=now, store_id=source, product_id=product_id))).close()
        (await tx.execute(dql.RESTOCK.dql, dql.RESTOCK.args(
            units=4, now=now, store_id=destination, product_id=product_id))).close()

    await peer.store.transaction(transfer)
    assert await mutate(peer, dql.RESTOCK, units=30, now=now, store_id=destination, product_id=product_id)
    assert (await levels_of(peer, source, [product_id]), await levels_of(peer, destination, [product_id])) == (
        {product_id: row["stock_level"] - 4}, {product_id: there["stock_level"] + 4 + 30})


@pytest.mark.anyio
async def test_the_till_finds_a_customer_by_exact_email_or_phone(peer: Ditto, sample: Sample) -> None:
    customer = sample.customer
    expected = {k: customer[k] for k in ("customer_id", "first_name", "last_name", "email", "phone",
                                         "primary_store_id")}
    assert await run(peer, dql.CUSTOMER_BY_EMAIL, email=customer["email"]) == [expected]
    assert await run(peer, dql.CUSTOMER_BY_PHONE, phone=customer["phone"]) == [expected]
    assert await run(peer, dql.CUSTOMER_BY_EMAIL, email=customer["email"][:-1]) == []


# --- peer-to-peer (needs a licence) ----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.skipif(not os.environ.get("DITTO_LICENSE_TOKEN"),
                    reason="peer-to-peer sync needs a Ditto licence token: set DITTO_LICENSE_TOKEN "
                           "(the SDK refuses sync.start() without one)")
async def test_two_devices_selling_offline_converge_on_the_counter(sample: Sample, tmp_path: Path) -> None:
    token = os.environ["DITTO_LICENSE_TOKEN"]
    database_id = str(uuid.uuid4())
    line = sample.of("inventory", store_id=sample.store_ids[0])[0]
    where = {"store_id": line["store_id"], "product_id": line["product_id"]}
    port = 40_000 + uuid.uuid4().int % 20_000
    devices = []
    for name in ("a", "b"):
        config = DittoConfig(database_id=database_id, connect=DittoConfigConnect.small_peers_only(),
                             persistence_directory=str(tmp_path / name))
        devices.append(await Ditto.open(config))
    a, b = devices
    try:
        for device in devices:
            device.set_offline_only_license_token(token)
            await load(device, {"inventory": [line]})
        await mutate(a, dql.DECREMENT_STOCK, delta=-2, now=now_iso(), **where)  # both sell while apart
        await mutate(b, dql.DECREMENT_STOCK, delta=-3, now=now_iso(), **where)

        def listen(config) -> None:
            config.listen.tcp.enabled = True
            config.listen.tcp.interface_ip = "127.0.0.1"
            config.listen.tcp.port = port

        def dial(config) -> None:
            config.connect.tcp_servers = {f"127.0.0.1:{port}"}

        a.update_transport_config(listen)
        b.update_transport_config(dial)
        for device in devices:
            device.sync.register_subscription("SELECT * FROM inventory")
            device.sync.start()
        expected = line["stock_level"] - 5
        for _ in range(300):
            levels = [(await run(d, dql.WORKER_FIND_BY_SKU, store_id=line["store_id"], sku=line["sku"]))[0]
                      ["stock_level"] for d in devices]
            if levels == [expected, expected]:
                break
            await asyncio.sleep(0.1)
        assert levels == [expected, expected]
    finally:
        for device in devices:
            await device.close()
