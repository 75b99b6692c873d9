"""Reading the JSON Schemas tools/list carries: a `$ref` resolved, a schema as the plain alternatives it accepts.

Shared by the argument errors (what an argument accepts, in words) and the contract's change check (whether a
new schema accepts less than the old one).
"""

from __future__ import annotations

from typing import Any

DEFS = "#/$defs/"


def resolve(schema: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema a local `$ref` points at (itself when it is none)."""
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith(DEFS):
        return resolve(defs.get(schema["$ref"][len(DEFS):], {}), defs)
    return schema if isinstance(schema, dict) else {}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "string")


def alternatives(schema: Any, defs: dict[str, Any]) -> list[dict[str, Any]]:
    """A schema as the list of plain alternatives it accepts, one type each (`null` included): `anyOf` branches,
    a list of types, an enum of values of several types."""
    schema = resolve(schema, defs)
    if "anyOf" in schema:
        return [alt for branch in schema["anyOf"] for alt in alternatives(branch, defs)]
    kind = schema.get("type")
    if isinstance(kind, list):
        return [{**schema, "type": k} for k in kind]
    if kind is None and "enum" in schema:
        kinds = sorted({json_type(v) for v in schema["enum"]})
        return [{**schema, "type": k, "enum": [v for v in schema["enum"] if json_type(v) == k]} for k in kinds]
    return [schema]
