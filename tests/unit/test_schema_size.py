"""compact_schema: smaller tools/list schemas that accept and refuse exactly the same instances."""

from __future__ import annotations

import json

import jsonschema
import pytest

from mcp_servers.runtime.schema_size import compact_schema, output_schema

SCHEMA = {
    "title": "findArguments",
    "type": "object",
    "$defs": {"Line": {"title": "Line", "type": "object", "properties": {
        "sku": {"title": "Sku", "type": "string", "minLength": 4},
        "note": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}], "default": None}},
        "required": ["sku"]}},
    "properties": {
        "title": {"title": "Title", "type": "string"},  # a property named "title" stays
        "count": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}], "default": None,
                  "description": "How many"},
        "line": {"anyOf": [{"$ref": "#/$defs/Line"}, {"type": "null"}], "default": None},
        "limit": {"type": "integer", "default": 20},
    },
    "required": ["title"],
}
INSTANCES = [
    {"title": "x"}, {"title": "x", "count": None}, {"title": "x", "count": 3}, {"title": "x", "count": 0},
    {"title": "x", "count": "3"}, {"count": 3}, {"title": 5}, {"title": "x", "line": None},
    {"title": "x", "line": {"sku": "ABCD"}}, {"title": "x", "line": {"sku": "AB"}},
    {"title": "x", "line": {"sku": "ABCD", "note": "toolong"}}, {"title": "x", "line": {"sku": "ABCD", "note": None}},
    {"title": "x", "limit": 5}, {"title": "x", "limit": "5"},
]


def valid(schema: dict, instance: dict) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(instance)


@pytest.mark.parametrize("instance", INSTANCES, ids=[json.dumps(i) for i in INSTANCES])
def test_the_compact_schemas_accept_and_refuse_the_same_instances(instance: dict) -> None:
    assert valid(compact_schema(SCHEMA), instance) == valid(SCHEMA, instance)
    # An output schema only loosens: every result the full schema accepts, it accepts.
    assert valid(output_schema(SCHEMA), instance) or not valid(SCHEMA, instance)


def test_titles_and_null_defaults_go_and_nullable_unions_merge() -> None:
    compact = compact_schema(SCHEMA)
    text = json.dumps(compact)
    assert '"Title"' not in text and "findArguments" not in text and '"Sku"' not in text
    assert "title" in compact["properties"]  # the property of that name is kept
    assert compact["properties"]["count"] == {"type": ["integer", "null"], "minimum": 1, "description": "How many"}
    # The definition used once is written in place (then merged as a nullable object); `$defs` goes.
    assert "$defs" not in compact and compact["properties"]["line"]["type"] == ["object", "null"]
    assert compact["properties"]["line"]["required"] == ["sku"]
    assert compact["properties"]["limit"]["default"] == 20  # a real default stays
    assert len(text) < len(json.dumps(SCHEMA))


def test_an_output_schema_keeps_the_shape_and_drops_descriptions_defaults_and_required_lists() -> None:
    out = output_schema(SCHEMA)
    text = json.dumps(out)
    assert "How many" not in text and '"default"' not in text
    assert "required" not in out and "required" not in out["properties"]["line"]
    assert "title" in out["properties"] and "sku" in out["properties"]["line"]["properties"]
    assert out["properties"]["count"] == {"type": ["integer", "null"], "minimum": 1}


TWICE = {"type": "object", "$defs": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}},
                                              "required": ["sku"]},
                                     "Self": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Self"}}}},
         "properties": {"a": {"$ref": "#/$defs/Line"}, "b": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
                        "chain": {"$ref": "#/$defs/Self"}, "bounded": {"$ref": "#/$defs/Line", "maxProperties": 1}}}


@pytest.mark.parametrize("instance", [{"a": {"sku": "x"}}, {"a": {}}, {"b": [{"sku": "x"}, {}]},
                                      {"chain": {"next": {"next": {}}}}, {"chain": {"next": 5}},
                                      {"bounded": {"sku": "x", "more": 1}}])
def test_definitions_used_more_than_once_or_by_themselves_stay_referenced(instance: dict) -> None:
    compact = compact_schema(TWICE)
    assert set(compact["$defs"]) == {"Line", "Self"}
    assert valid(compact, instance) == valid(TWICE, instance)
