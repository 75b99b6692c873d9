"""The aggregation guard: hostile pipelines refused with where and why, legitimate ones accepted, scope injected."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from bson import Decimal128, ObjectId

from zava_core.aggregation_guard import (
    MAX_PIPELINE_BYTES,
    MAX_PIPELINE_DEPTH,
    MAX_STAGES,
    check_pipeline,
    parse_pipeline,
    scope_filter,
    scope_pipeline,
)
from zava_core.errors import InvalidArgument
from zava_core.identity import Scope, StoreDirectory, StoreRef

STORES = StoreDirectory([
    StoreRef("store_seattle", "Zava Retail Seattle", "Seattle", False),
    StoreRef("store_bellevue", "Zava Retail Bellevue", "Bellevue", False),
    StoreRef("store_online", "Zava Online", "Online", True),
])
MANAGER = Scope.for_store_manager(STORES.resolve("Seattle"))
HEAD_OFFICE = Scope.for_head_office(STORES)
LIVE = {"deleted": False}
SEATTLE = {"store_id": {"$in": ["store_seattle"]}, "deleted": False}

LOOKUP_ITEMS = {"$lookup": {"from": "order_items", "localField": "order_id", "foreignField": "order_id", "as": "lines"}}


def nested_lookups(levels: int) -> list[dict]:
    """A pipeline whose $lookup sub-pipelines nest `levels` levels deep (the outer pipeline is level 1)."""
    pipeline: list[dict] = [{"$limit": 1}]
    for _ in range(levels - 1):
        pipeline = [{"$lookup": {"from": "orders", "pipeline": pipeline, "as": "x"}}]
    return pipeline


# (id, collection, pipeline, fragments the message must contain)
HOSTILE = [
    ("out-top", "orders", [{"$match": {}}, {"$out": "stolen"}], ["stage 2", "$out is not allowed", "read-only"]),
    ("merge-top", "orders", [{"$merge": {"into": "x"}}], ["stage 1", "$merge is not allowed"]),
    ("out-in-facet", "orders", [{"$match": {}}, {"$match": {}}, {"$facet": {"by_store": [{"$out": "x"}]}}],
     ["stage 3 ($facet.by_store, stage 1): $out is not allowed"]),
    ("merge-in-lookup", "orders",
     [{"$lookup": {"from": "order_items", "pipeline": [{"$limit": 1}, {"$merge": "x"}], "as": "l"}}],
     ["stage 1 ($lookup.pipeline, stage 2): $merge is not allowed"]),
    ("out-in-lookup-in-facet", "orders",
     [{"$facet": {"a": [{"$lookup": {"from": "orders", "pipeline": [{"$out": "x"}], "as": "l"}}]}}],
     ["stage 1 ($facet.a, stage 1 ($lookup.pipeline, stage 1)): $out"]),
    ("where-in-match", "orders", [{"$match": {"$where": "this.total > 1"}}],
     ["stage 1 ($match): $where is not allowed", "JavaScript"]),
    ("where-in-lookup-match", "orders",
     [{"$lookup": {"from": "orders", "pipeline": [{"$match": {"$where": "1"}}], "as": "l"}}],
     ["stage 1 ($lookup.pipeline, stage 1 ($match)): $where"]),
    ("function-in-project", "orders",
     [{"$project": {"x": {"$function": {"body": "function(){return 1}", "args": [], "lang": "js"}}}}],
     ["stage 1 ($project.x): $function is not allowed"]),
    ("function-in-group", "orders",
     [{"$group": {"_id": None, "x": {"$max": {"$function": {"body": "f", "args": [], "lang": "js"}}}}}],
     ["stage 1 ($group.x.$max): $function is not allowed"]),
    ("accumulator-in-group", "orders",
     [{"$group": {"_id": "$store_id", "t": {"$accumulator": {"init": "function(){}", "lang": "js"}}}}],
     ["stage 1 ($group.t): $accumulator is not allowed"]),
    ("code-value", "orders", [{"$match": {"x": {"$code": "function(){}"}}}], ["stage 1", "JavaScript"]),
    ("union-system-users", "orders", [{"$unionWith": "system.users"}], ["stage 1 ($unionWith)", "system"]),
    ("union-system-users-coll", "orders", [{"$unionWith": {"coll": "system.users"}}],
     ["stage 1 ($unionWith.coll)", "system"]),
    ("union-other-db", "orders", [{"$unionWith": {"db": "admin", "coll": "orders"}}],
     ["stage 1 ($unionWith)", "option db is not allowed"]),
    ("union-unknown", "orders", [{"$unionWith": "zava_meta"}], ["stage 1 ($unionWith)", "unknown collection"]),
    ("lookup-non-dataset", "orders", [{"$lookup": {"from": "zava_meta", "pipeline": [], "as": "m"}}],
     ["stage 1 ($lookup.from)", "unknown collection 'zava_meta'", "orders"]),
    ("lookup-db-coll", "orders",
     [{"$lookup": {"from": {"db": "admin", "coll": "system.users"}, "pipeline": [], "as": "u"}}],
     ["stage 1 ($lookup.from)", "{db, coll}"]),
    ("lookup-no-from", "orders", [{"$lookup": {"pipeline": [{"$documents": [{"a": 1}]}], "as": "d"}}],
     ["stage 1 ($lookup.from)"]),
    ("user-roles", "orders", [{"$project": {"r": "$$USER_ROLES"}}],
     ["stage 1 ($project.r)", "$$USER_ROLES is not allowed"]),
    ("user-roles-path", "orders", [{"$match": {"$expr": {"$in": ["x", "$$USER_ROLES.role"]}}}],
     ["stage 1 ($match.$expr.$in[1])", "$$USER_ROLES"]),
    ("cluster-time", "orders", [{"$set": {"t": "$$CLUSTER_TIME"}}], ["$$CLUSTER_TIME"]),
    ("search-meta", "orders", [{"$set": {"t": "$$SEARCH_META"}}], ["$$SEARCH_META"]),
    ("js-scope", "orders", [{"$set": {"t": "$$JS_SCOPE"}}], ["$$JS_SCOPE"]),
    ("unbound-variable", "orders", [{"$set": {"t": "$$nobody"}}], ["$$nobody"]),
    ("bind-system-name", "orders",
     [{"$lookup": {"from": "orders", "let": {"USER_ROLES": 1}, "pipeline": [], "as": "l"}}],
     ["stage 1 ($lookup.let)", "lower-case"]),
    ("map-as-system-name", "orders", [{"$set": {"t": {"$map": {"input": [], "as": "ROOT2", "in": 1}}}}],
     ["stage 1 ($set.t)", "lower-case"]),
    ("graph-lookup", "orders",
     [{"$graphLookup": {"from": "orders", "startWith": "$customer_id", "connectFromField": "customer_id",
                        "connectToField": "customer_id", "as": "all"}}],
     ["stage 1", "$graphLookup is not allowed", "$lookup"]),
    ("graph-lookup-in-facet", "orders", [{"$facet": {"g": [{"$graphLookup": {}}]}}],
     ["stage 1 ($facet.g, stage 1): $graphLookup"]),
    ("current-op", "orders", [{"$currentOp": {}}], ["stage 1", "$currentOp is not allowed"]),
    ("coll-stats", "orders", [{"$collStats": {}}], ["$collStats is not allowed"]),
    ("documents", "orders", [{"$documents": [{"a": 1}]}], ["$documents is not allowed"]),
    ("vector-search", "products", [{"$vectorSearch": {}}], ["$vectorSearch is not allowed"]),
    ("sample", "orders", [{"$sample": {"size": 5}}], ["stage 1", "$sample is not an allowed stage", "$match"]),
    ("redact", "orders", [{"$redact": "$$KEEP"}], ["$redact is not an allowed stage"]),
    ("two-keys", "orders", [{"$match": {}, "$limit": 5}], ["stage 1", "exactly one key", "$match, $limit"]),
    ("empty-stage", "orders", [{}], ["stage 1", "exactly one key"]),
    ("not-a-stage", "orders", ["$match"], ["stage 1", "exactly one key"]),
    ("unknown-collection", "users", [], ["unknown collection 'users'", "orders", "sales_monthly"]),
    ("system-collection", "system.users", [], ["system collections", "orders"]),
    ("not-a-string-collection", {"db": "admin"}, [], ["collection: expected a collection name"]),
    ("too-many-stages", "orders", [{"$skip": 0}] * (MAX_STAGES + 1), [f"more than {MAX_STAGES} stages"]),
    ("too-many-nested-stages", "orders",
     [{"$facet": {f"f{i}": [{"$skip": 0}] * 10 for i in range(5)}}], [f"more than {MAX_STAGES} stages"]),
    ("too-deep", "orders", nested_lookups(MAX_PIPELINE_DEPTH + 1), [f"more than {MAX_PIPELINE_DEPTH} levels"]),
    ("too-deep-values", "orders", [{"$match": json.loads('{"a":' * 150 + "1" + "}" * 150)}], ["nested more than"]),
    ("facet-not-object", "orders", [{"$facet": [{"$match": {}}]}], ["stage 1 ($facet)"]),
    ("sub-pipeline-not-array", "orders", [{"$lookup": {"from": "orders", "pipeline": {"$match": {}}, "as": "l"}}],
     ["stage 1 ($lookup.pipeline)", "array of stages"]),
]


@pytest.mark.parametrize(("collection", "pipeline", "fragments"),
                         [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_hostile_pipelines_are_refused_with_location(collection, pipeline, fragments) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_pipeline(collection, parse_pipeline(pipeline))
    for fragment in fragments:
        assert fragment in str(caught.value)


LEGITIMATE = [
    ("empty", "orders", []),
    ("root", "orders", [{"$replaceRoot": {"newRoot": {"doc": "$$ROOT"}}}]),
    ("current-remove-now", "orders",
     [{"$set": {"c": "$$CURRENT.total", "gone": "$$REMOVE", "at": "$$NOW"}}]),
    ("map-as", "sales_monthly",
     [{"$project": {"cats": {"$map": {"input": {"$objectToArray": "$categories"}, "as": "c",
                                      "in": {"id": "$$c.k", "revenue": "$$c.v.revenue"}}}}}]),
    ("map-default-this", "sales_monthly",
     [{"$project": {"cats": {"$map": {"input": {"$objectToArray": "$categories"}, "in": "$$this.k"}}}}]),
    ("filter-reduce-let", "orders",
     [{"$project": {"f": {"$filter": {"input": [1, 2], "as": "n", "cond": {"$gt": ["$$n", 1]}}},
                    "r": {"$reduce": {"input": [1, 2], "initialValue": 0, "in": {"$add": ["$$value", "$$this"]}}},
                    "l": {"$let": {"vars": {"twice": {"$multiply": ["$total", 2]}}, "in": "$$twice"}}}}]),
    ("lookup-let-pipeline", "orders",
     [{"$limit": 2},
      {"$lookup": {"from": "order_items", "let": {"oid": "$order_id", "minQty": 2}, "as": "lines",
                   "pipeline": [{"$match": {"$expr": {"$and": [{"$eq": ["$order_id", "$$oid"]},
                                                               {"$gte": ["$quantity", "$$minQty"]}]}}}]}}]),
    ("lookup-local-foreign", "orders", [LOOKUP_ITEMS]),
    ("set-window-fields", "sales_monthly",
     [{"$setWindowFields": {"partitionBy": "$store_id", "sortBy": {"month": 1},
                            "output": {"running": {"$sum": "$totals.revenue",
                                                   "window": {"documents": ["unbounded", "current"]}}}}}]),
    ("facet", "orders",
     [{"$facet": {"by_store": [{"$group": {"_id": "$store_id", "n": {"$sum": 1}}}],
                  "by_status": [{"$sortByCount": "$status"}], "lines": [{"$limit": 1}, LOOKUP_ITEMS]}}]),
    ("union-with", "orders", [{"$unionWith": "order_items"}, {"$unionWith": {"coll": "inventory",
                                                                           "pipeline": [{"$limit": 1}]}}]),
    ("buckets-and-counts", "orders",
     [{"$bucket": {"groupBy": "$total", "boundaries": [0, 100, 1000], "default": "big"}}, {"$count": "n"}]),
    ("bucket-auto-unwind-sort-skip-unset", "orders",
     [{"$unset": "customer_name"}, {"$unwind": "$x"}, {"$sort": {"total": -1}}, {"$skip": 1},
      {"$bucketAuto": {"groupBy": "$total", "buckets": 3}}, {"$replaceWith": "$$ROOT"}, {"$addFields": {"a": 1}}]),
    ("field-named-like-operator-text", "products", [{"$match": {"description": {"$regex": "out of stock"}}}]),
    ("nested-at-limit", "orders", nested_lookups(MAX_PIPELINE_DEPTH)),
    ("stages-at-limit", "orders", [{"$skip": 0}] * MAX_STAGES),
]


@pytest.mark.parametrize(("collection", "pipeline"), [case[1:] for case in LEGITIMATE],
                         ids=[case[0] for case in LEGITIMATE])
def test_legitimate_pipelines_are_accepted(collection, pipeline) -> None:
    check_pipeline(collection, parse_pipeline(pipeline))


# --- parsing ---


def test_extended_json_string_becomes_bson_values() -> None:
    text = ('[{"$match": {"created_at": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}, '
            '"_id": {"$oid": "64b7f0c2a1b2c3d4e5f60718"}, "amount": {"$numberDecimal": "1.50"}}}]')
    [stage] = parse_pipeline(text)
    match = stage["$match"]
    assert match["created_at"]["$gte"].replace(tzinfo=dt.UTC) == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert match["_id"] == ObjectId("64b7f0c2a1b2c3d4e5f60718")
    assert match["amount"] == Decimal128("1.50")
    check_pipeline("orders", [stage])


def test_list_with_extended_json_date_is_converted() -> None:
    pipeline = [{"$match": {"d": {"$lt": {"$date": "2025-06-01T00:00:00Z"}}}}, {"$limit": 3}]
    parsed = parse_pipeline(pipeline)
    assert isinstance(parsed[0]["$match"]["d"]["$lt"], dt.datetime)
    assert parsed[1] == {"$limit": 3}
    assert pipeline[0]["$match"]["d"]["$lt"] == {"$date": "2025-06-01T00:00:00Z"}  # input untouched


@pytest.mark.parametrize(("pipeline", "fragment"), [
    ("[{\"$match\": ", "not valid"),
    ("{'$match': {}}", "not valid"),
    ('{"$match": {}}', "JSON array of stages"),
    ('"orders"', "JSON array of stages"),
    (42, "JSON array of stages"),
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ('[{"$match": {"d": {"$date": "not a date"}}}]', "not valid"),
    ([{"$match": {"x": object()}}], "not JSON"),
    ('[{"$match": {"note": "' + "x" * MAX_PIPELINE_BYTES + '"}}]', f"limit is {MAX_PIPELINE_BYTES:,}"),
], ids=["truncated", "single-quotes", "object-not-array", "string", "number", "deep", "bad-date", "not-json",
        "too-big"])
def test_bad_input_is_refused(pipeline, fragment) -> None:
    with pytest.raises(InvalidArgument, match="pipeline") as caught:
        parse_pipeline(pipeline)
    assert fragment in str(caught.value)


def test_too_big_list_is_refused_by_check_too() -> None:
    with pytest.raises(InvalidArgument, match="limit is"):
        check_pipeline("orders", [{"$match": {"note": "x" * MAX_PIPELINE_BYTES}}])


# --- scoping ---


def test_store_scope_injects_the_first_match() -> None:
    scoped = scope_pipeline("orders", [{"$group": {"_id": "$status"}}], MANAGER)
    assert scoped == [{"$match": SEATTLE}, {"$group": {"_id": "$status"}}]


def test_customer_scope_follows_can_see_customer() -> None:
    two = Scope(frozenset({"store_seattle", "store_online"}), False, "test")
    assert scope_filter("customers", two) == {
        "$or": [{"primary_store_id": {"$in": ["store_online", "store_seattle"]}},
                {"stores_shopped.store_online": {"$exists": True}},
                {"stores_shopped.store_seattle": {"$exists": True}}],
        "deleted": False,
    }


def test_unscoped_collections_get_only_the_deleted_filter() -> None:
    for collection in ("stores", "products", "categories", "product_types", "product_embeddings"):
        assert scope_pipeline(collection, [], MANAGER) == [{"$match": LIVE}]


def test_lookup_forms_get_the_scope_of_the_collection_read() -> None:
    let_form = {"$lookup": {"from": "orders", "let": {"c": "$customer_id"}, "as": "o",
                            "pipeline": [{"$match": {"$expr": {"$eq": ["$customer_id", "$$c"]}}}]}}
    scoped = scope_pipeline("customers", [LOOKUP_ITEMS, let_form], MANAGER)
    assert scoped[1] == {"$lookup": {**LOOKUP_ITEMS["$lookup"], "pipeline": [{"$match": SEATTLE}]}}
    assert scoped[2]["$lookup"]["pipeline"] == [{"$match": SEATTLE}, *let_form["$lookup"]["pipeline"]]
    assert scoped[2]["$lookup"]["let"] == {"c": "$customer_id"}


def test_combined_lookup_form_keeps_fields_and_prepends() -> None:
    combined = {"$lookup": {**LOOKUP_ITEMS["$lookup"], "pipeline": [{"$project": {"sku": 1}}]}}
    [_, stage] = scope_pipeline("orders", [combined], MANAGER)
    assert stage["$lookup"]["localField"] == "order_id"
    assert stage["$lookup"]["pipeline"] == [{"$match": SEATTLE}, {"$project": {"sku": 1}}]


def test_nested_lookups_facets_and_unions_are_scoped() -> None:
    inner = {"$lookup": {"from": "inventory", "localField": "product_id", "foreignField": "product_id", "as": "s"}}
    pipeline = [
        {"$facet": {"lines": [{"$limit": 5}, {"$lookup": {"from": "order_items", "localField": "order_id",
                                                          "foreignField": "order_id", "as": "l",
                                                          "pipeline": [inner]}}],
                    "count": [{"$count": "n"}]}},
        {"$unionWith": "orders"},
        {"$unionWith": {"coll": "customers", "pipeline": [{"$facet": {"x": [inner]}}]}},
    ]
    scoped = scope_pipeline("orders", pipeline, MANAGER)
    lines = scoped[1]["$facet"]["lines"]
    assert lines[0] == {"$limit": 5}
    assert lines[1]["$lookup"]["pipeline"][0] == {"$match": SEATTLE}
    assert lines[1]["$lookup"]["pipeline"][1]["$lookup"]["pipeline"] == [{"$match": SEATTLE}]
    assert scoped[1]["$facet"]["count"] == [{"$count": "n"}]
    assert scoped[2] == {"$unionWith": {"coll": "orders", "pipeline": [{"$match": SEATTLE}]}}
    union = scoped[3]["$unionWith"]["pipeline"]
    assert union[0] == {"$match": scope_filter("customers", MANAGER)}
    assert union[1]["$facet"]["x"][0]["$lookup"]["pipeline"] == [{"$match": SEATTLE}]


def test_head_office_gets_only_deleted_filters() -> None:
    pipeline = [LOOKUP_ITEMS, {"$unionWith": "customers"}, {"$facet": {"a": [LOOKUP_ITEMS]}}]
    scoped = scope_pipeline("inventory", pipeline, HEAD_OFFICE)
    assert scoped[0] == {"$match": LIVE}
    assert scoped[1]["$lookup"]["pipeline"] == [{"$match": LIVE}]
    assert scoped[2]["$unionWith"]["pipeline"] == [{"$match": LIVE}]
    assert scoped[3]["$facet"]["a"][0]["$lookup"]["pipeline"] == [{"$match": LIVE}]


def test_scope_pipeline_does_not_mutate_its_input() -> None:
    pipeline = [{"$lookup": {"from": "orders", "pipeline": [{"$limit": 1}], "as": "o"}}, LOOKUP_ITEMS,
                {"$unionWith": {"coll": "orders"}}, {"$facet": {"a": [LOOKUP_ITEMS]}}]
    before = copy.deepcopy(pipeline)
    scoped = scope_pipeline("orders", pipeline, MANAGER)
    assert pipeline == before
    assert scoped[1]["$lookup"]["pipeline"] is not pipeline[0]["$lookup"]["pipeline"]


def test_scoped_pipeline_still_passes_the_check() -> None:
    pipeline = parse_pipeline([{"$facet": {"a": [LOOKUP_ITEMS]}}, {"$unionWith": "customers"}])
    check_pipeline("orders", scope_pipeline("orders", pipeline, MANAGER))
