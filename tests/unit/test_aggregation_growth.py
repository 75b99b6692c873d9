"""Values that copy themselves are refused before they run (`analysis.guard_growth`, through `check_pipeline`),
and the pipelines questions need still pass: pure, milliseconds."""

from __future__ import annotations

import pytest

from zava_core.analysis.guard import check_pipeline
from zava_core.errors import InvalidArgument
from zava_core.limits import MAX_VALUE_COPIES

DOUBLINGS = 25  # 2^25 copies of a 30-character product name: the 1 GB string of the report


def repeated(stage: dict, times: int = DOUBLINGS) -> list[dict]:
    return [{"$limit": 1}, {"$project": {"s": "$product_name", "a": ["$product_name"]}}, *([stage] * times)]


GROWING = {
    # The report's attack: a field concatenated with itself at every stage.
    "concat-self": (repeated({"$set": {"s": {"$concat": ["$s", "$s"]}}}), "stage 7 ($set.s.$concat)",
                    "up to 32 copies of $product_name"),
    "concat-arrays-self": (repeated({"$set": {"a": {"$concatArrays": ["$a", "$a"]}}}), "stage 7 ($set.a.$concatArrays)",
                           "copies of $product_name"),
    "array-of-self": (repeated({"$set": {"s": ["$s", "$s"]}}), "stage 7 ($set.s)", "copies of $product_name"),
    "object-of-self": (repeated({"$set": {"s": {"x": "$s", "y": "$s"}}}), "stage 7 ($set.s)",
                       "copies of $product_name"),
    "merge-objects": (repeated({"$set": {"s": {"$mergeObjects": [{"x": "$s"}, {"y": "$s"}]}}}), "stage 7",
                      "copies of $product_name"),
    # The same, through names that hide it: let variables, a second field, the whole document.
    "let-aliases": (repeated({"$set": {"s": {"$let": {"vars": {"p": "$s", "q": "$s"},
                                                      "in": {"$concat": ["$$p", "$$q"]}}}}}),
                    "stage 7 ($set.s.$let.in.$concat)", "copies of $product_name"),
    "via-another-field": ([{"$project": {"s": "$product_name"}},
                           *[{"$set": {"t": "$s"}}, {"$set": {"s": {"$concat": ["$s", "$t"]}}}] * 10],
                          "stage 11 ($set.s.$concat)", "copies of $product_name"),
    # (`{"$set": {"r": "$$ROOT"}}` alone nests the document once more per stage: linear, allowed.)
    "root-twice-into-itself": (repeated({"$set": {"r": ["$$ROOT", "$r"]}}, 8), "stage 6 ($set.r)", "copies of"),
    "replace-root": (repeated({"$replaceWith": {"x": "$$ROOT", "y": "$$ROOT"}}, 8), "stage 6 ($replaceWith)",
                     "copies of $product_name"),
    "facet": ([{"$facet": {"f": repeated({"$set": {"s": {"$concat": ["$s", "$s"]}}})}}], "stage 1 ($facet.f, stage 7",
              "copies of $product_name"),
    "one-wide-concat": ([{"$project": {"s": {"$concat": ["$product_name"] * (MAX_VALUE_COPIES + 1)}}}],
                        "stage 1 ($project.s.$concat)", f"{MAX_VALUE_COPIES + 1} copies"),
    # Per element: unknown until it runs, so refused outright.
    "reduce-doubles-value": ([{"$project": {"s": {"$reduce": {"input": {"$range": [0, 30]},
                                                              "initialValue": "$product_name",
                                                              "in": {"$concat": ["$$value", "$$value"]}}}}}],
                             "stage 1 ($project.s.$reduce.in)", "$$value 2 times"),
    "inside-a-scalar": ([{"$project": {"n": {"$strLenCP": {"$reduce": {
        "input": {"$range": [0, 25]}, "initialValue": "$product_name", "in": {"$concat": ["$$value", "$$value"]}}}}}}],
        "stage 1 ($project.n.$strLenCP.$reduce.in)", "$$value 2 times"),
    "inside-a-predicate": ([{"$match": {"$expr": {"$gt": [{"$strLenCP": {"$concat": ["$product_name"] * 17}}, 1]}}}],
                           "stage 1 ($match.$expr.$gt", "17 copies"),
    "reduce-copies-a-field": ([{"$project": {"s": {"$reduce": {"input": {"$split": ["$description", " "]},
                                                               "initialValue": "",
                                                               "in": {"$concat": ["$$value", "$description"]}}}}}],
                              "stage 1 ($project.s.$reduce.in)", "copies $description into every element"),
    "map-copies-a-field": ([{"$project": {"s": {"$map": {"input": {"$split": ["$description", " "]},
                                                         "in": "$description"}}}}],
                           "stage 1 ($project.s.$map.in)", "copies $description into every element"),
    "replace-all-by-a-field": ([{"$project": {"s": {"$replaceAll": {"input": "$description", "find": " ",
                                                                    "replacement": "$description"}}}}],
                               "stage 1 ($project.s.$replaceAll.replacement)", "must be literal text"),
    "lookup-copies-let": ([{"$lookup": {"from": "orders", "let": {"d": "$description"}, "as": "o",
                                        "pipeline": [{"$project": {"d": "$$d"}}]}}],
                          "stage 1 ($lookup.pipeline)", "copies its let variables"),
}


@pytest.mark.parametrize(("pipeline", "where", "says"), GROWING.values(), ids=GROWING.keys())
def test_values_that_copy_themselves_are_refused_where_they_grow(pipeline: list, where: str, says: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_pipeline("products", pipeline)
    message = str(refused.value)
    assert message.startswith(where) and says in message, message
    assert "\n" not in message


FINE = {
    "full-name": [{"$project": {"name": {"$concat": ["$first_name", " ", "$last_name"]},
                                "label": {"$concat": ["$last_name", ", ", "$first_name", " (", "$email", ")"]}}}],
    "double-once": [{"$project": {"s": {"$concat": ["$product_name", " / ", "$product_name"]}}}],
    "join-an-array": [{"$project": {"skus": {"$reduce": {"input": "$tags", "initialValue": "",
                                                         "in": {"$concat": ["$$value", ", ", "$$this"]}}}}}],
    "running-max": [{"$project": {"m": {"$reduce": {"input": "$prices", "initialValue": 0, "in": {
        "$cond": [{"$gt": ["$$this", "$$value"]}, "$$this", "$$value"]}}}}}],
    "map-own-element": [{"$project": {"skus": {"$map": {"input": "$lines", "as": "l", "in": {
        "sku": "$$l.sku", "value": {"$multiply": ["$$l.quantity", "$price"]}}}}}}],
    "group-push-fields": [{"$group": {"_id": {"store": "$store_id", "month": {"$substrCP": ["$order_date", 0, 7]}},
                                      "orders": {"$push": {"id": "$order_id", "total": "$total"}},
                                      "first": {"$first": "$$ROOT"}, "n": {"$sum": 1}}},
                          {"$set": {"top": {"$first": "$orders"}}}],
    "lookup-let-in-match": [{"$lookup": {"from": "customers", "let": {"c": "$customer_id"}, "as": "customer",
                                         "pipeline": [{"$match": {"$expr": {"$eq": ["$customer_id", "$$c"]}}},
                                                      {"$project": {"first_name": 1, "last_name": 1}}]}},
                            {"$unwind": "$customer"},
                            {"$set": {"who": {"$concat": ["$customer.first_name", " ", "$customer.last_name"]}}}],
    "many-stages-of-distinct-fields": [{"$set": {f"f{i}": {"$concat": [f"$a{i}", "-", f"$b{i}"]}}} for i in range(30)],
    "replace-all-literal": [{"$project": {"s": {"$replaceAll": {"input": "$description", "find": "in.",
                                                                "replacement": "inch"}}}}],
}


@pytest.mark.parametrize("pipeline", FINE.values(), ids=FINE.keys())
def test_pipelines_that_questions_need_still_pass(pipeline: list) -> None:
    check_pipeline("orders", pipeline)


def test_doubling_is_allowed_up_to_the_limit_and_refused_one_step_beyond() -> None:
    steps = MAX_VALUE_COPIES.bit_length() - 1  # 2^steps copies == the limit
    check_pipeline("products", repeated({"$set": {"s": {"$concat": ["$s", "$s"]}}}, steps))
    with pytest.raises(InvalidArgument, match=f"up to {2 ** (steps + 1)} copies of \\$product_name"):
        check_pipeline("products", repeated({"$set": {"s": {"$concat": ["$s", "$s"]}}}, steps + 1))
