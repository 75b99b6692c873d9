"""Collection descriptions for an LLM, generated from the model module (never written by hand).

For each collection: its fields with types and one-line meanings, its relationships, how it is
scoped, the indexed fields to filter on, and the values that are valid (stores, categories,
product types, order statuses, the order date range the caller can see).
"""

from __future__ import annotations

import time
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel, Field

from zava_core import hints
from zava_core.context import Zava
from zava_core.errors import InvalidArgument
from zava_core.model import QUERYABLE, TIMESTAMP_PATTERN, CollectionSpec
from zava_core.scope import Scope
from zava_core.shaping import Out

HINTS = (
    "Timestamps are ISO-8601 UTC strings of one width ('2024-12-05T14:22:00Z'): compare them as strings.",
    "Money is in USD, rounded to cents. Ids are strings such as store_seattle, cust_000123, prod_PTDR000001.",
    hints.SOFT_DELETES(),
    "For monthly sales use sales_monthly (one document per store and month) rather than grouping order_items.",
)


class FieldInfo(Out):
    name: str
    type: str
    meaning: str | None = None


class CollectionSchema(Out):
    collection: str
    description: str
    id_field: str
    scoped_by: str = Field(description="How a store manager's scope applies")
    fields: list[FieldInfo]
    relationships: list[str]
    indexed: list[str] = Field(description="Index key sets; filter on their leading fields")
    valid_values: dict[str, list[str]] = Field(default_factory=dict)


class CollectionSchemas(Out):
    collections: list[CollectionSchema]
    hints: list[str]


def type_name(annotation: Any) -> str:
    """A short type description of a pydantic annotation (`string`, `map<string, number>`, ...)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        base, *meta = args
        if any(getattr(m, "pattern", None) == TIMESTAMP_PATTERN for m in _metadata(meta)):
            return "timestamp"
        return type_name(base)
    if origin is Literal:
        return "one of " + "|".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [type_name(a) for a in args if a is not type(None)]
        return " | ".join(names) + (" (optional)" if type(None) in args else "")
    if origin is dict:
        return f"map<{type_name(args[0])}, {type_name(args[1])}>"
    if origin is list:
        return f"array<{type_name(args[0])}>"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object{" + ", ".join(annotation.model_fields) + "}"
    return {str: "string", int: "int", float: "number", bool: "bool"}.get(annotation, str(annotation))


def _metadata(meta: list) -> list:
    out = []
    for item in meta:
        out.append(item)
        out.extend(getattr(item, "metadata", []) or [])
    return out


def describe_fields(spec: CollectionSpec) -> list[FieldInfo]:
    fields = []
    for name, info in spec.model.model_fields.items():
        annotation = info.annotation
        if any(getattr(m, "pattern", None) == TIMESTAMP_PATTERN for m in info.metadata):
            kind = "timestamp"
        else:
            kind = type_name(annotation)
            if info.metadata:
                kind = type_name(typing.Annotated[annotation, *info.metadata])
        fields.append(FieldInfo(name=info.alias or name, type=kind, meaning=info.description))
    return fields


_SCOPE_TEXT = {"store_id": "store_id", "customer": "home store or a store they ordered at", "none": "not store-scoped"}


async def collection_schemas(zava: Zava, scope: Scope, names: list[str] | None) -> CollectionSchemas:
    wanted = list(QUERYABLE) if not names else [n.strip() for n in names]
    unknown = [n for n in wanted if n not in QUERYABLE]
    if unknown:
        raise InvalidArgument(f"unknown collection(s) {', '.join(unknown)}; valid: {', '.join(QUERYABLE)}")
    reference = await zava.reference.get()
    stores = [f"{s.store_id} ({s.store_name})" for s in reference.stores.stores if s.store_id in scope.store_ids]
    categories = sorted(c["category_name"] for c in reference.categories.values())
    values_for = {
        "stores": {"store_id": stores},
        "categories": {"category_name": categories},
        "product_types": {"type_name": sorted(t["type_name"] for t in reference.types.values())},
        "products": {"category_name": categories},
        "orders": {"store_id": stores, "order_date range": await order_date_range(zava, scope)},
        "inventory": {"store_id": stores},
        "order_items": {"store_id": stores},
        "sales_monthly": {"store_id": stores},
        "customers": {"primary_store_id": stores},
    }
    out = []
    for name in dict.fromkeys(wanted):
        spec = QUERYABLE[name]
        out.append(CollectionSchema(
            collection=name, description=spec.description, id_field=spec.id_field,
            scoped_by=_SCOPE_TEXT[spec.store_scope], fields=describe_fields(spec),
            relationships=list(spec.relationships), indexed=["_id", *(", ".join(k for k, _ in ix.keys)
                                                                     for ix in spec.indexes)],
            valid_values=values_for.get(name, {}),
        ))
    return CollectionSchemas(collections=out, hints=list(HINTS))


DATE_RANGE_TTL = 60.0


async def order_date_range(zava: Zava, scope: Scope) -> list[str]:
    """The first and last order date the caller can see (two indexed reads per store, cached a minute)."""
    cache = zava.order_date_ranges
    key = tuple(sorted(scope.store_ids))
    hit = cache.get(key)
    if hit and time.monotonic() - hit[0] < DATE_RANGE_TTL:
        return hit[1]
    first, last = [], []
    orders = zava.collections.orders
    for store_id in key:
        query = orders.live(scope, store_id=store_id)
        for bound, direction in ((first, 1), (last, -1)):
            doc = await orders.find_one(query, {"order_date": 1}, sort=[("order_date", direction)])
            if doc:
                bound.append(doc["order_date"])
    value = [min(first), max(last)] if first else []
    cache[key] = (time.monotonic(), value)
    return value
