"""create_order under concurrency, through the SDK's in-process `Client`, on a database of this module's own.

Many orders are sent at once, several of them for the same few units of stock. Whatever the
interleaving, the database must afterwards tell one consistent story: no stock below zero, every
unit that left the shelf belongs to an accepted order, a refused order left no trace, and the
`sales_monthly` rollup equals a plain-Python recomputation from `order_items`. The same
idempotency key sent many times at once makes exactly one order.

Expected values are computed here from the documents (pymongo) and the requests, never copied
from a tool's output.
"""

from __future__ import annotations

import random
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest
from concurrent_calls import call_all, servers
from folding import recent_orders, until_settled
from pymongo import MongoClient
from pymongo.database import Database

from zava_core.infra.config import Settings
from zava_core.scope import Identity

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

HEAD_OFFICE = Identity(head_office=True)
STORES = {"Seattle": "store_seattle", "Tacoma": "store_tacoma", "Online": "store_online", "Redmond": "store_redmond"}
# (store short name, contested product index) -> units on the shelf before the orders arrive
SCARCE_LEVELS = {("Seattle", 0): 5, ("Seattle", 1): 2, ("Tacoma", 0): 3, ("Tacoma", 2): 1, ("Online", 1): 0,
                 ("Online", 2): 4, ("Redmond", 0): 6, ("Redmond", 1): 1, ("Redmond", 2): 2}
CALL_TIMEOUT_S = 120
_OUT_OF_STOCK = re.compile(r"^(?P<sku>[A-Z0-9]+): (?P<wanted>\d+) wanted but (?P<have>\d+) in stock at "
                           r"(?P<store>store_[a-z]+); nothing was ordered")


async def call_all_within(calls: list) -> list[tuple[bool, str, dict | None]]:
    return await call_all(calls, CALL_TIMEOUT_S)


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings(scratch: Settings) -> Settings:
    """The write-heavy suites' shared dataset (the orders here would disturb other modules' expectations)."""
    return scratch


@pytest.fixture(scope="module")
def db(settings: Settings) -> Iterator[Database]:
    client = MongoClient(settings.mongodb_uri)
    try:
        yield client[settings.mongodb_database]
    finally:
        client.close()


def write_state(db: Database) -> dict:
    """Everything create_order may touch."""
    return {
        "inventory": {d["_id"]: d for d in db.inventory.find({})},
        "orders": {d["_id"]: d for d in db.orders.find({}, {"idempotency_key": 1})},
        "order_items": db.order_items.count_documents({}),
        "sales_monthly": {d["_id"]: d for d in db.sales_monthly.find({})},
        "customers": {d["_id"]: d for d in db.customers.find({}, {"stores_shopped": 1, "updated_at": 1})},
    }


def stocked_everywhere(db: Database, store_ids: list[str], count: int, *, minimum: int, skip: set[str]) -> list[dict]:
    """`count` products (by SKU order) with at least `minimum` units in every one of `store_ids`."""
    chosen = []
    for product in db.products.find({"deleted": False}).sort("sku", 1):
        if product["_id"] in skip:
            continue
        levels = [d["stock_level"] for d in db.inventory.find(
            {"product_id": product["_id"], "store_id": {"$in": store_ids}, "deleted": False})]
        if len(levels) == len(store_ids) and min(levels) >= minimum:
            chosen.append(product)
            if len(chosen) == count:
                return chosen
    raise AssertionError(f"the dataset has fewer than {count} products with {minimum}+ units in {store_ids}")


def standing(line: dict, order: dict) -> dict | None:
    """A line as it stands (the rollup is net): none for a cancelled order or a line whose every unit came back;
    fewer units, and the money of the units kept, after a partial return."""
    if order.get("status") == "cancelled":
        return None
    kept = line["quantity"] - (order.get("returned_quantities") or {}).get(line["sku"], 0)
    if kept <= 0:
        return None
    gross = round(line["unit_price"] * kept, 2)
    discount = round(gross * line["discount_percent"] / 100, 2)
    return {**line, "quantity": kept, "discount_amount": discount, "total_amount": round(gross - discount, 2)}


def recompute_rollup(db: Database, cell_ids: set[str]) -> dict[str, dict]:
    """The `sales_monthly` cells named, summed in plain Python from their `order_items` as they stand (the other
    write-heavy suites cancel and return on this dataset too)."""
    result: dict[str, dict] = {}
    for cell in cell_ids:
        store_id, month = cell.split("|")
        raw = list(db.order_items.find({"store_id": store_id, "deleted": False,
                                        "order_date": {"$gte": month, "$lt": month + "~"}}))
        orders_of = {o["_id"]: o for o in db.orders.find({"_id": {"$in": sorted({ln["order_id"] for ln in raw})}})}
        lines = [kept for line in raw if (kept := standing(line, orders_of[line["order_id"]])) is not None]
        sums: dict[tuple, float] = defaultdict(float)
        orders: dict[tuple, set] = defaultdict(set)
        for line in lines:
            assert line["order_date"].startswith(month)
            values = {"revenue": line["total_amount"], "gross": line["unit_price"] * line["quantity"],
                      "discount": line["discount_amount"], "cost": line["unit_cost"] * line["quantity"],
                      "units": line["quantity"], "lines": 1}
            for scope in (("totals",), ("categories", line["category_id"]), ("products", line["product_id"])):
                for measure, value in values.items():
                    sums[(*scope, measure)] += value
                orders[scope].add(line["order_id"])
        doc: dict = {"totals": {}, "categories": defaultdict(dict), "products": defaultdict(dict)}
        for path, value in sums.items():
            target = doc["totals"] if path[0] == "totals" else doc[path[0]][path[1]]
            target[path[-1]] = value
        for scope, ids in orders.items():
            target = doc["totals"] if scope[0] == "totals" else doc[scope[0]][scope[1]]
            target["orders"] = len(ids)
        result[cell] = {"totals": doc["totals"], "categories": dict(doc["categories"]),
                        "products": dict(doc["products"])}
    return result


def assert_rollup_matches_order_items(db: Database, cell_ids: set[str]) -> None:
    expected = recompute_rollup(db, cell_ids)
    stored = {d["_id"]: d for d in db.sales_monthly.find({"_id": {"$in": sorted(cell_ids)}})}
    assert set(stored) == cell_ids
    for cell in cell_ids:
        for section in ("totals", "categories", "products"):
            want, have = expected[cell][section], stored[cell][section]
            if section == "totals":
                want, have = {"all": want}, {"all": have}
            else:  # a product or category whose sales were all cancelled keeps a key of zeros in the rollup
                have = {k: v for k, v in have.items() if k in want or any(v.values())}
            assert set(have) == set(want), (cell, section)
            for key, measures in want.items():
                assert set(have[key]) == set(measures), (cell, section, key)
                for measure, value in measures.items():
                    if measure in ("units", "lines", "orders"):
                        assert have[key][measure] == value, (cell, section, key, measure)
                    else:
                        assert have[key][measure] == pytest.approx(value, abs=0.011), (cell, section, key, measure)


def order_key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


# --- many orders at once -----------------------------------------------------------------------


async def test_a_hundred_concurrent_orders_never_oversell_and_leave_a_consistent_database(
        settings: Settings, db: Database) -> None:
    store_ids = sorted(STORES.values())
    contested = stocked_everywhere(db, store_ids, 3, minimum=1, skip=set())
    plentiful = stocked_everywhere(db, store_ids, 4, minimum=600, skip={p["_id"] for p in contested})
    customers = list(db.customers.find({"deleted": False}).sort("_id", 1).limit(25))
    rng = random.Random(20_260_101)

    async with servers(settings) as (client,):
        # The scarce rows get small known levels through the tool a store manager would use.
        counts = [(client, "update_stock_count", {"sku": contested[i]["sku"], "store": store, "counted_quantity": n})
                  for (store, i), n in SCARCE_LEVELS.items()]
        for is_error, text, _ in await call_all_within(counts):
            assert not is_error, text
        level = {(STORES[store], contested[i]["_id"]): n for (store, i), n in SCARCE_LEVELS.items()}

        requests = []
        for number in range(100):
            store = rng.choice(sorted(STORES))
            lines = []
            # Most orders want one scarce product; the others only plentiful ones.
            if number % 5 != 4:
                scarce = [i for (s, i) in SCARCE_LEVELS if s == store]
                lines.append({"sku": contested[rng.choice(scarce)]["sku"], "quantity": rng.randint(1, 2)})
            for product in rng.sample(plentiful, rng.randint(0 if lines else 1, 2)):
                lines.append({"sku": product["sku"].lower() if rng.random() < 0.2 else product["sku"],
                              "quantity": rng.randint(1, 3)})
            requests.append({"customer_id": rng.choice(customers)["_id"], "store": store, "items": lines,
                             "idempotency_key": order_key(f"conc-{number}")})
        by_sku = {p["sku"]: p for p in (*contested, *plentiful)}
        demand: Counter = Counter()
        for request in requests:
            for line in request["items"]:
                demand[(STORES[request["store"]], by_sku[line["sku"].upper()]["_id"])] += line["quantity"]
        assert all(demand[cell] > units for cell, units in level.items()), "every scarce row must be contested"

        await until_settled(settings, recent_orders(db))  # what earlier tests wrote is folded before we look
        before = write_state(db)
        results = await call_all_within([(client, "create_order", r) for r in requests])
        await until_settled(settings, recent_orders(db))  # the server's change feed folds the new orders
        after = write_state(db)

    accepted = [(req, out) for req, (is_error, _, out) in zip(requests, results, strict=True) if not is_error]
    refused = [(req, text) for req, (is_error, text, _) in zip(requests, results, strict=True) if is_error]
    # Every refusal is a stock refusal naming a line of that order, and the shelf really was short.
    for request, text in refused:
        match = _OUT_OF_STOCK.match(text.removeprefix("out_of_stock: "))
        assert match, text
        wanted = {ln["sku"].upper(): 0 for ln in request["items"]}
        for line in request["items"]:
            wanted[line["sku"].upper()] += line["quantity"]
        assert match["store"] == STORES[request["store"]]
        assert int(match["wanted"]) == wanted[match["sku"]] > int(match["have"])
        row = (match["store"], by_sku[match["sku"]]["_id"])
        final = next(d["stock_level"] for d in after["inventory"].values()
                     if (d["store_id"], d["product_id"]) == row)
        # Stock only goes down, so it is still below what this order wanted.
        assert final <= int(match["have"]) < int(match["wanted"]), text
        assert request["idempotency_key"] not in {o.get("idempotency_key") for o in after["orders"].values()}

    # Units that left the shelves are exactly the units of the accepted orders.
    sold: Counter = Counter()
    for request, out in accepted:
        assert out["replayed"] is False
        for line in request["items"]:
            sold[(STORES[request["store"]], by_sku[line["sku"].upper()]["_id"])] += line["quantity"]
        assert all(units >= 0 for units in out["stock_after"].values())
    assert set(after["inventory"]) == set(before["inventory"])
    for doc_id, doc in after["inventory"].items():
        old = before["inventory"][doc_id]
        row = (doc["store_id"], doc["product_id"])
        assert doc["stock_level"] >= 0, row
        assert doc["stock_level"] == old["stock_level"] - sold[row], row
        if not sold[row]:
            assert doc == old
    for row, units in level.items():
        assert sold[row] <= units
        assert after_level(after, row) == units - sold[row]

    assert len(accepted) >= 10 and len(refused) >= 10, "the scenario must both accept and refuse orders"

    # The accepted orders and their lines are there; nothing else is.
    new_orders = set(after["orders"]) - set(before["orders"])
    assert set(before["orders"]) <= set(after["orders"])
    assert new_orders == {out["order"]["order_id"] for _, out in accepted}
    for request, out in accepted:
        order_id = out["order"]["order_id"]
        assert after["orders"][order_id]["idempotency_key"] == request["idempotency_key"]
        stored_lines = Counter()
        for line in db.order_items.find({"order_id": order_id}):
            assert line["store_id"] == STORES[request["store"]] and line["deleted"] is False
            stored_lines[line["sku"]] += line["quantity"]
        requested = Counter()
        for line in request["items"]:
            requested[line["sku"].upper()] += line["quantity"]
        assert stored_lines == requested
    assert after["order_items"] == before["order_items"] + sum(len(out["order"]["lines"]) for _, out in accepted)

    # Customers gain a store only through an accepted order, dated by one of them.
    dates: dict[tuple[str, str], set[str]] = defaultdict(set)
    for request, out in accepted:
        dates[(request["customer_id"], STORES[request["store"]])].add(out["order"]["order_date"])
    for customer_id, doc in after["customers"].items():
        old = before["customers"][customer_id]
        gained = {s: d for s, d in (doc.get("stores_shopped") or {}).items() if s not in (old.get("stores_shopped")
                                                                                        or {})}
        expected_stores = {s for (c, s) in dates if c == customer_id and s not in (old.get("stores_shopped") or {})}
        assert set(gained) == expected_stores, customer_id
        for store_id, stamp in gained.items():
            assert stamp in dates[(customer_id, store_id)]
        if not expected_stores:
            assert doc == old, customer_id

    # The rollup: untouched cells unchanged, touched cells equal to a recomputation from order_items.
    touched = {f"{STORES[req['store']]}|{out['order']['order_date'][:7]}" for req, out in accepted}
    assert {k: v for k, v in after["sales_monthly"].items() if k not in touched} == \
        {k: v for k, v in before["sales_monthly"].items() if k not in touched}
    assert_rollup_matches_order_items(db, touched)


def after_level(state: dict, row: tuple[str, str]) -> int:
    return next(d["stock_level"] for d in state["inventory"].values() if (d["store_id"], d["product_id"]) == row)


async def test_two_servers_racing_for_the_last_units_sell_exactly_the_stock(settings: Settings, db: Database) -> None:
    """Two server processes (here two servers with their own clients) do not share the in-process order queue:
    their transactions meet in the database, which must refuse exactly the orders the shelf cannot fill."""
    store_id = "store_kirkland"
    (product,) = stocked_everywhere(db, [store_id], 1, minimum=1, skip=set())
    customer = db.customers.find_one({"deleted": False, "primary_store_id": store_id})
    db.inventory.update_one({"store_id": store_id, "product_id": product["_id"]}, {"$set": {"stock_level": 7}})
    async with servers(settings, 2) as (first, second):
        await until_settled(settings, recent_orders(db))
        before = write_state(db)
        calls = [(first if n % 2 else second, "create_order",
                  {"customer_id": customer["_id"], "store": "Kirkland", "idempotency_key": order_key(f"race-{n}"),
                   "items": [{"sku": product["sku"], "quantity": 1}]}) for n in range(20)]
        results = await call_all_within(calls)
        await until_settled(settings, recent_orders(db))
    accepted = [out for is_error, _, out in results if not is_error]
    errors = [text for is_error, text, _ in results if is_error]
    assert len(accepted) == 7
    assert len(errors) == 13 and all("wanted but 0 in stock" in e for e in errors), errors
    row = (store_id, product["_id"])
    after = write_state(db)
    assert after_level(after, row) == 0
    assert len(set(after["orders"]) - set(before["orders"])) == 7
    assert after["order_items"] == before["order_items"] + 7
    assert_rollup_matches_order_items(db, {f"{store_id}|{out['order']['order_date'][:7]}" for out in accepted})


# --- the same idempotency key at once ----------------------------------------------------------


@pytest.mark.parametrize("server_count", [1, 2], ids=["one-server", "two-servers"])
async def test_the_same_idempotency_key_ten_times_at_once_makes_one_order(settings: Settings, db: Database,
                                                                          server_count: int) -> None:
    store_id = "store_bellevue"
    first, second = stocked_everywhere(db, [store_id], 2, minimum=100, skip=set())
    customer = db.customers.find_one({"deleted": False, "primary_store_id": store_id})
    key = order_key("same-key")
    request = {"customer_id": customer["_id"], "store": "Bellevue", "idempotency_key": key,
               "items": [{"sku": first["sku"], "quantity": 2}, {"sku": second["sku"], "quantity": 1}]}
    async with servers(settings, server_count) as clients:
        await until_settled(settings, recent_orders(db))
        before = write_state(db)
        results = await call_all_within([(clients[n % server_count], "create_order", request) for n in range(10)])
        await until_settled(settings, recent_orders(db))
    after = write_state(db)

    assert [text for is_error, text, _ in results if is_error] == []
    outs = [out for _, _, out in results]
    order = outs[0]["order"]
    assert all(out["order"] == order for out in outs), "every call answers with the one order"
    assert sorted(out["replayed"] for out in outs) == [False] + [True] * 9
    assert db.orders.count_documents({"idempotency_key": key}) == 1
    assert set(after["orders"]) - set(before["orders"]) == {order["order_id"]}
    assert after["order_items"] == before["order_items"] + 2
    assert {ln["sku"]: ln["quantity"] for ln in db.order_items.find({"order_id": order["order_id"]})} == \
        {first["sku"]: 2, second["sku"]: 1}
    for product, units in ((first, 2), (second, 1)):
        row = (store_id, product["_id"])
        assert after_level(after, row) == after_level(before, row) - units, "stock is decremented once"
    cell = f"{store_id}|{order['order_date'][:7]}"
    old, new = before["sales_monthly"].get(cell, {}), after["sales_monthly"][cell]
    assert new["totals"]["orders"] == old.get("totals", {}).get("orders", 0) + 1
    assert new["totals"]["units"] == old.get("totals", {}).get("units", 0) + 3
    assert_rollup_matches_order_items(db, {cell})
