"""Argument errors as a model can act on them: a code first, one line per argument, unknown names with the
closest valid one, union arguments in plain words."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mcp_servers.runtime.argument_errors import closest, describe_argument_errors, plain_words
from zava_core.errors import ErrorCode
from zava_core.retail.orders import OrderLineRequest

Dimension = Literal["store", "category", "product_type", "product", "year", "quarter", "month"]


class Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")  # as ZavaServer makes every tool's argument model

    customer_id: Annotated[str, Field(min_length=5, max_length=20)]
    store: str
    items: Annotated[list[OrderLineRequest], Field(min_length=1, max_length=50)]
    max_rows: Annotated[int, Field(ge=1, le=100)] = 20


class Summary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_by: Dimension | Annotated[list[Dimension], Field(min_length=1, max_length=3)]
    metrics: str | list[str] = "revenue"
    pipeline: str | list[dict] | None = None


def errors_for(model: type[BaseModel], tool: str, arguments: dict) -> tuple[ErrorCode, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(arguments)
    return describe_argument_errors(tool, caught.value, model.model_json_schema())


def test_argument_errors_are_one_line_per_argument_without_links() -> None:
    code, text = errors_for(Arguments, "create_order", {
        "customer_id": "c1", "items": [{"sku": "PTDR000001", "quantity": 0}, {"sku": "PTDR000002", "quantity": True}],
        "max_rows": 500})
    lines = text.splitlines()
    assert code is ErrorCode.INVALID_ARGUMENT
    assert lines[0] == ("invalid_argument: create_order: 5 problems with the arguments (nothing was run); fix these "
                        "and call again:")
    assert sorted(lines[1:]) == sorted([
        '- customer_id: must be at least 5 characters (got "c1")',
        "- store: is required and was not given",
        "- items[0].quantity: must be at least 1 (got 0)",
        "- items[1].quantity: must be a whole number (a JSON number, not text or true/false) (got true)",
        "- max_rows: must be at most 100 (got 500)",
    ])
    assert "http" not in text and "pydantic" not in text.lower()


def test_one_problem_is_one_line() -> None:
    code, text = errors_for(Arguments, "create_order", {
        "customer_id": "x" * 5000, "store": "Seattle", "items": [{"sku": "PTDR000001", "quantity": 1}]})
    assert code is ErrorCode.INVALID_ARGUMENT and "\n" not in text
    assert text.startswith('invalid_argument: create_order: customer_id: must be at most 20 characters (got "xxxx')
    assert text.endswith("... (5,002 characters)); nothing was run") and len(text) < 200


def test_an_unknown_argument_is_one_line_with_the_closest_name_and_the_list() -> None:
    code, text = errors_for(Summary, "sales_summary", {"group_by": "store", "metric": "revenue"})
    assert code is ErrorCode.UNKNOWN_ARGUMENT
    assert text == ('unknown_argument: sales_summary: sales_summary has no argument "metric" (did you mean '
                    "'metrics'?); its arguments: group_by, metrics, pipeline; nothing was run")


def test_an_unknown_argument_beside_a_bad_value_is_an_invalid_call_listing_both() -> None:
    code, text = errors_for(Summary, "sales_summary", {"group_by": "store", "stores": ["Seattle"], "metrics": 5})
    assert code is ErrorCode.INVALID_ARGUMENT
    assert 'sales_summary has no argument "stores"' in text and "- metrics: text or a list of text (got 5)" in text


def test_a_union_argument_fails_in_one_plain_line() -> None:
    code, text = errors_for(Summary, "sales_summary", {"group_by": "region"})
    assert code is ErrorCode.INVALID_ARGUMENT
    assert text == ("invalid_argument: sales_summary: group_by: one of store, category, product_type, product, year, "
                    'quarter, month or a list of up to 3 of them (got "region"); nothing was run')
    _, listed = errors_for(Summary, "sales_summary", {"group_by": ["store", "region"]})
    assert listed.startswith("invalid_argument: sales_summary: group_by: one of store") and "literal[" not in listed
    _, nested = errors_for(Summary, "sales_summary", {"group_by": "store", "pipeline": 7})
    assert "pipeline: text or a list of objects (got 7)" in nested


@pytest.mark.parametrize(("typed", "valid", "expected"), [
    ("metric", ["group_by", "metrics", "stores"], "metrics"),
    ("store_id", ["store", "stores", "sku"], "store"),
    ("max_row", ["max_rows", "query"], "max_rows"),
    ("zzz", ["group_by", "metrics"], None),
])
def test_the_closest_valid_name(typed: str, valid: list[str], expected: str | None) -> None:
    assert closest(typed, valid) == expected


def test_plain_words_for_the_shapes_tools_use() -> None:
    assert plain_words({"type": "integer", "minimum": 1}) == "a whole number"
    assert plain_words({"type": ["string", "null"]}) == "text"
    assert plain_words({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]}) == \
        "text or a list of objects"
