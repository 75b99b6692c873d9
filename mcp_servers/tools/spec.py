"""One spec per tool: what it is (its server, whether it writes, whether its reply carries database data,
the chart view that draws it, the confirmation it asks for) beside the module-level function that runs it.

`build_server` registers its server's specs in a loop (`ZavaServer.add_tools`); views, prompts, the smoke run and the
contract name tools through `ToolName`. What a spec says becomes what a client sees: `access` gives the
tool's annotations, `view` its `_meta.ui`, `fenced` whether its text content is wrapped as untrusted data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mcp.server.mcpserver.resolve import find_resolved_parameters
from mcp_types import ToolAnnotations

from mcp_servers.tools.names import Server, ToolName


class Access(Enum):
    """What a tool does to the data, as MCP's annotations say it. `idempotentHint` and `destructiveHint` mean
    something only when a tool writes (the specification says so), so a reading tool leaves them out.
    A writing tool retried with the same key or arguments changes nothing more (idempotent); one that undoes
    or overwrites something (a cancel, a return, a count, a move) is destructive."""

    READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
    WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
    OVERWRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)

    @property
    def writes(self) -> bool:
        return self is not Access.READ


ToolFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class ToolSpec:
    name: ToolName
    server: Server
    fn: ToolFunction  # module level, named as the tool; its docstring is the tool's description
    access: Access = Access.READ
    fenced: bool = True  # its text content carries database data, fenced as untrusted (False: none at all)
    view: str | None = None  # the MCP Apps view (sales_analysis/views) that charts its result

    def __post_init__(self) -> None:
        if self.fn.__name__ != self.name:
            raise ValueError(f"tool {self.name}: its function is named {self.fn.__name__!r}")
        if self.access.writes and self.confirmation is None:
            raise ValueError(f"tool {self.name} writes but asks for no confirmation (a Resolve parameter)")
        if not self.access.writes and self.confirmation is not None:
            raise ValueError(f"tool {self.name} only reads but asks for a confirmation")

    @property
    def confirmation(self) -> Callable[..., Any] | None:
        """The resolver that words the confirmation question (MCP elicitation), from the function's
        `Annotated[..., Resolve(fn)]` parameter: None for a tool that asks nothing."""
        resolved = find_resolved_parameters(self.fn)
        return next((marker.fn for marker, _ in resolved.values()), None)

