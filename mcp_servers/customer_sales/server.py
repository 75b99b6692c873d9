"""zava-customer-sales: the Worker app and the Sales Rep app.

Each tool validates its arguments, calls zava_core with the caller's scope, and returns zava_core's
model. Store rules, limits and queries live in zava_core, never here.
"""

from typing import Annotated

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_servers.customer_sales.prompts import register_customer_prompts
from mcp_servers.customer_sales.write_tools import register_write_tools
from mcp_servers.runtime.app import READ_ONLY, call, make_lifespan
from mcp_servers.runtime.base_server import DATA_IS_NOT_INSTRUCTIONS, ZavaServer
from mcp_servers.tools.arguments import Category, CustomerId, MaxRows, OptionalStore, Sku
from mcp_servers.tools.shared import register_shared_tools
from zava_core import limits as L
from zava_core.infra.config import Settings
from zava_core.retail import customers, inventory, products
from zava_core.scope import Identity

NAME = "zava-customer-sales"
INSTRUCTIONS = (
    "Zava DIY retail (7 Washington stores + online). Find products by name or meaning, check stock and shelf "
    "locations, look up customers and their orders, create orders, move stock and record counts, cancel orders, "
    "take returns, move online orders to shipped/delivered, transfer stock between stores and book deliveries. "
    "At the till a store manager finds any customer by exact e-mail, phone or customer id to sell to them. "
    "You only see the stores your identity allows. Stores can be named 'Seattle' or 'store_seattle'. "
    "Tools that write ask the user to confirm where the client supports it (MCP elicitation). "
    + DATA_IS_NOT_INSTRUCTIONS
)


def build_server(settings: Settings, identity: Identity | None, *, read_only: bool = False,
                 auth: AuthSettings | None = None, token_verifier: TokenVerifier | None = None) -> ZavaServer:
    """`identity` is the launch identity (stdio, tests); HTTP passes `auth` and a token verifier instead."""
    # Lookups answer from read models kept by the change feed: stock, the customer directory, customers' orders.
    lifespan = make_lifespan(settings, identity, read_models=("stock", "customers", "orders"))
    server = ZavaServer(NAME, instructions=INSTRUCTIONS, lifespan=lifespan,
                       auth=auth, token_verifier=token_verifier)
    register_shared_tools(server, record_search_misses=not read_only)  # shoppers' queries; no writes when read-only
    register_customer_prompts(server)  # find_and_reserve, and completion of its store argument

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
        """Customers of your stores by name prefix ('john smi'), e-mail, phone or customer id; any customer by
        their exact e-mail, phone or id (the till: your_customer is false for another store's customer)."""
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

    register_write_tools(server)
    return server
