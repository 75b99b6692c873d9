"""`completion/complete`: values for the arguments of prompts and resource templates, within the caller's scope.

MCP completes arguments of prompts (`ref/prompt`) and resource templates (`ref/resource`); it has no
reference for tool arguments. Completion here is keyed on the argument's name, the same names the tools use
(`store`, `stores`, `category`, `product_type`, `sku`, `collection`, ...), so every prompt and template that
takes one completes it, and a host that offers completion for a tool form can ask with the same names.
A store manager is offered only their own store; categories, product types and SKUs are not store-scoped.
Product types and SKUs narrow to a category (or type) already chosen in the same form.
"""

from __future__ import annotations

import logging

from mcp.server import MCPServer
from mcp_types import Completion, CompletionArgument, CompletionContext, PromptReference, ResourceTemplateReference

from mcp_servers.runtime import caller
from zava_core.analysis.analytics import COMPARISONS, GROUPINGS, METRICS, PERIODS
from zava_core.directory import ReferenceSnapshot
from zava_core.errors import ZavaError
from zava_core.model import QUERYABLE
from zava_core.scope import Scope

log = logging.getLogger("zava.mcp")
MAX_VALUES = 100  # what the protocol allows in one answer
FIXED_CHOICES: dict[str, tuple[str, ...]] = {
    "group_by": GROUPINGS, "metrics": METRICS, "metric": METRICS, "order_by": METRICS, "period": PERIODS,
    "compare_to": COMPARISONS, "collection": tuple(QUERYABLE), "collections": tuple(QUERYABLE),
}


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").split())


def _matching(candidates: list[tuple[str, str]], typed: str) -> list[str]:
    """Values whose search text starts with what was typed first, then those that contain it."""
    wanted = _norm(typed)
    starts = [value for value, text in candidates if _norm(text).startswith(wanted)]
    inside = [value for value, text in candidates if wanted in _norm(text) and value not in starts]
    return list(dict.fromkeys(starts + inside))


def store_values(reference: ReferenceSnapshot, scope: Scope, typed: str) -> list[str]:
    """Stores one of whose names starts with what was typed: "s" gives Seattle and Spokane. The id counts only
    once its `store_` prefix is typed, or every store would match "s"."""
    wanted = _norm(typed)
    stores = [s for s in reference.stores.stores if s.store_id in scope.store_ids]

    def names(store) -> list[str]:
        own = [store.short_name, store.store_name, store.store_id.removeprefix("store_")]
        return [_norm(n) for n in own] + ([_norm(store.store_id)] if wanted.startswith("store") else [])

    return [s.short_name for s in stores if any(n.startswith(wanted) for n in names(s))]


def _chosen(context: CompletionContext | None, *names: str) -> str | None:
    arguments = (context.arguments if context else None) or {}
    return next((arguments[n] for n in names if arguments.get(n)), None)


def item_values(reference: ReferenceSnapshot, argument: str, typed: str, context: CompletionContext | None
                ) -> list[str]:
    if argument in ("category", "categories"):
        names = sorted(c["category_name"] for c in reference.categories.values())
        return _matching([(n, n) for n in names], typed)
    products = list(reference.products.values())
    category = _chosen(context, "category", "categories")
    if category:
        try:
            category_id = reference.category_id(category)
            products = [p for p in products if p["category_id"] == category_id]
        except ZavaError:
            pass  # a half-typed category narrows nothing
    if argument in ("product_type", "product_types"):
        names = sorted({p["type_name"] for p in products})
        return _matching([(n, n) for n in names], typed)
    kind = _chosen(context, "product_type", "product_types")
    if kind:
        products = [p for p in products if _norm(p["type_name"]) == _norm(kind)] or products
    return _matching([(p["sku"], f"{p['sku']} {p['product_name']}") for p in sorted(products, key=lambda p: p["sku"])],
                     typed)


async def complete(argument: CompletionArgument, context: CompletionContext | None) -> Completion | None:
    name, typed = argument.name, argument.value or ""
    if name in FIXED_CHOICES:
        values = [v for v in FIXED_CHOICES[name] if v.startswith(typed.lower())]
    elif name in ("store", "stores", "category", "categories", "product_type", "product_types", "sku", "skus"):
        try:
            async with caller.caller() as (zava, scope):
                reference = await zava.reference.get()
                values = store_values(reference, scope, typed) if name in ("store", "stores") else \
                    item_values(reference, name, typed, context)
        except ZavaError as exc:  # no identity, no data: nothing to offer
            log.info("completion of %r refused: %s", name, exc)
            return Completion(values=[], total=0, has_more=False)
    else:
        return None
    return Completion(values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES)


def register_completions(server: MCPServer) -> None:
    caller.install(server)

    @server.completion()
    async def zava_completions(ref: PromptReference | ResourceTemplateReference, argument: CompletionArgument,
                               context: CompletionContext | None) -> Completion | None:
        return await complete(argument, context)
