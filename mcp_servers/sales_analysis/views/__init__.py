"""Charts for the analysis tools as MCP Apps (`io.modelcontextprotocol/ui`).

Four tools point at a `ui://` HTML view that hosts with the extension render beside the answer; the view
draws the tool's structured content (plain SVG, no chart library, no network). Hosts without the
extension see nothing new: the tools' results are not touched, only their `_meta.ui` names the view
(each tool's spec names its view; `ZavaServer.add_tools` stamps the URI).

    server = ZavaServer(..., extensions=[views.charts()])
    server.add_tools(specs, view_uris={view.name: view.uri for view in views.VIEWS})

The views may re-run their own tool through the host (`tools/call`) to change the period, a store or a
metric; they only offer the stores the result already shows, and the server applies the caller's scope
to every call anyway.
"""

from __future__ import annotations

from mcp.server.apps import Apps, ResourceCsp

from mcp_servers.sales_analysis.views.bundle import VIEWS, View, view_html

__all__ = ["VIEWS", "View", "charts", "view_html"]


def charts() -> Apps:
    """The Apps extension holding the four view resources (it advertises the capability when passed to the server)."""
    apps = Apps()
    for view in VIEWS:
        # An empty csp block declares that the views reach no external origin at all.
        apps.add_html_resource(view.uri, view_html(view.name), name=f"{view.name}_view", title=view.title,
                               description=view.description, csp=ResourceCsp(), prefers_border=True)
    return apps

