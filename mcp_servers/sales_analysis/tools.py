"""The sales-analysis tools: the date, schemas, sales summaries, trends, seasonality, inventory health, and a
guarded read-only aggregation for what the typed tools do not answer.

Each tool validates its arguments, calls zava_core with the caller's scope, and returns its model.
"""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_servers.runtime.app import call
from mcp_servers.sales_analysis.exports import export_sales_summary
from mcp_servers.tools.arguments import (
    Categories,
    Category,
    Comparison,
    Date,
    GroupBy,
    MaxRows,
    Metrics,
    OptionalStore,
    OrderBy,
    Period,
    ProductTypes,
    Skus,
    Split,
    Stores,
)
from mcp_servers.tools.names import Server, ToolName
from mcp_servers.tools.spec import ToolSpec
from zava_core import limits as L
from zava_core.analysis import aggregation, analytics, schemas
from zava_core.infra import timeutil
from zava_core.shaping import Out


class CurrentDate(Out):
    utc_now: str
    date: str
    weekday: str
    month: str
    quarter: str


async def get_current_utc_date() -> CurrentDate:
    """Current UTC date and time, to turn 'last month' or 'this quarter' into dates."""
    return CurrentDate(**timeutil.current_date())


async def get_collection_schemas(
    ctx: Context,
    collections: Annotated[list[str], Field(max_length=L.MAX_COLLECTIONS_LISTED, description="Names; empty for all")],
) -> schemas.CollectionSchemas:
    """Fields, types, meanings, relationships, indexes and valid values of the collections."""
    async with call(ctx) as (zava, scope):
        return await schemas.collection_schemas(zava, scope, collections)


async def sales_summary(
    ctx: Context, group_by: GroupBy, metrics: Metrics = "revenue", start_date: Date = None, end_date: Date = None,
    stores: Stores = None, categories: Categories = None, product_types: ProductTypes = None, skus: Skus = None,
    order_by: OrderBy = None, top_n: MaxRows = 20, compare_to: Comparison | None = None,
) -> analytics.SalesSummary:
    """Several metrics by up to 3 dimensions in one call, ranked (time in order), with totals; compare_to adds
    the same figures for the previous period or year and the change in percent."""
    async with call(ctx) as (zava, scope):
        return await analytics.sales_summary(zava, scope, group_by, metrics, start_date, end_date, stores,
                                             categories, product_types, skus, order_by, top_n, compare_to)


async def sales_trend(
    ctx: Context, period: Period = "month", start_date: Date = None,
    end_date: Date = None, stores: Stores = None, categories: Categories = None, split_by: Split | None = None,
) -> analytics.SalesTrend:
    """Revenue, units and orders per period, with period-over-period and year-over-year change; split_by
    adds one series per store, category, product type or product."""
    async with call(ctx) as (zava, scope):
        return await analytics.sales_trend(zava, scope, period, start_date, end_date, stores, categories, split_by)


async def seasonal_profile(ctx: Context, category: Category = None, stores: Stores = None) -> analytics.SeasonalProfile:
    """Revenue by calendar month over complete years, indexed to the average month; peaks and lows."""
    async with call(ctx) as (zava, scope):
        return await analytics.seasonal_profile(zava, scope, category, stores)


async def inventory_health(
    ctx: Context, store: OptionalStore = None, category: Category = None, max_rows: MaxRows = 20,
) -> analytics.InventoryHealth:
    """Stock against recent demand: days of cover, items at risk of running out, slow movers."""
    async with call(ctx) as (zava, scope):
        return await analytics.inventory_health(zava, scope, store, category, max_rows)


async def run_aggregation(
    ctx: Context,
    collection: Annotated[str, Field(max_length=L.COLLECTION_NAME_MAX_CHARS,
                                     description="e.g. orders, order_items, sales_monthly")],
    pipeline: Annotated[str | list[dict[str, Any]], Field(
        description="Aggregation stages as a JSON array (Extended JSON: {\"$date\": ...}). Read-only stages "
                    "only; your store scope and deleted:false are added for you")],
    max_rows: MaxRows = 20,
) -> aggregation.AggregationResult:
    """Run a read-only aggregation when no typed tool fits: time-limited, capped, one at a time per caller.
    Regexes are escaped literals only; windows take documents: [-n, 0] bounds (n <= 100)."""
    async with call(ctx) as (zava, scope):
        return await aggregation.run_aggregation(zava, scope, collection, pipeline, max_rows)


SPECS = (
    ToolSpec(ToolName.GET_CURRENT_UTC_DATE, Server.SALES_ANALYSIS, get_current_utc_date, fenced=False),
    ToolSpec(ToolName.GET_COLLECTION_SCHEMAS, Server.SALES_ANALYSIS, get_collection_schemas),
    ToolSpec(ToolName.SALES_SUMMARY, Server.SALES_ANALYSIS, sales_summary, view="summary"),
    ToolSpec(ToolName.EXPORT_SALES_SUMMARY, Server.SALES_ANALYSIS, export_sales_summary),
    ToolSpec(ToolName.SALES_TREND, Server.SALES_ANALYSIS, sales_trend, view="trend"),
    ToolSpec(ToolName.SEASONAL_PROFILE, Server.SALES_ANALYSIS, seasonal_profile, view="seasonal"),
    ToolSpec(ToolName.INVENTORY_HEALTH, Server.SALES_ANALYSIS, inventory_health, view="stock"),
    ToolSpec(ToolName.RUN_AGGREGATION, Server.SALES_ANALYSIS, run_aggregation),
)
