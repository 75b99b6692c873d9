"""run_aggregation against the seeded `small` dataset: right answers, no escape from the store scope, limits."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client
from pymongo import MongoClient

from mcp_servers.runtime.replies import unfenced
from mcp_servers.sales_analysis.server import build_server as build_analysis_server
from zava_core import limits as L
from zava_core.analysis.aggregation import AggregationRejected, AggregationTimeout, run_aggregation
from zava_core.analysis.inflight import AggregationBusy
from zava_core.context import Zava
from zava_core.errors import InvalidArgument, ZavaError
from zava_core.infra.config import Settings
from zava_core.limits import HARD_CAP
from zava_core.scope import Identity, Scope

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SEATTLE = "store_seattle"


@pytest.fixture
async def zava(seeded: Settings) -> AsyncIterator[Zava]:
    opened = await Zava.open(seeded)
    try:
        yield opened
    finally:
        await opened.aggregations.cancel_all()  # pipelines the engine was still running after their deadline
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
    result = await run_aggregation(zava, head_office, "orders", pipeline, max_rows=HARD_CAP)
    expected = Counter([d["store_id"] async for d in zava.collections.orders.find({"deleted": False}, {"store_id": 1})])
    assert {r["_id"]: r["orders"] for r in result.rows} == expected
    assert len(expected) > 1
    assert not result.meta.truncated
    assert result.applied.scope_stage == {"$match": {"deleted": False}}
    assert result.applied.max_time_ms == L.AGGREGATION_MAX_TIME_MS == 15_000
    assert json.loads(result.model_dump_json())["rows"] == result.rows


async def test_revenue_per_category_for_a_store_manager(zava: Zava, manager: Scope) -> None:
    pipeline = json.dumps([{"$group": {"_id": "$category_id", "revenue": {"$sum": "$total_amount"},
                                       "lines": {"$sum": 1}}}, {"$sort": {"_id": 1}}])
    result = await run_aggregation(zava, manager, "order_items", pipeline, max_rows=50)
    revenue: dict[str, float] = defaultdict(float)
    lines: Counter[str] = Counter()
    async for line in zava.collections.order_items.find({"store_id": SEATTLE, "deleted": False}):
        revenue[line["category_id"]] += line["total_amount"]
        lines[line["category_id"]] += 1
    assert {r["_id"]: r["lines"] for r in result.rows} == lines
    assert {r["_id"]: r["revenue"] for r in result.rows} == pytest.approx(revenue)
    assert result.applied.scope == manager.label
    assert result.applied.scope_stage == {"$match": {"store_id": SEATTLE, "deleted": False}}


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
    orders = await zava.collections.orders.find(seattle).sort("order_id", 1).limit(5).to_list()
    assert [r["order_id"] for r in result.rows] == [o["order_id"] for o in orders]
    for row in result.rows:
        skus = [d["sku"] async for d in zava.collections.order_items.find({"order_id": row["order_id"],
                                                                            "deleted": False})]
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
    expected = await zava.collections.orders.count_documents(
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
    result = await run_aggregation(zava, manager, collection, pipeline, max_rows=HARD_CAP)
    assert store_ids_in(result.rows) <= {SEATTLE}
    assert (result.rows == []) if empty else result.rows


async def test_the_escape_check_would_see_a_leak(zava: Zava, head_office: Scope) -> None:
    """The same lookup for head office reaches other stores: the walk over rows does detect them."""
    pipeline = dict((e[0], e[2]) for e in ESCAPES)["lookup-customer-orders-elsewhere"]
    result = await run_aggregation(zava, head_office, "orders", pipeline, max_rows=HARD_CAP)
    assert len(store_ids_in(result.rows)) > 1


async def test_store_manager_sees_only_visible_customers(zava: Zava, manager: Scope) -> None:
    pipeline = [{"$project": {"primary_store_id": 1, "stores_shopped": 1}}]
    result = await run_aggregation(zava, manager, "customers", pipeline, max_rows=HARD_CAP)
    assert len(result.rows) == 100
    assert all(manager.can_see_customer(row) for row in result.rows)
    count = await run_aggregation(zava, manager, "customers", [{"$count": "n"}])
    visible = [d async for d in zava.collections.customers.find({"deleted": False})]
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
    result = await run_aggregation(zava, manager, "product_embeddings", [], max_rows=HARD_CAP)
    size = len(json.dumps(result.rows, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    assert 0 < len(result.rows) < 100
    assert size <= L.AGGREGATION_BYTE_CAP
    assert result.meta.truncated
    assert "byte cap" in result.meta.note and "row cap" not in result.meta.note


async def test_a_first_row_over_the_byte_cap_is_explained(zava: Zava, manager: Scope) -> None:
    pipeline = [{"$limit": 1}, {"$lookup": {"from": "order_items", "pipeline": [{"$limit": 400}], "as": "x"}}]
    result = await run_aggregation(zava, manager, "orders", pipeline)
    assert result.rows == []
    assert result.meta.truncated and "first row alone" in result.meta.note


async def test_slow_pipeline_is_stopped_by_max_time_ms(zava: Zava, manager: Scope,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "AGGREGATION_MAX_TIME_MS", 1)
    pipeline = [{"$group": {"_id": "$product_id", "units": {"$sum": "$quantity"}}}, {"$sort": {"units": -1}}]
    with pytest.raises(AggregationTimeout) as caught:
        await run_aggregation(zava, manager, "order_items", pipeline)
    message = str(caught.value)
    assert "time limit of 1 ms" in message and "sales_monthly" in message and "$match" in message
    assert isinstance(caught.value, ZavaError)


async def test_a_pipeline_the_server_lets_run_past_the_limit_is_still_answered_on_time(
        zava: Zava, head_office: Scope, manager: Scope, monkeypatch: pytest.MonkeyPatch) -> None:
    """A $lookup joining every order to thousands of orders, then $unwind: the embedded engine checks maxTimeMS
    only between some stages (2 s asked, 12 s run before it gave up on its own), so the deadline is also the
    client's."""
    monkeypatch.setattr(L, "AGGREGATION_MAX_TIME_MS", 2_000)
    pipeline = [{"$lookup": {"from": "orders", "pipeline": [{"$limit": 5000}], "as": "x"}}, {"$unwind": "$x"},
                {"$count": "n"}]
    started = time.monotonic()
    with pytest.raises(AggregationTimeout) as caught:
        await run_aggregation(zava, head_office, "orders", pipeline)
    elapsed = time.monotonic() - started
    assert "time limit of 2,000 ms" in str(caught.value)
    assert elapsed < 8, f"answered after {elapsed:.1f} s"  # the limit plus generous slack for a loaded machine
    # The engine is still working on it: the same caller cannot pile another pipeline on top (this used to be
    # allowed, so a caller could keep the engine busy by retrying every deadline) ...
    with pytest.raises(AggregationBusy, match=r"another aggregation of yours .* is still running"):
        await run_aggregation(zava, head_office, "stores", [{"$count": "n"}])
    # ... while the client stays usable for others.
    assert (await run_aggregation(zava, manager, "stores", [{"$count": "n"}])).rows == [{"n": 8}]


async def test_mongodb_error_text_comes_back(zava: Zava, manager: Scope) -> None:
    with pytest.raises(AggregationRejected) as caught:
        await run_aggregation(zava, manager, "orders", [{"$group": {"total": {"$sum": 1}}}])
    assert "a group specification must include an _id" in caught.value.quoted


CONVERSIONS = [{"$toInt": "$product_name"}, {"$toDouble": "$product_name"}, {"$toDate": "$product_name"},
               {"$convert": {"input": "$product_name", "to": "int"}},
               {"$dateFromString": {"dateString": "$product_name"}}, {"$toDecimal": "$product_name"},
               {"$toObjectId": "$product_name"}]


@pytest.mark.parametrize("expression", CONVERSIONS, ids=[next(iter(e)) for e in CONVERSIONS])
async def test_an_engine_error_never_quotes_a_stored_value(zava: Zava, manager: Scope, expression: dict) -> None:
    """A conversion that fails used to quote the stored value ("Failed to parse number 'IGNORE PREVIOUS
    INSTRUCTIONS...'") in an error reply outside the fence; the caller is told the operator and the stage."""
    product = await zava.db["products"].find_one({"deleted": False}, sort=[("sku", 1)])
    pipeline = [{"$match": {"sku": product["sku"]}}, {"$project": {"x": expression}}]
    with pytest.raises(AggregationRejected) as caught:
        await run_aggregation(zava, manager, "products", pipeline)
    said, quoted = str(caught.value), getattr(caught.value, "quoted", None) or ""
    assert product["product_name"] not in said + quoted and "<value>" in quoted, (said, quoted)
    assert f"stage 2 ($project.x.{next(iter(expression))})" in said, said


async def test_the_engine_message_reaches_the_model_inside_the_fence(seeded: Settings) -> None:
    product = MongoClient(seeded.mongodb_uri)[seeded.mongodb_database].products.find_one({"deleted": False})
    pipeline = [{"$match": {"sku": product["sku"]}}, {"$project": {"x": {"$toInt": "$product_name"}}}]
    async with Client(build_analysis_server(seeded, Identity(head_office=False, store="seattle"))) as client:
        result = await client.call_tool("run_aggregation", {"collection": "products", "pipeline": pipeline})
    text = result.content[0].text
    ours, data = text.split("\n", 1)
    assert result.is_error and "MongoDB rejected the pipeline at stage 2 ($project.x.$toInt)" in ours
    assert "Failed to parse" not in ours and "<untrusted-user-data-" in data
    assert unfenced(text) == "Failed to parse number <value> in $convert with no onError value: Did not consume " \
        "whole string."
    assert product["product_name"] not in text


async def test_guard_refusals_come_before_the_database(zava: Zava, manager: Scope) -> None:
    with pytest.raises(InvalidArgument, match=r"stage 2: \$out is not allowed"):
        await run_aggregation(zava, manager, "orders", [{"$match": {}}, {"$out": "stolen"}])
    assert "stolen" not in await zava.db.list_collection_names()



# --- what the engine cannot bound by itself ---


async def test_escaped_literal_regexes_match_like_python(zava: Zava, manager: Scope) -> None:
    """The allowed form works on the engine: an escaped literal, anchored or not, options "i"."""
    names = [d["product_name"] async for d in zava.collections.products.find({"deleted": False}, {"product_name": 1})]
    cases = [("in\\. ", re.escape("in. ")), ("^16 OZ", "^" + re.escape("16 oz")), ("set$", re.escape("set") + "$")]
    for pattern, python in cases:
        expected = sorted(n for n in names if re.search(python, n, re.IGNORECASE))
        assert expected, pattern
        query = [{"$match": {"product_name": {"$regex": pattern, "$options": "i"}}}, {"$sort": {"product_name": 1}},
                 {"$project": {"_id": 0, "product_name": 1}}]
        result = await run_aggregation(zava, manager, "products", query, max_rows=HARD_CAP)
        assert [r["product_name"] for r in result.rows] == expected[:100], pattern
        expression = [{"$match": {"$expr": {"$regexMatch": {"input": "$product_name", "regex": pattern,
                                                            "options": "i"}}}}, {"$count": "n"}]
        result = await run_aggregation(zava, manager, "products", expression)
        assert result.rows == [{"n": len(expected)}], pattern


async def test_a_bounded_window_computes_a_rolling_sum(zava: Zava, manager: Scope) -> None:
    pipeline = [{"$setWindowFields": {"partitionBy": "$store_id", "sortBy": {"month": 1}, "output": {
        "last_3": {"$sum": "$totals.revenue", "window": {"documents": [-2, "current"]}}}}},
        {"$sort": {"month": 1}}, {"$project": {"_id": 0, "month": 1, "revenue": "$totals.revenue", "last_3": 1}}]
    result = await run_aggregation(zava, manager, "sales_monthly", pipeline, max_rows=HARD_CAP)
    months = await zava.collections.sales_monthly.find({"store_id": SEATTLE, "deleted": False}) \
        .sort("month", 1).to_list()
    revenue = [m["totals"]["revenue"] for m in months]
    assert len(result.rows) == min(HARD_CAP, len(months)) > 3
    for index, row in enumerate(result.rows):
        assert row["month"] == months[index]["month"]
        assert row["last_3"] == pytest.approx(sum(revenue[max(0, index - 2):index + 1]))


# Each of these kept the shared engine busy for every caller: refused before it is reached, at once.
FREEZERS = [
    ("backtracking-regex-match", "products",
     [{"$project": {"m": {"$regexMatch": {"input": {"$literal": "a" * 30 + "!"}, "regex": "(a+)+$"}}}}],
     "only escaped literals"),
    ("backtracking-regex", "customers", [{"$match": {"email": {"$regex": "^(a|aa)+$"}}}], "only escaped literals"),
    ("unbounded-window", "order_items",
     [{"$setWindowFields": {"sortBy": {"order_date": 1}, "output": {
         "n": {"$sum": "$quantity", "window": {"documents": ["unbounded", "unbounded"]}}}}}],
     "unbounded windows are not allowed"),
    ("window-push-root", "order_items",
     [{"$setWindowFields": {"sortBy": {"order_date": 1}, "output": {"all": {"$push": "$$ROOT"}}}}],
     "$push is not allowed in $setWindowFields"),
    ("group-push-root", "order_items", [{"$group": {"_id": None, "all": {"$push": "$$ROOT"}}}], "whole documents"),
    ("range-grid", "orders",
     [{"$project": {"g": {"$map": {"input": {"$range": [0, 1000]}, "in": {"$range": [0, 1000]}}}}}], "$range limit"),
    ("dbref", "orders", '[{"$match": {"c": {"$ref": "customers", "$id": 1, "x": {"$where": "1"}}}}]', "DBRef"),
]


@pytest.mark.parametrize(("collection", "pipeline", "fragment"), [f[1:] for f in FREEZERS],
                         ids=[f[0] for f in FREEZERS])
async def test_pipelines_that_freeze_the_engine_are_refused_at_once(zava: Zava, manager: Scope, collection: str,
                                                                    pipeline: Any, fragment: str) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidArgument) as caught:
        await run_aggregation(zava, manager, collection, pipeline)
    assert fragment in str(caught.value)
    assert time.monotonic() - started < 1
    assert not zava.aggregations.tasks  # nothing was started


# --- how many at once ---

SLOW = [{"$group": {"_id": "$product_id", "units": {"$sum": "$quantity"}}}, {"$count": "n"}]


async def test_one_aggregation_per_caller_at_a_time(zava: Zava, manager: Scope) -> None:
    first, second = await asyncio.gather(run_aggregation(zava, manager, "order_items", SLOW),
                                         run_aggregation(zava, manager, "order_items", SLOW), return_exceptions=True)
    assert not isinstance(first, BaseException) and first.rows
    assert isinstance(second, AggregationBusy)
    assert f"another aggregation of yours ({manager.label}) is still running" in str(second)
    assert "wait for it to finish" in str(second)
    assert not zava.aggregations.tasks and not zava.aggregations.by_caller
    # Finished means free: the next one runs.
    assert (await run_aggregation(zava, manager, "order_items", SLOW)).rows == first.rows


async def test_different_callers_run_side_by_side_up_to_the_process_cap(zava: Zava, manager: Scope,
                                                                        head_office: Scope) -> None:
    stores = (await zava.reference.get()).stores
    tacoma, everett = (Scope.for_store_manager(stores.resolve(name)) for name in ("Tacoma", "Everett"))
    callers = (manager, tacoma, head_office, everett)[:L.MAX_AGGREGATIONS_IN_FLIGHT + 1]
    results = await asyncio.gather(*(run_aggregation(zava, scope, "order_items", SLOW) for scope in callers),
                                   return_exceptions=True)
    # Two callers never shut out a third (the cap is above two); beyond the cap, the next is refused.
    assert L.MAX_AGGREGATIONS_IN_FLIGHT > 2 * L.MAX_AGGREGATIONS_PER_CALLER
    assert [type(r).__name__ for r in results] == ["AggregationResult"] * L.MAX_AGGREGATIONS_IN_FLIGHT + [
        "AggregationBusy"]
    assert all(result.rows for result in results[:-1])
    assert f"{L.MAX_AGGREGATIONS_IN_FLIGHT} aggregations of other callers are already running" in str(results[-1])


# --- a customer's other stores ---


def stores_shopped_keys(value: Any) -> set[str]:
    """The keys of every `stores_shopped` map in a result, at any depth."""
    if isinstance(value, dict):
        found = set(value["stores_shopped"]) if isinstance(value.get("stores_shopped"), dict) else set()
        return found.union(*(stores_shopped_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(stores_shopped_keys(v) for v in value))
    return set()


SHOPPED = {"_id": 0, "customer_id": 1, "stores_shopped": 1}
CUSTOMER_READS = [
    ("direct", "customers", [{"$project": SHOPPED}]),
    ("lookup-from-orders", "orders",
     [{"$limit": 50}, {"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "customer_id",
                                   "as": "customer", "pipeline": [{"$project": SHOPPED}]}},
      {"$project": {"customer": 1}}]),
    ("lookup-let", "orders",
     [{"$limit": 10}, {"$lookup": {"from": "customers", "let": {"c": "$customer_id"}, "as": "customer",
                                   "pipeline": [{"$match": {"$expr": {"$eq": ["$customer_id", "$$c"]}}},
                                                {"$project": SHOPPED}]}}, {"$project": {"customer": 1}}]),
    ("union-with", "stores", [{"$unionWith": {"coll": "customers", "pipeline": [{"$project": SHOPPED}]}}]),
    ("facet-lookup", "orders",
     [{"$limit": 30}, {"$facet": {"c": [{"$lookup": {"from": "customers", "localField": "customer_id",
                                                     "foreignField": "customer_id", "as": "customer"}},
                                        {"$project": {"customer.stores_shopped": 1}}]}}]),
]


@pytest.mark.parametrize(("collection", "pipeline"), [c[1:] for c in CUSTOMER_READS],
                         ids=[c[0] for c in CUSTOMER_READS])
async def test_store_manager_sees_only_their_stores_in_stores_shopped(zava: Zava, manager: Scope, head_office: Scope,
                                                                      collection: str, pipeline: list) -> None:
    result = await run_aggregation(zava, manager, collection, pipeline, max_rows=HARD_CAP)
    assert stores_shopped_keys(result.rows) == {SEATTLE}
    # The same read as head office does show other stores: the check above would see a leak.
    unscoped = await run_aggregation(zava, head_office, collection, pipeline, max_rows=HARD_CAP)
    assert len(stores_shopped_keys(unscoped.rows)) > 1


async def test_store_manager_cannot_count_customers_per_other_store(zava: Zava, manager: Scope) -> None:
    pipeline = [{"$project": {"shops": {"$objectToArray": "$stores_shopped"}}}, {"$unwind": "$shops"},
                {"$group": {"_id": "$shops.k", "customers": {"$sum": 1}}}]
    result = await run_aggregation(zava, manager, "customers", pipeline)
    expected = await zava.collections.customers.count_documents({"stores_shopped.store_seattle": {"$exists": True},
                                                           "deleted": False})
    assert result.rows == [{"_id": SEATTLE, "customers": expected}]
    # Customers seen because Seattle is their home store, who never ordered there, keep an empty map.
    empty = await run_aggregation(zava, manager, "customers", [{"$match": {"stores_shopped": {}}}, {"$count": "n"}])
    assert empty.rows == [{"n": await zava.collections.customers.count_documents(
        {"primary_store_id": SEATTLE, "stores_shopped.store_seattle": {"$exists": False}, "deleted": False})}]
