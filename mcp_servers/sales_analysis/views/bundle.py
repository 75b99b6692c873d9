"""Build each view's HTML document from the shipped assets: one self-contained file per view.

A host renders a `ui://` resource from its text alone (no origin to fetch from), so the CSS and the
scripts are inlined. The document's own Content-Security-Policy allows exactly those inline blocks by
their SHA-256 hashes and nothing else: no network, no remote sources, no inline event handlers, no
`eval`. Whatever a host adds on top can only restrict it further.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from mcp_servers.tools.names import ToolName

PACKAGE = "mcp_servers.sales_analysis.views"  # a regular package; assets/ beside this file is package data
SHARED_CSS = ("base.css",)
SHARED_SCRIPTS = ("bridge.js", "draw.js")  # the host bridge, then SVG and DOM helpers every view uses


@dataclass(frozen=True)
class View:
    name: str  # also the asset stem: assets/<name>.js
    tool: ToolName  # the tool it charts, and re-runs through the host
    title: str
    description: str

    @property
    def uri(self) -> str:
        return f"ui://zava-sales-analysis/{self.name}.html"


VIEWS = (
    View("trend", ToolName.SALES_TREND, "Sales trend",
         "Line chart of revenue, units or orders per period, with last year overlaid; one line per series when split"),
    View("summary", ToolName.SALES_SUMMARY, "Sales summary",
         "Bars per group; grouped or stacked bars for two dimensions; a metric picker for several metrics"),
    View("seasonal", ToolName.SEASONAL_PROFILE, "Seasonal profile",
         "Revenue index per calendar month (1.0 = the average month), peak and low months marked"),
    View("stock", ToolName.INVENTORY_HEALTH, "Inventory health",
         "Days of stock cover per item, at-risk rows highlighted, slow movers listed"),
)


def csp_hash(block: str) -> str:
    """The CSP source expression that allows exactly this inline <script> or <style> body."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"


def content_security_policy(script: str, style: str) -> str:
    return "; ".join((
        "default-src 'none'",
        f"script-src {csp_hash(script)}",
        f"style-src {csp_hash(style)}",
        "img-src data:",
        "connect-src 'none'",
        "font-src 'none'",
        "frame-src 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ))


def _asset(name: str) -> str:
    return resources.files(PACKAGE).joinpath("assets", name).read_text(encoding="utf-8")


@cache
def view_html(name: str) -> str:
    """The complete HTML document of one view (cached: the assets do not change while the process runs)."""
    view = next((v for v in VIEWS if v.name == name), None)
    if view is None:
        raise ValueError(f"no view named {name!r}; views: {', '.join(v.name for v in VIEWS)}")
    style = "\n".join(_asset(n) for n in SHARED_CSS)
    # The view's constants come first so the shared code can read them; the asset names are ours, not data.
    script = "\n".join([f'"use strict";\nconst VIEW = {{name: "{view.name}", tool: "{view.tool}"}};',
                        *(_asset(n) for n in SHARED_SCRIPTS), _asset(f"{view.name}.js")])
    for block, closing in ((script, "</script"), (style, "</style")):
        if closing in block.lower():  # would end the inline block early
            raise ValueError(f"an asset of view {name!r} contains {closing!r}")
    return (_asset("view.html")
            .replace("{{CSP}}", content_security_policy(script, style))
            .replace("{{TITLE}}", view.title)
            .replace("{{STYLE}}", style)
            .replace("{{SCRIPT}}", script))
