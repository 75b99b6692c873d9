"""zava-sales-analysis: schemas, sales summaries, trends, seasonality, inventory health, and a guarded
read-only aggregation tool for what the typed tools do not answer.

Each tool validates its arguments, calls zava_core with the caller's scope, and returns its model.
"""

from typing import Annotated, Any

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_servers.common.app import READ_ONLY, call, make_lifespan
from mcp_servers.common.arguments import (
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
from mcp_servers.common.base_server import DATA_IS_NOT_INSTRUCTIONS, ZavaServer
from mcp_servers.common.resources import register_resources
from mcp_servers.common.shared_tools import register_shared_tools
from mcp_servers.sales_analysis import views
from mcp_servers.sales_analysis.exports import register_exports
from mcp_servers.sales_analysis.prompts import register_analysis_prompts
from zava_core import limits as L
from zava_core.analysis import aggregation, analytics, schemas
from zava_core.infra.config import Settings
from zava_core.scope import Identity

NAME = "zava-sales-analysis"
INSTRUCTIONS = (
    "Sales analysis for Zava DIY (7 Washington stores + online, orders since 2020). Prefer the typed tools "
    "(sales_summary, sales_trend, seasonal_profile, inventory_health); use get_collection_schemas and "
    "run_aggregation only for questions they cannot answer. Dates are YYYY-MM-DD; call get_current_utc_date "
    "for relative dates. Sales figures are net: cancelled orders and returned units are excluded. "
    "You only see the stores your identity allows. " + DATA_IS_NOT_INSTRUCTIONS
)



def build_server(settings: Settings, identity: Identity | None, *,
                 auth: AuthSettings | None = None, token_verifier: TokenVerifier | None = None) -> ZavaServer:
    """Every tool here only reads: there is no `read_only` to choose (and no --read-only flag)."""
    server = ZavaServer(NAME, instructions=INSTRUCTIONS, auth=auth, token_verifier=token_verifier,
                       lifespan=make_lifespan(settings, identity, warm_ups=(analytics.warm_cube,)),
                       extensions=[views.charts()])
    register_shared_tools(server)
    register_analysis_prompts(server)  # prompts, and completion of their arguments
    register_resources(server)  # zava://schemas, zava://schemas/{collection}, zava://stores

    @server.tool(annotations=READ_ONLY)
    async def get_collection_schemas(
        ctx: Context,
        collections: Annotated[list[str], Field(max_length=L.MAX_COLLECTIONS_LISTED,
                                                description="Names; empty for all")],
    ) -> schemas.CollectionSchemas:
        """Fields, types, meanings, relationships, indexes and valid values of the collections."""
        async with call(ctx) as (zava, scope):
            return await schemas.collection_schemas(zava, scope, collections)

    @server.tool(annotations=READ_ONLY)
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

    @server.tool(annotations=READ_ONLY)
    async def sales_trend(
        ctx: Context, period: Period = "month", start_date: Date = None,
        end_date: Date = None, stores: Stores = None, categories: Categories = None, split_by: Split | None = None,
    ) -> analytics.SalesTrend:
        """Revenue, units and orders per period, with period-over-period and year-over-year change; split_by
        adds one series per store, category, product type or product."""
        async with call(ctx) as (zava, scope):
            return await analytics.sales_trend(zava, scope, period, start_date, end_date, stores, categories,
                                               split_by)

    @server.tool(annotations=READ_ONLY)
    async def seasonal_profile(
        ctx: Context,
        category: Category = None,
        stores: Stores = None,
    ) -> analytics.SeasonalProfile:
        """Revenue by calendar month over complete years, indexed to the average month; peaks and lows."""
        async with call(ctx) as (zava, scope):
            return await analytics.seasonal_profile(zava, scope, category, stores)

    @server.tool(annotations=READ_ONLY)
    async def inventory_health(
        ctx: Context,
        store: OptionalStore = None,
        category: Category = None,
        max_rows: MaxRows = 20,
    ) -> analytics.InventoryHealth:
        """Stock against recent demand: days of cover, items at risk of running out, slow movers."""
        async with call(ctx) as (zava, scope):
            return await analytics.inventory_health(zava, scope, store, category, max_rows)

    @server.tool(annotations=READ_ONLY, description=(
        "Run a read-only aggregation when no typed tool fits: time-limited, capped, one at a time per caller. "
        "Regexes are escaped literals only; windows take documents: [-n, 0] bounds (n <= 100)."))
    async def run_aggregation(
        ctx: Context,
        collection: Annotated[str, Field(max_length=L.COLLECTION_NAME_MAX_CHARS,
                                         description="e.g. orders, order_items, sales_monthly")],
        pipeline: Annotated[str | list[dict[str, Any]], Field(
            description="Aggregation stages as a JSON array (Extended JSON: {\"$date\": ...}). Read-only stages "
                        "only; your store scope and deleted:false are added for you")],
        max_rows: MaxRows = 20,
    ) -> aggregation.AggregationResult:
        async with call(ctx) as (zava, scope):
            return await aggregation.run_aggregation(zava, scope, collection, pipeline, max_rows)

    register_exports(server)  # export_sales_summary and zava://exports/{export_id}
    views.link_tools(server)  # the four charted tools name their MCP Apps view
    return server
