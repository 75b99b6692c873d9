"""What the servers tell a model to do next names tools and arguments that exist where they point.

- A list cut at its row cap says to raise the tool's own row argument (`max_rows`, or `top_n` for
  sales_summary: its note used to say `max_rows`, which sales_summary ignored).
- Every tool call a prompt spells out names a tool of the two servers, with arguments its schema accepts.
- Errors and notes from a battery of calls name (in backticks) only tools that exist and arguments of the
  tool called; a tool of the other server is named with its server.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jsonschema
import pytest
from mcp import Client

from mcp_servers.customer_sales.server import build_server as build_customer_sales
from mcp_servers.runtime.replies import unfenced
from mcp_servers.sales_analysis.server import build_server as build_sales_analysis
from mcp_servers.tools.names import ToolName
from mcp_servers.tools.table import BY_NAME
from zava_core.infra.config import Settings
from zava_core.scope import Identity

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

HEAD_OFFICE = Identity(head_office=True)
MARKED = re.compile(r"`([a-z][a-z0-9_]*)`")
PROMPT_CALL = re.compile(r"`([a-z_]+)` (\{.*?\})(?=[;,.\n]|$)")


@asynccontextmanager
async def both(settings: Settings, identity: Identity = HEAD_OFFICE) -> AsyncIterator[dict[str, Client]]:
    async with Client(build_customer_sales(settings, identity)) as sales, \
            Client(build_sales_analysis(settings, identity)) as analysis:
        yield {"customer_sales": sales, "sales_analysis": analysis}


async def schemas(clients: dict[str, Client]) -> dict[str, dict[str, Any]]:
    return {t.name: t.input_schema for c in clients.values() for t in (await c.list_tools()).tools}


def client_for(clients: dict[str, Client], tool: str) -> Client:
    return clients[BY_NAME[tool].server.value]  # type: ignore[index]


def check_names(text: str, tool: str, inputs: dict[str, dict[str, Any]]) -> list[str]:
    """What `text` (a reply of `tool`) names in backticks that does not exist where it points."""
    wrong = []
    server = BY_NAME[tool].server  # type: ignore[index]
    for name in MARKED.findall(text):
        if name in inputs:
            home = BY_NAME[name].server  # type: ignore[index]
            if home != server and home.title not in text:
                wrong.append(f"{name} is on {home.title}, which the text does not say")
        elif name not in inputs[tool].get("properties", {}):
            wrong.append(f"{name} is not an argument of {tool}")
    return wrong


ROW_CUTS = {
    ToolName.GET_PRODUCTS_BY_NAME: ({"product_name": "drill", "max_rows": 1}, "max_rows"),
    ToolName.SEMANTIC_SEARCH_PRODUCTS: ({"query_description": "cordless drill", "max_rows": 1}, "max_rows"),
    ToolName.GET_LOW_STOCK_ITEMS: ({"threshold": 1000, "max_rows": 1}, "max_rows"),
    ToolName.FIND_CUSTOMERS: ({"query": "smi", "max_rows": 1}, "max_rows"),
    ToolName.INVENTORY_HEALTH: ({"max_rows": 1}, "max_rows"),
    ToolName.SALES_SUMMARY: ({"group_by": "product", "top_n": 1}, "top_n"),
    ToolName.RUN_AGGREGATION: ({"collection": "stores", "pipeline": [], "max_rows": 1}, "max_rows"),
}


async def test_a_cut_list_names_its_own_row_argument(seeded: Settings) -> None:
    async with both(seeded) as clients:
        inputs = await schemas(clients)
        for tool, (args, row_argument) in ROW_CUTS.items():
            result = await client_for(clients, tool).call_tool(tool, args)
            assert not result.is_error, (tool, result.content[0].text)
            meta = result.structured_content["meta"]
            assert meta["truncated"], (tool, meta)
            assert f"`{row_argument}`" in meta["note"], (tool, meta["note"])
            assert row_argument in inputs[tool]["properties"], tool
            assert check_names(meta["note"], tool, inputs) == [], (tool, meta["note"])
            if tool == ToolName.SALES_SUMMARY:
                assert "max_rows" not in meta["note"], "sales_summary has no max_rows"


PROMPTS = {
    "customer_sales": [("find_and_reserve", {"customer": "smith", "request": "my toilet keeps running",
                                             "store": "Seattle"})],
    "sales_analysis": [("weekly_store_review", {"store": "Seattle", "week_ending": "2026-10-25"}),
                       ("category_deep_dive", {"category": "plumbing", "start_month": "2025-07",
                                               "end_month": "2025-09", "store": "Seattle"}),
                       ("restock_plan", {"store": "Seattle", "category": "plumbing"})],
}


async def test_every_call_a_prompt_spells_out_is_valid_against_the_contract(seeded: Settings) -> None:
    async with both(seeded) as clients:
        inputs = await schemas(clients)
        listed = {server: {p.name for p in (await c.list_prompts()).prompts} for server, c in clients.items()}
        assert listed == {server: {name for name, _ in prompts} for server, prompts in PROMPTS.items()}
        spelt = 0
        for server, prompts in PROMPTS.items():
            for name, args in prompts:
                text = "\n".join(m.content.text for m in (await clients[server].get_prompt(name, args)).messages)
                for tool in MARKED.findall(text):
                    assert tool in inputs, f"{name} names {tool}, which no server offers"
                for tool, arguments in PROMPT_CALL.findall(text):
                    schema = {**inputs[tool], "additionalProperties": False}  # as the servers enforce it
                    jsonschema.validate(json.loads(arguments), schema)
                    spelt += 1
        assert spelt >= 10  # the analysis prompts spell out their calls in full


async def test_errors_and_notes_name_what_exists_where_they_point(seeded: Settings, sdb) -> None:
    order = sdb.orders.find_one({"status": "processing", "deleted": False})
    calls: list[tuple[str, dict[str, Any]]] = [
        (ToolName.GET_PRODUCTS_BY_NAME, {"product_name": "zzqqxx"}),
        (ToolName.SEMANTIC_SEARCH_PRODUCTS, {"query_description": "zzqqxx wwvvuu", "mode": "lexical"}),
        (ToolName.SEMANTIC_SEARCH_PRODUCTS, {"query_description": "toilet", "mode": "semantic",
                                             "similarity_threshold": 100}),
        (ToolName.GET_INVENTORY, {"sku": "ZZZZ999999"}),
        (ToolName.GET_CUSTOMER_ORDERS, {"customer_id": "customer_12"}),
        (ToolName.CANCEL_ORDER, {"order_id": "order-12", "reason": "test", "idempotency_key": "truthful-1"}),
        (ToolName.UPDATE_ORDER_STATUS, {"order_id": order["_id"], "status": "cancelled"}),
        (ToolName.SALES_SUMMARY, {"group_by": "product", "skus": ["ZZZZ999999"]}),
        (ToolName.SALES_SUMMARY, {"group_by": "store", "order_by": "units"}),
        (ToolName.GET_COLLECTION_SCHEMAS, {"collections": []}),
    ]
    async with both(seeded) as clients:
        inputs = await schemas(clients)
        for tool, args in calls:
            result = await client_for(clients, tool).call_tool(tool, args)
            text = unfenced(result.content[0].text)
            assert check_names(text, tool, inputs) == [], (tool, args, text)
        sku_error = (await clients["sales_analysis"].call_tool(ToolName.SALES_SUMMARY, {
            "group_by": "product", "skus": ["ZZZZ999999"]})).content[0].text
        assert sku_error.startswith("not_found: ") and "(zava-customer-sales)" in sku_error
