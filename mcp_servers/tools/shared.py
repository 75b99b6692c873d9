"""Tools both servers offer: the current date and semantic product search."""

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_servers.runtime.app import READ_ONLY, call
from mcp_servers.tools.arguments import Category, MaxRows, SearchMode
from zava_core import limits as L
from zava_core.infra import timeutil
from zava_core.retail import search
from zava_core.shaping import Out


class CurrentDate(Out):
    utc_now: str
    date: str
    weekday: str
    month: str
    quarter: str


def register_shared_tools(server: MCPServer, *, record_search_misses: bool = False) -> None:
    """`record_search_misses`: count searches without a good answer per store (the store-facing server only)."""

    @server.tool(annotations=READ_ONLY)
    async def get_current_utc_date() -> CurrentDate:
        """Current UTC date and time, to turn 'last month' or 'this quarter' into dates."""
        return CurrentDate(**timeutil.current_date())

    @server.tool(annotations=READ_ONLY)
    async def semantic_search_products(
        ctx: Context,
        query_description: Annotated[str, Field(min_length=L.SEMANTIC_QUERY_MIN_CHARS,
                                                max_length=L.SEMANTIC_QUERY_MAX_CHARS,
                                                description="What the customer needs, in plain words")],
        max_rows: MaxRows = 10,
        similarity_threshold: Annotated[float, Field(
            ge=0, le=100, description="Minimum similarity % for products found by meaning only")
        ] = L.SIMILARITY_THRESHOLD_DEFAULT,
        category: Category = None,
        in_stock_only: bool = False,
        mode: SearchMode = "hybrid",
    ) -> search.SemanticSearchResult:
        """Find products from a shopper's words ('stop a running toilet', 'cordles dril', '20 amp breaker'),
        best first, with stock in your stores; each hit says whether the words, the meaning or both found it, and
        how sure; weak results suggest product types."""
        async with call(ctx) as (zava, scope):
            return await search.semantic_search_products(zava, scope, query_description, max_rows,
                                                         similarity_threshold, category, in_stock_only, mode,
                                                         record_misses=record_search_misses)
