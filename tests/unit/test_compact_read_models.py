"""The read models in their compact forms answer what the database answers, after their load and after the
feed's events: the customer directory (ids sorted per field, a phone shared by several customers, interned
stores) and the order book (ids and dates as bytes found by binary search, lines in the order read). Both load
from the in-memory fakes here; `tests/integration/test_read_models.py` compares them with the engine."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest
from fakes import FakeCollections

from zava_core.readmodels import ReadModels
from zava_core.readmodels.customers import CustomerDirectory
from zava_core.readmodels.freshness import Freshness
from zava_core.readmodels.orders import OrderBook
from zava_core.retail.customers import search_filters

pytestmark = pytest.mark.anyio

STORES = ("store_seattle", "store_tacoma", "store_online")
FIRST = ("Ann", "Anna", "Bob", "Chris", "Dana", "Eve", "Éloïse")
LAST = ("Smith", "Smithers", "Jones", "Nguyen", "O'Brien", "Zhang")


def customer(n: int, rng: random.Random) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    shopped = {store: f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00Z"
               for store in rng.sample(STORES, rng.randint(1, 3))}
    return {"_id": f"cust_{n:06d}", "customer_id": f"cust_{n:06d}", "first_name": first, "last_name": last,
            "first_name_lower": first.lower(), "last_name_lower": last.lower(),
            "email": f"{first.lower()}.{last.lower()}.{n}@example.com",
            "phone": f"(206) 555-{rng.randint(0, 30):04d}",  # few numbers: shared by several customers
            "primary_store_id": next(iter(shopped)), "stores_shopped": shopped, "deleted": False}


def event(doc: dict | None, key: str, collection: str = "customers") -> dict:
    return {"operationType": "replace" if doc else "delete", "documentKey": {"_id": key}, "fullDocument": doc,
            "ns": {"coll": collection}}


class Following(Freshness):
    """A feed that is current and no write in flight: whether a model answers is then its own rule."""

    def following(self) -> bool:
        return True

    def settled(self, *keys: object) -> bool:
        return True


QUERIES = ("smi", "smith", "ann", "anna smith", "éloïse", "bob.jones", "(206) 555-0007", "5550007", "0012",
           "cust_000003", "o'brien", "zz")


async def test_the_customer_directory_answers_each_search_as_the_database_does() -> None:
    rng = random.Random(7)
    fakes = FakeCollections()
    fakes.customers.inner.insert_many([customer(n, rng) for n in range(1, 120)])
    directory = CustomerDirectory(fakes.customers, Freshness())
    await directory.load()

    async def compare(when: str, *more: str) -> None:
        for query in (*QUERIES, *more):
            for query_filter in search_filters(query):
                expected = sorted(d["_id"] for d in fakes.customers.inner.find({**query_filter, "deleted": False}))
                found = directory.find({**query_filter, "deleted": False}, 1000)
                assert sorted(d["_id"] for d in found) == expected, (when, query, query_filter)
        for doc in fakes.customers.inner.find({"deleted": False}):
            assert directory.get(doc["_id"]) == {k: v for k, v in doc.items() if k != "customer_id"} | {
                "customer_id": doc["_id"]}, when

    await compare("after the load")
    # The feed's events: a rename (every sorted field moves), a phone moved onto a shared number and off one,
    # a new store shopped, a soft delete, a hard delete and a new customer.
    changes = []
    renamed = fakes.customers.inner.find_one({"_id": "cust_000005"})
    renamed |= {"first_name": "Zed", "first_name_lower": "zed", "last_name": "Aaron", "last_name_lower": "aaron",
                "email": "zed.aaron@example.com", "phone": "(206) 555-0007"}
    changes.append(renamed)
    moved = fakes.customers.inner.find_one({"phone": "(206) 555-0007", "_id": {"$ne": "cust_000005"}})
    moved["phone"] = "(206) 555-9999"
    changes.append(moved)
    shopper = fakes.customers.inner.find_one({"_id": "cust_000009"})
    shopper["stores_shopped"] = {**shopper["stores_shopped"], "store_online": "2025-01-01T00:00:00Z"}
    changes.append(shopper)
    gone = fakes.customers.inner.find_one({"_id": "cust_000011"}) | {"deleted": True}
    changes.append(gone)
    changes.append(customer(500, rng))
    changes.append({**customer(501, rng), "phone": None, "email": None})  # another writer's incomplete document
    for doc in changes:
        fakes.customers.inner.replace_one({"_id": doc["_id"]}, doc, upsert=True)
    removed = fakes.customers.inner.find_one_and_delete({"_id": "cust_000013"})
    directory._apply([*(event(doc, doc["_id"]) for doc in changes), event(None, "cust_000013")])
    await compare("after the events", removed["phone"], removed["email"], "(206) 555-9999", "aaron", "zed aar")
    assert directory.get("cust_000011") is None and directory.get("cust_000013") is None
    assert directory.get("cust_000009")["stores_shopped"]["store_online"] == "2025-01-01T00:00:00Z"


async def test_the_order_book_holds_each_customers_orders_newest_first_with_their_lines() -> None:
    rng = random.Random(11)
    fakes = FakeCollections()
    orders, lines = [], []
    for n in range(300):
        store = rng.choice(STORES)
        order_id = f"ord_{rng.choice('ab')}{n:05d}"  # ids not in date order: found by search, not position
        header = {"_id": order_id, "order_id": order_id, "customer_id": f"cust_{rng.randint(1, 40):06d}",
                  "customer_name": "Name", "store_id": store, "store_name": store.title(),
                  "order_date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(10, 28)}T0{rng.randint(0, 9)}:00:00Z",
                  "status": rng.choice(("delivered", "shipped")), "item_count": 0, "subtotal": 0.0,
                  "discount_total": 0.0, "total": 0.0, "deleted": n % 50 == 0}
        for k in range(rng.randint(1, 4)):
            sku = f"SKU{rng.randint(0, 9)}{k}"
            lines.append({"_id": f"{order_id}-{k}", "order_item_id": f"{order_id}-{k}", "order_id": order_id,
                          "store_id": store, "sku": sku, "product_name": f"product {sku}", "quantity": k + 1,
                          "unit_price": 2.5, "discount_percent": 0, "total_amount": 2.5 * (k + 1), "deleted": False})
            header["item_count"] += k + 1
            header["total"] += 2.5 * (k + 1)
        orders.append(header)
    rng.shuffle(lines)  # read in any order: each order's lines are found through the line index
    fakes.orders.inner.insert_many(orders)
    fakes.order_items.inner.insert_many(lines)
    # Another writer's odd documents: an order without its total, a line whose quantity is text. The book loads
    # without them, and their customers' lookups go to the database.
    odd_order = {**orders[3], "_id": "ord_odd", "order_id": "ord_odd", "customer_id": "cust_000050"}
    del odd_order["total"]
    odd_line = {**lines[0], "_id": "odd-line", "order_item_id": "odd-line", "quantity": "2"}
    fakes.orders.inner.insert_one(odd_order)
    fakes.order_items.inner.insert_one(odd_line)
    book = OrderBook(fakes.orders, fakes.order_items, Following())
    await book.load()
    odd_line_customer = next(o["customer_id"] for o in orders if o["_id"] == odd_line["order_id"])
    assert not book.usable("cust_000050") and not book.usable(odd_line_customer)
    for n in range(1, 42):
        customer_id = f"cust_{n:06d}"
        if customer_id == odd_line_customer:
            continue
        held = book.customer_orders(customer_id, None, 100)
        live = [o for o in orders if o["customer_id"] == customer_id and not o["deleted"]]
        assert [h["order_id"] for h, _ in held] == [
            o["_id"] for o in sorted(live, key=lambda o: o["order_date"], reverse=True)]
        for header, held_lines in held:
            wanted = sorted((ln for ln in lines if ln["order_id"] == header["order_id"]), key=lambda ln: ln["sku"])
            assert [(ln["sku"], ln["quantity"], ln["total_amount"]) for ln in held_lines] == [
                (ln["sku"], ln["quantity"], ln["total_amount"]) for ln in wanted]
            assert header["total"] == sum(ln["total_amount"] for ln in wanted)
        at_seattle = book.customer_orders(customer_id, {"store_seattle"}, 2)
        assert [h["order_id"] for h, _ in at_seattle] == [
            h["order_id"] for h, _ in held if h["store_id"] == "store_seattle"][:2]
    assert book.customer_orders("cust_999999", None, 100) == []

    # After the load: a device's new order (header and lines) is shown from the feed's documents; a line of a
    # loaded order changed by another writer sends that customer to the database (the base cannot tell which
    # line it was: it keeps no line ids).
    new_order = {**orders[1], "_id": "ord_new", "order_id": "ord_new", "order_date": "2025-01-01T00:00:00Z",
                 "deleted": False}
    new_line = {**lines[0], "_id": "ord_new-0", "order_item_id": "ord_new-0", "order_id": "ord_new"}
    corrected = next(ln for ln in lines if ln["order_id"] == orders[2]["_id"]) | {"deleted": True}
    book._apply([event(new_order, "ord_new", "orders"), event(new_line, "ord_new-0", "order_items"),
                 event(corrected, corrected["_id"], "order_items")])
    buyer, corrected_customer = new_order["customer_id"], orders[2]["customer_id"]
    assert corrected_customer != buyer
    assert book.usable(buyer) and not book.usable(corrected_customer)
    [(header, held_lines), *_] = book.customer_orders(buyer, None, 100)
    assert header["order_id"] == "ord_new" and [ln["sku"] for ln in held_lines] == [new_line["sku"]]


class Feed:
    """What `ReadModels.attach` needs of a feed: subscriptions (the freshness rule only keeps a reference)."""

    def __init__(self) -> None:
        self.handlers: dict[str, list] = {}

    def subscribe(self, collections: tuple[str, ...], handler: Callable[[list[dict]], Awaitable[None]]) -> None:
        for name in collections:
            self.handlers.setdefault(name, []).append(handler)

    async def deliver(self, collection: str, events: list[dict]) -> None:
        for handler in self.handlers[collection]:
            await handler(events)


async def until(condition: Callable[[], bool]) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not within 5 s"
        await asyncio.sleep(0.001)


async def test_a_change_a_model_cannot_apply_makes_it_reload_and_odd_documents_do_not_stop_a_load() -> None:
    fakes = FakeCollections()
    rng = random.Random(3)
    fakes.customers.inner.insert_many([customer(n, rng) for n in range(1, 30)]
                                      + [{**customer(30, rng), "stores_shopped": ["store_seattle"]},  # not a map
                                         {**customer(31, rng), "_id": {"legacy": 31}}])  # an object id
    fakes.inventory.inner.insert_many([
        {"_id": "inv-1", "product_id": "prod_1", "store_id": "store_seattle", "stock_level": 3, "deleted": False},
        {"_id": "inv-2", "store_id": "store_seattle", "stock_level": 3, "deleted": False},  # no product
        {"_id": "inv-3", "product_id": "prod_3", "store_id": "store_seattle", "stock_level": None, "deleted": False},
        {"_id": {"legacy": 4}, "product_id": "prod_4", "store_id": "store_seattle", "stock_level": 1,
         "deleted": False}])
    models = ReadModels(fakes)  # type: ignore[arg-type]
    feed = Feed()
    models.attach(feed, ("stock", "customers"))  # type: ignore[arg-type]
    models.use("stock"), models.use("customers")  # what the first lookups do
    await until(lambda: models.stock.loaded and models.customers.loaded)
    assert models.customers.get("cust_000030")["stores_shopped"] == {}  # as the scope rule reads it: no store
    assert models.customers.get("cust_000031") is None and len(models.customers._by_id) == 30
    assert sorted(models.stock._by_id) == ["inv-1", "inv-3"]
    loads = []
    read = models.customers._read

    async def counted_read() -> None:
        loads.append(1)
        await read()
    models.customers._read = counted_read  # type: ignore[method-assign]
    # An event the directory cannot apply (a document without an _id it can hold): it stops answering and reloads.
    await feed.deliver("customers", [{"operationType": "insert", "documentKey": {"_id": "x"},
                                      "fullDocument": {"_id": ["not", "hashable"], "email": "x@example.com"}}])
    assert not models.customers.loaded
    await until(lambda: models.customers.loaded)
    assert loads == [1] and models.customers.get("cust_000001") is not None
    await models.close()
