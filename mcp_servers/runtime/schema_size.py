"""Compact JSON Schemas for tools/list: every client sends the whole list to its model on every turn,
so what a schema says twice costs tokens on every turn.

Pure and semantics-preserving (the same instances validate before and after):
- `title` keywords go (pydantic derives them from the names they sit beside);
- `{"anyOf": [{"type": T, ...}, {"type": "null"}]}` becomes `{"type": [T, "null"], ...}` when the
  non-null branch is a plain typed schema (no $ref, no nested anyOf);
- `"default": null` goes where the property may be null anyway: it tells a model nothing;
- a `$defs` entry referenced once is written in place of its `$ref` (the reference and the entry's name
  cost bytes and say nothing more).

Output schemas (`output_schema`) also lose their descriptions, defaults and `required` lists: a result is
built from the tool's model, so it always carries its fields, and what a field means is said once, in the
tool's description or its input schema. Every result valid before is valid after (the one keyword that
constrains, `required`, only loosens); it saves ~3.6 KB of the two servers' tools/list, which a model reads
on every turn.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mcp_servers.runtime.json_schema import DEFS

_ANNOTATIONS = frozenset({"title", "description", "default"})


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
    """`compact_schema` for a tool's result: descriptions, defaults and `required` lists go as well."""
    return _without_required(compact_schema(schema, annotations=("title", "description", "default")))


def _without_required(node: Any) -> Any:
    if isinstance(node, list):
        return [_without_required(item) for item in node]
    if not isinstance(node, dict):
        return node
    # `properties` maps names to schemas: a property called "required" is kept.
    return {key: ({name: _without_required(sub) for name, sub in value.items()} if key == "properties"
                  else _without_required(value))
            for key, value in node.items() if not (key == "required" and isinstance(value, list))}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def inline_single_use(schema: Any) -> Any:
    """`schema` with each `$defs` entry that is referenced exactly once (and not by itself) written in place
    of the reference; a reference with sibling constraints (not just annotations) is left as it is."""
    if not isinstance(schema, dict) or not isinstance(schema.get("$defs"), dict):
        return schema
    defs: dict[str, Any] = schema["$defs"]
    counts = Counter(_refs(schema))
    once = {name for name, body in defs.items()
            if counts[DEFS + name] == 1 and DEFS + name not in _refs(body)}

    def place(node: Any) -> Any:
        if isinstance(node, list):
            return [place(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        if isinstance(ref, str) and ref.startswith(DEFS) and ref[len(DEFS):] in once \
                and set(siblings) <= _ANNOTATIONS:
            return {**place(defs[ref[len(DEFS):]]), **siblings}
        return {key: place(value) for key, value in node.items()}

    out = {key: place(value) for key, value in schema.items() if key != "$defs"}
    kept = {name: place(body) for name, body in defs.items() if name not in once}
    if kept:
        out["$defs"] = kept
    return out


def compact_schema(schema: Any, *, in_properties: bool = False,
                   annotations: tuple[str, ...] = ("title",)) -> Any:
    """The schema with titles (or the given annotation keywords) dropped, nullable unions merged,
    `default: null` left out where null is allowed anyway, and single-use `$defs` entries in place.
    `in_properties` is set while walking a `properties` map, whose keys are names."""
    if not in_properties:
        schema = inline_single_use(schema)
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
