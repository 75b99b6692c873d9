"""Every tool's name, once, and the server that serves it.

Names are unique across both servers: an agent given both (the OpenAI Agents SDK, pydantic-ai, LangChain,
fastmcp) sees each tool once, and several of those frameworks refuse to start when two servers offer the same
name. A tool has one home: the date belongs to the analysis server (its tools take dates), product search to
the customer-sales server (a shopper's words, stock in your stores). Names are stable: a rename is a breaking
change of the contract (`mcp_servers/contract.py`).
"""

from __future__ import annotations

from enum import StrEnum


class Server(StrEnum):
    CUSTOMER_SALES = "customer_sales"
    SALES_ANALYSIS = "sales_analysis"

    @property
    def title(self) -> str:
        """The name the server reports in serverInfo (and clients show)."""
        return "zava-" + self.value.replace("_", "-")


class ToolName(StrEnum):
    # zava-customer-sales: reading
    GET_PRODUCTS_BY_NAME = "get_products_by_name"
    SEMANTIC_SEARCH_PRODUCTS = "semantic_search_products"
    GET_PRODUCT_DETAILS = "get_product_details"
    GET_INVENTORY = "get_inventory"
    GET_LOW_STOCK_ITEMS = "get_low_stock_items"
    FIND_CUSTOMERS = "find_customers"
    GET_CUSTOMER_ORDERS = "get_customer_orders"
    LIST_SYNC_CONFLICTS = "list_sync_conflicts"
    # zava-customer-sales: writing
    CREATE_ORDER = "create_order"
    MOVE_INVENTORY = "move_inventory"
    UPDATE_STOCK_COUNT = "update_stock_count"
    CANCEL_ORDER = "cancel_order"
    RETURN_ITEMS = "return_items"
    UPDATE_ORDER_STATUS = "update_order_status"
    TRANSFER_STOCK = "transfer_stock"
    RECEIVE_STOCK = "receive_stock"
    RESOLVE_SYNC_CONFLICT = "resolve_sync_conflict"
    # zava-sales-analysis
    GET_CURRENT_UTC_DATE = "get_current_utc_date"
    GET_COLLECTION_SCHEMAS = "get_collection_schemas"
    SALES_SUMMARY = "sales_summary"
    EXPORT_SALES_SUMMARY = "export_sales_summary"
    SALES_TREND = "sales_trend"
    SEASONAL_PROFILE = "seasonal_profile"
    INVENTORY_HEALTH = "inventory_health"
    RUN_AGGREGATION = "run_aggregation"
