"""`python -m mcp_servers.smoke`: launch each server over stdio, as Claude Desktop does, and show it answering.

Prints the tools each server offers and the answers to a few calls; exits non-zero if a server
fails to start or a call errors.
"""

import asyncio
import json
import os
import sys
import time

from mcp import Client, MCPError, StdioServerParameters

from mcp_servers.tools.names import Server, ToolName
from zava_core.infra.config import Settings

PASS_THROUGH = ("MONGODB_", "ZAVA_", "OPENAI_", "AZURE_OPENAI_")

CALLS: dict[Server, list[tuple[ToolName, dict]]] = {
    Server.CUSTOMER_SALES: [
        (ToolName.SEMANTIC_SEARCH_PRODUCTS, {"query_description": "my toilet keeps running after flushing",
                                             "max_rows": 3}),
        (ToolName.GET_INVENTORY, {"sku": "PTDR000001"}),
        (ToolName.FIND_CUSTOMERS, {"query": "smith", "max_rows": 3}),
    ],
    Server.SALES_ANALYSIS: [
        (ToolName.SALES_SUMMARY, {"group_by": "category", "start_date": "2025-01-01", "end_date": "2025-12-31",
                           "top_n": 3}),
        (ToolName.SALES_TREND, {"period": "year"}),
        (ToolName.RUN_AGGREGATION, {"collection": "orders", "pipeline": '[{"$group": {"_id": "$store_id", "orders": '
                             '{"$sum": 1}}}, {"$sort": {"orders": -1}}]', "max_rows": 3}),
    ],
}


def _env() -> dict[str, str]:
    """What a launched server gets: our settings' variables, and the data directory this process resolves (the
    one seeding used), named outright: a client hands a server only a default environment, in which the
    platform's default data directory may be another (XDG_DATA_HOME, HOME)."""
    passed = {k: v for k, v in os.environ.items() if k.startswith(PASS_THROUGH)}
    return {**passed, "ZAVA_DATA_DIR": str(Settings.from_env().data_dir)}


async def smoke(server: Server, calls: list[tuple[ToolName, dict]]) -> bool:
    params = StdioServerParameters(command=sys.executable, args=["-m", f"mcp_servers.{server}", "--head-office"],
                                   env=_env())
    started = time.perf_counter()
    try:
        return await _answers(server, Client(params), calls, started)
    except (MCPError, BaseExceptionGroup) as exc:
        if not _connection_lost(exc):
            raise
        print(f"{server}: did not start or stopped answering (its reason is on the line above)")
        return False


def _connection_lost(exc: BaseException) -> bool:
    """The client's failure when the server process exits (inside anyio's exception groups)."""
    if isinstance(exc, BaseExceptionGroup):
        return any(_connection_lost(inner) for inner in exc.exceptions)
    return isinstance(exc, MCPError)


async def _answers(server: Server, session: Client, calls: list[tuple[ToolName, dict]], started: float) -> bool:
    async with session as client:
        tools = (await client.list_tools()).tools
        print(f"{server}: {len(tools)} tools ({time.perf_counter() - started:.1f} s to start): "
              + ", ".join(t.name for t in tools))
        ok = True
        for name, arguments in calls:
            t0 = time.perf_counter()
            result = await client.call_tool(name, arguments)
            ms = (time.perf_counter() - t0) * 1000
            text = json.dumps(result.structured_content) if result.structured_content else result.content[0].text
            print(f"  {name}({json.dumps(arguments)}) -> {'ERROR ' if result.is_error else ''}{ms:.0f} ms\n"
                  f"    {text[:300]}{'...' if len(text) > 300 else ''}")
            ok &= not result.is_error
    return ok


def main() -> int:
    ok = all([asyncio.run(smoke(server, calls)) for server, calls in CALLS.items()])
    print("all servers answered" if ok else "a call failed (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
