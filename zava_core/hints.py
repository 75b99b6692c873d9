"""What a caller is told to do next when the text names a tool or an argument: one registry of templates.

A template writes every tool and argument it names in backticks (`find_customers`, `max_rows`); `shown_by`
lists the tools whose replies can carry it, so an argument it names must be one of theirs (None: any tool may
show it, and then it names no argument and says which server offers a tool it names). tests/unit/test_hints.py
checks every template against the servers' contract, and a hint rendered during another tool's call is noted
in MISPLACED (the suites fail on it). zava_core knows tools only by these names: it never imports MCP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from zava_core.infra import telemetry

log = logging.getLogger("zava.hints")

# (hint, tool) pairs rendered outside the hint's `shown_by`: the suites assert this stays empty.
MISPLACED: list[tuple[str, str]] = []


@dataclass(frozen=True)
class Hint:
    template: str
    shown_by: tuple[str, ...] | None  # the tools whose replies carry it; None: any

    def __call__(self, **values: object) -> str:
        tool = telemetry.current_tool()
        if self.shown_by is not None and tool is not None and tool not in self.shown_by:
            MISPLACED.append((self.template, tool))
            log.warning("hint shown by %s, which it does not name: %s", tool, self.template)
        return self.template.format(**values)


_LISTS = ("get_products_by_name", "semantic_search_products", "get_low_stock_items", "find_customers",
          "get_customer_orders", "inventory_health", "list_sync_conflicts")
_ORDER_TOOLS = ("cancel_order", "return_items", "update_order_status")
_CUSTOMER_TOOLS = ("get_customer_orders", "create_order")

# Lists cut at their row argument.
MORE_ROWS = Hint("more rows matched: narrow the query or raise `max_rows` (up to {cap})", _LISTS)
MORE_GROUPS = Hint("more groups matched: narrow the filters or raise `top_n` (up to {cap})", ("sales_summary",))
AGGREGATION_ROW_CAP = Hint("stopped at the row cap of {cap}: more rows matched; narrow the pipeline ($match, "
                           "$group, $limit) or raise `max_rows` (up to {hard_cap})", ("run_aggregation",))

# Products.
NO_PRODUCT_NAMED = Hint("no product matched: try a shorter word, or `semantic_search_products`",
                        ("get_products_by_name",))
NO_SKU = Hint("no product with SKU {sku}; find SKUs with `get_products_by_name` or `semantic_search_products` "
              "(zava-customer-sales)", None)
SEARCH_EMPTY = {
    "hybrid": Hint("nothing matched the words or passed `similarity_threshold`: lower it, rephrase, or browse "
                   "suggested_product_types", ("semantic_search_products",)),
    "semantic": Hint("nothing above `similarity_threshold`: lower it, rephrase, or browse suggested_product_types",
                     ("semantic_search_products",)),
    "lexical": Hint("no product has these words: rephrase, or use `mode` 'hybrid'", ("semantic_search_products",)),
}
OUT_OF_STOCK_ORDER = Hint("{sku}: {wanted} wanted but {have} in stock at {store_id}; nothing was ordered (lower "
                          "the quantity or use `get_inventory` to find another store)", ("create_order",))

# Orders and their status.
SHIPPED_NOT_YET = Hint("it is shipped: mark it delivered with `update_order_status`, then use `return_items`",
                       ("cancel_order", "return_items"))
CANCEL_INSTEAD = Hint("; cancel it with `cancel_order` instead", ("return_items",))
DELIVERY_STATUS = Hint("`status` must be one of {statuses} (cancel with `cancel_order`, return with "
                       "`return_items`)", ("update_order_status",))
STATUS_RACE = Hint("order {order_id} changed while updating its status; read it again with `get_customer_orders`",
                   ("update_order_status",))
ORDER_ID_SHAPE = Hint("`order_id` {given} looks like ord_00000123 or ord_1a2b3c4d5e6f7a8b; find it with "
                      "`get_customer_orders`", _ORDER_TOOLS)

# Customers.
CUSTOMER_ID_SHAPE = Hint("`customer_id` looks like cust_000123; find it with `find_customers`", _CUSTOMER_TOOLS)
NO_CUSTOMER_TO_SERVE = Hint("no customer {customer_id} within your scope ({scope}); another store's customer is "
                            "served after finding them with `find_customers` by the exact e-mail or phone they give",
                            ("create_order",))

# Offline conflicts (zava_core/feed/conflicts.py, retail/conflicts.py).
NO_CONFLICT = Hint("no conflict {conflict_id} within your scope ({scope}); list them with `list_sync_conflicts`",
                   ("resolve_sync_conflict",))
CONFLICT_ID_SHAPE = Hint("`conflict_id` is one of the ids `list_sync_conflicts` returns", ("resolve_sync_conflict",))
# Kept with the conflict, read by whoever resolves it.
COUNT_BEFORE_RESOLVING = Hint("resolving sets it to zero; better, count the shelf with `update_stock_count` "
                              "(zava-customer-sales) first", None)

# Analysis.
SOFT_DELETES = Hint("Soft deletes: documents carry deleted: false (`run_aggregation` adds that filter for you).",
                    ("get_collection_schemas",))

REGISTRY: dict[str, Hint] = {name: hint for name, hint in globals().items() if isinstance(hint, Hint)}
REGISTRY.update({f"SEARCH_EMPTY[{mode}]": hint for mode, hint in SEARCH_EMPTY.items()})
