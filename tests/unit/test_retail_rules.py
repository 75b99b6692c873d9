"""The retail rules on in-memory fakes of the collection handles (`tests/fakes.py`), in milliseconds: the till,
sales that never oversell, transfers, an online order's status steps, return limits and cancels.

The same rules run on the real engine in tests/integration/test_store_operations.py and
test_customer_sales_tools.py; here each rule is checked on a world small enough to read in one screen.
"""

from __future__ import annotations

import asyncio

import pytest
from fakes import fake_zava

from zava_core.analysis.rollups import GRAINS, RollupAccumulator
from zava_core.errors import InvalidArgument, InvalidTransition, NotFound, OutOfScope, OutOfStock
from zava_core.feed import fold
from zava_core.model import (
    META,
    STATE_ID,
    category_document,
    customer_document,
    inventory_document,
    order_header,
    order_line,
    product_document,
    product_type_document,
    sales_cell_key,
    store_document,
)
from zava_core.retail import cancellations, customers, order_status, orders, returns, transfers
from zava_core.scope import Scope, StoreDirectory, StoreRef

T0 = "2026-11-02T10:00:00Z"
STORES = {"store_seattle": "Seattle", "store_tacoma": "Tacoma", "store_online": "Online"}
DRILL, SAW = "PTDR000001", "PTSA000001"


def _store(store_id: str, short: str) -> dict:
    return store_document(store_id=store_id, store_name=f"Zava Retail {short}", short_name=short,
                          is_online=short == "Online", location={"city": short}, customer_weight=1,
                          order_frequency_multiplier=1.0, order_value_multiplier=1.0, manager_name="M",
                          updated_at=T0)


def _product(sku: str, name: str, cost: float) -> dict:
    return product_document(product_id=f"prod_{sku}", sku=sku, product_name=name, description=name,
                            category_id="cat_power_tools", category_name="POWER TOOLS", type_id="ptype_drills",
                            type_name="DRILLS", cost=cost, base_price=round(cost / 0.67, 2), specifications={},
                            created_at=T0)


def _customer(number: int, first: str, last: str, home: str, shopped: dict[str, str]) -> dict:
    return customer_document(customer_id=f"cust_{number:06d}", first_name=first, last_name=last,
                             email=f"{first.lower()}.{last.lower()}@example.com", phone=f"(206) 555-{number:04d}",
                             primary_store_id=home, stores_shopped=shopped, created_at=T0)


def world() -> dict[str, list[dict]]:
    """Three stores, two products, three customers, a till sale at Seattle and an online order, and the rollup."""
    products = [_product(DRILL, "Cordless Drill", 67.0), _product(SAW, "Circular Saw", 134.0)]
    stock = {("store_seattle", DRILL): 5, ("store_seattle", SAW): 2, ("store_tacoma", DRILL): 1,
             ("store_tacoma", SAW): 0, ("store_online", DRILL): 40, ("store_online", SAW): 9}
    inventory = [inventory_document(inventory_id=f"inv_{s}_{sku}", store_id=s, product_id=f"prod_{sku}", sku=sku,
                                    category_id="cat_power_tools", stock_level=n,
                                    location={"aisle": "A01", "shelf": "S1", "bin": "B01"}, last_counted=T0)
                 for (s, sku), n in stock.items()]
    by_sku = {p["sku"]: p for p in products}
    till_lines = [order_line(line_id="line_1", order_id="ord_00000001", store_id="store_seattle",
                             customer_id="cust_000001", order_date=T0, product=by_sku[DRILL], quantity=3,
                             unit_price=100.0)]
    online_lines = [order_line(line_id="line_2", order_id="ord_00000002", store_id="store_online",
                               customer_id="cust_000003", order_date=T0, product=by_sku[SAW], quantity=1,
                               unit_price=200.0)]
    rollups = {grain: RollupAccumulator(grain) for grain in GRAINS}  # the rollups as seeding builds them
    for lines in (till_lines, online_lines):
        for accumulator in rollups.values():
            accumulator.add_order(lines)
    return {
        META: [{"_id": STATE_ID, "status": "complete", "done": {"orders": 2}}],  # two seeded orders
        "sales_monthly": rollups["month"].documents(T0),
        "sales_daily": rollups["day"].documents(T0),
        "stores": [_store(s, short) for s, short in STORES.items()],
        "categories": [category_document(category_id="cat_power_tools", category_name="POWER TOOLS",
                                         category_code="PT", seasonal_multipliers={}, updated_at=T0)],
        "product_types": [product_type_document(type_id="ptype_drills", type_name="DRILLS", type_code="DR",
                                                category_id="cat_power_tools", category_name="POWER TOOLS",
                                                updated_at=T0)],
        "products": products,
        "inventory": inventory,
        "customers": [_customer(1, "Ada", "Lovelace", "store_seattle", {"store_seattle": T0}),
                      _customer(2, "Alan", "Turing", "store_tacoma", {}),
                      _customer(3, "Grace", "Hopper", "store_online", {"store_online": T0})],
        "orders": [order_header(order_id="ord_00000001", customer_id="cust_000001", customer_name="Ada Lovelace",
                                store_id="store_seattle", store_name="Zava Retail Seattle", order_date=T0,
                                status="completed", lines=till_lines),
                   order_header(order_id="ord_00000002", customer_id="cust_000003", customer_name="Grace Hopper",
                                store_id="store_online", store_name="Zava Retail Online", order_date=T0,
                                status="processing", lines=online_lines)],
        "order_items": [*till_lines, *online_lines],
    }


DIRECTORY = StoreDirectory([StoreRef(s, f"Zava Retail {n}", n, n == "Online") for s, n in STORES.items()])
SEATTLE = Scope.for_store_manager(DIRECTORY.get("store_seattle"))
HEAD_OFFICE = Scope.for_head_office(DIRECTORY)


@pytest.fixture
def zava():
    return fake_zava(world())


def stock(zava, store_id: str, sku: str) -> int:
    return zava.collections.inventory.inner.find_one({"store_id": store_id, "sku": sku})["stock_level"]


async def revenue(zava, store_id: str, month: str = T0[:7]) -> float:
    """The store's revenue for the month once the sales fold (what the change feed runs) has folded every order."""
    await fold.fold_orders(zava.collections, zava.transactions,
                           [o["_id"] for o in zava.collections.orders.inner.find({}, {"_id": 1})])
    cell = zava.collections.sales_monthly.inner.find_one({"_id": sales_cell_key(store_id, month)})
    day = zava.collections.sales_daily.inner.find_one({"_id": sales_cell_key(store_id, T0[:10])})
    assert (cell is None) == (day is None) or not day
    if day is not None:  # one arithmetic at both grains
        assert round(day["totals"]["revenue"], 2) == round(cell["totals"]["revenue"], 2)
    return 0.0 if cell is None else round(cell["totals"]["revenue"], 2)


# --- the till --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_till_finds_a_foreign_customer_only_by_what_they_hand_over(zava) -> None:
    by_name = await customers.find_customers(zava, SEATTLE, "turing")
    assert by_name.customers == []  # Tacoma's customer is not Seattle's to browse
    by_id = await customers.find_customers(zava, SEATTLE, "cust_000002")
    assert by_id.customers == []  # ids are sequential: walkable
    for detail in ("alan.turing@example.com", "(206) 555-0002"):
        (found,) = (await customers.find_customers(zava, SEATTLE, detail)).customers
        assert found.customer_id == "cust_000002" and found.your_customer is False and found.name == "Alan Turing"
        assert found.email == found.phone == found.home_store_id == customers.HIDDEN  # name and id only
    audit = list(zava.collections.till_lookups.inner.find({}, {"_id": 0, "lookup_id": 0, "at": 0}))
    assert audit == [{"store_id": "store_seattle", "caller": "store_seattle", "customer_id": "cust_000002",
                      "matched_by": matched, "deleted": False} for matched in ("email", "phone")]


@pytest.mark.anyio
async def test_a_sale_at_the_till_makes_the_customer_the_stores_while_it_stands(zava) -> None:
    with pytest.raises(NotFound):  # not before the customer was found at the till
        await orders.create_order(zava, SEATTLE, "cust_000002", "Seattle", [{"sku": DRILL, "quantity": 2}],
                                  "till-sale-0000")
    await customers.find_customers(zava, SEATTLE, "alan.turing@example.com")
    created = await orders.create_order(zava, SEATTLE, "cust_000002", "Seattle", [{"sku": DRILL, "quantity": 2}],
                                        "till-sale-0001")
    assert created.order.store_id == "store_seattle" and created.stock_after == {DRILL: 3}

    def shopped() -> dict:
        return zava.collections.customers.inner.find_one({"_id": "cust_000002"})["stores_shopped"]

    assert "store_seattle" in shopped()
    assert [c.customer_id for c in (await customers.find_customers(zava, SEATTLE, "turing")).customers] == [
        "cust_000002"]
    # Cancelled at once: no standing sale, so no longer the store's customer (the reported loophole).
    await cancellations.cancel_order(zava, SEATTLE, created.order.order_id, "rang up by mistake", "till-void-0001")
    assert "store_seattle" not in shopped()
    assert (await customers.find_customers(zava, SEATTLE, "turing")).customers == []
    (again,) = (await customers.find_customers(zava, SEATTLE, "alan.turing@example.com")).customers
    assert again.your_customer is False and again.email == customers.HIDDEN


@pytest.mark.anyio
async def test_a_manager_sells_only_at_their_own_store(zava) -> None:
    with pytest.raises(OutOfScope):
        await orders.create_order(zava, SEATTLE, "cust_000001", "Tacoma", [{"sku": DRILL, "quantity": 1}],
                                  "other-store-01")
    assert stock(zava, "store_tacoma", DRILL) == 1


# --- sales never oversell, and a key is one order ------------------------------------------------------


@pytest.mark.anyio
async def test_an_order_beyond_the_stock_changes_nothing(zava) -> None:
    with pytest.raises(OutOfStock, match="2 in stock"):
        await orders.create_order(zava, SEATTLE, "cust_000001", "Seattle",
                                  [{"sku": DRILL, "quantity": 1}, {"sku": SAW, "quantity": 3}], "too-many-01")
    assert (stock(zava, "store_seattle", DRILL), stock(zava, "store_seattle", SAW)) == (5, 2)  # the drill too
    assert zava.collections.orders.inner.count_documents({}) == 2
    assert await revenue(zava, "store_seattle") == 300.0


@pytest.mark.anyio
async def test_the_same_key_twice_is_one_order_and_another_basket_is_refused(zava) -> None:
    first = await orders.create_order(zava, SEATTLE, "cust_000001", "Seattle", [{"sku": DRILL, "quantity": 1}],
                                      "same-key-001")
    again = await orders.create_order(zava, SEATTLE, "cust_000001", "Seattle", [{"sku": DRILL, "quantity": 1}],
                                      "same-key-001")
    assert again.replayed and again.order.order_id == first.order.order_id
    assert stock(zava, "store_seattle", DRILL) == 4
    with pytest.raises(Exception, match="already used for a different order"):
        await orders.create_order(zava, SEATTLE, "cust_000001", "Seattle", [{"sku": DRILL, "quantity": 2}],
                                  "same-key-001")


@pytest.mark.anyio
async def test_a_retry_answers_with_its_order_even_once_the_customer_could_not_buy_again(zava) -> None:
    first = await orders.create_order(zava, SEATTLE, "cust_000001", "Seattle", [{"sku": SAW, "quantity": 1}],
                                      "retry-later-01")
    zava.collections.customers.inner.update_one({"_id": "cust_000001"}, {"$set": {"deleted": True}})
    with pytest.raises(NotFound):  # a new order for a removed customer
        await orders.create_order(zava, SEATTLE, "cust_000001", "Seattle", [{"sku": SAW, "quantity": 1}],
                                  "retry-later-02")
    again = await orders.create_order(zava, SEATTLE, "cust_000001", "Seattle", [{"sku": SAW, "quantity": 1}],
                                      "retry-later-01")
    assert again.replayed and again.order.order_id == first.order.order_id
    assert stock(zava, "store_seattle", SAW) == 1


@pytest.mark.anyio
async def test_an_order_holds_back_from_the_read_models_only_what_it_wrote(zava) -> None:
    fresh = zava.models.freshness
    await orders.create_order(zava, SEATTLE, "cust_000001", "Seattle", [{"sku": DRILL, "quantity": 1}], "marks-0001")
    # Stock and Ada's orders changed: lookups of them read the database until the feed has echoed the write.
    assert not fresh.settled(("inventory", "store_seattle", f"prod_{DRILL}"))
    assert not fresh.settled(("orders", "cust_000001"))
    # Ada was Seattle's customer already: her document is untouched, so the directory keeps answering.
    assert fresh.settled(("customers", "cust_000001")) and fresh.settled_all("customers")
    await customers.find_customers(zava, SEATTLE, "alan.turing@example.com")  # the till: Alan may buy here
    await orders.create_order(zava, SEATTLE, "cust_000002", "Seattle", [{"sku": DRILL, "quantity": 1}], "marks-0002")
    assert not fresh.settled(("customers", "cust_000002"))  # his store map gained Seattle


async def at_once(zava, baskets: list[tuple[str, dict[str, int]]]) -> list:
    """Orders of Ada's at Seattle checked one by one, then handed to the store's group commit together (as
    concurrent calls that reach it while a transaction runs are): the answers, or the errors."""
    requests = [await orders.prepare_order(zava, SEATTLE, "cust_000001", "Seattle",
                                           [{"sku": sku, "quantity": n} for sku, n in basket.items()], key)
                for key, basket in baskets]
    outcomes = await asyncio.gather(*(zava.order_batches.submit("store_seattle", r) for r in requests),
                                    return_exceptions=True)
    answers = []
    for request, outcome in zip(requests, outcomes, strict=True):
        try:
            answers.append(await orders.placed(zava, SEATTLE, request, outcome, "cust_000001"))
        except OutOfStock as exc:
            answers.append(exc)
    return answers


@pytest.mark.anyio
async def test_orders_placed_at_once_share_a_transaction_and_each_is_decided_in_turn(zava) -> None:
    a, b, c, d = await at_once(zava, [("basket-a-0001", {DRILL: 2}), ("basket-b-0001", {DRILL: 2, SAW: 1}),
                                      ("basket-c-0001", {DRILL: 2}), ("basket-d-0001", {SAW: 1})])
    assert (zava.order_batches.batches, zava.order_batches.requests) == (1, 4)  # one transaction for the four
    # 5 drills and 2 saws: each order takes from what the orders before it left; c wants 2 drills when 1 is
    # left, and is refused whole.
    assert (a.stock_after, b.stock_after, d.stock_after) == ({DRILL: 3}, {DRILL: 1, SAW: 1}, {SAW: 0})
    assert isinstance(c, OutOfStock) and "2 wanted but 1 in stock" in str(c)
    assert (stock(zava, "store_seattle", DRILL), stock(zava, "store_seattle", SAW)) == (1, 0)
    placed = {o["idempotency_key"] for o in zava.collections.orders.inner.find({"idempotency_key": {"$exists": 1}})}
    assert placed == {"basket-a-0001", "basket-b-0001", "basket-d-0001"}
    assert zava.collections.order_items.inner.count_documents(
        {"order_id": {"$in": [o.order.order_id for o in (a, b, d)]}}) == 4
    # The fold counts the three placed orders, and nothing of the refused one.
    await fold.fold_orders(zava.collections, zava.transactions, [o.order.order_id for o in (a, b, d)])
    cell = zava.collections.sales_monthly.inner.find_one({"_id": sales_cell_key("store_seattle",
                                                                                a.order.order_date[:7])})
    assert round(cell["totals"]["revenue"], 2) == round(sum(o.order.total for o in (a, b, d)), 2)


@pytest.mark.anyio
async def test_whom_a_sale_is_for_is_decided_by_the_transaction_that_sells(zava) -> None:
    """Checked when the call arrives, sold a moment later: a customer deleted (or renamed) by another writer in
    between is what the order's transaction reads, and the order of the customer who stays takes the name of now."""
    ada, ada_again = [await orders.prepare_order(zava, SEATTLE, "cust_000001", "Seattle",
                                                 [{"sku": DRILL, "quantity": 1}], key)
                      for key in ("while-0001", "while-0002")]
    await customers.find_customers(zava, SEATTLE, "alan.turing@example.com")  # the till: Alan may buy here
    alan = await orders.prepare_order(zava, SEATTLE, "cust_000002", "Seattle", [{"sku": DRILL, "quantity": 1}],
                                      "while-0003")
    people = zava.collections.customers.inner
    people.update_one({"_id": "cust_000002"}, {"$set": {"deleted": True}})  # a script, between check and sale
    people.update_one({"_id": "cust_000001"}, {"$set": {"last_name": "King"}})
    outcomes = await asyncio.gather(*(zava.order_batches.submit("store_seattle", r) for r in (ada, alan, ada_again)),
                                    return_exceptions=True)
    assert zava.order_batches.batches == 1
    refused = outcomes[1]
    assert isinstance(refused, NotFound) and "cust_000002" in str(refused)
    made = [await orders.placed(zava, SEATTLE, r, o, "cust_000001") for r, o in ((ada, outcomes[0]),
                                                                                 (ada_again, outcomes[2]))]
    assert [m.order.customer_name for m in made] == ["Ada King", "Ada King"]
    assert stock(zava, "store_seattle", DRILL) == 3  # two drills sold of five; none to the deleted customer
    assert zava.collections.orders.inner.count_documents({"customer_id": "cust_000002"}) == 0


@pytest.mark.anyio
async def test_in_one_transaction_only_the_other_stores_customer_found_at_this_till_is_sold_to(zava) -> None:
    for email in ("alan.turing@example.com", "grace.hopper@example.com"):  # both at Seattle's till
        await customers.find_customers(zava, SEATTLE, email)
    requests = [await orders.prepare_order(zava, SEATTLE, customer, "Seattle", [{"sku": DRILL, "quantity": 1}],
                                           f"till-batch-{customer}") for customer in ("cust_000002", "cust_000003")]
    # Grace's lookup leaves the sale window (or an operator clears it) before the store's transaction runs.
    zava.collections.till_lookups.inner.delete_many({"customer_id": "cust_000003"})
    alan, grace = await asyncio.gather(*(zava.order_batches.submit("store_seattle", r) for r in requests),
                                       return_exceptions=True)
    assert zava.order_batches.batches == 1
    assert alan == {DRILL: 4}  # sold: the drill left at Seattle
    assert isinstance(grace, NotFound)  # Online's customer, no longer found at Seattle's till
    assert zava.collections.orders.inner.count_documents({"customer_id": {"$in": ["cust_000002", "cust_000003"]},
                                                          "store_id": "store_seattle"}) == 1


@pytest.mark.anyio
async def test_a_key_sent_twice_in_one_transaction_is_still_one_order(zava) -> None:
    first, twin = await at_once(zava, [("twice-0001", {DRILL: 4})] * 2)
    assert zava.order_batches.batches == 1
    assert (first.replayed, twin.replayed) == (False, True) and twin.order.order_id == first.order.order_id
    assert stock(zava, "store_seattle", DRILL) == 1
    assert zava.collections.orders.inner.count_documents({"idempotency_key": "twice-0001"}) == 1


# --- transfers ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_manager_transfers_out_of_their_store_only_and_never_below_zero(zava) -> None:
    moved = await transfers.transfer_stock(zava, SEATTLE, DRILL, "Seattle", "Tacoma", 4, "transfer-0001")
    assert (moved.from_stock_after, moved.to_stock_after) == (1, None)  # Tacoma's level is not Seattle's to see
    assert stock(zava, "store_tacoma", DRILL) == 5
    with pytest.raises(OutOfScope):
        await transfers.transfer_stock(zava, SEATTLE, DRILL, "Tacoma", "Seattle", 1, "transfer-0002")
    with pytest.raises(OutOfStock):
        await transfers.transfer_stock(zava, SEATTLE, DRILL, "Seattle", "Tacoma", 2, "transfer-0003")
    assert (stock(zava, "store_seattle", DRILL), stock(zava, "store_tacoma", DRILL)) == (1, 5)
    replay = await transfers.transfer_stock(zava, SEATTLE, DRILL, "Seattle", "Tacoma", 4, "transfer-0001")
    assert replay.replayed and stock(zava, "store_seattle", DRILL) == 1


# --- an online order's status ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_online_order_moves_one_step_at_a_time(zava) -> None:
    with pytest.raises(InvalidTransition, match="it can move to: shipped"):
        await order_status.update_order_status(zava, HEAD_OFFICE, "ord_00000002", "delivered")
    shipped = await order_status.update_order_status(zava, HEAD_OFFICE, "ord_00000002", "shipped")
    assert (shipped.previous_status, shipped.status, shipped.changed) == ("processing", "shipped", True)
    again = await order_status.update_order_status(zava, HEAD_OFFICE, "ord_00000002", "shipped")
    assert again.changed is False
    with pytest.raises(InvalidTransition, match="shipped"):
        await cancellations.cancel_order(zava, HEAD_OFFICE, "ord_00000002", "changed mind", "cancel-shipped")
    with pytest.raises(NotFound):  # another store's order is not Seattle's to see
        await order_status.update_order_status(zava, SEATTLE, "ord_00000002", "delivered")


# --- returns and cancels ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_returns_never_exceed_what_was_bought(zava) -> None:
    first = await returns.return_items(zava, SEATTLE, "ord_00000001", [{"sku": DRILL, "quantity": 2}], "faulty",
                                       "return-00001")
    assert first.returned_quantities == {DRILL: 2} and stock(zava, "store_seattle", DRILL) == 7
    assert await revenue(zava, "store_seattle") == 100.0
    with pytest.raises(InvalidArgument, match="only 1 of the 3 bought"):
        await returns.return_items(zava, SEATTLE, "ord_00000001", [{"sku": DRILL, "quantity": 2}], "faulty",
                                   "return-00002")
    with pytest.raises(InvalidArgument, match="not on order"):
        await returns.return_items(zava, SEATTLE, "ord_00000001", [{"sku": SAW, "quantity": 1}], "faulty",
                                   "return-00003")
    assert stock(zava, "store_seattle", DRILL) == 7  # the refused returns changed nothing


@pytest.mark.anyio
async def test_a_cancel_restocks_the_units_kept_once(zava) -> None:
    await returns.return_items(zava, SEATTLE, "ord_00000001", [{"sku": DRILL, "quantity": 1}], "faulty",
                               "return-00004")
    cancelled = await cancellations.cancel_order(zava, SEATTLE, "ord_00000001", "customer left", "cancel-00001")
    assert cancelled.restocked == {DRILL: 2} and stock(zava, "store_seattle", DRILL) == 8
    assert await revenue(zava, "store_seattle") == 0.0
    replay = await cancellations.cancel_order(zava, SEATTLE, "ord_00000001", "customer left", "cancel-00001")
    assert replay.replayed and stock(zava, "store_seattle", DRILL) == 8
    with pytest.raises(InvalidTransition, match="already cancelled"):
        await cancellations.cancel_order(zava, SEATTLE, "ord_00000001", "customer left", "cancel-00002")
    assert stock(zava, "store_seattle", DRILL) == 8
    movements = list(zava.collections.stock_movements.inner.find({"order_id": "ord_00000001"}))
    assert sorted(m["kind"] for m in movements) == ["cancel", "return"]
