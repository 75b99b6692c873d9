"""Row-level scope: for every identity and every tool, arguments aimed at other stores' data never
bring back a row of another store.

Each (identity, tool) case calls the tool with other stores' names, SKUs (stocked in every store),
customers whose home store and stores_shopped exclude the caller's store, and their orders. A store
manager must be refused (out of scope, or "not found" for customers) where head office succeeds, and
every structured result is walked recursively: each store id, store name, customer id and order id in
it must belong to the caller's visible set, computed here from the documents. Stock figures must be
sums over the caller's stores only. Reads use `seeded`; write tools use `writable` and are checked to
have changed nothing when refused.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from folding import harmless_conflict
from mcp import Client
from pymongo import MongoClient
from pymongo.database import Database
from seeded_data import SEEDED_DATABASE

from mcp_servers.customer_sales.server import build_server
from zava_core.infra.config import Settings
from zava_core.limits import HARD_CAP, MAX_THRESHOLD
from zava_core.retail.customers import HIDDEN
from zava_core.scope import Identity

pytestmark = pytest.mark.integration

ALL_STORES = ("store_bellevue", "store_everett", "store_kirkland", "store_online", "store_redmond",
              "store_seattle", "store_spokane", "store_tacoma")
IDENTITIES = [Identity(head_office=False, store=s.removeprefix("store_")) for s in ALL_STORES] + [
    Identity(head_office=True)]
WRITE_TOOLS = {"create_order", "move_inventory", "update_stock_count", "cancel_order", "return_items",
               "update_order_status", "transfer_stock", "receive_stock", "resolve_sync_conflict"}
# Tools whose probe writes what it reads (sync conflicts, made per store): on the write dataset too.
ON_WRITE_DATASET = WRITE_TOOLS | {"list_sync_conflicts"}
# Attributes that name stores without being rows of those stores: a visible customer's home store may be
# another store, stores_shopped lists where they have ordered, and a transfer names where the caller sent stock.
CUSTOMER_STORE_ATTRIBUTES = {"home_store_id", "stores_shopped", "to_store_id"}
CUSTOMER_ID = re.compile(r"^cust_\d+$")
ORDER_ID = re.compile(r"^ord_[0-9a-f]+$")
CUSTOMER_FIELDS = ("primary_store_id", "stores_shopped", "first_name", "last_name", "email", "phone")


@dataclass
class Case:
    """What the caller may see, computed from the documents, and the other stores' data to aim at."""

    client: Client
    db: Database
    head_office: bool
    own: str | None  # the manager's store id
    visible: set[str]
    targets: list[str]  # store ids to aim at: every store but the manager's own (all 8 for head office)
    store_names: dict[str, dict[str, str]]  # store id -> {"store_name", "short_name"}
    customers: dict[str, dict]
    foreign_customers: list[dict]  # for a manager: customers invisible to them; for head office: other stores'
    skus: list[str]
    stock_levels: dict[tuple[str, str], int]  # (sku, store id) -> units, read from the inventory documents
    results: list[dict] = field(default_factory=list)
    served: set[str] = field(default_factory=set)  # customers named exactly at the till (find_customers, orders)

    def sees(self, customer: dict) -> bool:
        return self.head_office or customer["primary_store_id"] in self.visible or any(
            s in (customer.get("stores_shopped") or {}) for s in self.visible)

    async def ok(self, tool: str, args: dict) -> dict:
        result = await self.client.call_tool(tool, args)
        assert not result.is_error, f"{tool}({args}): {result.content[0].text}"
        self.results.append(result.structured_content)
        return result.structured_content

    async def refused(self, tool: str, args: dict, *fragments: str) -> str:
        result = await self.client.call_tool(tool, args)
        assert result.is_error, f"{tool}({args}) should be refused, got {result.structured_content}"
        assert result.structured_content is None
        text = result.content[0].text
        for fragment in fragments:
            assert fragment in text, (tool, args, text)
        return text

    async def aimed(self, tool: str, args: dict, store_id: str) -> dict | None:
        """Call with a store argument: refused as out of scope unless the store is visible."""
        if store_id in self.visible:
            return await self.ok(tool, args)
        await self.refused(tool, args, "outside your scope", store_id)
        return None

    def stock(self, sku: str) -> int:
        return sum(self.stock_levels[sku, store_id] for store_id in self.visible)


# --- the walk ----------------------------------------------------------------------------------


def foreign_references(node: Any, case: Case, path: str = "$") -> list[str]:
    """Every store id, store name, customer id or order id in the result outside the visible set."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in CUSTOMER_STORE_ATTRIBUTES:
                assert all(v in ALL_STORES or v == HIDDEN for v in ([value] if isinstance(value, str) else value)), path
                continue
            found += foreign_references(value, case, f"{path}.{key}")
        if node.get("your_customer") is False:  # the till: a customer named exactly, served at the caller's store
            assert not case.head_office and set(node.get("stores_shopped", [])) <= case.visible, path
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += foreign_references(value, case, f"{path}[{i}]")
    elif isinstance(node, str):
        for store_id, names in case.store_names.items():
            if store_id in case.visible:
                continue
            if store_id in node or names["store_name"] in node:
                found.append(f"{path}: {node!r} belongs to {store_id}")
        if CUSTOMER_ID.match(node) and node not in case.served:
            customer = case.customers.get(node)
            if customer is None or not case.sees(customer):
                found.append(f"{path}: customer {node} is outside the scope")
        if ORDER_ID.match(node):
            order = case.db.orders.find_one({"_id": node}, {"store_id": 1})
            if order is None or order["store_id"] not in case.visible:
                found.append(f"{path}: order {node} is outside the scope")
    return found


# --- one probe per tool ------------------------------------------------------------------------


async def probe_get_inventory(case: Case) -> None:
    for sku in case.skus:
        out = await case.ok("get_inventory", {"sku": sku})
        assert {r["store_id"] for r in out["stores"]} == case.visible
        assert out["total_units"] == case.stock(sku)
        for store_id in case.targets:
            for name in (store_id, case.store_names[store_id]["short_name"]):
                one = await case.aimed("get_inventory", {"sku": sku, "store": name}, store_id)
                if one is not None:
                    assert [r["store_id"] for r in one["stores"]] == [store_id]


async def probe_get_low_stock_items(case: Case) -> None:
    out = await case.ok("get_low_stock_items", {"threshold": MAX_THRESHOLD, "max_rows": HARD_CAP})
    assert len(out["items"]) == 100
    if not case.head_office:
        assert {i["store_id"] for i in out["items"]} == case.visible
    for store_id in case.targets:
        one = await case.aimed("get_low_stock_items", {"store": case.store_names[store_id]["short_name"],
                                                       "threshold": MAX_THRESHOLD, "max_rows": 5}, store_id)
        if one is not None:
            assert {i["store_id"] for i in one["items"]} == {store_id}
    category = await case.ok("get_low_stock_items", {"threshold": MAX_THRESHOLD, "category": "PLUMBING",
                                                      "max_rows": HARD_CAP})
    assert category["items"]


async def probe_get_products_by_name(case: Case) -> None:
    for query in [*case.skus, "hammer", "PLTO"]:
        out = await case.ok("get_products_by_name", {"product_name": query, "max_rows": HARD_CAP})
        assert out["products"]
        for row in out["products"]:
            assert row["stock_units"] == case.stock(row["sku"]), row["sku"]


async def probe_get_product_details(case: Case) -> None:
    for sku in case.skus:
        out = await case.ok("get_product_details", {"sku": sku})
        assert {s["store_id"] for s in out["stock_by_store"]} == case.visible
        assert out["stock_units"] == case.stock(sku)


async def probe_semantic_search_products(case: Case) -> None:
    for extra in ({}, {"in_stock_only": True}, {"category": "PLUMBING"}):
        out = await case.ok("semantic_search_products", {"query_description": "stop a running toilet",
                                                         "max_rows": 15, **extra})
        assert out["products"]
        for hit in out["products"]:
            assert hit["stock_units"] == case.stock(hit["sku"]), hit["sku"]


async def probe_find_customers(case: Case) -> None:
    for customer in case.foreign_customers:
        by_name = [f"{customer['first_name']} {customer['last_name']}", customer["last_name"]]
        for query in by_name:
            out = await case.ok("find_customers", {"query": query, "max_rows": HARD_CAP})
            ids = {c["customer_id"] for c in out["customers"]}
            assert (customer["_id"] in ids) is case.sees(customer), (query, ids)
            assert all(case.sees(case.customers[i]) for i in ids)
        # By id: only within the scope (ids are sequential: a walk must find nobody else's customers).
        by_id = await case.ok("find_customers", {"query": customer["_id"], "max_rows": HARD_CAP})
        assert [c["customer_id"] for c in by_id["customers"]] == ([customer["_id"]] if case.sees(customer) else [])
        # The till: another store's customer, named by the exact e-mail or phone they give, is found to be served,
        # by name and id only.
        for query in (customer["email"], customer["phone"]):
            out = await case.ok("find_customers", {"query": query, "max_rows": HARD_CAP})
            row = next(c for c in out["customers"] if c["customer_id"] == customer["_id"])
            assert row["your_customer"] is case.sees(customer), query
            if not case.sees(customer):
                case.served.add(customer["_id"])
                assert row["stores_shopped"] == []
                assert (row["email"], row["phone"], row["home_store_id"]) == (HIDDEN, HIDDEN, HIDDEN), (query, row)
            others = {c["customer_id"] for c in out["customers"]} - {customer["_id"]}
            assert all(case.sees(case.customers[i]) for i in others), (query, others)


async def probe_get_customer_orders(case: Case) -> None:
    for customer in case.foreign_customers:
        args = {"customer_id": customer["_id"], "max_rows": HARD_CAP}
        if case.sees(customer):
            out = await case.ok("get_customer_orders", args)
            assert len(out["orders"]) == case.db.orders.count_documents({"customer_id": customer["_id"]})
        else:
            await case.refused("get_customer_orders", args, f"no customer {customer['_id']}")
    # A visible customer who also ordered at other stores: only the orders of the caller's stores.
    shopper = next(c for c in sorted(case.customers.values(), key=lambda c: c["_id"])
                   if case.sees(c) and len(c["stores_shopped"]) >= 3)
    out = await case.ok("get_customer_orders", {"customer_id": shopper["_id"], "max_rows": HARD_CAP})
    expected = case.db.orders.count_documents({"customer_id": shopper["_id"], "deleted": False,
                                               "store_id": {"$in": sorted(case.visible)}})
    assert len(out["orders"]) == expected
    assert {o["store_id"] for o in out["orders"]} <= case.visible


def inventory_row(db: Database, sku: str, store_id: str) -> dict:
    return db.inventory.find_one({"store_id": store_id, "product_id": f"prod_{sku}"})


def stocked_everywhere(db: Database, minimum: int = 20) -> str:
    """A SKU with at least `minimum` units in every store right now (other tests change the writable stock)."""
    low = {d["sku"] for d in db.inventory.find({"stock_level": {"$lt": minimum}}, {"sku": 1})}
    return next(sku for sku in sorted(db.products.distinct("sku")) if sku not in low)


async def probe_create_order(case: Case) -> None:
    sku = stocked_everywhere(case.db)
    buyer = next(c for c in sorted(case.customers.values(), key=lambda c: c["_id"])
                 if c["primary_store_id"] == (case.own or "store_seattle"))  # visible, whatever the identity
    home_store = case.own or "store_seattle"
    own = await case.ok("create_order", {"customer_id": buyer["_id"], "store": home_store,
                                         "items": [{"sku": sku, "quantity": 1}],
                                         "idempotency_key": f"scope-own-{uuid.uuid4()}"})
    assert own["order"]["store_id"] == home_store and own["replayed"] is False
    for store_id in case.targets:
        key = f"scope-{store_id}-{uuid.uuid4()}"
        before = inventory_row(case.db, sku, store_id)
        out = await case.aimed("create_order", {"customer_id": buyer["_id"],
                                                "store": case.store_names[store_id]["short_name"],
                                                "items": [{"sku": sku, "quantity": 1}],
                                                "idempotency_key": key}, store_id)
        if out is None:
            assert inventory_row(case.db, sku, store_id) == before
            assert case.db.orders.count_documents({"idempotency_key": key}) == 0
        else:
            assert out["order"]["store_id"] == store_id
    for customer in case.foreign_customers:  # the till: another store's customer is served at the caller's store
        home = case.own or customer["primary_store_id"]
        args = {"customer_id": customer["_id"], "store": home, "items": [{"sku": sku, "quantity": 1}],
                "idempotency_key": f"scope-till-{uuid.uuid4()}"}
        if not case.sees(customer):  # ... after finding them at the till by what they hand over
            await case.refused("create_order", args, f"no customer {customer['_id']}")
            await case.ok("find_customers", {"query": customer["email"]})
        out = await case.ok("create_order", args)
        assert out["order"]["store_id"] == home
        case.served.add(customer["_id"])
        for store_id in case.targets:  # ... and only there
            if store_id in case.visible:
                continue
            key = f"scope-till-{store_id}-{uuid.uuid4()}"
            before = inventory_row(case.db, sku, store_id)
            await case.aimed("create_order", {**args, "store": store_id, "idempotency_key": key}, store_id)
            assert inventory_row(case.db, sku, store_id) == before
            assert case.db.orders.count_documents({"idempotency_key": key}) == 0


async def probe_move_inventory(case: Case) -> None:
    sku = case.skus[1]
    if case.own:
        await case.ok("move_inventory", {"sku": sku, "store": case.own, "aisle": "R1", "shelf": "R2", "bin": "R3"})
    for store_id in case.targets:
        before = inventory_row(case.db, sku, store_id)
        out = await case.aimed("move_inventory", {"sku": sku, "store": store_id, "aisle": "Q1", "shelf": "Q2",
                                                  "bin": "Q3"}, store_id)
        if out is None:
            assert inventory_row(case.db, sku, store_id) == before
        else:
            assert out["store_id"] == store_id


async def probe_update_stock_count(case: Case) -> None:
    sku = case.skus[2]
    if case.own:
        await case.ok("update_stock_count", {"sku": sku, "store": case.own, "counted_quantity": 55})
    for store_id in case.targets:
        before = inventory_row(case.db, sku, store_id)
        out = await case.aimed("update_stock_count", {"sku": sku, "store": case.store_names[store_id]["store_name"],
                                                      "counted_quantity": 77}, store_id)
        if out is None:
            assert inventory_row(case.db, sku, store_id) == before
        else:
            assert out["store_id"] == store_id and out["stock_level"] == 77


def an_order_of(db: Database, store_id: str, status: str | None = None) -> dict:
    query: dict = {"store_id": store_id, "deleted": False, "status": status or {"$in": ["completed", "delivered"]}}
    return db.orders.find_one(query, sort=[("order_date", -1)])


async def own_order(case: Case, units: int = 2) -> dict:
    """A fresh order at the caller's own store (head office: Seattle) to act on."""
    store_id = case.own or "store_seattle"
    buyer = next(c for c in sorted(case.customers.values(), key=lambda c: c["_id"])
                 if c["primary_store_id"] == store_id)
    out = await case.ok("create_order", {"customer_id": buyer["_id"], "store": store_id,
                                         "items": [{"sku": stocked_everywhere(case.db), "quantity": units}],
                                         "idempotency_key": f"scope-op-{uuid.uuid4()}"})
    return out["order"]


async def aim_at_other_stores_orders(case: Case, tool: str, args_for) -> None:
    """Aimed at each other store's order: not found for a manager (nothing changes), allowed for head office."""
    for store_id in case.targets[:3]:
        order = an_order_of(case.db, store_id)
        before = case.db.orders.find_one({"_id": order["_id"]})
        args = args_for(order)
        if store_id in case.visible:
            await case.ok(tool, args)
        else:
            await case.refused(tool, args, f"no order {order['_id']}")
            assert case.db.orders.find_one({"_id": order["_id"]}) == before


async def probe_cancel_order(case: Case) -> None:
    order = await own_order(case)
    out = await case.ok("cancel_order", {"order_id": order["order_id"], "reason": "scope probe",
                                         "idempotency_key": f"scope-cancel-{uuid.uuid4()}"})
    assert out["status"] == "cancelled"
    await aim_at_other_stores_orders(case, "cancel_order", lambda o: {
        "order_id": o["_id"], "reason": "scope probe", "idempotency_key": f"scope-cancel-{uuid.uuid4()}"})


async def probe_return_items(case: Case) -> None:
    def returning(order: dict) -> dict:
        line = case.db.order_items.find_one({"order_id": order["_id"]})
        left = line["quantity"] - (order.get("returned_quantities") or {}).get(line["sku"], 0)
        return {"order_id": order["_id"], "items": [{"sku": line["sku"], "quantity": max(left, 1)}],
                "reason": "scope probe", "idempotency_key": f"scope-return-{uuid.uuid4()}"}

    order = await own_order(case)
    if order["status"] == "processing":  # online: returns come after delivery
        for status in ("shipped", "delivered"):
            await case.ok("update_order_status", {"order_id": order["order_id"], "status": status})
    out = await case.ok("return_items", {**returning(case.db.orders.find_one({"_id": order["order_id"]})),
                                         "items": [{"sku": order["lines"][0]["sku"], "quantity": 1}]})
    assert out["returned"] == {order["lines"][0]["sku"]: 1}
    await aim_at_other_stores_orders(case, "return_items", returning)


async def probe_update_order_status(case: Case) -> None:
    order = await own_order(case)
    if order["status"] == "processing":
        await case.ok("update_order_status", {"order_id": order["order_id"], "status": "shipped"})
    else:
        await case.refused("update_order_status", {"order_id": order["order_id"], "status": "shipped"},
                           "cannot become shipped")  # a till sale has no delivery
    for store_id in case.targets[:3]:
        target = an_order_of(case.db, store_id, "processing") or an_order_of(case.db, store_id)
        before = case.db.orders.find_one({"_id": target["_id"]})
        args = {"order_id": target["_id"], "status": "shipped"}
        if store_id in case.visible:
            result = await case.client.call_tool("update_order_status", args)
            if not result.is_error:
                case.results.append(result.structured_content)
        else:
            await case.refused("update_order_status", args, f"no order {target['_id']}")
            assert case.db.orders.find_one({"_id": target["_id"]}) == before


async def probe_transfer_stock(case: Case) -> None:
    sku = stocked_everywhere(case.db)
    source = case.own or "store_seattle"
    destination = next(s for s in ALL_STORES if s != source)
    out = await case.ok("transfer_stock", {"sku": sku, "from_store": source, "to_store": destination, "quantity": 1,
                                           "idempotency_key": f"scope-transfer-{uuid.uuid4()}"})
    assert out["to_stock_after"] is None or case.head_office
    for store_id in case.targets:  # out of another store: only head office
        before = inventory_row(case.db, sku, store_id)
        to_store = source if store_id != source else destination
        out = await case.aimed("transfer_stock", {"sku": sku, "from_store": store_id, "to_store": to_store,
                                                  "quantity": 1, "idempotency_key": f"scope-t-{uuid.uuid4()}"},
                               store_id)
        if out is None:
            assert inventory_row(case.db, sku, store_id) == before


async def probe_receive_stock(case: Case) -> None:
    sku = case.skus[0]
    if case.own:
        await case.ok("receive_stock", {"sku": sku, "store": case.own, "quantity": 2,
                                        "reference": f"PO-{uuid.uuid4().hex[:12]}"})
    for store_id in case.targets:
        before = inventory_row(case.db, sku, store_id)
        out = await case.aimed("receive_stock", {"sku": sku, "store": store_id, "quantity": 2,
                                                 "reference": f"PO-{uuid.uuid4().hex[:12]}"}, store_id)
        if out is None:
            assert inventory_row(case.db, sku, store_id) == before


def conflict_per_store(db: Database) -> dict[str, str]:
    """One conflict per store, as the feed records a device's line for an SKU the catalog lacks (nothing to move,
    so resolving it changes no stock); made once per dataset, left open or resolved by earlier probes."""
    made = {store_id: harmless_conflict(db, store_id, f"scope-probe-{store_id}") for store_id in ALL_STORES}
    return made


async def probe_list_sync_conflicts(case: Case) -> None:
    made = conflict_per_store(case.db)
    listed = await case.ok("list_sync_conflicts", {"status": "all", "max_rows": HARD_CAP})
    shown = {c["conflict_id"] for c in listed["conflicts"]}
    assert {made[s] for s in case.visible} <= shown or listed["meta"]["truncated"], "the caller's own conflicts"
    for store_id in case.targets:
        await case.aimed("list_sync_conflicts", {"store": store_id, "status": "all"}, store_id)


async def probe_resolve_sync_conflict(case: Case) -> None:
    made = conflict_per_store(case.db)
    for store_id in ALL_STORES:
        before = case.db.sync_conflicts.find_one({"_id": made[store_id]})
        if store_id in case.visible:
            await case.ok("resolve_sync_conflict", {"conflict_id": made[store_id]})
        else:
            await case.refused("resolve_sync_conflict", {"conflict_id": made[store_id]}, "no conflict")
            assert case.db.sync_conflicts.find_one({"_id": made[store_id]}) == before


PROBES: dict[str, Callable[[Case], Awaitable[None]]] = {
    name.removeprefix("probe_"): fn for name, fn in globals().items() if name.startswith("probe_")}


# --- fixtures and the test ---------------------------------------------------------------------


@dataclass
class Dataset:
    settings: Settings
    db: Database
    stores: dict[str, dict[str, str]]
    skus: list[str]
    cached: dict[str, Any] = field(default_factory=dict)

    def documents(self) -> tuple[dict[str, dict], dict[tuple[str, str], int]]:
        """Customers and stock levels: read once for the read-only dataset, on every call for the other."""
        if "docs" in self.cached:
            return self.cached["docs"]
        customers = {d["_id"]: d for d in self.db.customers.find({"deleted": False}, CUSTOMER_FIELDS)}
        if self.settings.mongodb_database != SEEDED_DATABASE:
            return customers, {}  # the write probes check stock rows directly
        stock = {(d["sku"], d["store_id"]): d["stock_level"]
                 for d in self.db.inventory.find({"deleted": False}, {"sku": 1, "store_id": 1, "stock_level": 1})}
        self.cached["docs"] = customers, stock
        return customers, stock


def open_dataset(settings: Settings, client: MongoClient) -> Dataset:
    db = client[settings.mongodb_database]
    stores = {d["_id"]: {"store_name": d["store_name"], "short_name": d["short_name"]} for d in db.stores.find()}
    skus = sorted(db.products.distinct("sku"))[::150]
    assert len(skus) == 3
    for sku in skus:  # the SKUs are stocked in every store: there is other stores' data to leak
        assert db.inventory.count_documents({"product_id": f"prod_{sku}", "deleted": False}) == len(ALL_STORES)
    return Dataset(settings, db, stores, skus)


@pytest.fixture(scope="module")
def datasets(seeded: Settings, writable: Settings) -> Iterator[dict[str, Dataset]]:
    client = MongoClient(seeded.mongodb_uri)
    try:
        yield {"read": open_dataset(seeded, client), "write": open_dataset(writable, client)}
    finally:
        client.close()


def identity_id(identity: Identity) -> str:
    return identity.label


ServerFor = Callable[[str, Identity], Awaitable[Client]]


@pytest.fixture(scope="module")
async def servers(datasets) -> AsyncIterator[ServerFor]:
    """One customer-sales server per identity and dataset, launched with that identity and shared by every tool's
    probe (a start costs ~1 s: the feed, the read models, the search warm-up); each probe still gets its own case
    and has its own answers checked. Opened on first use, closed at the end of the module (anyio runs fixtures and
    tests in one task, so a client entered in a test is exited here)."""
    async with contextlib.AsyncExitStack() as stack:
        opened: dict[tuple[str, str], Client] = {}

        async def server_for(kind: str, identity: Identity) -> Client:
            key = (kind, identity.label)
            if key not in opened:
                opened[key] = await stack.enter_async_context(Client(build_server(datasets[kind].settings, identity)))
            return opened[key]

        yield server_for


@pytest.mark.anyio
@pytest.mark.parametrize("tool", sorted(PROBES))
@pytest.mark.parametrize("identity", IDENTITIES, ids=identity_id)
async def test_no_row_of_another_store_ever_appears(datasets, servers: ServerFor, identity: Identity,
                                                    tool: str) -> None:
    kind = "write" if tool in ON_WRITE_DATASET else "read"
    data = datasets[kind]
    customers, stock = data.documents()
    own = None if identity.head_office else f"store_{identity.store}"
    visible = set(ALL_STORES) if identity.head_office else {own}
    by_id = sorted(customers.values(), key=lambda c: c["_id"])
    if identity.head_office:
        foreign = [next(c for c in by_id if c["primary_store_id"] == s) for s in ("store_tacoma", "store_online")]
    else:
        hidden = [c for c in by_id if c["primary_store_id"] != own and own not in c["stores_shopped"]]
        foreign = [next(c for c in hidden if c["primary_store_id"] == home)
                   for home in sorted({c["primary_store_id"] for c in hidden})[:3]]
    case = Case(client=await servers(kind, identity), db=data.db, head_office=identity.head_office, own=own,
                visible=visible, targets=[s for s in ALL_STORES if s != own], store_names=data.stores,
                customers=customers, foreign_customers=foreign, skus=data.skus, stock_levels=stock)
    await PROBES[tool](case)
    assert case.results, "every probe gets at least one answer"
    leaks = [leak for result in case.results for leak in foreign_references(result, case)]
    assert not leaks, "\n".join(leaks[:20])


@pytest.mark.anyio
async def test_every_tool_has_a_probe_and_the_stores_are_the_eight(datasets) -> None:
    data = datasets["read"]
    assert sorted(data.db.stores.distinct("_id")) == list(ALL_STORES)
    assert sorted(data.stores) == list(ALL_STORES)
    async with Client(build_server(data.settings, IDENTITIES[0])) as client:
        assert {t.name for t in (await client.list_tools()).tools} == set(PROBES)


def test_the_walk_reports_foreign_rows() -> None:
    """The walk itself: a foreign store id, store name, customer or order is reported; attributes are not."""

    class FakeOrders:
        @staticmethod
        def find_one(query: dict, projection: dict) -> dict | None:
            return {"ord_aa": {"store_id": "store_tacoma"}, "ord_bb": {"store_id": "store_seattle"}}.get(query["_id"])

    class FakeDb:
        orders = FakeOrders()

    names = {s: {"store_name": f"Zava Retail {s[6:].title()}", "short_name": s[6:].title()} for s in ALL_STORES}
    customers = {"cust_000001": {"primary_store_id": "store_seattle", "stores_shopped": {}},
                 "cust_000002": {"primary_store_id": "store_tacoma", "stores_shopped": {"store_tacoma": "x"}}}
    case = Case(client=None, db=FakeDb(), head_office=False, own="store_seattle",  # type: ignore[arg-type]
                visible={"store_seattle"}, targets=[], store_names=names, customers=customers,
                foreign_customers=[], skus=[], stock_levels={})
    clean = {"customer": {"customer_id": "cust_000001", "home_store_id": "store_tacoma",
                          "stores_shopped": ["store_seattle", "store_tacoma"]},
             "orders": [{"order_id": "ord_bb", "store_id": "store_seattle", "store_name": "Zava Retail Seattle"}]}
    assert foreign_references(clean, case) == []
    dirty = {"rows": [{"store_id": "store_tacoma"}, {"store_name": "Zava Retail Everett"},
                      {"customer_id": "cust_000002"}, {"order_id": "ord_aa"}, {"note": "see store_online"}]}
    assert len(foreign_references(dirty, case)) == 5


@pytest.mark.anyio
async def test_the_scope_filter_and_predicate_are_one_rule(writable) -> None:
    """Scope.filter (what queries and run_aggregation send) and Scope.sees (what zava_core checks in Python)
    pick the same documents, on the real server, for every kind, identity and narrowing to requested stores;
    and the stores-shopped cut has the same result as a pipeline expression and in Python."""
    import itertools
    import uuid

    from zava_core.infra import db as zdb
    from zava_core.scope import Scope, StoreDirectory, StoreRef

    stores = ["store_seattle", "store_tacoma", "store_online"]
    directory = StoreDirectory([StoreRef(s, s, s, s == "store_online") for s in stores])
    scopes = [Scope.for_head_office(directory), *(Scope.for_store_manager(directory.get(s)) for s in stores)]
    homes = [*stores, None, "store_elsewhere"]
    shopped_forms = [None, {}, "not a map", *({s: "2025-01-01T00:00:00Z"} for s in stores),
                     {"store_seattle": "2025-01-01T00:00:00Z", "store_online": "2025-02-01T00:00:00Z"}]
    docs = []
    for number, (home, shopped) in enumerate(itertools.product(homes, shopped_forms)):
        doc = {"_id": f"doc_{number}", "store_id": home}
        if home is not None:
            doc["primary_store_id"] = home
        if shopped is not None:
            doc["stores_shopped"] = shopped
        docs.append(doc)
    client = await zdb.connect(writable)
    scratch = zdb.database(client, writable)[f"scope_rule_{uuid.uuid4().hex[:8]}"]
    try:
        await scratch.insert_many(docs)
        for scope, kind in itertools.product(scopes, ("store_id", "customer", "none")):
            found = {d["_id"] async for d in scratch.find(scope.filter(kind), {"_id": 1})}
            expected = {d["_id"] for d in docs if scope.sees(kind, d)}
            assert found == expected, (scope.label, kind)
            assert (not scope.head_office and kind != "none") == (len(expected) < len(docs))
            for stores_asked in ([], ["store_seattle"], ["store_tacoma", "store_online"], stores):
                found = {d["_id"] async for d in scratch.find(scope.filter(kind, stores_asked), {"_id": 1})}
                expected = {d["_id"] for d in docs if scope.sees(kind, d, stores_asked)}
                assert found == expected, (scope.label, kind, stores_asked)
                assert expected <= {d["_id"] for d in docs if scope.sees(kind, d)}  # narrowing never widens
        for scope in scopes:
            cut = {d["_id"]: d.get("s") async for d in await scratch.aggregate(
                [{"$project": {"s": scope.shopped_expression()}}])}
            for doc in docs:
                python_form = scope.shopped(doc)
                pipeline_form = cut[doc["_id"]]
                assert sorted(pipeline_form or {}) == python_form, (scope.label, doc)
                if isinstance(doc.get("stores_shopped"), dict):  # a map stays a map, its dates kept
                    assert pipeline_form == {k: doc["stores_shopped"][k] for k in python_form}
    finally:
        await scratch.drop()
        await client.close()
