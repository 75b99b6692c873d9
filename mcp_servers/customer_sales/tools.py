"""The customer-sales tools that read: products by name or by a shopper's words, details, stock and shelf
locations, low-stock alerts, customers and their orders.

Each tool validates its arguments (their types come from `mcp_servers.tools.arguments`), calls zava_core with
the caller's scope and returns zava_core's model. Store rules, limits and queries live in zava_core.
"""

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_servers.runtime.app import call
from mcp_servers.tools.arguments import Category, ConflictStatus, CustomerId, MaxRows, OptionalStore, SearchMode, Sku
from mcp_servers.tools.names import Server, ToolName
from mcp_servers.tools.spec import ToolSpec
from zava_core import limits as L
from zava_core.retail import conflicts, customers, inventory, products, search


async def get_products_by_name(
    ctx: Context,
    product_name: Annotated[str, Field(min_length=L.PRODUCT_QUERY_MIN_CHARS, max_length=L.PRODUCT_QUERY_MAX_CHARS,
                                       description="Words of a name, or a SKU")],
    max_rows: MaxRows = 20,
) -> products.ProductSearchResult:
    """Products whose name, description or SKU contains the text; price and stock in your stores."""
    async with call(ctx) as (zava, scope):
        return await products.find_products_by_name(zava, scope, product_name, max_rows)


async def semantic_search_products(
    ctx: Context,
    query_description: Annotated[str, Field(min_length=L.SEMANTIC_QUERY_MIN_CHARS,
                                            max_length=L.SEMANTIC_QUERY_MAX_CHARS,
                                            description="What the customer needs, in plain words")],
    max_rows: MaxRows = 10,
    similarity_threshold: Annotated[float, Field(
        ge=0, le=100, description="Minimum similarity % of a match by meaning only")
    ] = L.SIMILARITY_THRESHOLD_DEFAULT,
    category: Category = None,
    in_stock_only: bool = False,
    mode: SearchMode = "hybrid",
) -> search.SemanticSearchResult:
    """Find products from a shopper's words ('stop a running toilet', 'cordles dril'), best first, with stock in
    your stores; each hit says what found it and how sure; weak results suggest product types."""
    # Searches without a good answer are counted per store (zava://search/misses), unless the server runs
    # read-only: then it writes nothing at all.
    record = not ctx.request_context.lifespan_context.read_only
    async with call(ctx) as (zava, scope):
        return await search.semantic_search_products(zava, scope, query_description, max_rows,
                                                     similarity_threshold, category, in_stock_only, mode,
                                                     record_misses=record)


async def get_product_details(ctx: Context, sku: Sku) -> products.ProductDetails:
    """Everything about one product: description, price, cost, specifications, stock per store."""
    async with call(ctx) as (zava, scope):
        return await products.product_details(zava, scope, sku)


async def get_inventory(ctx: Context, sku: Sku, store: OptionalStore = None) -> inventory.InventoryReport:
    """Stock of one product per store, with aisle/shelf/bin, last count and a low-stock flag."""
    async with call(ctx) as (zava, scope):
        return await inventory.get_inventory(zava, scope, sku, store)


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


async def find_customers(
    ctx: Context,
    query: Annotated[str, Field(min_length=L.CUSTOMER_QUERY_MIN_CHARS, max_length=L.CUSTOMER_QUERY_MAX_CHARS,
                                description="Name, e-mail, phone or cust_ id")],
    max_rows: MaxRows = 10,
) -> customers.CustomerSearchResult:
    """Customers of your stores by name prefix ('john smi'), e-mail, phone or customer id; another store's
    customer by the exact e-mail or phone they give (the till: your_customer false, name and id only)."""
    async with call(ctx) as (zava, scope):
        return await customers.find_customers(zava, scope, query, max_rows)


async def get_customer_orders(
    ctx: Context,
    customer_id: CustomerId,
    max_rows: MaxRows = 10,
) -> customers.CustomerOrders:
    """A customer's most recent orders at your stores, with their lines."""
    async with call(ctx) as (zava, scope):
        return await customers.get_customer_orders(zava, scope, customer_id, max_rows)


async def list_sync_conflicts(ctx: Context, status: ConflictStatus = "open", store: OptionalStore = None,
                              max_rows: MaxRows = 20) -> conflicts.ConflictList:
    """Conflicts from devices' offline sales (double cancel, over-return, negative stock, unknown SKU) and the
    stock correction each needs."""
    async with call(ctx) as (zava, scope):
        return await conflicts.list_conflicts(zava, scope, status, store, max_rows)


def _reads(name: ToolName, fn) -> ToolSpec:
    return ToolSpec(name, Server.CUSTOMER_SALES, fn)


SPECS = (
    _reads(ToolName.GET_PRODUCTS_BY_NAME, get_products_by_name),
    _reads(ToolName.SEMANTIC_SEARCH_PRODUCTS, semantic_search_products),
    _reads(ToolName.GET_PRODUCT_DETAILS, get_product_details),
    _reads(ToolName.GET_INVENTORY, get_inventory),
    _reads(ToolName.GET_LOW_STOCK_ITEMS, get_low_stock_items),
    _reads(ToolName.FIND_CUSTOMERS, find_customers),
    _reads(ToolName.GET_CUSTOMER_ORDERS, get_customer_orders),
    _reads(ToolName.LIST_SYNC_CONFLICTS, list_sync_conflicts),
)
