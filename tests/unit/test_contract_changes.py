"""Which contract changes break a caller: removals, narrowed types, new required arguments; and which do not."""

from __future__ import annotations

import copy
import json

import pytest

from mcp_servers.contract import CONTRACT_VERSION, refused_changes, snapshot_path
from mcp_servers.contract_changes import changes, narrowed
from mcp_servers.tools.names import Server

TOOL = {"name": "sales_summary", "description": "Sums.", "annotations": {"readOnlyHint": True},
        "inputSchema": {"type": "object", "required": ["group_by"], "properties": {
            "group_by": {"anyOf": [{"enum": ["store", "category"], "type": "string"},
                                   {"type": "array", "items": {"enum": ["store", "category"], "type": "string"},
                                    "maxItems": 3}]},
            "top_n": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            "stores": {"type": ["array", "null"], "items": {"type": "string"}},
            "line": {"$ref": "#/$defs/Line"}},
            "$defs": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}}},
        "outputSchema": {"type": "object", "properties": {"rows": {"type": "array"}, "totals": {"type": "object"}}}}
BASE = {"version": 2, "tools": [TOOL], "prompts": [{"name": "review", "arguments": [{"name": "store"}]}],
        "resources": [{"uri": "zava://stores"}], "error_codes": ["not_found", "busy"]}


def edited(edit) -> dict:
    new = copy.deepcopy(BASE)
    edit(new)
    return new


def schema(new: dict) -> dict:
    return new["tools"][0]["inputSchema"]


BREAKING = {
    "a tool removed": lambda c: c["tools"].clear(),
    "an argument removed": lambda c: schema(c)["properties"].pop("stores"),
    "a new required argument": lambda c: (schema(c)["properties"].update(period={"type": "string"}),
                                          schema(c)["required"].append("period")),
    "an argument made required": lambda c: schema(c)["required"].append("top_n"),
    "an enum value taken away": lambda c: schema(c)["properties"]["group_by"]["anyOf"][0]["enum"].pop(),
    "a list shortened": lambda c: schema(c)["properties"]["group_by"]["anyOf"][1].update(maxItems=2),
    "a list no longer accepted": lambda c: schema(c)["properties"]["group_by"]["anyOf"].pop(),
    "a maximum lowered": lambda c: schema(c)["properties"]["top_n"].update(maximum=50),
    "null no longer accepted": lambda c: schema(c)["properties"]["stores"].update(type="array"),
    "a type changed": lambda c: schema(c)["properties"]["top_n"].update(type="string"),
    "a nested field made required": lambda c: (schema(c)["$defs"]["Line"]["properties"].update(qty={}),
                                               schema(c)["$defs"]["Line"]["required"].append("qty")),
    "a pattern added": lambda c: schema(c)["properties"]["stores"]["items"].update(pattern="^store_"),
    "unknown arguments refused in the schema": lambda c: schema(c).update(additionalProperties=False),
    "a result field removed": lambda c: c["tools"][0]["outputSchema"]["properties"].pop("totals"),
    "a prompt removed": lambda c: c["prompts"].clear(),
    "a resource removed": lambda c: c["resources"].clear(),
    "an error code removed": lambda c: c["error_codes"].remove("busy"),
}
COMPATIBLE = {
    "a tool added": lambda c: c["tools"].append({**TOOL, "name": "sales_trend"}),
    "an optional argument added": lambda c: schema(c)["properties"].update(period={"type": "string"}),
    "an enum value added": lambda c: schema(c)["properties"]["group_by"]["anyOf"][0]["enum"].append("month"),
    "a maximum raised": lambda c: schema(c)["properties"]["top_n"].update(maximum=500),
    "an integer widened to a number": lambda c: schema(c)["properties"]["top_n"].update(type="number"),
    "a description changed": lambda c: c["tools"][0].update(description="Sums, better."),
    "a definition written in place": lambda c: (schema(c)["properties"].update(
        line={"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}),
        schema(c).pop("$defs")),
    "an error code added": lambda c: c["error_codes"].append("timeout"),
}


@pytest.mark.parametrize("case", BREAKING)
def test_changes_that_break_a_caller(case: str) -> None:
    found = changes(BASE, edited(BREAKING[case]))
    assert any(change.breaking for change in found), (case, [str(c) for c in found])


@pytest.mark.parametrize("case", COMPATIBLE)
def test_changes_that_do_not(case: str) -> None:
    found = changes(BASE, edited(COMPATIBLE[case]))
    assert found and not any(change.breaking for change in found), (case, [str(c) for c in found])


def test_no_change_is_no_change() -> None:
    assert changes(BASE, copy.deepcopy(BASE)) == []


def test_the_reasons_name_what_was_lost() -> None:
    assert narrowed({"enum": ["a", "b"], "type": "string"}, {"enum": ["a"], "type": "string"}) == [
        "no longer accepts b"]
    assert narrowed({"type": ["string", "null"]}, {"type": "string"}) == ["no longer accepts null"]


def test_a_breaking_change_is_refused_unless_the_version_is_raised() -> None:
    pinned = json.loads(snapshot_path(Server.SALES_ANALYSIS).read_text())
    without = {**pinned, "tools": [t for t in pinned["tools"] if t["name"] != "run_aggregation"]}
    refused = refused_changes({Server.SALES_ANALYSIS: without})
    assert any("run_aggregation removed" in line for line in refused)
    assert any("raise CONTRACT_VERSION" in line for line in refused)
    assert any("run_aggregation in the tool table but not listed" in line for line in refused)
    raised = {**without, "version": CONTRACT_VERSION + 1}
    assert not any("raise CONTRACT_VERSION" in line for line in refused_changes({Server.SALES_ANALYSIS: raised}))
