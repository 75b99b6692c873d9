"""`export_sales_summary`: the whole answer of a `sales_summary` as a CSV, returned as an MCP resource link.

The official MongoDB MCP server's `export` tool is the pattern: the tool's content is text (for clients that do
not follow links: here the link as JSON, like every tool's text) and a `resource_link`; its structured content
is the link itself. The file is
read with `resources/read` on `zava://exports/{export_id}` (a resource template), by a caller with the same
scope as the one who made it, until it expires. What an export holds, its limits and its lifetime are
zava_core's (`zava_core/analysis/export.py`, `export_store.py`, `limits.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import CallToolResult, ResourceLink, TextContent
from pydantic import ConfigDict, Field

from mcp_servers.runtime import caller
from mcp_servers.runtime.app import call
from mcp_servers.tools.arguments import (
    Categories,
    Comparison,
    Date,
    GroupBy,
    Metrics,
    OrderBy,
    ProductTypes,
    Skus,
    Stores,
    terse,
)
from zava_core import limits as L
from zava_core.analysis import export
from zava_core.analysis.export_store import ExportFile
from zava_core.errors import ZavaError
from zava_core.infra.timeutil import iso
from zava_core.shaping import Out

CSV = "text/csv"
EXPORT_TEMPLATE = "zava://exports/{export_id}"


class ExportLink(Out):
    """What the tool returns besides its text: the link, and enough about the file to decide to read it."""

    model_config = ConfigDict(populate_by_name=True)  # merged with Out's

    type: str = "resource_link"
    uri: str = Field(description="Read it with resources/read")
    name: str
    mime_type: str = Field(CSV, alias="mimeType")
    rows: int
    size: int = Field(description="Bytes")
    columns: list[str]
    expires_at: str = Field(description="After this the link answers that the export expired")


def export_uri(export_id: str) -> str:
    return EXPORT_TEMPLATE.format(export_id=export_id)


def _link(made: ExportFile) -> ExportLink:
    return ExportLink(uri=export_uri(made.export_id), name=made.name, rows=made.rows, size=made.size,
                      columns=made.columns, expires_at=iso(datetime.fromtimestamp(made.expires_at, UTC)))


async def export_sales_summary(
    ctx: Context, group_by: terse(GroupBy), metrics: terse(Metrics) = "revenue", start_date: terse(Date) = None,
    end_date: terse(Date) = None, stores: terse(Stores) = None, categories: terse(Categories) = None,
    product_types: terse(ProductTypes) = None, skus: terse(Skus) = None, order_by: terse(OrderBy) = None,
    compare_to: Comparison | None = None,
) -> Annotated[CallToolResult, ExportLink]:
    async with call(ctx) as (zava, scope):
        made = await export.export_sales_summary(zava, scope, group_by, metrics, start_date, end_date, stores,
                                                 categories, product_types, skus, order_by, compare_to)
    link = _link(made)
    # The text is the structured content as JSON, as every tool's here (clients that do not follow resource
    # links read the URI there); the link follows it.
    return CallToolResult(
        content=[TextContent(type="text", text=link.model_dump_json(by_alias=True)),
                 ResourceLink(type="resource_link", uri=link.uri, name=made.name, mime_type=CSV, size=made.size,
                              description=f"{made.rows:,} rows; expires {link.expires_at}")],
        structured_content=link.model_dump(by_alias=True))


# The description names the limits, from their one home (a docstring cannot).
export_sales_summary.__doc__ = (
    f"sales_summary's arguments (no top_n); every row (up to {L.EXPORT_MAX_ROWS:,}) as a CSV: a link for "
    f"resources/read, valid {L.EXPORT_TTL_SECONDS // 60} min. For more rows than top_n allows.")


def register_export_resource(server: MCPServer) -> None:
    caller.install(server)  # the resource reads its caller's scope (runtime/caller.py)

    @server.resource(EXPORT_TEMPLATE, name="export", title="A CSV export", mime_type=CSV,
                     description="An export made by export_sales_summary: readable by who made it, until it expires")
    async def read_export(export_id: str) -> str:
        try:
            async with caller.caller() as (zava, scope):
                return zava.exports.read(export_id, scope).text
        except ZavaError as exc:
            raise ResourceError(str(exc)) from None
