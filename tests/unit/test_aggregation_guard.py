"""The aggregation guard: hostile pipelines refused with where and why, legitimate ones accepted, scope injected."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re

import pytest
from bson import DBRef, Decimal128, ObjectId, Regex

from zava_core.analysis.guard import (
    MAX_PIPELINE_BYTES,
    MAX_PIPELINE_DEPTH,
    MAX_STAGES,
    check_pipeline,
    parse_pipeline,
    scope_filter,
    scope_pipeline,
)
from zava_core.errors import InvalidArgument
from zava_core.limits import MAX_RANGE_ITEMS, MAX_REGEX_CHARS, MAX_UNWINDS, MAX_WINDOW_DOCUMENTS
from zava_core.scope import Scope, StoreDirectory, StoreRef

STORES = StoreDirectory([
    StoreRef("store_seattle", "Zava Retail Seattle", "Seattle", False),
    StoreRef("store_bellevue", "Zava Retail Bellevue", "Bellevue", False),
    StoreRef("store_online", "Zava Online", "Online", True),
])
MANAGER = Scope.for_store_manager(STORES.resolve("Seattle"))
HEAD_OFFICE = Scope.for_head_office(STORES)
LIVE = {"deleted": False}
SEATTLE = {"store_id": "store_seattle", "deleted": False}

LOOKUP_ITEMS = {"$lookup": {"from": "order_items", "localField": "order_id", "foreignField": "order_id", "as": "lines"}}
# What a store manager's read of customers gets after the scope $match.
STORES_SHOPPED_CUT = {"$set": {"stores_shopped": {"$cond": [
    {"$eq": [{"$type": "$stores_shopped"}, "object"]},
    {"$arrayToObject": {"$filter": {"input": {"$objectToArray": "$stores_shopped"},
                                    "cond": {"$in": ["$$this.k", ["store_seattle"]]}}}},
    "$$REMOVE"]}}}


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
                            "output": {"last_12": {"$sum": "$totals.revenue",
                                                   "window": {"documents": [-11, "current"]}}}}}]),
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



# --- what the engine cannot bound by itself: regular expressions, windows, $range, $unwind, whole documents ---

_EXPR_REGEX = {"$match": {"$expr": {"$regexMatch": {"input": "$name", "regex": "(a+)+$"}}}}
_LITERAL_HOW = ['{"$regex": "^drill", "$options": "i"}', "product search tools"]


def window(output: dict) -> list[dict]:
    return [{"$setWindowFields": {"partitionBy": "$store_id", "sortBy": {"month": 1}, "output": {"w": output}}}]


def group(accumulator: dict, stage: str = "$group") -> list[dict]:
    if stage == "$group":
        return [{"$group": {"_id": "$store_id", "x": accumulator}}]
    return [{stage: {"groupBy": "$total", "buckets": 3, "output": {"x": accumulator}}}]


def mapped_ranges(outer: int, inner: int) -> list[dict]:
    return [{"$project": {"grid": {"$map": {"input": {"$range": [0, outer]}, "in": {"$range": [0, inner]}}}}}]


# (id, collection, pipeline (a JSON string is parsed as the tool would), fragments the message must contain)
UNBOUNDED = [
    # Regular expressions: a catastrophic-backtracking pattern froze the engine ~27 s on a 30-character input.
    ("regex-backtracking", "products", [{"$match": {"name": {"$regex": "(a+)+$"}}}],
     ["stage 1 ($match.name)", "'(a+)+$'", "unescaped '('", *_LITERAL_HOW]),
    ("regex-with-options-x", "products", [{"$match": {"name": {"$regex": "drill", "$options": "x"}}}],
     ["stage 1 ($match.name)", "options 'x'"]),
    ("regex-options-m", "products", [{"$match": {"name": {"$regex": "^drill$", "$options": "im"}}}], ["options 'im'"]),
    ("regex-dot-star", "products", [{"$match": {"name": {"$regex": "dr.*ll"}}}], ["unescaped '.'"]),
    ("regex-alternation", "products", [{"$match": {"name": {"$regex": "drill|saw"}}}], ["unescaped '|'"]),
    ("regex-class-escape", "products", [{"$match": {"sku": {"$regex": "^\\d+$"}}}], ["'\\\\d'", "punctuation"]),
    ("regex-backreference", "products", [{"$match": {"sku": {"$regex": "(a)\\1"}}}], ["unescaped '('"]),
    ("regex-trailing-backslash", "products", [{"$match": {"sku": {"$regex": "a\\"}}}], ["backslash"]),
    ("regex-anchor-inside", "products", [{"$match": {"sku": {"$regex": "a$b"}}}], ["unescaped '$'"]),
    ("regex-too-long", "products", [{"$match": {"name": {"$regex": "a" * (MAX_REGEX_CHARS + 1)}}}],
     [f"{MAX_REGEX_CHARS + 1} characters long", f"limit is {MAX_REGEX_CHARS}"]),
    ("regex-empty", "products", [{"$match": {"name": {"$regex": "^"}}}], ["no literal character"]),
    ("regex-not-a-string", "products", [{"$match": {"name": {"$regex": {"$concat": ["(a+)", "+$"]}}}}],
     ["stage 1 ($match.name.$regex)", "literal string"]),
    ("regex-beside-operator", "products", [{"$match": {"name": {"$gt": "a", "$regex": "(x+)+y"}}}],
     ["unescaped '('"]),
    ("regex-options-alone", "products", [{"$match": {"name": {"$options": "s"}}}], ["options 's'"]),
    ("regex-in-list", "products", [{"$match": {"name": {"$in": [{"$regex": "^(a|aa)+$"}]}}}],
     ["stage 1 ($match.name.$in[0])", "unescaped '('"]),
    ("regex-not", "products", [{"$match": {"name": {"$not": {"$regex": ".*"}}}}], ["unescaped '.'"]),
    ("regex-extended-json", "products",
     '[{"$match": {"name": {"$regularExpression": {"pattern": "(.*a){25}", "options": ""}}}}]',
     ["stage 1 ($match.name)", "unescaped '('"]),
    ("regex-extended-json-options", "products",
     '[{"$match": {"name": {"$regularExpression": {"pattern": "drill", "options": "s"}}}}]', ["options 's'"]),
    ("regex-legacy-extended-json", "products", '[{"$match": {"name": {"$regex": "a+b", "$options": "i"}}}]',
     ["unescaped '+'"]),
    ("regex-in-lookup", "orders",
     [{"$lookup": {"from": "products", "as": "p", "pipeline": [{"$match": {"name": {"$regex": "(a+)+$"}}}]}}],
     ["stage 1 ($lookup.pipeline, stage 1 ($match.name))", "unescaped '('"]),
    ("regex-match-backtracking", "products", [_EXPR_REGEX],
     ["stage 1 ($match.$expr.$regexMatch)", "'(a+)+$'", "unescaped '('", *_LITERAL_HOW]),
    ("regex-find-field-path", "products",
     [{"$project": {"m": {"$regexFind": {"input": "$name", "regex": "$description"}}}}],
     ["stage 1 ($project.m.$regexFind)", "'$description'", "field path"]),
    ("regex-find-variable", "products",
     [{"$project": {"m": {"$regexFind": {"input": "$name", "regex": "$$ROOT.pattern"}}}}], ["field path or variable"]),
    ("regex-find-all-expression", "products",
     [{"$project": {"m": {"$regexFindAll": {"input": "$name", "regex": {"$concat": ["(a", "+)+"]}}}}}],
     ["stage 1 ($project.m.$regexFindAll)", "must be a literal string, not an expression"]),
    ("regex-find-all-empty", "products", [{"$project": {"m": {"$regexFindAll": {"input": "$name", "regex": ""}}}}],
     ["no literal character"]),
    ("regex-match-options", "products",
     [{"$project": {"m": {"$regexMatch": {"input": "$name", "regex": "saw", "options": "ix"}}}}], ["options 'ix'"]),
    ("regex-match-options-expression", "products",
     [{"$project": {"m": {"$regexMatch": {"input": "$name", "regex": "saw", "options": "$opts"}}}}],
     ["options '$opts'"]),
    ("regex-match-bson-regex", "products",
     '[{"$project": {"m": {"$regexMatch": {"input": "$name", "regex": {"$regex": "(a|a)*b"}}}}}]',
     ["stage 1 ($project.m.$regexMatch", "unescaped '('"]),
    ("regex-match-not-an-object", "products", [{"$project": {"m": {"$regexMatch": ["$name", "saw"]}}}],
     ["stage 1 ($project.m.$regexMatch)", '"regex": "<literal>"']),
    ("regex-match-no-regex", "products", [{"$project": {"m": {"$regexMatch": {"input": "$name"}}}}], ["takes"]),
    ("text-search", "products", [{"$match": {"$text": {"$search": "drill"}}}],
     ["stage 1 ($match): $text is not allowed", "product search tools"]),
    # Windows: an unbounded window ran 88 s past a 15 s limit; with $push of $$ROOT, 442 s and 2.1 GB.
    ("window-unbounded", "sales_monthly",
     window({"$sum": "$totals.revenue", "window": {"documents": ["unbounded", 0]}}),
     ["stage 1 ($setWindowFields.output.w.window)", "unbounded windows are not allowed",
      f"at most {MAX_WINDOW_DOCUMENTS} documents"]),
    ("window-unbounded-after", "sales_monthly",
     window({"$avg": "$totals.revenue", "window": {"documents": ["current", "unbounded"]}}), ["unbounded"]),
    ("window-missing", "sales_monthly", window({"$sum": "$totals.revenue"}),
     ["stage 1 ($setWindowFields.output.w)", "$sum without a window reads the whole partition"]),
    ("window-range", "sales_monthly",
     window({"$sum": "$totals.revenue", "window": {"range": [-3, 0], "unit": "month"}}),
     ["range windows are not allowed"]),
    ("window-too-wide", "sales_monthly",
     window({"$sum": "$totals.revenue", "window": {"documents": [-MAX_WINDOW_DOCUMENTS, "current"]}}),
     [f"window limit of {MAX_WINDOW_DOCUMENTS} documents"]),
    ("window-too-far", "sales_monthly", window({"$sum": "$totals.revenue", "window": {"documents": [-500, -490]}}),
     ["window limit"]),
    ("window-backwards", "sales_monthly", window({"$sum": "$totals.revenue", "window": {"documents": [2, -2]}}),
     ["not after the second"]),
    ("window-float-bound", "sales_monthly", window({"$sum": "$totals.revenue", "window": {"documents": [-1.5, 0]}}),
     ["must be integers"]),
    ("window-expression-bound", "sales_monthly",
     window({"$sum": "$totals.revenue", "window": {"documents": ["$n", 0]}}), ["must be integers"]),
    ("window-not-a-list", "sales_monthly", window({"$sum": "$totals.revenue", "window": {"documents": 5}}),
     ['{"documents": [a, b]}']),
    ("window-push", "order_items", window({"$push": "$$ROOT", "window": {"documents": [-1, 0]}}),
     ["stage 1 ($setWindowFields.output.w)", "$push is not allowed in $setWindowFields"]),
    ("window-add-to-set", "order_items", window({"$addToSet": "$sku", "window": {"documents": [-1, 0]}}),
     ["$addToSet is not allowed in $setWindowFields"]),
    ("window-top-n", "order_items",
     window({"$topN": {"n": 50, "sortBy": {"total": 1}, "output": "$$ROOT"}, "window": {"documents": [-1, 0]}}),
     ["$topN is not allowed"]),
    ("window-two-operators", "sales_monthly", window({"$sum": 1, "$avg": 1, "window": {"documents": [-1, 0]}}),
     ["one operator"]),
    ("window-no-output", "sales_monthly", [{"$setWindowFields": {"sortBy": {"month": 1}}}], ["takes {partitionBy"]),
    ("window-in-facet", "sales_monthly", [{"$facet": {"a": window({"$max": "$totals.revenue"})}}],
     ["stage 1 ($facet.a, stage 1 ($setWindowFields.output.w))", "without a window"]),
    # $range: literal integer bounds, sizes multiplying to at most MAX_RANGE_ITEMS.
    ("range-field-bound", "orders", [{"$project": {"r": {"$range": [0, "$total"]}}}],
     ["stage 1 ($project.r.$range)", "literal integers", "$range limit"]),
    ("range-too-big", "orders", [{"$project": {"r": {"$range": [0, MAX_RANGE_ITEMS + 1]}}}],
     [f"more than {MAX_RANGE_ITEMS:,} elements", "$range limit"]),
    ("range-big-step-count", "orders", [{"$project": {"r": {"$range": [10**9, 0, -1]}}}], ["$range limit"]),
    ("range-nested-multiplies", "orders", mapped_ranges(100, 100), ["their sizes multiply"]),
    ("range-step-zero", "orders", [{"$project": {"r": {"$range": [0, 10, 0]}}}], ["step must not be 0"]),
    ("range-bool", "orders", [{"$project": {"r": {"$range": [False, True]}}}], ["literal integers"]),
    # $unwind: each one multiplies the rows.
    ("unwinds", "orders", [{"$unwind": "$a"}] * (MAX_UNWINDS + 1),
     [f"stage {MAX_UNWINDS + 1}", f"more than {MAX_UNWINDS} $unwind stages", "$unwind limit"]),
    ("unwinds-nested", "orders",
     [{"$unwind": "$a"}, {"$facet": {"x": [{"$unwind": "$b"}, {"$unwind": "$c"}]}}],
     ["stage 2 ($facet.x, stage 2)", "$unwind limit"]),
    # Whole documents collected into one value.
    ("group-push-root", "order_items", group({"$push": "$$ROOT"}),
     ["stage 1 ($group.x)", "$push of whole documents", "fields you need"]),
    ("group-add-to-set-current", "order_items", group({"$addToSet": "$$CURRENT"}), ["$addToSet of whole documents"]),
    ("group-push-wrapped-root", "order_items", group({"$push": {"doc": "$$ROOT", "n": 1}}), ["$push of whole"]),
    ("group-top-n-root", "order_items", group({"$topN": {"n": 10**6, "sortBy": {"total": 1}, "output": "$$ROOT"}}),
     ["$topN of whole documents"]),
    ("bucket-auto-push-root", "orders", group({"$push": "$$ROOT"}, "$bucketAuto"),
     ["stage 1 ($bucketAuto.output.x)", "$push of whole documents"]),
    # DBRefs: after parsing, their contents are invisible to the walk.
    ("dbref-hiding-where", "orders",
     '[{"$match": {"x": {"$ref": "orders", "$id": 1, "$db": "admin", "y": {"$where": "sleep(1000)"}}}}]',
     ["stage 1 ($match.x)", "DBRef values", "customer_id"]),
    ("dbref-plain", "orders", '[{"$match": {"customer": {"$ref": "customers", "$id": "cust_000001"}}}]', ["DBRef"]),
    ("dbpointer", "orders",
     '[{"$match": {"x": {"$dbPointer": {"$ref": "c", "$id": {"$oid": "64b7f0c2a1b2c3d4e5f60718"}}}}}]', ["DBRef"]),
    ("ref-key", "orders", [{"$match": {"x": {"$ref": 1}}}], ["stage 1 ($match.x): $ref is not allowed", "DBRef"]),
    ("id-key", "orders", [{"$match": {"x": {"$id": 1}}}], ["$id is not allowed"]),
    ("db-key", "orders", [{"$project": {"x": {"$db": "admin"}}}], ["$db is not allowed"]),
]


@pytest.mark.parametrize(("collection", "pipeline", "fragments"),
                         [case[1:] for case in UNBOUNDED], ids=[case[0] for case in UNBOUNDED])
def test_work_the_engine_cannot_bound_is_refused(collection, pipeline, fragments) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_pipeline(collection, parse_pipeline(pipeline))
    for fragment in fragments:
        assert fragment in str(caught.value)


BOUNDED = [
    ("regex-prefix-i", "products", [{"$match": {"name": {"$regex": "^drill", "$options": "i"}}}]),
    ("regex-no-options", "products", [{"$match": {"name": {"$regex": "cordless drill"}}}]),
    ("regex-empty-options", "products", [{"$match": {"name": {"$regex": "saw$", "$options": ""}}}]),
    ("regex-escaped", "products",
     [{"$match": {"sku": {"$regex": "^ZA\\.DR\\-01\\(x\\)\\[1\\]\\{2\\}\\|\\*\\+\\?\\\\\\^\\$$"}}}]),
    ("regex-at-limit", "products", [{"$match": {"name": {"$regex": "a" * MAX_REGEX_CHARS}}}]),
    ("regex-non-ascii", "products", [{"$match": {"name": {"$regex": "^Café #1 – 50% off/€"}}}]),
    ("regex-extended-json", "products",
     '[{"$match": {"name": {"$regularExpression": {"pattern": "^Drill", "options": "i"}}}}]'),
    ("regex-in-list", "products", [{"$match": {"name": {"$in": [{"$regex": "^drill", "$options": "i"}, "Saw"]}}}]),
    ("regex-match-literal", "products",
     [{"$project": {"m": {"$regexMatch": {"input": "$name", "regex": "saw", "options": "i"}}}}]),
    ("regex-find-all-bson", "products",
     '[{"$project": {"m": {"$regexFindAll": {"input": "$name", "regex": {"$regex": "^a"}, "options": ""}}}}]'),
    ("window-bounded", "sales_monthly",
     window({"$avg": "$totals.revenue", "window": {"documents": [-(MAX_WINDOW_DOCUMENTS - 1), "current"]}})),
    ("window-centred", "sales_monthly", window({"$max": "$totals.revenue", "window": {"documents": [-2, 2]}})),
    ("window-current-current", "sales_monthly",
     window({"$count": {}, "window": {"documents": ["current", "current"]}})),
    ("window-rank", "sales_monthly", window({"$rank": {}})),
    ("window-shift", "sales_monthly", window({"$shift": {"output": "$totals.revenue", "by": -1, "default": 0}})),
    ("window-document-number", "sales_monthly", window({"$documentNumber": {}})),
    ("range-at-limit", "orders", [{"$project": {"r": {"$range": [0, MAX_RANGE_ITEMS]}}}]),
    ("range-step", "orders", [{"$project": {"r": {"$range": [12, 0, -1]}, "s": {"$range": [0, 1000, 100]}}}]),
    ("range-nested-small", "orders", mapped_ranges(10, 100)),
    ("range-empty", "orders", [{"$project": {"r": {"$range": [5, 0]}}}]),
    ("unwinds-at-limit", "orders", [{"$unwind": "$a"}] * MAX_UNWINDS),
    ("group-push-fields", "orders", group({"$push": {"order_id": "$order_id", "root_id": "$$ROOT.order_id"}})),
    ("group-first-root", "orders", group({"$first": "$$ROOT"})),
    ("group-top-n-fields", "orders", group({"$topN": {"n": 3, "sortBy": {"total": -1}, "output": "$order_id"}})),
]


@pytest.mark.parametrize(("collection", "pipeline"), [case[1:] for case in BOUNDED], ids=[case[0] for case in BOUNDED])
def test_bounded_forms_are_accepted(collection, pipeline) -> None:
    check_pipeline(collection, parse_pipeline(pipeline))


@pytest.mark.parametrize("value", [Regex("(a|aa)*c"), re.compile("(a+)+$"), Regex("drill", "s")],
                         ids=["bson-regex", "python-pattern", "bson-regex-dotall"])
def test_regex_values_given_directly_are_checked(value) -> None:
    """check_pipeline on values a driver would send as BSON regexes, without the JSON round trip."""
    with pytest.raises(InvalidArgument, match=r"stage 1 \(\$match\.name\): regular expression"):
        check_pipeline("products", [{"$match": {"name": value}}])
    check_pipeline("products", [{"$match": {"name": Regex("^drill", "i")}}, {"$match": {"n": re.compile("saw")}}])


def test_dbref_values_given_directly_are_refused() -> None:
    hidden = DBRef("orders", 1, "admin", y={"$where": "sleep(1000)"})
    with pytest.raises(InvalidArgument, match=r"stage 2 \(\$match\.x\): DBRef values"):
        check_pipeline("orders", [{"$limit": 1}, {"$match": {"x": hidden}}])


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
    # scoped[1] cuts stores_shopped (reading customers as a store manager)
    assert scoped[2] == {"$lookup": {**LOOKUP_ITEMS["$lookup"], "pipeline": [{"$match": SEATTLE}]}}
    assert scoped[3]["$lookup"]["pipeline"] == [{"$match": SEATTLE}, *let_form["$lookup"]["pipeline"]]
    assert scoped[3]["$lookup"]["let"] == {"c": "$customer_id"}


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
    assert union[1] == STORES_SHOPPED_CUT
    assert union[2]["$facet"]["x"][0]["$lookup"]["pipeline"] == [{"$match": SEATTLE}]


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



def test_store_manager_reads_of_customers_cut_stores_shopped_everywhere() -> None:
    lookup = {"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "customer_id", "as": "c"}}
    pipeline = [lookup, {"$unionWith": "customers"},
                {"$facet": {"f": [{"$lookup": {"from": "customers", "pipeline": [{"$limit": 1}], "as": "c"}}]}}]
    top = scope_pipeline("customers", [], MANAGER)
    assert top == [{"$match": scope_filter("customers", MANAGER)}, STORES_SHOPPED_CUT]
    scoped = scope_pipeline("orders", pipeline, MANAGER)
    assert scoped[1]["$lookup"]["pipeline"] == top
    assert scoped[1]["$lookup"]["localField"] == "customer_id"
    assert scoped[2]["$unionWith"]["pipeline"] == top
    assert scoped[3]["$facet"]["f"][0]["$lookup"]["pipeline"] == [*top, {"$limit": 1}]
    # Head office sees every store: nothing cut.
    assert scope_pipeline("customers", [lookup], HEAD_OFFICE)[:2] == [
        {"$match": LIVE}, {"$lookup": {**lookup["$lookup"], "pipeline": [{"$match": LIVE}]}}]
    check_pipeline("orders", scoped)


def test_stores_shopped_cut_keeps_every_store_of_a_two_store_scope() -> None:
    two = Scope(frozenset({"store_seattle", "store_online"}), False, "test")
    [_, cut] = scope_pipeline("customers", [], two)
    assert cut["$set"]["stores_shopped"]["$cond"][1]["$arrayToObject"]["$filter"]["cond"] == {
        "$in": ["$$this.k", ["store_online", "store_seattle"]]}


def test_a_lone_surrogate_in_the_pipeline_text_is_a_one_line_refusal() -> None:
    # Found by the fuzz suite: '\ud800' as the whole pipeline crashed the size check with UnicodeEncodeError.
    for text in ("\ud800", '[{"$match": {"store_id": "\ud800"}}]'):
        with pytest.raises(InvalidArgument, match="not valid UTF-8"):
            parse_pipeline(text)
