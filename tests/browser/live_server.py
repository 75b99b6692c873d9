"""A running analysis server as the browser tests reach it: its /mcp URL and two bearer tokens."""

from __future__ import annotations

from dataclasses import dataclass

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


@dataclass(frozen=True)
class LiveServer:
    url: str  # Streamable HTTP, /mcp
    head_office: str  # bearer tokens
    seattle: str

    async def call(self, token: str, tool: str, arguments: dict) -> dict:
        """The tool's result as another MCP client (the Python SDK) reads it from the same server."""
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(headers=headers) as http, \
                Client(streamable_http_client(self.url, http_client=http)) as client:
            result = await client.call_tool(tool, arguments)
        assert not result.is_error, result.content
        return result.structured_content
