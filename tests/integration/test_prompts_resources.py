"""Prompts, resources and completions through the MCP SDK client: in process, over stdio and over Streamable HTTP.

Every answer is per caller: a store manager is offered only their own store (completion), reads only their
store in the directory and in the schemas' valid values (resources), and a prompt for another store is
refused before any tool runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import PromptReference, ResourceTemplateReference
from serving import serving as serve_app

from mcp_servers.auth.bearer_tokens import TokenStore
from mcp_servers.customer_sales.server import build_server as build_customer_sales
from mcp_servers.sales_analysis.server import build_server as build_analysis
from mcp_servers.serving.runner import build_for_transport, http_app
from zava_core.infra.config import Settings
from zava_core.scope import Identity

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ANALYSIS_PROMPTS = {"weekly_store_review": {"sales_summary", "sales_trend", "inventory_health"},
                    "category_deep_dive": {"sales_summary", "sales_trend", "seasonal_profile"},
                    "restock_plan": {"inventory_health", "sales_summary", "seasonal_profile"}}
SHORT_NAMES = ["Bellevue", "Everett", "Kirkland", "Online", "Redmond", "Seattle", "Spokane", "Tacoma"]
REVIEW = PromptReference(name="weekly_store_review")
SCHEMA_TEMPLATE = ResourceTemplateReference(uri="zava://schemas/{collection}")


async def completions(client: Client, ref, name: str, value: str, context: dict | None = None) -> list[str]:
    result = await client.complete(ref, {"name": name, "value": value}, context)
    return result.completion.values


async def check_a_tacoma_manager(client: Client) -> None:
    """What every transport must show for the Tacoma manager: prompts, resources and completions, scoped."""
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(prompts) == set(ANALYSIS_PROMPTS)
    resources = {str(r.uri) for r in (await client.list_resources()).resources if str(r.uri).startswith("zava:")}
    assert resources == {"zava://schemas", "zava://stores", "zava://search/misses"}
    templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
    assert templates == ["zava://schemas/{collection}", "zava://exports/{export_id}"]
    assert await completions(client, REVIEW, "store", "") == ["Tacoma"]
    assert await completions(client, REVIEW, "store", "sea") == []  # Seattle exists, but not for Tacoma
    assert await completions(client, SCHEMA_TEMPLATE, "collection", "order") == ["orders", "order_items"]
    directory = json.loads((await client.read_resource("zava://stores")).contents[0].text)
    assert [s["store_id"] for s in directory["stores"]] == ["store_tacoma"]
    review = await client.get_prompt("weekly_store_review", {"week_ending": "2026-10-25"})
    assert "Zava Retail Tacoma" in review.messages[0].content.text


@pytest.mark.parametrize("identity", [Identity(False, "tacoma")], ids=["tacoma"])
async def test_in_process_prompts_resources_and_completions_for_a_manager(seeded: Settings, identity) -> None:
    async with Client(build_analysis(seeded, identity)) as client:
        await check_a_tacoma_manager(client)
        with pytest.raises(MCPError, match="outside your scope"):
            await client.get_prompt("weekly_store_review", {"store": "Seattle"})
        orders = json.loads((await client.read_resource("zava://schemas/orders")).contents[0].text)
        [schema] = orders["collections"]
        assert schema["collection"] == "orders"
        assert schema["valid_values"]["store_id"] == ["store_tacoma (Zava Retail Tacoma)"]
        everything = json.loads((await client.read_resource("zava://schemas")).contents[0].text)
        assert len(everything["collections"]) >= 9
        with pytest.raises(MCPError, match="unknown collection"):
            await client.read_resource("zava://schemas/secrets")


async def test_prompts_name_their_tools_and_take_typed_arguments(seeded: Settings) -> None:
    async with Client(build_analysis(seeded, Identity(head_office=True))) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        for name, tools in ANALYSIS_PROMPTS.items():
            assert all(tool in listed[name].description for tool in tools), name
        arguments = {a.name: a for a in listed["category_deep_dive"].arguments}
        assert {n for n, a in arguments.items() if a.required} == {"category", "start_month", "end_month"}
        assert "YYYY-MM" in arguments["start_month"].description

        dive = await client.get_prompt("category_deep_dive", {"category": "plumbing", "start_month": "2025-07",
                                                              "end_month": "2025-09"})
        text = dive.messages[0].content.text
        assert "PLUMBING" in text and "2025-07-01..2025-09-30" in text
        for tool in ANALYSIS_PROMPTS["category_deep_dive"]:
            assert f"`{tool}`" in text
        # The tool calls the prompt spells out are valid calls: run the first one as written.
        first = json.loads(text.split("`sales_summary` ", 1)[1].split("\n", 1)[0])
        summary = await client.call_tool("sales_summary", first)
        assert not summary.is_error, summary.content[0].text
        assert summary.structured_content["compare_period"] == "2024-07-01..2024-09-30"

        plan = await client.get_prompt("restock_plan", {"store": "Seattle", "cover_days": "30"})
        assert "30 days" in plan.messages[0].content.text
        for bad, message in [
            ({"store": "Seattle", "cover_days": "lots"}, "cover_days"),
            ({"category": "toys", "start_month": "2025-01", "end_month": "2025-02"}, "unknown"),
            ({"category": "plumbing", "start_month": "2025-13", "end_month": "2025-02"}, "start_month"),
        ]:
            name = "restock_plan" if "cover_days" in bad else "category_deep_dive"
            with pytest.raises(MCPError, match=message):
                await client.get_prompt(name, bad)
        with pytest.raises(MCPError, match="name a store"):
            await client.get_prompt("weekly_store_review", {})

        assert await completions(client, REVIEW, "store", "") == SHORT_NAMES
        assert await completions(client, REVIEW, "store", "zava retail sp") == ["Spokane"]
        assert await completions(client, REVIEW, "category", "pl") == ["PLUMBING"]
        drills = await completions(client, REVIEW, "product_type", "dr", {"category": "power tools"})
        assert drills and all("DR" in v for v in drills)
        skus = await completions(client, REVIEW, "sku", "", {"product_type": "drills"})
        assert skus and all(s.startswith("PTDR") for s in skus)
        many = await client.complete(REVIEW, {"name": "sku", "value": ""})
        assert len(many.completion.values) == 100 and many.completion.has_more and many.completion.total == 424
        assert await completions(client, REVIEW, "compare_to", "prev") == ["previous_period", "previous_year"]


async def test_find_and_reserve_is_on_the_customer_sales_server(seeded: Settings) -> None:
    async with Client(build_customer_sales(seeded, Identity(False, "everett"))) as client:
        [prompt] = (await client.list_prompts()).prompts
        assert prompt.name == "find_and_reserve"
        assert {"find_customers", "semantic_search_products", "get_inventory", "create_order"} <= set(
            prompt.description.replace(",", " ").replace(".", " ").split())
        out = await client.get_prompt("find_and_reserve", {"customer": "smith", "request": "my toilet keeps running",
                                                           "quantity": "2"})
        text = out.messages[0].content.text
        assert "Zava Retail Everett" in text and '"my toilet keeps running"' in text and "2 unit(s)" in text
        ref = PromptReference(name="find_and_reserve")
        assert await completions(client, ref, "store", "") == ["Everett"]
        with pytest.raises(MCPError, match="outside your scope"):
            await client.get_prompt("find_and_reserve", {"customer": "smith", "request": "a hammer",
                                                         "store": "Tacoma"})


async def test_over_stdio(seeded: Settings, tmp_path: Path) -> None:
    env = {"MONGODB_URI": seeded.mongodb_uri or "", "MONGODB_DATABASE": seeded.mongodb_database,
           "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "ZAVA_DATA_DIR": str(tmp_path)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_servers.sales_analysis", "--store",
                                                                 "tacoma"], env=env, cwd=str(tmp_path))
    async with Client(params) as client:
        await check_a_tacoma_manager(client)


@asynccontextmanager
async def http_client(settings: Settings, tmp_path: Path, identity: Identity) -> AsyncIterator[Client]:
    store = TokenStore(tmp_path / "tokens.json")
    _, token = store.issue(identity)
    args = argparse.Namespace(transport="http", host="127.0.0.1", port=8000, store=None, head_office=False,
                              read_only=False)
    server = build_for_transport(build_analysis, replace(settings, tokens_file=store.path), args)
    async with serve_app(http_app(server, "http", "127.0.0.1")) as base:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120)
        async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
            yield client


async def test_over_streamable_http_the_token_is_the_scope(seeded: Settings, tmp_path: Path) -> None:
    async with http_client(seeded, tmp_path, Identity(False, "Tacoma")) as client:
        await check_a_tacoma_manager(client)
    async with http_client(seeded, tmp_path, Identity(head_office=True)) as client:
        assert await completions(client, REVIEW, "store", "") == SHORT_NAMES
        directory = json.loads((await client.read_resource("zava://stores")).contents[0].text)
        assert len(directory["stores"]) == 8
