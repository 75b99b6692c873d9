"""`python -m mcp_servers.smoke`: launch each server over stdio, as Claude Desktop does, and show it answering.

Prints the tools each server offers and the answers to a few calls; exits non-zero if a server
fails to start or a call errors.
"""

import asyncio
import json
import os
import sys
import time

from mcp import Client, StdioServerParameters

from mcp_servers.tools.names import Server, ToolName

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
    return {k: v for k, v in os.environ.items() if k.startswith(PASS_THROUGH)}


async def smoke(server: Server, calls: list[tuple[ToolName, dict]]) -> bool:
    params = StdioServerParameters(command=sys.executable, args=["-m", f"mcp_servers.{server}", "--head-office"],
                                   env=_env())
    started = time.perf_counter()
    async with Client(params) as client:
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
    ok = all(asyncio.run(smoke(server, calls)) for server, calls in CALLS.items())
    print("all servers answered" if ok else "a call failed (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
