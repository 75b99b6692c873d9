"""zava-customer-sales: the Worker app and the Sales Rep app.

Each tool validates its arguments, calls zava_core with the caller's scope, and returns zava_core's
model. Store rules, limits and queries live in zava_core, never here.
"""

from typing import Annotated

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp_types import ToolAnnotations
from pydantic import Field

from mcp_servers.common.app import READ_ONLY, Confirmation, ask_to_confirm, call, make_lifespan, require_confirmed
from mcp_servers.common.arguments import Category, CustomerId, LocationPart, MaxRows, OptionalStore, Sku, StoreName
from mcp_servers.common.auth import Identity
from mcp_servers.common.base_server import DATA_IS_NOT_INSTRUCTIONS, ZavaServer
from mcp_servers.common.shared_tools import register_shared_tools
from zava_core import limits as L
from zava_core.infra.config import Settings
from zava_core.retail import customers, inventory, orders, products

NAME = "zava-customer-sales"
INSTRUCTIONS = (
    "Zava DIY retail (7 Washington stores + online). Find products by name or meaning, check stock and shelf "
    "locations, look up customers and their orders, create orders, move stock and record counts. "
    "You only see the stores your identity allows. Stores can be named 'Seattle' or 'store_seattle'. "
    "Tools that write ask the user to confirm where the client supports it (MCP elicitation). "
    + DATA_IS_NOT_INSTRUCTIONS
)


WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
OVERWRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)


# Confirmation resolvers (MCP elicitation): each words the change from the tool's own arguments.
def confirm_order(ctx: Context, customer_id: str, store: str,
                  items: list[orders.OrderLineRequest]) -> Elicit[Confirmation] | Confirmation:
    lines = ", ".join(f"{item.sku} x{item.quantity}" for item in items)
    return ask_to_confirm(ctx, f"Create an order for {customer_id} at {store}: {lines}")


def confirm_move(ctx: Context, sku: str, store: str, aisle: str, shelf: str,
                 bin: str) -> Elicit[Confirmation] | Confirmation:
    return ask_to_confirm(ctx, f"Move {sku} at {store} to aisle {aisle}, shelf {shelf}, bin {bin}")


def confirm_count(ctx: Context, sku: str, store: str, counted_quantity: int) -> Elicit[Confirmation] | Confirmation:
    return ask_to_confirm(ctx, f"Set the stock of {sku} at {store} to {counted_quantity} units (a count)")


def build_server(settings: Settings, identity: Identity | None, *, read_only: bool = False,
                 auth: AuthSettings | None = None, token_verifier: TokenVerifier | None = None) -> ZavaServer:
    """`identity` is the launch identity (stdio, tests); HTTP passes `auth` and a token verifier instead."""
    server = ZavaServer(NAME, instructions=INSTRUCTIONS, lifespan=make_lifespan(settings, identity),
                       auth=auth, token_verifier=token_verifier)
    register_shared_tools(server)

    @server.tool(annotations=READ_ONLY)
    async def get_products_by_name(
        ctx: Context,
        product_name: Annotated[str, Field(min_length=L.PRODUCT_QUERY_MIN_CHARS, max_length=L.PRODUCT_QUERY_MAX_CHARS,
                                           description="Words of a name, or a SKU")],
        max_rows: MaxRows = 20,
    ) -> products.ProductSearchResult:
        """Products whose name, description or SKU contains the text; price and stock in your stores."""
        async with call(ctx) as (zava, scope):
            return await products.find_products_by_name(zava, scope, product_name, max_rows)

    @server.tool(annotations=READ_ONLY)
    async def get_product_details(ctx: Context, sku: Sku) -> products.ProductDetails:
        """Everything about one product: description, price, cost, specifications, stock per store."""
        async with call(ctx) as (zava, scope):
            return await products.product_details(zava, scope, sku)

    @server.tool(annotations=READ_ONLY)
    async def get_inventory(ctx: Context, sku: Sku, store: OptionalStore = None) -> inventory.InventoryReport:
        """Stock of one product per store, with aisle/shelf/bin, last count and a low-stock flag."""
        async with call(ctx) as (zava, scope):
            return await inventory.get_inventory(zava, scope, sku, store)

    @server.tool(annotations=READ_ONLY)
    async def get_low_stock_items(
        ctx: Context,
        store: OptionalStore = None,
        threshold: Annotated[int, Field(ge=0, le=L.MAX_THRESHOLD, description="Alert at or below this many units")
                             ] = L.LOW_STOCK_THRESHOLD,
        category: Category = None,
        max_rows: MaxRows = 20,
    ) -> inventory.LowStockReport:
        """Items at or below the threshold, lowest first, with where they sit on the shelf."""
        async with call(ctx) as (zava, scope):
            return await inventory.get_low_stock_items(zava, scope, store, threshold, category, max_rows)

    @server.tool(annotations=READ_ONLY)
    async def find_customers(
        ctx: Context,
        query: Annotated[str, Field(min_length=L.CUSTOMER_QUERY_MIN_CHARS, max_length=L.CUSTOMER_QUERY_MAX_CHARS,
                                    description="Name, e-mail, phone or cust_ id")],
        max_rows: MaxRows = 10,
    ) -> customers.CustomerSearchResult:
        """Customers of your stores by name prefix ('john smi'), e-mail, phone or customer id."""
        async with call(ctx) as (zava, scope):
            return await customers.find_customers(zava, scope, query, max_rows)

    @server.tool(annotations=READ_ONLY)
    async def get_customer_orders(
        ctx: Context,
        customer_id: CustomerId,
        max_rows: MaxRows = 10,
    ) -> customers.CustomerOrders:
        """A customer's most recent orders at your stores, with their lines."""
        async with call(ctx) as (zava, scope):
            return await customers.get_customer_orders(zava, scope, customer_id, max_rows)

    if read_only:
        return server

    @server.tool(annotations=WRITES)
    async def create_order(
        ctx: Context,
        customer_id: CustomerId,
        store: StoreName,
        items: Annotated[list[orders.OrderLineRequest], Field(min_length=1, max_length=L.MAX_ORDER_LINES)],
        idempotency_key: Annotated[str, Field(min_length=L.IDEMPOTENCY_KEY_MIN_CHARS,
                                              max_length=L.IDEMPOTENCY_KEY_MAX_CHARS,
                                              description="Unique per order; resend the same key to retry safely")],
        confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_order)],
    ) -> orders.CreatedOrder:
        """Order items for a customer at a store: all lines or none, stock never below zero. Asks to confirm."""
        async with call(ctx) as (zava, scope):
            require_confirmed(confirmed)
            return await orders.create_order(zava, scope, customer_id, store, items, idempotency_key)

    @server.tool(annotations=OVERWRITES)
    async def move_inventory(ctx: Context, sku: Sku, store: StoreName, aisle: LocationPart, shelf: LocationPart,
                             bin: LocationPart,
                             confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_move)],
                             ) -> inventory.MoveResult:
        """Record that a product now sits at a new aisle/shelf/bin in a store. Asks to confirm."""
        async with call(ctx) as (zava, scope):
            require_confirmed(confirmed)
            return await inventory.move_inventory(zava, scope, sku, store, aisle, shelf, bin)

    @server.tool(annotations=OVERWRITES)
    async def update_stock_count(
        ctx: Context, sku: Sku, store: StoreName,
        counted_quantity: Annotated[int, Field(ge=0, le=L.MAX_COUNTED_QUANTITY, strict=True,
                                               description="Units counted on the shelf")],
        confirmed: Annotated[ElicitationResult[Confirmation], Resolve(confirm_count)],
    ) -> inventory.StockCountResult:
        """Record a stock audit: stock set to the counted quantity, last_counted stamped. Asks to confirm."""
        async with call(ctx) as (zava, scope):
            require_confirmed(confirmed)
            return await inventory.update_stock_count(zava, scope, sku, store, counted_quantity)

    return server
