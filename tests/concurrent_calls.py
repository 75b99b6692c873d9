"""Many tool calls at once across several servers (each with its own zava_core client and per-store
order queue, as separate processes would have): the harness of the concurrency suites."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
from mcp.client import Client

from mcp_servers.customer_sales.server import build_server
from zava_core.infra.config import Settings
from zava_core.scope import Identity

HEAD_OFFICE = Identity(head_office=True)


@asynccontextmanager
async def servers(settings: Settings, count: int = 1) -> AsyncIterator[list[Client]]:
    """`count` independent head-office servers on `settings`' database."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(Client(build_server(settings, HEAD_OFFICE))) for _ in range(count)]


async def call_all(calls: list[tuple[Client, str, dict]], timeout_s: float) -> list[tuple[bool, str, dict | None]]:
    """Start every call at once; (is_error, text, structured_content) in the order of `calls`."""
    results: list[tuple[bool, str, dict | None] | None] = [None] * len(calls)

    async def one(index: int, client: Client, tool: str, args: dict) -> None:
        with anyio.fail_after(timeout_s):
            result = await client.call_tool(tool, args)
        text = result.content[0].text if result.content else ""
        results[index] = (result.is_error, text, result.structured_content)

    async with anyio.create_task_group() as tg:
        for index, (client, tool, args) in enumerate(calls):
            tg.start_soon(one, index, client, tool, args)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]
