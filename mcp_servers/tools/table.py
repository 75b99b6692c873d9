"""The one tool table: every tool of both servers, by name, each from its spec.

`build_server` registers `specs_for(its server)`; the contract checks the servers' tools/list against
`expected_names`. Importing this module checks that every `ToolName` has exactly one spec.
"""

from __future__ import annotations

from mcp_servers.customer_sales import tools as customer_sales_tools
from mcp_servers.customer_sales import write_tools
from mcp_servers.sales_analysis import tools as sales_analysis_tools
from mcp_servers.tools.names import Server, ToolName
from mcp_servers.tools.spec import ToolSpec

TOOLS: tuple[ToolSpec, ...] = (*customer_sales_tools.SPECS, *write_tools.SPECS, *sales_analysis_tools.SPECS)
BY_NAME: dict[ToolName, ToolSpec] = {spec.name: spec for spec in TOOLS}

if len(BY_NAME) != len(TOOLS) or set(BY_NAME) != set(ToolName):
    _counts = {name: sum(spec.name == name for spec in TOOLS) for name in ToolName}
    raise ValueError("every tool name needs exactly one spec: "
                     + ", ".join(f"{name} has {count}" for name, count in _counts.items() if count != 1))


def specs_for(server: Server, *, read_only: bool = False) -> tuple[ToolSpec, ...]:
    """The tools `server` offers, in the table's order (read_only: the writing ones left out)."""
    return tuple(spec for spec in TOOLS if spec.server is server and not (read_only and spec.access.writes))


def expected_names(server: Server, *, read_only: bool = False) -> list[str]:
    return sorted(spec.name.value for spec in specs_for(server, read_only=read_only))
