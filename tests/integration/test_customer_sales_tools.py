"""The customer-sales MCP server, tool by tool, through the SDK's in-process `Client`.

Reads go to the `seeded` dataset (never written here); writes go to `writable`. Every expected
value is computed in this file from the documents themselves (read with pymongo from the same
database), never copied from a tool's output.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import numpy as np
import pytest
from folding import recent_orders, until_settled
from mcp import Client
from pymongo.database import Database

from mcp_servers.customer_sales.server import build_server
from zava_core.embeddings import get_embedder
from zava_core.infra.config import Settings
from zava_core.limits import HARD_CAP
from zava_core.model import Order, OrderItem, SalesMonthly
from zava_core.scope import Identity

pytestmark = pytest.mark.integration

SEATTLE = Identity(head_office=False, store="seattle")
HEAD_OFFICE = Identity(head_office=True)
ALL_STORES = ("store_bellevue", "store_everett", "store_kirkland", "store_online", "store_redmond",
              "store_seattle", "store_spokane", "store_tacoma")
READ_TOOLS = {"semantic_search_products", "get_products_by_name", "get_product_details", "get_inventory",
              "get_low_stock_items", "find_customers", "get_customer_orders", "list_sync_conflicts"}
WRITE_TOOLS = {"create_order", "move_inventory", "update_stock_count", "cancel_order", "return_items",
               "update_order_status", "transfer_stock", "receive_stock", "resolve_sync_conflict"}
TOILET_QUERY = "my toilet keeps running after flushing"


# --- helpers -----------------------------------------------------------------------------------


@asynccontextmanager
async def connect(settings: Settings, identity: Identity | None = SEATTLE, **kwargs) -> AsyncIterator[Client]:
    async with Client(build_server(settings, identity, **kwargs)) as client:
        yield client


async def ok(client: Client, tool: str, args: dict | None = None) -> dict:
    result = await client.call_tool(tool, args or {})
    assert not result.is_error, f"{tool}({args}) failed: {result.content[0].text}"
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def fails(client: Client, tool: str, args: dict) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, f"{tool}({args}) should fail but returned {result.structured_content}"
    assert result.structured_content is None
    text = result.content[0].text
    assert "Traceback" not in text
    return text


def products_by_sku(db: Database) -> dict[str, dict]:
    return {p["sku"]: p for p in db.products.find({"deleted": False})}


def stock_in(db: Database, product_id: str, stores: set[str] | tuple[str, ...]) -> dict[str, int]:
    return {d["store_id"]: d["stock_level"]
            for d in db.inventory.find({"product_id": product_id, "deleted": False, "store_id": {"$in": list(stores)}})}


def sees(customer: dict, stores: set[str]) -> bool:
    return customer["primary_store_id"] in stores or any(s in (customer.get("stores_shopped") or {}) for s in stores)


def inventory_snapshot(db: Database) -> dict[str, dict]:
    return {d["_id"]: d for d in db.inventory.find({})}


def flatten(doc: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        elif isinstance(value, int | float) and not isinstance(value, bool) and key != "year":
            out[path] = value
    return out


def rollup_snapshot(db: Database) -> dict[str, dict]:
    return {d["_id"]: d for d in db.sales_monthly.find({})}


def written_since(db: Database, collection: str, since: str) -> list[str]:
    """Ids of orders or order lines dated from `since` on, in any store (indexed range reads, full-width bound)."""
    handle = db.get_collection(collection)
    return sorted(d["_id"] for store_id in ALL_STORES for deleted in (False, True) for d in handle.find(
        {"store_id": store_id, "deleted": deleted, "order_date": {"$gte": since}}, {"_id": 1}))


def write_state(db: Database, since: str) -> dict:
    """Everything create_order may touch, to prove that a refused order touched nothing."""
    return {
        "inventory": inventory_snapshot(db),
        "orders": written_since(db, "orders", since),
        "order_items": written_since(db, "order_items", since),
        "sales_monthly": rollup_snapshot(db),
        "customers": {d["_id"]: d for d in db.customers.find({}, {"stores_shopped": 1, "updated_at": 1})},
    }


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- products ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_get_products_by_name_returns_every_product_containing_the_word(seeded, sdb) -> None:
    catalog = products_by_sku(sdb)
    word = "hammer"
    expected = {sku for sku, p in catalog.items() if word in f"{sku} {p['product_name']} {p['description']}".lower()}
    assert 2 < len(expected) < 100
    async with connect(seeded) as c:
        out = await ok(c, "get_products_by_name", {"product_name": "  HAMMER ", "max_rows": HARD_CAP})
        cut = await ok(c, "get_products_by_name", {"product_name": word, "max_rows": 2})
    rows = out["products"]
    assert {r["sku"] for r in rows} == expected
    assert len(rows) == len(expected)
    assert out["meta"] == {"returned": len(expected), "total": len(expected), "truncated": False, "note": None}
    in_name = [word in catalog[r["sku"]]["product_name"].lower() for r in rows]
    assert in_name == sorted(in_name, reverse=True), "name matches rank before description-only matches"
    for row in rows:
        product = catalog[row["sku"]]
        assert row["product_name"] == product["product_name"]
        assert row["category"] == product["category_name"]
        assert row["product_type"] == product["type_name"]
        assert row["price"] == product["base_price"]
        assert row["stock_units"] == sum(stock_in(sdb, product["_id"], {"store_seattle"}).values())
    assert [r["sku"] for r in cut["products"]] == [r["sku"] for r in rows[:2]]
    assert cut["meta"]["returned"] == 2 and cut["meta"]["total"] == len(expected) and cut["meta"]["truncated"]
    assert "max_rows" in cut["meta"]["note"]


@pytest.mark.anyio
async def test_get_products_by_name_finds_a_sku_and_a_sku_prefix(seeded, sdb) -> None:
    catalog = products_by_sku(sdb)
    sku = sorted(catalog)[len(catalog) // 2]
    prefix = sku[:4]
    expected_prefix = {s for s, p in catalog.items() if prefix.lower() in f"{s} {p['product_name']} "
                       f"{p['description']}".lower()}
    async with connect(seeded, HEAD_OFFICE) as c:
        exact = await ok(c, "get_products_by_name", {"product_name": sku.lower()})
        by_prefix = await ok(c, "get_products_by_name", {"product_name": prefix, "max_rows": HARD_CAP})
        nothing = await ok(c, "get_products_by_name", {"product_name": "zzqx unobtainium"})
    assert exact["products"][0]["sku"] == sku
    assert exact["products"][0]["stock_units"] == sum(stock_in(sdb, catalog[sku]["_id"], ALL_STORES).values())
    assert {r["sku"] for r in by_prefix["products"]} == expected_prefix
    assert all(r["sku"].startswith(prefix) for r in by_prefix["products"][: sum(s.startswith(prefix) for s in catalog)])
    assert nothing["products"] == [] and nothing["meta"]["total"] == 0
    assert "semantic_search_products" in nothing["meta"]["note"]


@pytest.mark.anyio
@pytest.mark.parametrize("identity", [SEATTLE, HEAD_OFFICE], ids=["seattle", "head-office"])
async def test_get_product_details_equals_the_product_document(seeded, sdb, identity) -> None:
    catalog = products_by_sku(sdb)
    stores = ALL_STORES if identity.head_office else ("store_seattle",)
    async with connect(seeded, identity) as c:
        for sku in sorted(catalog)[::97]:
            product = catalog[sku]
            out = await ok(c, "get_product_details", {"sku": f" {sku.lower()} "})
            stock = stock_in(sdb, product["_id"], stores)
            assert out == {
                "sku": sku, "product_id": product["_id"], "product_name": product["product_name"],
                "description": product["description"], "category": product["category_name"],
                "product_type": product["type_name"], "price": product["base_price"], "cost": product["cost"],
                "gross_margin_percent": product["gross_margin_percent"],
                "specifications": product["specifications"], "stock_units": sum(stock.values()),
                "stock_by_store": [{"store_id": s, "stock_level": n} for s, n in sorted(stock.items())],
            }
            assert len(out["stock_by_store"]) == len(stores)


# --- inventory ---------------------------------------------------------------------------------


def expected_inventory_rows(db: Database, product_id: str, stores) -> list[dict]:
    names = {s["_id"]: s["store_name"] for s in db.stores.find()}
    docs = sorted(db.inventory.find({"product_id": product_id, "deleted": False, "store_id": {"$in": list(stores)}}),
                  key=lambda d: d["store_id"])
    return [{"store_id": d["store_id"], "store_name": names[d["store_id"]], "stock_level": d["stock_level"],
             "low_stock": d["stock_level"] <= 10, "location": d["location"], "last_counted": d["last_counted"]}
            for d in docs]


@pytest.mark.anyio
async def test_get_inventory_equals_the_inventory_documents(seeded, sdb) -> None:
    catalog = products_by_sku(sdb)
    low = sdb.inventory.find_one({"store_id": "store_seattle", "stock_level": {"$lte": 10}})
    skus = [*sorted(catalog)[::141], low["sku"]]
    async with connect(seeded, SEATTLE) as seattle, connect(seeded, HEAD_OFFICE) as office:
        for sku in skus:
            pid = catalog[sku]["_id"]
            mine = expected_inventory_rows(sdb, pid, ["store_seattle"])
            everywhere = expected_inventory_rows(sdb, pid, ALL_STORES)
            assert len(everywhere) == 8
            for args in ({"sku": sku}, {"sku": sku, "store": "Seattle"},
                         {"sku": sku.lower(), "store": "store_seattle"}):
                out = await ok(seattle, "get_inventory", args)
                assert out == {"sku": sku, "product_name": catalog[sku]["product_name"],
                               "total_units": sum(r["stock_level"] for r in mine), "stores": mine}
            out = await ok(office, "get_inventory", {"sku": sku})
            assert out["stores"] == everywhere
            assert out["total_units"] == sum(r["stock_level"] for r in everywhere)
            for name in ("Tacoma", "zava retail tacoma", "STORE_TACOMA"):
                one = await ok(office, "get_inventory", {"sku": sku, "store": name})
                assert one["stores"] == [r for r in everywhere if r["store_id"] == "store_tacoma"]
    assert any(r["low_stock"] for r in expected_inventory_rows(sdb, low["product_id"], ["store_seattle"]))


@pytest.mark.anyio
@pytest.mark.parametrize(("threshold", "category", "max_rows"),
                         [(10, None, 20), (60, None, 7), (200, "hardware", 100), (0, None, 20)])
async def test_get_low_stock_items_of_my_store(seeded, sdb, threshold, category, max_rows) -> None:
    catalog = {p["_id"]: p for p in sdb.products.find()}
    docs = [d for d in sdb.inventory.find({"store_id": "store_seattle", "deleted": False,
                                           "stock_level": {"$lte": threshold}})
            if category is None or catalog[d["product_id"]]["category_name"] == category.upper()]
    docs.sort(key=lambda d: (d["stock_level"], d["sku"]))
    args = {"threshold": threshold, "max_rows": max_rows, **({"category": category} if category else {})}
    async with connect(seeded, SEATTLE) as c:
        out = await ok(c, "get_low_stock_items", args)
    assert out["threshold"] == threshold
    items = out["items"]
    assert [(i["store_id"], i["sku"], i["stock_level"]) for i in items] == [
        (d["store_id"], d["sku"], d["stock_level"]) for d in docs[:max_rows]]
    assert all(i["stock_level"] <= threshold for i in items)
    assert [i["stock_level"] for i in items] == sorted(i["stock_level"] for i in items)
    for item, doc in zip(items, docs, strict=False):
        assert item["location"] == doc["location"]
        assert item["product_name"] == catalog[doc["product_id"]]["product_name"]
        assert item["category"] == catalog[doc["product_id"]]["category_name"]
    assert out["meta"]["total"] == len(docs)
    assert out["meta"]["truncated"] is (len(docs) > max_rows)
    if threshold >= 60:
        assert len(docs) > max_rows or category, "the case must exercise the cap"


@pytest.mark.anyio
async def test_get_low_stock_items_for_head_office_spans_stores_and_filters_by_store(seeded, sdb) -> None:
    docs = sorted(sdb.inventory.find({"deleted": False, "stock_level": {"$lte": 10}}),
                  key=lambda d: (d["stock_level"], d["sku"]))
    async with connect(seeded, HEAD_OFFICE) as c:
        everywhere = await ok(c, "get_low_stock_items", {"max_rows": HARD_CAP})
        tacoma = await ok(c, "get_low_stock_items", {"store": "Tacoma", "max_rows": HARD_CAP})
    assert len(docs) <= 100
    assert sorted((i["store_id"], i["sku"]) for i in everywhere["items"]) == sorted((d["store_id"], d["sku"])
                                                                                   for d in docs)
    assert [i["stock_level"] for i in everywhere["items"]] == [d["stock_level"] for d in docs]
    assert len({i["store_id"] for i in everywhere["items"]}) == len({d["store_id"] for d in docs}) > 1
    assert sorted(i["sku"] for i in tacoma["items"]) == sorted(d["sku"] for d in docs
                                                              if d["store_id"] == "store_tacoma")
    assert {i["store_id"] for i in tacoma["items"]} == {"store_tacoma"}


# --- customers ---------------------------------------------------------------------------------


def summary_of(doc: dict, visible_stores: frozenset[str] = frozenset({"store_seattle"})) -> dict:
    """The summary a caller seeing `visible_stores` gets: where else the customer shops is not shown."""
    return {"customer_id": doc["_id"], "name": f"{doc['first_name']} {doc['last_name']}", "email": doc["email"],
            "phone": doc["phone"], "home_store_id": doc["primary_store_id"],
            "stores_shopped": sorted(s for s in doc["stores_shopped"] if s in visible_stores), "your_customer": True}


def name_order(doc: dict) -> tuple:
    return doc["last_name_lower"], doc["first_name_lower"], doc["_id"]


@pytest.fixture(scope="module")
def seattle_customers(sdb) -> list[dict]:
    return [c for c in sdb.customers.find({"deleted": False}) if sees(c, {"store_seattle"})]


@pytest.mark.anyio
async def test_find_customers_by_name_prefix(seeded, sdb, seattle_customers) -> None:
    everyone = list(sdb.customers.find({"deleted": False}))
    target = sorted(seattle_customers, key=lambda d: d["_id"])[len(seattle_customers) // 3]
    first, last = target["first_name_lower"], target["last_name_lower"]

    def both(d: dict, a: str, b: str) -> bool:
        return (d["first_name_lower"].startswith(a) and d["last_name_lower"].startswith(b)) or (
            d["last_name_lower"].startswith(a) and d["first_name_lower"].startswith(b))

    cases = {
        f"{target['first_name']} {target['last_name'][:3]}": lambda d: both(d, first, last[:3]),
        f"{last[:3].upper()}": lambda d: d["last_name_lower"].startswith(last[:3])
        or d["first_name_lower"].startswith(last[:3]),
        f"  {last}   {first}  ": lambda d: both(d, last, first),
    }
    async with connect(seeded, SEATTLE) as c:
        for query, matches in cases.items():
            expected = sorted((d for d in everyone if matches(d) and sees(d, {"store_seattle"})), key=name_order)
            assert 0 < len(expected) <= 100, query
            hidden = [d for d in everyone if matches(d) and not sees(d, {"store_seattle"})]
            out = await ok(c, "find_customers", {"query": query, "max_rows": HARD_CAP})
            assert out["customers"] == [summary_of(d) for d in expected], query
            assert out["meta"]["total"] == len(expected)
            assert not {d["_id"] for d in hidden} & {r["customer_id"] for r in out["customers"]}
        cut = await ok(c, "find_customers", {"query": last[:2], "max_rows": 3})
        prefix2 = sorted((d for d in everyone if (d["last_name_lower"].startswith(last[:2])
                                                 or d["first_name_lower"].startswith(last[:2]))
                          and sees(d, {"store_seattle"})), key=name_order)
        assert cut["customers"] == [summary_of(d) for d in prefix2[:3]]
        assert len(prefix2) > 3
        assert cut["meta"]["truncated"] is True and cut["meta"]["total"] == len(prefix2)


@pytest.mark.anyio
async def test_find_customers_by_email_phone_and_id(seeded, sdb, seattle_customers) -> None:
    target = sorted(seattle_customers, key=lambda d: d["_id"])[-7]
    digits = re.sub(r"\D", "", target["phone"])
    assert len(digits) == 10
    same_phone = sorted((d for d in seattle_customers if d["phone"] == target["phone"]), key=name_order)
    phone_forms = [digits, f"{digits[:3]}-{digits[3:6]}-{digits[6:]}", f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                   f"{digits[:3]}.{digits[3:6]}.{digits[6:]}", f" {digits[:3]} {digits[3:6]} {digits[6:]} "]
    email_prefix = target["email"].split("@")[0]
    by_email_prefix = sorted((d for d in seattle_customers if d["email"].startswith(email_prefix)), key=name_order)
    async with connect(seeded, SEATTLE) as c:
        for query in (target["email"], target["email"].upper()):
            out = await ok(c, "find_customers", {"query": query})
            assert out["customers"] == [summary_of(target)], query
        out = await ok(c, "find_customers", {"query": email_prefix + "@"})
        assert out["customers"] == [summary_of(d) for d in by_email_prefix]
        for query in phone_forms:
            out = await ok(c, "find_customers", {"query": query})
            assert out["customers"] == [summary_of(d) for d in same_phone], query
        partial = digits[-4:]
        expected_partial = sorted((d for d in seattle_customers if partial in re.sub(r"\D", "", d["phone"])),
                                  key=name_order)
        out = await ok(c, "find_customers", {"query": partial, "max_rows": HARD_CAP})
        assert out["customers"] == [summary_of(d) for d in expected_partial]
        for query in (target["_id"], target["_id"].upper(), f" {target['_id']} "):
            out = await ok(c, "find_customers", {"query": query})
            assert out["customers"] == [summary_of(target)], query
        missing = await ok(c, "find_customers", {"query": "cust_999999"})
    assert missing["customers"] == [] and missing["meta"]["returned"] == 0
    assert "scope" in missing["meta"]["note"]


@pytest.mark.anyio
async def test_get_customer_orders_newest_first_with_lines_summing_to_the_total(seeded, sdb, seattle_customers) -> None:
    by_customer: dict[str, list[dict]] = defaultdict(list)
    for order in sdb.orders.find({"store_id": "store_seattle", "deleted": False}):
        by_customer[order["customer_id"]].append(order)
    visible = {d["_id"]: d for d in seattle_customers}
    cid = max((c for c in by_customer if c in visible), key=lambda c: (len(by_customer[c]), c))
    orders = sorted(by_customer[cid], key=lambda o: o["order_date"], reverse=True)
    assert len(orders) > 3
    async with connect(seeded, SEATTLE) as c:
        out = await ok(c, "get_customer_orders", {"customer_id": cid.upper(), "max_rows": 3})
        everything = await ok(c, "get_customer_orders", {"customer_id": cid, "max_rows": HARD_CAP})
    assert out["customer"] == summary_of(visible[cid])
    assert [o["order_id"] for o in out["orders"]] == [o["_id"] for o in orders[:3]]
    assert out["meta"]["returned"] == 3 and out["meta"]["truncated"] is True
    assert [o["order_id"] for o in everything["orders"]] == [o["_id"] for o in orders]
    dates = [o["order_date"] for o in everything["orders"]]
    assert dates == sorted(dates, reverse=True)
    for view, doc in zip(everything["orders"], orders, strict=True):
        lines = sorted(sdb.order_items.find({"order_id": doc["_id"], "deleted": False}), key=lambda ln: ln["sku"])
        assert view["lines"] == [{"sku": ln["sku"], "product_name": ln["product_name"], "quantity": ln["quantity"],
                                  "unit_price": ln["unit_price"], "discount_percent": ln["discount_percent"],
                                  "total_amount": ln["total_amount"]} for ln in lines]
        assert round(sum(ln["total_amount"] for ln in view["lines"]), 2) == round(view["total"], 2)
        assert view["item_count"] == len(lines)
        for field in ("store_id", "store_name", "customer_id", "customer_name", "status", "subtotal",
                      "discount_total", "total", "order_date"):
            assert view[field] == doc[field], field


@pytest.mark.anyio
async def test_get_customer_orders_for_head_office_covers_every_store(seeded, sdb) -> None:
    customer = sdb.customers.find_one({"stores_shopped.store_spokane": {"$exists": True},
                                       "stores_shopped.store_tacoma": {"$exists": True}})
    orders = sorted(sdb.orders.find({"customer_id": customer["_id"], "deleted": False}),
                    key=lambda o: o["order_date"], reverse=True)
    assert len({o["store_id"] for o in orders}) >= 2
    async with connect(seeded, HEAD_OFFICE) as c:
        out = await ok(c, "get_customer_orders", {"customer_id": customer["_id"], "max_rows": HARD_CAP})
    assert [o["order_id"] for o in out["orders"]] == [o["_id"] for o in orders]
    assert out["meta"]["truncated"] is False


# --- semantic search ---------------------------------------------------------------------------


async def expected_similarities(settings: Settings, db: Database, query: str) -> list[tuple[str, float]]:
    """(sku, cosine x 100) for every product, best first: our own dot product over the stored vectors."""
    embedder = get_embedder(settings)
    vector = np.asarray((await embedder.embed([query]))[0], dtype=np.float64)
    vector /= np.linalg.norm(vector)
    scored = []
    for doc in db.product_embeddings.find({"model": embedder.model, "deleted": False}, {"sku": 1, "embedding": 1}):
        emb = np.asarray(doc["embedding"], dtype=np.float64)
        scored.append((doc["sku"], float(emb @ vector / np.linalg.norm(emb)) * 100))
    assert len(scored) == 424
    return sorted(scored, key=lambda s: -s[1])


@pytest.mark.anyio
async def test_semantic_search_finds_a_toilet_flapper_first(seeded, sdb) -> None:
    catalog = products_by_sku(sdb)
    expected = await expected_similarities(seeded, sdb, TOILET_QUERY)
    async with connect(seeded, SEATTLE) as c:
        out = await ok(c, "semantic_search_products", {"query_description": TOILET_QUERY, "mode": "semantic"})
    top = out["products"][0]
    assert "flapper" in top["product_name"].lower()
    assert top["category"] == "PLUMBING"
    above = [(s, v) for s, v in expected if v >= 30]
    assert [p["sku"] for p in out["products"]] == [s for s, _ in above[:10]]
    for hit, (sku, similarity) in zip(out["products"], above, strict=False):
        assert abs(hit["similarity_percent"] - similarity) <= 0.06, sku
        product = catalog[sku]
        assert (hit["product_name"], hit["price"]) == (product["product_name"], product["base_price"])
        assert hit["stock_units"] == sum(stock_in(sdb, product["_id"], {"store_seattle"}).values())
    assert out["meta"]["total"] == len(above)
    assert out["query"] == TOILET_QUERY


@pytest.mark.anyio
async def test_semantic_search_respects_threshold_and_category(seeded, sdb) -> None:
    catalog = products_by_sku(sdb)
    expected = await expected_similarities(seeded, sdb, TOILET_QUERY)
    async with connect(seeded, SEATTLE) as c:
        high = await ok(c, "semantic_search_products", {"query_description": TOILET_QUERY, "mode": "semantic",
                                                        "similarity_threshold": 55, "max_rows": HARD_CAP})
        tools = await ok(c, "semantic_search_products", {"query_description": TOILET_QUERY, "category": "hand tools",
                                                         "similarity_threshold": 0, "max_rows": 5, "mode": "semantic"})
        impossible = await ok(c, "semantic_search_products", {"query_description": TOILET_QUERY,
                                                              "similarity_threshold": 100, "mode": "semantic"})
    assert [p["sku"] for p in high["products"]] == [s for s, v in expected if v >= 55]
    assert 0 < len(high["products"]) < 20
    assert all(p["similarity_percent"] >= 55 for p in high["products"])
    in_category = [s for s, _ in expected if catalog[s]["category_name"] == "HAND TOOLS"]
    assert [p["sku"] for p in tools["products"]] == in_category[:5]
    assert {p["category"] for p in tools["products"]} == {"HAND TOOLS"}
    assert tools["meta"]["total"] == len(in_category)
    assert impossible["products"] == [] and "threshold" in impossible["meta"]["note"]


@pytest.mark.anyio
async def test_semantic_search_in_stock_only_drops_products_out_of_stock_in_my_store(seeded, sdb) -> None:
    empty = sdb.inventory.find_one({"store_id": "store_seattle", "stock_level": 0, "deleted": False})
    assert empty is not None, "the small dataset has products with no stock at Seattle"
    name = sdb.products.find_one({"_id": empty["product_id"]})["product_name"]
    args = {"query_description": name, "similarity_threshold": 50, "max_rows": HARD_CAP, "mode": "semantic"}
    async with connect(seeded, SEATTLE) as c:
        everything = await ok(c, "semantic_search_products", args)
        in_stock = await ok(c, "semantic_search_products", {**args, "in_stock_only": True})
    assert everything["meta"]["truncated"] is False
    listed = {p["sku"]: p for p in everything["products"]}
    assert listed[empty["sku"]]["stock_units"] == 0
    zero = {d["sku"] for d in sdb.inventory.find({"store_id": "store_seattle", "stock_level": 0})}
    kept = [p["sku"] for p in everything["products"] if p["sku"] not in zero]
    assert kept, "other products are in stock"
    assert [p["sku"] for p in in_stock["products"]] == kept, "same ranking, empty products left out"
    assert in_stock["meta"]["total"] == len(kept)
    assert all(p["stock_units"] > 0 for p in in_stock["products"])


# --- error paths (reads) -----------------------------------------------------------------------

STORE_SHORT_NAMES = ("Bellevue", "Everett", "Kirkland", "Online", "Redmond", "Seattle", "Spokane", "Tacoma")
MAX_ROWS_TOOLS = {
    "get_products_by_name": {"product_name": "hammer"},
    "get_low_stock_items": {},
    "find_customers": {"query": "smith"},
    "get_customer_orders": {"customer_id": "cust_000001"},
    "semantic_search_products": {"query_description": TOILET_QUERY},
    "list_sync_conflicts": {},
}

READ_ERRORS = [
    ("get_inventory", {"sku": "ZZZZ999999"}, ["ZZZZ999999", "get_products_by_name"]),
    ("get_product_details", {"sku": "zzzz999999"}, ["zzzz999999", "no product"]),
    ("get_inventory", {"sku": "PTDR000001", "store": "Narnia"}, ["unknown store 'Narnia'", *STORE_SHORT_NAMES]),
    ("get_low_stock_items", {"store": "Gotham"}, ["unknown store 'Gotham'", *STORE_SHORT_NAMES]),
    ("get_inventory", {"sku": "PTDR000001", "store": "Tacoma"}, ["store_tacoma", "outside your scope",
                                                                 "store_seattle"]),
    ("get_low_stock_items", {"store": "store_online"}, ["store_online", "outside your scope"]),
    ("get_customer_orders", {"customer_id": "bad"}, ["customer_id", "at least 5"]),
    ("get_customer_orders", {"customer_id": "customer_12"}, ["cust_000123", "find_customers"]),
    ("get_low_stock_items", {"threshold": -1}, ["threshold"]),
    ("get_low_stock_items", {"category": "Toys"}, ["unknown category 'Toys'", "PLUMBING", "HAND TOOLS"]),
    ("semantic_search_products", {"query_description": TOILET_QUERY, "category": "Toys"}, ["unknown category"]),
    ("semantic_search_products", {"query_description": TOILET_QUERY, "similarity_threshold": 101},
     ["similarity_threshold"]),
    ("find_customers", {"query": "x"}, ["query", "at least 2"]),
    ("find_customers", {"query": "12-3"}, ["at least 4 digits"]),
    ("get_products_by_name", {"product_name": "a"}, ["product_name"]),
    ("get_inventory", {}, ["sku", "required"]),
]


@pytest.mark.anyio
async def test_read_errors_are_tool_errors_with_helpful_messages(seeded) -> None:
    async with connect(seeded, SEATTLE) as c:
        for tool, args, fragments in READ_ERRORS:
            text = await fails(c, tool, args)
            for fragment in fragments:
                assert fragment.lower() in text.lower(), (tool, args, text)


@pytest.mark.anyio
async def test_max_rows_is_limited_by_the_tool_schema(seeded) -> None:
    async with connect(seeded, SEATTLE) as c:
        schemas = {t.name: t.input_schema for t in (await c.list_tools()).tools}
        for tool, args in MAX_ROWS_TOOLS.items():
            prop = schemas[tool]["properties"]["max_rows"]
            assert (prop["minimum"], prop["maximum"]) == (1, 100), tool
            for bad in (0, 101, -5):
                text = await fails(c, tool, {**args, "max_rows": bad})
                assert "max_rows" in text, (tool, bad, text)
            await ok(c, tool, {**args, "max_rows": HARD_CAP})
        assert {name for name, s in schemas.items() if "max_rows" in s["properties"]} == set(MAX_ROWS_TOOLS)


@pytest.mark.anyio
async def test_a_customer_outside_my_scope_reads_as_not_found(seeded, sdb) -> None:
    hidden = sdb.customers.find_one({"primary_store_id": {"$ne": "store_seattle"},
                                     "stores_shopped.store_seattle": {"$exists": False}})
    assert sdb.customers.find_one({"_id": "cust_999999"}) is None
    async with connect(seeded, SEATTLE) as c:
        hidden_text = await fails(c, "get_customer_orders", {"customer_id": hidden["_id"]})
        missing_text = await fails(c, "get_customer_orders", {"customer_id": "cust_999999"})
        by_name = await ok(c, "find_customers", {"query": f"{hidden['first_name']} {hidden['last_name']}",
                                                 "max_rows": HARD_CAP})
        at_till = await ok(c, "find_customers", {"query": hidden["email"]})
    assert "no customer" in hidden_text
    assert hidden_text.replace(hidden["_id"], "ID") == missing_text.replace("cust_999999", "ID")
    assert hidden["_id"] not in {row["customer_id"] for row in by_name["customers"]}
    # The till rule: named exactly, another store's customer is found to be served (marked as such).
    assert [(row["customer_id"], row["your_customer"]) for row in at_till["customers"]] == [(hidden["_id"], False)]
    async with connect(seeded, HEAD_OFFICE) as c:
        assert (await ok(c, "get_customer_orders", {"customer_id": hidden["_id"]}))["customer"]["customer_id"] \
            == hidden["_id"]


@pytest.mark.anyio
async def test_read_only_mode_lists_exactly_the_read_tools(writable, wdb) -> None:
    # On the writable dataset: if read-only mode were broken, the write below must not land in `seeded`.
    key = f"read-only-{uuid.uuid4()}"
    async with connect(writable, SEATTLE, read_only=True) as c:
        tools = (await c.list_tools()).tools
        assert {t.name for t in tools} == READ_TOOLS
        assert len(tools) == len(READ_TOOLS)  # each once
        assert all(t.annotations.read_only_hint is True for t in tools)
        result = await c.call_tool("create_order", {"customer_id": "cust_000001", "store": "Seattle",
                                                    "items": [{"sku": "PTDR000001", "quantity": 1}],
                                                    "idempotency_key": key})
        assert result.is_error and "create_order" in result.content[0].text
    assert wdb.orders.count_documents({"idempotency_key": key}) == 0
    async with connect(writable, SEATTLE) as c:
        tools = (await c.list_tools()).tools
        assert {t.name for t in tools} == READ_TOOLS | WRITE_TOOLS
        assert {t.name for t in tools if t.annotations.read_only_hint is False} == WRITE_TOOLS


@pytest.mark.anyio
async def test_without_identity_every_data_tool_fails_closed(writable, wdb) -> None:
    """No launch identity and no token: every tool that reads or writes store data refuses."""
    customer = wdb.customers.find_one({"primary_store_id": "store_seattle"})
    order = wdb.orders.find_one({"store_id": "store_seattle", "deleted": False, "status": "completed"})
    line = wdb.order_items.find_one({"order_id": order["_id"]})
    calls = {
        "semantic_search_products": {"query_description": TOILET_QUERY},
        "get_products_by_name": {"product_name": "hammer"},
        "get_product_details": {"sku": "PTDR000001"},
        "get_inventory": {"sku": "PTDR000001"},
        "get_low_stock_items": {},
        "find_customers": {"query": customer["email"]},
        "get_customer_orders": {"customer_id": customer["_id"]},
        "create_order": {"customer_id": customer["_id"], "store": "Seattle",
                         "items": [{"sku": "PTDR000001", "quantity": 1}], "idempotency_key": f"noid-{uuid.uuid4()}"},
        "move_inventory": {"sku": "PTDR000001", "store": "Seattle", "aisle": "A99", "shelf": "S9", "bin": "B99"},
        "update_stock_count": {"sku": "PTDR000001", "store": "Seattle", "counted_quantity": 1},
        "cancel_order": {"order_id": order["_id"], "reason": "no identity", "idempotency_key": f"noid-{uuid.uuid4()}"},
        "return_items": {"order_id": order["_id"], "items": [{"sku": line["sku"], "quantity": 1}],
                         "reason": "no identity", "idempotency_key": f"noid-{uuid.uuid4()}"},
        "update_order_status": {"order_id": order["_id"], "status": "shipped"},
        "transfer_stock": {"sku": "PTDR000001", "from_store": "Seattle", "to_store": "Tacoma", "quantity": 1,
                           "idempotency_key": f"noid-{uuid.uuid4()}"},
        "receive_stock": {"sku": "PTDR000001", "store": "Seattle", "quantity": 1, "reference": "PO-NOID-1"},
        "list_sync_conflicts": {},
        "resolve_sync_conflict": {"conflict_id": "conflict-noid"},
    }
    since = utc_now_iso()
    before = write_state(wdb, since)
    async with connect(writable, None) as c:
        listed = {t.name for t in (await c.list_tools()).tools}
        assert listed == set(calls)
        for tool, args in calls.items():
            text = await fails(c, tool, args)
            assert "identity" in text, (tool, text)
    assert write_state(wdb, since) == before


# --- writes ------------------------------------------------------------------------------------


def fillable_products(db: Database, store_id: str, count: int, minimum: int = 50) -> list[dict]:
    """`count` products of different categories with at least `minimum` units at the store."""
    catalog = {p["_id"]: p for p in db.products.find({"deleted": False})}
    chosen: list[dict] = []
    for doc in db.inventory.find({"store_id": store_id, "deleted": False, "stock_level": {"$gte": minimum}}).sort(
            "sku", 1):
        product = catalog[doc["product_id"]]
        if product["category_id"] not in {p["category_id"] for p in chosen}:
            chosen.append(product)
        if len(chosen) == count:
            return chosen
    raise AssertionError("not enough stocked products")


def never_shopped_at(db: Database, store_id: str, skip: int = 0) -> dict:
    """A customer whose home store is `store_id` but who has never ordered there (visible, not yet shopped)."""
    docs = list(db.customers.find({"primary_store_id": store_id, f"stores_shopped.{store_id}": {"$exists": False},
                                   "deleted": False}).sort("_id", 1))
    assert len(docs) > skip, "the dataset has customers who never ordered at their home store"
    return docs[skip]


def expected_rollup_increments(lines: list[tuple[dict, int]]) -> dict[str, float]:
    inc: dict[str, float] = defaultdict(float)
    for product, quantity in lines:
        values = {"revenue": round(product["base_price"] * quantity, 2), "gross": product["base_price"] * quantity,
                  "discount": 0.0, "cost": product["cost"] * quantity, "units": quantity, "lines": 1}
        for scope in ("totals", f"categories.{product['category_id']}", f"products.{product['_id']}"):
            for measure, value in values.items():
                inc[f"{scope}.{measure}"] += value
        inc[f"categories.{product['category_id']}.orders"] = 1
        inc[f"products.{product['_id']}.orders"] = 1
    inc["totals.orders"] = 1
    return inc


@pytest.mark.anyio
async def test_create_order_writes_the_order_and_everything_it_implies(writable, wdb) -> None:
    store_id = "store_seattle"
    first, second = fillable_products(wdb, store_id, 2)
    customer = never_shopped_at(wdb, store_id)
    requested = [{"sku": first["sku"], "quantity": 2}, {"sku": second["sku"].lower(), "quantity": 1},
                 {"sku": first["sku"], "quantity": 1}]
    quantities = {first["sku"]: 3, second["sku"]: 1}
    lines = [(first, 3), (second, 1)]
    since = utc_now_iso()
    key = f"test-order-{uuid.uuid4()}"
    async with connect(writable, SEATTLE) as c:
        await until_settled(writable, recent_orders(wdb))  # what earlier tests wrote is folded before we look
        before = write_state(wdb, since)
        stock_before = {sku: wdb.inventory.find_one({"sku": sku, "store_id": store_id})["stock_level"]
                        for sku in quantities}
        started = datetime.now(UTC).replace(microsecond=0)
        out = await ok(c, "create_order", {"customer_id": customer["_id"], "store": "Seattle", "items": requested,
                                           "idempotency_key": key})
        finished = datetime.now(UTC)
        await until_settled(writable, [out["order"]["order_id"]])  # the server's change feed folds the order
        after = write_state(wdb, since)

        # the answer
        order = out["order"]
        assert out["replayed"] is False
        assert out["stock_after"] == {sku: stock_before[sku] - q for sku, q in quantities.items()}
        line_totals = {p["sku"]: round(p["base_price"] * q, 2) for p, q in lines}
        total = round(sum(line_totals.values()), 2)
        assert order["lines"] == [
            {"sku": p["sku"], "product_name": p["product_name"], "quantity": q, "unit_price": p["base_price"],
             "discount_percent": 0, "total_amount": line_totals[p["sku"]]}
            for p, q in sorted(lines, key=lambda pq: pq[0]["sku"])]
        assert (order["subtotal"], order["total"], order["discount_total"]) == (total, total, 0.0)
        assert (order["customer_name"], order["store_id"], order["store_name"], order["status"], order["item_count"]) \
            == (f"{customer['first_name']} {customer['last_name']}", store_id, "Zava Retail Seattle", "completed", 2)
        order_date = datetime.strptime(order["order_date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert started <= order_date <= finished

        # stock: exactly the ordered units, nothing else
        for doc_id, doc in after["inventory"].items():
            old = before["inventory"][doc_id]
            if doc["store_id"] == store_id and doc["sku"] in quantities:
                assert doc["stock_level"] == old["stock_level"] - quantities[doc["sku"]]
                assert doc["updated_at"] == order["order_date"]
                assert {k: v for k, v in doc.items() if k not in {"stock_level", "updated_at"}} == \
                    {k: v for k, v in old.items() if k not in {"stock_level", "updated_at"}}
            else:
                assert doc == old

        # the order and its lines, denormalized
        stored = wdb.orders.find_one({"_id": order["order_id"]})
        assert stored == {
            "_id": order["order_id"], "order_id": order["order_id"], "customer_id": customer["_id"],
            "customer_name": f"{customer['first_name']} {customer['last_name']}", "store_id": store_id,
            "store_name": "Zava Retail Seattle", "order_date": order["order_date"], "status": "completed",
            "item_count": 2, "subtotal": total, "discount_total": 0.0, "total": total, "idempotency_key": key,
            "deleted": False, "created_at": order["order_date"], "updated_at": order["order_date"],
        }
        stored_lines = sorted(wdb.order_items.find({"order_id": order["order_id"]}), key=lambda ln: ln["sku"])
        assert len(stored_lines) == 2
        # what create_order wrote is exactly what the model defines (strict: no coercion, no extra field)
        Order.model_validate(stored, strict=True, by_alias=True)
        for line in stored_lines:
            OrderItem.model_validate(line, strict=True, by_alias=True)
        SalesMonthly.model_validate(wdb.sales_monthly.find_one({"_id": f"{store_id}|{order['order_date'][:7]}"}),
                                    strict=True, by_alias=True)
        for line, (product, quantity) in zip(stored_lines, sorted(lines, key=lambda pq: pq[0]["sku"]), strict=True):
            assert line["_id"] == line["order_item_id"]
            assert {k: line[k] for k in ("store_id", "customer_id", "order_date", "product_id", "sku", "product_name",
                                         "category_id", "type_id", "quantity", "unit_price", "unit_cost",
                                         "discount_percent", "discount_amount", "total_amount", "deleted")} == {
                "store_id": store_id, "customer_id": customer["_id"], "order_date": order["order_date"],
                "product_id": product["_id"], "sku": product["sku"], "product_name": product["product_name"],
                "category_id": product["category_id"], "type_id": product["type_id"], "quantity": quantity,
                "unit_price": product["base_price"], "unit_cost": product["cost"], "discount_percent": 0,
                "discount_amount": 0.0, "total_amount": line_totals[product["sku"]], "deleted": False}
        assert after["orders"] == sorted([*before["orders"], order["order_id"]])
        assert after["order_items"] == sorted([*before["order_items"], *(ln["_id"] for ln in stored_lines)])

        # the customer's store map gains the store, with the order's date
        shopped_before = before["customers"][customer["_id"]]["stores_shopped"]
        assert after["customers"][customer["_id"]]["stores_shopped"] == {**shopped_before,
                                                                        store_id: order["order_date"]}
        assert {k: v for k, v in after["customers"].items() if k != customer["_id"]} == \
            {k: v for k, v in before["customers"].items() if k != customer["_id"]}

        # the rollup of (store, month) grows by exactly the order's figures
        cell = f"{store_id}|{order['order_date'][:7]}"
        increments = expected_rollup_increments(lines)
        old_cell = flatten(before["sales_monthly"].get(cell, {}))
        new_cell = flatten(after["sales_monthly"][cell])
        assert set(new_cell) == set(old_cell) | set(increments)
        for path, value in new_cell.items():
            assert abs(value - old_cell.get(path, 0) - increments.get(path, 0)) < 0.011, path
        assert after["sales_monthly"][cell]["store_id"] == store_id
        assert {k: v for k, v in after["sales_monthly"].items() if k != cell} == \
            {k: v for k, v in before["sales_monthly"].items() if k != cell}

        # the same key again: the first order, replayed, and nothing more changes
        again = await ok(c, "create_order", {"customer_id": customer["_id"], "store": "Seattle",
                                             "items": requested, "idempotency_key": key})
        assert again["replayed"] is True
        assert again["order"] == order
        other = wdb.customers.find_one({"_id": {"$ne": customer["_id"]}, "primary_store_id": store_id})
        conflict = await fails(c, "create_order", {"customer_id": other["_id"], "store": "Seattle",
                                                   "items": requested, "idempotency_key": key})
        assert "idempotency_key" in conflict and "new key" in conflict
    assert write_state(wdb, since) == after
    assert wdb.orders.count_documents({"idempotency_key": key}) == 1


@pytest.mark.anyio
async def test_create_order_with_one_unfillable_line_changes_nothing(writable, wdb) -> None:
    store_id = "store_seattle"
    (plenty,) = fillable_products(wdb, store_id, 1, minimum=100)
    scarce = wdb.inventory.find_one({"store_id": store_id, "deleted": False, "stock_level": {"$gte": 1, "$lte": 20},
                                     "product_id": {"$ne": plenty["_id"]}})
    customer = never_shopped_at(wdb, store_id, skip=1)
    since = utc_now_iso()
    key = f"unfillable-{uuid.uuid4()}"
    async with connect(writable, SEATTLE) as c:
        await until_settled(writable, recent_orders(wdb))  # what earlier tests wrote is folded before we look
        before = write_state(wdb, since)
        text = await fails(c, "create_order", {
            "customer_id": customer["_id"], "store": "Seattle", "idempotency_key": key,
            "items": [{"sku": plenty["sku"], "quantity": 5},
                      {"sku": scarce["sku"], "quantity": scarce["stock_level"] + 1}]})
    assert f"{scarce['sku']}: {scarce['stock_level'] + 1} wanted but {scarce['stock_level']} in stock" in text
    assert "nothing was ordered" in text
    assert write_state(wdb, since) == before
    assert wdb.orders.count_documents({"idempotency_key": key}) == 0


@pytest.mark.anyio
async def test_move_inventory_changes_only_the_location(writable, wdb) -> None:
    doc = wdb.inventory.find_one({"store_id": "store_seattle", "deleted": False}, sort=[("sku", -1)])
    before = inventory_snapshot(wdb)
    started = datetime.now(UTC).replace(microsecond=0)
    new_location = {"aisle": "Z42" if doc["location"]["aisle"] != "Z42" else "Z43", "shelf": "S9", "bin": "B-07"}
    async with connect(writable, SEATTLE) as c:
        out = await ok(c, "move_inventory", {"sku": doc["sku"].lower(), "store": "Seattle",
                                             "aisle": new_location["aisle"].lower(), "shelf": " s9 ", "bin": "b-07"})
    after = inventory_snapshot(wdb)
    assert out["sku"] == doc["sku"] and out["store_id"] == "store_seattle"
    assert out["previous_location"] == doc["location"]
    assert out["location"] == new_location
    moved = after[doc["_id"]]
    assert moved["location"] == new_location
    assert moved["updated_at"] == out["updated_at"]
    assert started <= datetime.strptime(out["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert {k: v for k, v in moved.items() if k not in {"location", "updated_at"}} == \
        {k: v for k, v in doc.items() if k not in {"location", "updated_at"}}
    assert {k: v for k, v in after.items() if k != doc["_id"]} == {k: v for k, v in before.items() if k != doc["_id"]}


@pytest.mark.anyio
@pytest.mark.parametrize("counted", [7, 0])
async def test_update_stock_count_sets_the_level_and_the_count_date(writable, wdb, counted: int) -> None:
    doc = wdb.inventory.find_one({"store_id": "store_tacoma", "deleted": False, "stock_level": {"$gt": 20}},
                                 sort=[("sku", 1)], skip=counted)
    before = inventory_snapshot(wdb)
    async with connect(writable, HEAD_OFFICE) as c:
        out = await ok(c, "update_stock_count", {"sku": doc["sku"], "store": "Tacoma", "counted_quantity": counted})
    after = inventory_snapshot(wdb)
    assert out == {"sku": doc["sku"], "store_id": "store_tacoma", "previous_stock_level": doc["stock_level"],
                   "stock_level": counted, "difference": counted - doc["stock_level"],
                   "last_counted": out["last_counted"]}
    counted_doc = after[doc["_id"]]
    assert counted_doc["stock_level"] == counted
    assert counted_doc["last_counted"] == counted_doc["updated_at"] == out["last_counted"]
    assert counted_doc["last_counted"] > doc["last_counted"]
    assert {k: v for k, v in counted_doc.items() if k not in {"stock_level", "last_counted", "updated_at"}} == \
        {k: v for k, v in doc.items() if k not in {"stock_level", "last_counted", "updated_at"}}
    assert {k: v for k, v in after.items() if k != doc["_id"]} == {k: v for k, v in before.items() if k != doc["_id"]}


# --- error paths (writes): a helpful message, and nothing written -------------------------------


def write_errors(customer_id: str, hidden_customer_id: str) -> list[tuple[str, dict, list[str]]]:
    order = {"customer_id": customer_id, "store": "Seattle", "items": [{"sku": "PTDR000001", "quantity": 1}],
             "idempotency_key": "valid-key-0001"}
    spot = {"sku": "PTDR000001", "store": "Seattle", "aisle": "A01", "shelf": "S1", "bin": "B01"}
    return [
        ("move_inventory", {**spot, "aisle": "A 1"}, ["aisle", "letters, digits"]),
        ("move_inventory", {**spot, "bin": "B/7"}, ["bin", "letters, digits"]),
        ("move_inventory", {**spot, "shelf": ""}, ["shelf"]),
        ("move_inventory", {**spot, "aisle": "A" * 13}, ["aisle"]),
        ("move_inventory", {**spot, "store": "Tacoma"}, ["outside your scope", "store_tacoma"]),
        ("move_inventory", {**spot, "sku": "ZZZZ999999"}, ["no product", "ZZZZ999999"]),
        ("update_stock_count", {"sku": "PTDR000001", "store": "Seattle", "counted_quantity": -1},
         ["counted_quantity: must be at least 0 (got -1)"]),
        ("update_stock_count", {"sku": "PTDR000001", "store": "Everett", "counted_quantity": 3},
         ["outside your scope"]),
        ("update_stock_count", {"sku": "PTDR000001", "store": "Atlantis", "counted_quantity": 3},
         ["unknown store", *STORE_SHORT_NAMES]),
        ("create_order", {**order, "items": []}, ["items", "at least 1"]),
        ("create_order", {**order, "items": [{"sku": "PTDR000001", "quantity": 0}]}, ["quantity"]),
        ("create_order", {**order, "items": [{"sku": "PTDR000001", "quantity": 1001}]}, ["quantity"]),
        ("create_order", {**order, "items": [{"sku": "PTDR000001", "quantity": 600},
                                             {"sku": "PTDR000001", "quantity": 600}]}, ["at most 1000"]),
        ("create_order", {**order, "idempotency_key": "bad key!"}, ["idempotency_key", "letters, digits"]),
        ("create_order", {**order, "idempotency_key": "short"}, ["idempotency_key"]),
        ("create_order", {**order, "idempotency_key": "k" * 129}, ["idempotency_key"]),
        ("create_order", {**order, "items": [{"sku": "ZZZZ999999", "quantity": 1}]}, ["no product", "ZZZZ999999"]),
        ("create_order", {**order, "store": "Redmond"}, ["outside your scope", "store_redmond"]),
        ("create_order", {**order, "store": "Mordor"}, ["unknown store", *STORE_SHORT_NAMES]),
        ("create_order", {**order, "customer_id": "cust_999999"}, ["no customer cust_999999"]),
        ("create_order", {**order, "customer_id": "client-42"}, ["cust_000123"]),
    ]


@pytest.mark.anyio
async def test_write_errors_are_helpful_and_write_nothing(writable, wdb) -> None:
    customer = wdb.customers.find_one({"primary_store_id": "store_seattle"})
    hidden = wdb.customers.find_one({"primary_store_id": {"$ne": "store_seattle"},
                                     "stores_shopped.store_seattle": {"$exists": False}})
    since = utc_now_iso()
    before = write_state(wdb, since)
    async with connect(writable, SEATTLE) as c:
        for tool, args, fragments in write_errors(customer["_id"], hidden["_id"]):
            text = await fails(c, tool, args)
            for fragment in fragments:
                assert fragment.lower() in text.lower(), (tool, args, text)
    assert write_state(wdb, since) == before
