"""Compact JSON Schemas for tools/list: every client sends the whole list to its model on every turn,
so what a schema says twice costs tokens on every turn.

Pure and semantics-preserving (the same instances validate before and after):
- `title` keywords go (pydantic derives them from the names they sit beside);
- `{"anyOf": [{"type": T, ...}, {"type": "null"}]}` becomes `{"type": [T, "null"], ...}` when the
  non-null branch is a plain typed schema (no $ref, no nested anyOf);
- `"default": null` goes where the property may be null anyway: it tells a model nothing.

Output schemas (`output_schema`) also lose their descriptions and defaults: a result always carries
its fields, and what a field means is said once, in the tool's description or its input schema.
Validation is unchanged (neither keyword constrains an instance).
"""

from __future__ import annotations

from typing import Any


def _nullable(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The merged form of `anyOf: [plain typed schema, {"type": "null"}]`, or None when it does not apply."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2 or {"type": "null"} not in branches:
        return None
    other = next(b for b in branches if b != {"type": "null"})
    kind = other.get("type") if isinstance(other, dict) else None
    if not isinstance(kind, str) or kind == "null" or "$ref" in other or "anyOf" in other:
        return None
    merged = {key: value for key, value in schema.items() if key != "anyOf"}
    merged.update({key: value for key, value in other.items() if key != "type"})
    merged["type"] = [kind, "null"]
    return merged


def output_schema(schema: Any) -> Any:
    """`compact_schema` for a tool's result: descriptions and defaults go as well."""
    return compact_schema(schema, annotations=("title", "description", "default"))


def compact_schema(schema: Any, *, in_properties: bool = False,
                   annotations: tuple[str, ...] = ("title",)) -> Any:
    """The schema with titles (or the given annotation keywords) dropped, nullable unions merged and
    `default: null` left out where null is allowed anyway. `in_properties` is set while walking a
    `properties` map, whose keys are names."""
    if isinstance(schema, list):
        return [compact_schema(item, annotations=annotations) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if in_properties:  # keys are property names (one may be called "title"): compact each value
        return {name: compact_schema(value, annotations=annotations) for name, value in schema.items()}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in annotations and (key == "default" or isinstance(value, str)):
            continue
        out[key] = compact_schema(value, in_properties=key in ("properties", "$defs", "patternProperties"),
                                  annotations=annotations)
    merged = _nullable(out)
    if merged is not None:
        out = merged
    kind = out.get("type")
    if "default" in out and out["default"] is None and isinstance(kind, list) and "null" in kind:
        del out["default"]
    return out
