"""run_aggregation against the seeded `small` dataset: right answers, no escape from the store scope, limits."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest

from zava_core import aggregation
from zava_core.aggregation import AggregationRejected, AggregationTimeout, run_aggregation
from zava_core.config import Settings
from zava_core.context import Zava
from zava_core.errors import InvalidArgument, ZavaError
from zava_core.identity import Scope

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SEATTLE = "store_seattle"


@pytest.fixture
async def zava(seeded: Settings) -> AsyncIterator[Zava]:
    opened = await Zava.open(seeded)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def head_office(zava: Zava) -> Scope:
    return Scope.for_head_office((await zava.reference.get()).stores)


@pytest.fixture
async def manager(zava: Zava) -> Scope:
    return Scope.for_store_manager((await zava.reference.get()).stores.resolve("Seattle"))


def store_ids_in(value: Any, key: str = "") -> set[str]:
    """Every store id a result carries, at any depth: values of `store_id` fields and of `_id` (grouped rows)."""
    if isinstance(value, dict):
        return set().union(*(store_ids_in(v, k) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(store_ids_in(v, key) for v in value))
    if key in ("store_id", "_id") and isinstance(value, str) and value.startswith("store_"):
        return {value}
    return set()


# --- the same answers as a plain computation ---


async def test_order_count_per_store(zava: Zava, head_office: Scope) -> None:
    pipeline = [{"$group": {"_id": "$store_id", "orders": {"$sum": 1}}}, {"$sort": {"_id": 1}}]
    result = await run_aggregation(zava, head_office, "orders", pipeline, max_rows=100)
    expected = Counter([d["store_id"] async for d in zava.db["orders"].find({"deleted": False}, {"store_id": 1})])
    assert {r["_id"]: r["orders"] for r in result.rows} == expected
    assert len(expected) > 1
    assert not result.meta.truncated
    assert result.applied.scope_stage == {"$match": {"deleted": False}}
    assert result.applied.max_time_ms == aggregation.MAX_TIME_MS == 15_000
    assert json.loads(result.model_dump_json())["rows"] == result.rows


async def test_revenue_per_category_for_a_store_manager(zava: Zava, manager: Scope) -> None:
    pipeline = json.dumps([{"$group": {"_id": "$category_id", "revenue": {"$sum": "$total_amount"},
                                       "lines": {"$sum": 1}}}, {"$sort": {"_id": 1}}])
    result = await run_aggregation(zava, manager, "order_items", pipeline, max_rows=50)
    revenue: dict[str, float] = defaultdict(float)
    lines: Counter[str] = Counter()
    async for line in zava.db["order_items"].find({"store_id": SEATTLE, "deleted": False}):
        revenue[line["category_id"]] += line["total_amount"]
        lines[line["category_id"]] += 1
    assert {r["_id"]: r["lines"] for r in result.rows} == lines
    assert {r["_id"]: r["revenue"] for r in result.rows} == pytest.approx(revenue)
    assert result.applied.scope == manager.label
    assert result.applied.scope_stage == {"$match": {"store_id": {"$in": [SEATTLE]}, "deleted": False}}


@pytest.mark.parametrize("form", ["local-foreign", "let-pipeline", "combined"])
async def test_lookup_orders_to_order_items(zava: Zava, manager: Scope, form: str) -> None:
    lookups = {
        "local-foreign": {"localField": "order_id", "foreignField": "order_id"},
        "let-pipeline": {"let": {"oid": "$order_id"},
                         "pipeline": [{"$match": {"$expr": {"$eq": ["$order_id", "$$oid"]}}}]},
        "combined": {"localField": "order_id", "foreignField": "order_id", "pipeline": [{"$sort": {"sku": 1}}]},
    }
    pipeline = [{"$sort": {"order_id": 1}}, {"$limit": 5},
                {"$lookup": {"from": "order_items", "as": "lines", **lookups[form]}},
                # $map rather than "$lines.sku": the embedded engine returns nothing for a path through an array
                {"$project": {"_id": 0, "order_id": 1, "skus": {"$map": {"input": "$lines", "in": "$$this.sku"}}}}]
    result = await run_aggregation(zava, manager, "orders", pipeline)
    seattle = {"store_id": SEATTLE, "deleted": False}
    orders = await zava.db["orders"].find(seattle).sort("order_id", 1).limit(5).to_list()
    assert [r["order_id"] for r in result.rows] == [o["order_id"] for o in orders]
    for row in result.rows:
        skus = [d["sku"] async for d in zava.db["order_items"].find({"order_id": row["order_id"], "deleted": False})]
        assert sorted(row["skus"]) == sorted(skus)
        assert skus


async def test_extended_json_date_in_an_expression(zava: Zava, manager: Scope) -> None:
    # The string $match first keeps $dateFromString to a few hundred orders (it is slow on the engine).
    # Full-width bounds: on the engine, an index with order_date descending drops the values that
    # start with a shorter bound ("2026-01-01" misses "2026-01-01T12:32:48Z").
    pipeline = ('[{"$match": {"order_date": {"$gte": "2025-09-01T00:00:00Z"}}}, {"$match": {"$expr": {"$gte": '
                '[{"$dateFromString": {"dateString": "$order_date"}}, {"$date": "2026-01-01T00:00:00Z"}]}}}, '
                '{"$count": "n"}]')
    result = await run_aggregation(zava, manager, "orders", pipeline)
    expected = await zava.db["orders"].count_documents(
        {"store_id": SEATTLE, "order_date": {"$gte": "2026-01-01T00:00:00Z"}, "deleted": False})
    assert result.rows == [{"n": expected}]
    assert expected > 0


# --- no escape from a store manager's scope ---

OTHER_STORES = ["store_bellevue", "store_tacoma", "store_online", "store_kirkland"]
ESCAPES = [
    ("match-other-store", "orders", [{"$match": {"store_id": "store_bellevue"}}], True),
    ("match-not-mine", "orders", [{"$match": {"$or": [{"store_id": {"$ne": SEATTLE}}, {"deleted": True}]}}], True),
    # $group, not $count: the embedded engine answers $count over nothing with {n: 0} (MongoDB with no row)
    ("group-others", "order_items",
     [{"$match": {"store_id": {"$in": OTHER_STORES}}}, {"$group": {"_id": "$store_id", "n": {"$sum": 1}}}], True),
    ("lookup-inventory-elsewhere", "orders",
     [{"$limit": 3}, {"$lookup": {"from": "inventory", "pipeline": [{"$match": {"store_id": {"$ne": SEATTLE}}}],
                                  "as": "inv"}}, {"$match": {"inv.0": {"$exists": True}}}], True),
    ("lookup-inventory-let", "orders",
     [{"$limit": 2}, {"$lookup": {"from": "inventory", "let": {"s": "$store_id"}, "as": "inv",
                                  "pipeline": [{"$match": {"$expr": {"$ne": ["$store_id", "$$s"]}}}, {"$limit": 5}]}},
      {"$match": {"inv.0": {"$exists": True}}}], True),
    ("lookup-customer-orders-elsewhere", "orders",
     [{"$limit": 20}, {"$lookup": {"from": "orders", "localField": "customer_id", "foreignField": "customer_id",
                                   "as": "all_orders"}}], False),
    ("facet-with-lookup", "orders",
     [{"$facet": {"lines": [{"$limit": 5}, {"$lookup": {"from": "order_items", "localField": "customer_id",
                                                        "foreignField": "customer_id", "as": "lines"}}],
                  "tacoma": [{"$match": {"store_id": "store_tacoma"}}]}}], False),
    ("union-with-orders", "inventory", [{"$unionWith": "orders"}, {"$match": {"store_id": {"$ne": SEATTLE}}}], True),
    ("union-with-pipeline", "inventory",
     [{"$unionWith": {"coll": "order_items", "pipeline": [{"$match": {"store_id": "store_tacoma"}}]}},
      {"$match": {"store_id": "store_tacoma"}}], True),
    ("replace-root-game", "order_items",
     [{"$replaceRoot": {"newRoot": {"store_id": SEATTLE, "real": "$$ROOT"}}},
      {"$match": {"real.store_id": {"$ne": SEATTLE}}}], True),
    ("root-merge-game", "orders",
     [{"$replaceWith": {"$mergeObjects": ["$$ROOT", {"store_id": "store_bellevue"}]}},
      {"$match": {"store_id": "store_bellevue"}}, {"$project": {"order_id": 1}},
      {"$lookup": {"from": "orders", "localField": "order_id", "foreignField": "order_id", "as": "again"}},
      {"$limit": 5}], False),
    ("rollup", "sales_monthly", [{"$group": {"_id": "$store_id", "months": {"$sum": 1}}}], False),
    ("products-to-inventory", "products",
     [{"$limit": 3}, {"$lookup": {"from": "inventory", "localField": "product_id", "foreignField": "product_id",
                                  "as": "stock"}}], False),
    ("nested-lookups", "customers",
     [{"$limit": 3}, {"$lookup": {"from": "orders", "localField": "customer_id", "foreignField": "customer_id",
                                  "as": "orders", "pipeline": [
                                      {"$lookup": {"from": "order_items", "localField": "customer_id",
                                                   "foreignField": "customer_id", "as": "lines"}}]}},
      {"$project": {"orders": 1}}], False),
]


@pytest.mark.parametrize(("collection", "pipeline", "empty"), [e[1:] for e in ESCAPES], ids=[e[0] for e in ESCAPES])
async def test_store_manager_cannot_escape(zava: Zava, manager: Scope, collection: str, pipeline: list,
                                           empty: bool) -> None:
    result = await run_aggregation(zava, manager, collection, pipeline, max_rows=100)
    assert store_ids_in(result.rows) <= {SEATTLE}
    assert (result.rows == []) if empty else result.rows


async def test_the_escape_check_would_see_a_leak(zava: Zava, head_office: Scope) -> None:
    """The same lookup for head office reaches other stores: the walk over rows does detect them."""
    pipeline = dict((e[0], e[2]) for e in ESCAPES)["lookup-customer-orders-elsewhere"]
    result = await run_aggregation(zava, head_office, "orders", pipeline, max_rows=100)
    assert len(store_ids_in(result.rows)) > 1


async def test_store_manager_sees_only_visible_customers(zava: Zava, manager: Scope) -> None:
    pipeline = [{"$project": {"primary_store_id": 1, "stores_shopped": 1}}]
    result = await run_aggregation(zava, manager, "customers", pipeline, max_rows=100)
    assert len(result.rows) == 100
    assert all(manager.can_see_customer(row) for row in result.rows)
    count = await run_aggregation(zava, manager, "customers", [{"$count": "n"}])
    visible = [d async for d in zava.db["customers"].find({"deleted": False})]
    assert count.rows == [{"n": sum(manager.can_see_customer(d) for d in visible)}]


# --- limits and errors ---


async def test_row_cap_truncates_with_a_note(zava: Zava, manager: Scope) -> None:
    result = await run_aggregation(zava, manager, "orders", [{"$project": {"order_id": 1}}], max_rows=5)
    assert len(result.rows) == 5
    assert result.meta.truncated and result.meta.total is None
    assert "row cap of 5" in result.meta.note
    assert result.applied.row_cap == 5


async def test_max_rows_above_the_hard_cap_is_lowered(zava: Zava, manager: Scope) -> None:
    result = await run_aggregation(zava, manager, "orders", [{"$project": {"order_id": 1}}], max_rows=500)
    assert len(result.rows) == 100
    assert "lowered to the hard cap" in result.meta.note and "row cap of 100" in result.meta.note


async def test_byte_cap_truncates_with_a_note(zava: Zava, manager: Scope) -> None:
    result = await run_aggregation(zava, manager, "product_embeddings", [], max_rows=100)
    size = len(json.dumps(result.rows, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    assert 0 < len(result.rows) < 100
    assert size <= aggregation.BYTE_CAP
    assert result.meta.truncated
    assert "byte cap" in result.meta.note and "row cap" not in result.meta.note


async def test_a_first_row_over_the_byte_cap_is_explained(zava: Zava, manager: Scope) -> None:
    pipeline = [{"$limit": 1}, {"$lookup": {"from": "order_items", "pipeline": [{"$limit": 400}], "as": "x"}}]
    result = await run_aggregation(zava, manager, "orders", pipeline)
    assert result.rows == []
    assert result.meta.truncated and "first row alone" in result.meta.note


async def test_slow_pipeline_is_stopped_by_max_time_ms(zava: Zava, manager: Scope,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregation, "MAX_TIME_MS", 1)
    pipeline = [{"$group": {"_id": "$product_id", "units": {"$sum": "$quantity"}}}, {"$sort": {"units": -1}}]
    with pytest.raises(AggregationTimeout) as caught:
        await run_aggregation(zava, manager, "order_items", pipeline)
    message = str(caught.value)
    assert "time limit of 1 ms" in message and "sales_monthly" in message and "$match" in message
    assert isinstance(caught.value, ZavaError)


async def test_a_pipeline_the_server_lets_run_past_the_limit_is_still_answered_on_time(
        zava: Zava, head_office: Scope, monkeypatch: pytest.MonkeyPatch) -> None:
    """A $lookup joining every order to thousands of orders, then $unwind: the embedded engine checks maxTimeMS
    only between some stages (2 s asked, 12 s run before it gave up on its own), so the deadline is also the
    client's."""
    monkeypatch.setattr(aggregation, "MAX_TIME_MS", 2_000)
    pipeline = [{"$lookup": {"from": "orders", "pipeline": [{"$limit": 5000}], "as": "x"}}, {"$unwind": "$x"},
                {"$count": "n"}]
    started = time.monotonic()
    with pytest.raises(AggregationTimeout) as caught:
        await run_aggregation(zava, head_office, "orders", pipeline)
    elapsed = time.monotonic() - started
    assert "time limit of 2,000 ms" in str(caught.value)
    assert elapsed < 8, f"answered after {elapsed:.1f} s"  # the limit plus generous slack for a loaded machine
    # The client stays usable after the abandoned pipeline.
    assert (await run_aggregation(zava, head_office, "stores", [{"$count": "n"}])).rows == [{"n": 8}]


async def test_mongodb_error_text_comes_back(zava: Zava, manager: Scope) -> None:
    with pytest.raises(AggregationRejected) as caught:
        await run_aggregation(zava, manager, "orders", [{"$group": {"total": {"$sum": 1}}}])
    assert "a group specification must include an _id" in str(caught.value)


async def test_guard_refusals_come_before_the_database(zava: Zava, manager: Scope) -> None:
    with pytest.raises(InvalidArgument, match=r"stage 2: \$out is not allowed"):
        await run_aggregation(zava, manager, "orders", [{"$match": {}}, {"$out": "stolen"}])
    assert "stolen" not in await zava.db.list_collection_names()
