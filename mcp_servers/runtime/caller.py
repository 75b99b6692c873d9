"""Who is asking, for the MCP requests whose handlers the SDK gives no request context: static resources
and completions.

Tools get `ctx` and go through `app.call`. A static resource's function and a completion handler get no
context from the SDK, yet both answer per caller (a store manager sees only their store). So a small
middleware (the SDK's public `server.middleware` seam) keeps each inbound request's context in a
ContextVar for the length of that request, and `caller()` resolves the identity from it by the same rule as
the tools: the verified bearer token on HTTP, the launch identity on stdio, none means no data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from mcp_servers.runtime.app import AppState, _request_identity, scope_for
from zava_core.context import Zava
from zava_core.errors import ZavaError
from zava_core.scope import Scope, require_identity

_REQUEST: ContextVar[ServerRequestContext[Any, Any] | None] = ContextVar("zava_mcp_request", default=None)


async def remember_request(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    token = _REQUEST.set(ctx)
    try:
        return await call_next(ctx)
    finally:
        _REQUEST.reset(token)


def install(server: MCPServer) -> None:
    """Add the middleware once per server (prompts, resources and completions may each ask for it)."""
    if remember_request not in server.middleware:
        server.middleware.append(remember_request)


@asynccontextmanager
async def caller() -> AsyncIterator[tuple[Zava, Scope]]:
    """The current request's zava_core handle and scope; ZavaError (NoIdentity) when there is no identity."""
    ctx = _REQUEST.get()
    state = getattr(ctx, "lifespan_context", None)
    if not isinstance(state, AppState):
        raise ZavaError("this request has no server context")
    yield state.zava, await scope_for(state.zava, require_identity(_request_identity(state)))
