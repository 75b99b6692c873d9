"""Charts for the analysis tools as MCP Apps (`io.modelcontextprotocol/ui`).

Four tools point at a `ui://` HTML view that hosts with the extension render beside the answer; the view
draws the tool's structured content (plain SVG, no chart library, no network). Hosts without the
extension see nothing new: the tools' results are not touched, only their `_meta.ui` names the view.

    server = ZavaServer(..., extensions=[views.charts()])
    ...                                   # the tools are registered as usual
    views.link_tools(server)              # stamps `_meta.ui.resourceUri` on the four tools

The views may re-run their own tool through the host (`tools/call`) to change the period, a store or a
metric; they only offer the stores the result already shows, and the server applies the caller's scope
to every call anyway.
"""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.server.apps import Apps, ResourceCsp

from mcp_servers.sales_analysis.views.bundle import VIEWS, View, view_html

__all__ = ["VIEWS", "View", "charts", "link_tools", "view_html"]


def charts() -> Apps:
    """The Apps extension holding the four view resources (it advertises the capability when passed to the server)."""
    apps = Apps()
    for view in VIEWS:
        # An empty csp block declares that the views reach no external origin at all.
        apps.add_html_resource(view.uri, view_html(view.name), name=f"{view.name}_view", title=view.title,
                               description=view.description, csp=ResourceCsp(), prefers_border=True)
    return apps


def link_tools(server: MCPServer) -> None:
    """Point each charted tool at its view. Call after the tools are registered.

    The SDK's `Apps.tool` decorator can only stamp tools it registers itself; ours are registered by the
    server module, so the same `_meta.ui` entry is added to them here.
    """
    tools = server._tool_manager  # the SDK keeps registered tools there; no public getter exists
    for view in VIEWS:
        tool = tools.get_tool(view.tool)
        if tool is None:
            raise ValueError(f"view {view.name!r} charts tool {view.tool!r}, which the server does not register")
        if (tool.meta or {}).get("ui"):
            continue  # already linked (build_server ran link_tools twice)
        tool.meta = {**(tool.meta or {}), "ui": {"resourceUri": view.uri}}
