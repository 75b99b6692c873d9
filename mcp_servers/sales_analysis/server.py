"""zava-sales-analysis: the date, schemas, sales summaries, trends, seasonality, inventory health, and a guarded
read-only aggregation tool for what the typed tools do not answer.

Its tools are the sales-analysis specs of the tool table (`mcp_servers/tools/table.py`, functions in
`tools.py`); four of them name the MCP Apps view that charts their result.
"""

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings

from mcp_servers.features.resources import register_resources
from mcp_servers.runtime.app import make_lifespan
from mcp_servers.runtime.base_server import DATA_IS_NOT_INSTRUCTIONS, ZavaServer
from mcp_servers.sales_analysis import views
from mcp_servers.sales_analysis.exports import register_export_resource
from mcp_servers.sales_analysis.prompts import register_analysis_prompts
from mcp_servers.tools.names import Server, ToolName
from mcp_servers.tools.table import specs_for
from zava_core.analysis import analytics
from zava_core.infra.config import Settings
from zava_core.scope import Identity

NAME = Server.SALES_ANALYSIS.title
INSTRUCTIONS = (
    "Sales analysis for Zava DIY (7 Washington stores + online, orders since 2020). Prefer the typed tools "
    f"({ToolName.SALES_SUMMARY}, {ToolName.SALES_TREND}, {ToolName.SEASONAL_PROFILE}, {ToolName.INVENTORY_HEALTH}); "
    f"use {ToolName.GET_COLLECTION_SCHEMAS} and {ToolName.RUN_AGGREGATION} only for questions they cannot answer. "
    f"Dates are YYYY-MM-DD; call {ToolName.GET_CURRENT_UTC_DATE} for relative dates. Sales figures are net: "
    "cancelled orders and returned units are excluded. You only see the stores your identity allows. "
    + DATA_IS_NOT_INSTRUCTIONS
)


def build_server(settings: Settings, identity: Identity | None, *,
                 auth: AuthSettings | None = None, token_verifier: TokenVerifier | None = None) -> ZavaServer:
    """Every tool here only reads: there is no `read_only` to choose (and no --read-only flag)."""
    server = ZavaServer(NAME, instructions=INSTRUCTIONS, auth=auth, token_verifier=token_verifier,
                        lifespan=make_lifespan(settings, identity, warm_ups=(analytics.warm_cube,)),
                        extensions=[views.charts()])
    server.add_tools(specs_for(Server.SALES_ANALYSIS), view_uris={view.name: view.uri for view in views.VIEWS})
    register_analysis_prompts(server)  # prompts, and completion of their arguments
    register_resources(server)  # zava://schemas, zava://schemas/{collection}, zava://stores
    register_export_resource(server)  # zava://exports/{export_id}: what export_sales_summary links to
    return server
