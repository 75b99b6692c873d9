"""One agent over both servers, in the frameworks people build agents with, each in its default configuration.

Both servers run over Streamable HTTP with a bearer token (as `python -m mcp_servers.<server> --transport
http` serves them); each framework connects to both, builds one agent and calls one tool of each server
through its own tool objects (no model is needed for that). Before tool names were unique across the
servers, the OpenAI Agents SDK refused to start ("Duplicate tool names found across MCP servers") and
pydantic-ai too ("defines a tool whose name conflicts").

The answers are checked against the seeded documents: Seattle's stock of one SKU (customer-sales) and
Seattle's 2024 revenue, a plain sum over order_items (sales-analysis); the harness is tests/two_servers.py.

Installed by the test extra (`pip install -e ".[test]"`), pinned: openai-agents, pydantic-ai-slim[mcp],
langchain[mcp] (LangChain's own MCP support, `langchain.mcp`, built on fastmcp: the successor of
langchain-mcp-adapters, whose releases pin the MCP SDK below 2) and fastmcp. langchain-mcp-adapters itself
runs in a venv of its own with its own MCP SDK 1.x: tests/integration/test_langchain_mcp_adapters.py.
"""

from __future__ import annotations

import json
import warnings

import pytest
from two_servers import ALL_TOOLS, BY_SERVER, INVENTORY_CALL, SUMMARY_CALL, both_servers, check, payload

from mcp_servers.tools.names import Server, ToolName

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_openai_agents_sdk(seeded, sdb, raw, tmp_path) -> None:
    from agents import Agent, RunContextWrapper
    from agents.mcp import MCPServerStreamableHttp
    from agents.tool_context import ToolContext

    async with both_servers(seeded, tmp_path) as running:
        sales = MCPServerStreamableHttp({"url": running.urls[Server.CUSTOMER_SALES], "headers": running.headers},
                                        name="zava-customer-sales")
        analysis = MCPServerStreamableHttp({"url": running.urls[Server.SALES_ANALYSIS], "headers": running.headers},
                                           name="zava-sales-analysis")
        async with sales, analysis:
            agent = Agent(name="Zava assistant", instructions="Answer from the Zava tools.",
                          mcp_servers=[sales, analysis])
            context = RunContextWrapper(context=None)
            tools = {tool.name: tool for tool in await agent.get_all_tools(context)}
            assert set(tools) == ALL_TOOLS

            async def invoke(name: str, args: dict) -> dict:
                arguments = json.dumps(args)
                out = await tools[name].on_invoke_tool(
                    ToolContext(context=None, tool_name=name, tool_call_id=f"call-{name}", tool_arguments=arguments),
                    arguments)
                return payload(out if isinstance(out, str) else out["text"])

            check(await invoke(*INVENTORY_CALL), await invoke(*SUMMARY_CALL), sdb, raw)


async def test_pydantic_ai(seeded, sdb, raw, tmp_path) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.mcp import MCPToolset
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    seen_tools: set[str] = set()

    def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        """Stands in for the model: one call of each server's tool, then an answer."""
        seen_tools.update(tool.name for tool in info.function_tools)
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart(name, args) for name, args in (INVENTORY_CALL, SUMMARY_CALL)])
        return ModelResponse(parts=[TextPart("done")])

    async with both_servers(seeded, tmp_path) as running:
        sales = MCPToolset(running.urls[Server.CUSTOMER_SALES], headers=running.headers)
        analysis = MCPToolset(running.urls[Server.SALES_ANALYSIS], headers=running.headers)
        agent = Agent(FunctionModel(scripted), toolsets=[sales, analysis])
        result = await agent.run("Seattle's stock of PTDR000001, and its 2024 revenue?")
    assert seen_tools == ALL_TOOLS
    returns = {part.tool_name: part.content for message in result.all_messages() for part in message.parts
               if isinstance(part, ToolReturnPart)}
    as_dict = {name: value if isinstance(value, dict) else payload(str(value)) for name, value in returns.items()}
    check(as_dict[ToolName.GET_INVENTORY], as_dict[ToolName.SALES_SUMMARY], sdb, raw)


async def test_langchain(seeded, sdb, raw, tmp_path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain.mcp says once that it is in beta
        from langchain.agents import create_agent
        from langchain.mcp import MCPAdapter
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    async with both_servers(seeded, tmp_path) as running:
        config = {"mcpServers": {server.value: {"url": url, "transport": "http", "headers": running.headers}
                                 for server, url in running.urls.items()}}
        async with MCPAdapter(config) as adapter:
            tools = {tool.name: tool for tool in await adapter.list_tools()}
            # A multi-server config namespaces each tool with its server's name.
            assert set(tools) == {f"{BY_SERVER[name]}_{name}" for name in ALL_TOOLS}
            agent = create_agent(GenericFakeChatModel(messages=iter([AIMessage("done")])), list(tools.values()))
            assert agent is not None

            async def invoke(name: str, args: dict) -> dict:
                out = await tools[f"{BY_SERVER[name]}_{name}"].ainvoke(args)
                return payload(out if isinstance(out, str) else out[0]["text"] if isinstance(out, list) else str(out))

            check(await invoke(*INVENTORY_CALL), await invoke(*SUMMARY_CALL), sdb, raw)


async def test_fastmcp(seeded, sdb, raw, tmp_path) -> None:
    from fastmcp import Client

    async with both_servers(seeded, tmp_path) as running:
        config = {"mcpServers": {server.value: {"url": url, "transport": "http", "headers": running.headers}
                                 for server, url in running.urls.items()}}
        async with Client(config) as client:
            names = {tool.name for tool in await client.list_tools()}
            assert names == {f"{BY_SERVER[name]}_{name}" for name in ALL_TOOLS}
            results = [await client.call_tool(f"{BY_SERVER[name]}_{name}", args)
                       for name, args in (INVENTORY_CALL, SUMMARY_CALL)]
    check(*(result.structured_content for result in results), sdb, raw)


