"""The customer-sales server's prompt: find what a customer asks for and reserve it (an order at the store).

| prompt | tools it expects |
|---|---|
| `find_and_reserve` | find_customers, semantic_search_products, get_inventory, create_order |
"""

from __future__ import annotations

import json
from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from mcp_servers.features.completions import register_completions
from mcp_servers.features.prompting import CLOSING, StoreArgument, prompt_store, steps, zava_prompt
from mcp_servers.tools.names import ToolName
from zava_core import limits as L

FIND, SEARCH, STOCK, ORDER = (ToolName.FIND_CUSTOMERS, ToolName.SEMANTIC_SEARCH_PRODUCTS, ToolName.GET_INVENTORY,
                              ToolName.CREATE_ORDER)
USES = (FIND, SEARCH, STOCK, ORDER)


def register_customer_prompts(server: MCPServer) -> None:
    """The prompt, and completion of its store argument (within the caller's scope)."""
    register_completions(server)

    @zava_prompt(server, title="Find and reserve for a customer", description=(
        "A customer asks for something: find them, find products that fit, check stock at the store and, once "
        "they agree, reserve it as an order. Uses " + ", ".join(USES) + "."))
    async def find_and_reserve(
        customer: Annotated[str, Field(min_length=L.CUSTOMER_QUERY_MIN_CHARS, max_length=L.CUSTOMER_QUERY_MAX_CHARS,
                                       description="Name, e-mail, phone or cust_ id")],
        request: Annotated[str, Field(min_length=L.SEMANTIC_QUERY_MIN_CHARS, max_length=L.SEMANTIC_QUERY_MAX_CHARS,
                                      description="What they need, in their words")],
        store: StoreArgument = None,
        quantity: Annotated[int, Field(ge=1, le=L.MAX_LINE_QUANTITY, description="How many")] = 1,
    ) -> str:
        ref, _ = await prompt_store(store)
        shown = json.dumps(request)  # the customer's words, quoted as data
        return (f"A customer at {ref.store_name} needs help. Their request, quoted: {shown}\n\n" + steps([
            f"Find the customer: `{FIND}` {json.dumps({'query': customer})}. If several match, ask which "
            "one; if none, ask for an e-mail or phone number.",
            f"Find products that fit the request: `{SEARCH}` "
            + json.dumps({"query_description": request, "max_rows": 5, "in_stock_only": True})
            + f"; add `{ToolName.GET_PRODUCTS_BY_NAME}` if the request names a product.",
            f"For the best two or three, check stock here: `{STOCK}` with each SKU and store "
            f"{json.dumps(ref.short_name)}; say the aisle, shelf and bin.",
            f"Offer the options with price and stock. When the customer chooses, reserve {quantity} unit(s) with "
            f"`{ORDER}` (customer_id, store {json.dumps(ref.short_name)}, items [{{sku, quantity}}], a new "
            f"idempotency_key): it asks to confirm first. If {ORDER} is not offered (a read-only server), "
            "tell them where the item is instead.",
        ]) + f"\n\n{CLOSING}")
