"""Run inside a venv of its own (langchain-mcp-adapters with its own MCP SDK 1.x, which cannot share a venv with
the SDK 2.x the servers use): one LangChain client over both servers, in its default configuration.

    python langchain_adapters_client.py '<json: {"servers": {name: {url, token}}, "calls": [[tool, args], ...]}>'

Prints one JSON line: the tool names the client offers and the text each call returned.
"""

import asyncio
import json
import sys

from langchain_mcp_adapters.client import MultiServerMCPClient


async def main(request: dict) -> dict:
    client = MultiServerMCPClient({
        name: {"url": server["url"], "transport": "streamable_http",
               "headers": {"Authorization": f"Bearer {server['token']}"}}
        for name, server in request["servers"].items()})
    tools = {tool.name: tool for tool in await client.get_tools()}
    results = []
    for name, args in request["calls"]:
        out = await tools[name].ainvoke(args)
        if isinstance(out, list):  # content blocks
            out = "".join(block.get("text", "") if isinstance(block, dict) else str(block) for block in out)
        results.append(out if isinstance(out, str) else str(out))
    return {"tools": sorted(tools), "results": results}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
