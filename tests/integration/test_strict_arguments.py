"""Strict arguments, through the real servers: an argument a tool does not have is refused, in one line that
names it, the closest valid one and the tool's list, and nothing runs (property-based over every tool of both
servers: any valid argument name with one character changed).

The calls that would succeed are built once; each example adds one misspelt argument. The writing tools'
calls would write if they ran, so they go to the writable dataset, whose state is compared before and after.
"""

from __future__ import annotations

import hashlib
import json
import string
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import anyio
import anyio.from_thread
import pytest
from folding import harmless_conflict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from pymongo.database import Database

from mcp_servers.customer_sales.server import build_server as build_customer_sales
from mcp_servers.sales_analysis.server import build_server as build_sales_analysis
from mcp_servers.tools.names import Server, ToolName
from mcp_servers.tools.table import BY_NAME
from zava_core.infra.config import Settings
from zava_core.scope import Identity

pytestmark = pytest.mark.integration

HEAD_OFFICE = Identity(head_office=True)
NAME_CHARACTERS = string.ascii_lowercase + string.digits + "_"


def valid_calls(db: Database) -> dict[str, dict[str, Any]]:
    """One call per tool that would run (and, for the writing tools, write) if nothing refused it."""
    order = db.orders.find_one({"status": "completed", "store_id": "store_seattle", "deleted": False})
    online = db.orders.find_one({"status": "processing", "deleted": False})
    line = db.order_items.find_one({"order_id": order["_id"]})
    key = f"strict-{uuid.uuid4()}"
    conflict_id = harmless_conflict(db, "store_seattle", "strict-arguments")
    return {
        ToolName.GET_PRODUCTS_BY_NAME: {"product_name": "hammer"},
        ToolName.SEMANTIC_SEARCH_PRODUCTS: {"query_description": "stop a running toilet"},
        ToolName.GET_PRODUCT_DETAILS: {"sku": "PTDR000001"},
        ToolName.GET_INVENTORY: {"sku": "PTDR000001"},
        ToolName.GET_LOW_STOCK_ITEMS: {"store": "Seattle"},
        ToolName.FIND_CUSTOMERS: {"query": "smith"},
        ToolName.GET_CUSTOMER_ORDERS: {"customer_id": order["customer_id"]},
        ToolName.CREATE_ORDER: {"customer_id": order["customer_id"], "store": "Seattle",
                                "items": [{"sku": "PTDR000001", "quantity": 1}], "idempotency_key": key},
        ToolName.MOVE_INVENTORY: {"sku": "PTDR000001", "store": "Seattle", "aisle": "Z9", "shelf": "9", "bin": "9"},
        ToolName.UPDATE_STOCK_COUNT: {"sku": "PTDR000001", "store": "Seattle", "counted_quantity": 3},
        ToolName.CANCEL_ORDER: {"order_id": order["_id"], "reason": "strict test", "idempotency_key": key},
        ToolName.RETURN_ITEMS: {"order_id": order["_id"], "items": [{"sku": line["sku"], "quantity": 1}],
                                "reason": "strict test", "idempotency_key": key + "r"},
        ToolName.UPDATE_ORDER_STATUS: {"order_id": online["_id"], "status": "shipped"},
        ToolName.TRANSFER_STOCK: {"sku": "PTDR000001", "from_store": "Seattle", "to_store": "Tacoma", "quantity": 1,
                                  "idempotency_key": key + "t"},
        ToolName.RECEIVE_STOCK: {"sku": "PTDR000001", "store": "Seattle", "quantity": 5, "reference": key[:60]},
        ToolName.LIST_SYNC_CONFLICTS: {"status": "all"},
        ToolName.RESOLVE_SYNC_CONFLICT: {"conflict_id": conflict_id, "note": "strict test"},
        ToolName.EXPORT_SALES_SUMMARY: {"group_by": "store"},
        ToolName.GET_CURRENT_UTC_DATE: {},
        ToolName.GET_COLLECTION_SCHEMAS: {"collections": ["stores"]},
        ToolName.SALES_SUMMARY: {"group_by": "store"},
        ToolName.SALES_TREND: {"period": "year"},
        ToolName.SEASONAL_PROFILE: {},
        ToolName.INVENTORY_HEALTH: {"max_rows": 5},
        ToolName.RUN_AGGREGATION: {"collection": "stores", "pipeline": [{"$count": "n"}]},
    }


def fingerprint(db: Database) -> str:
    """Everything a writing tool changes: orders and their status, movements, stock, locations, counts."""
    parts = [sorted((d["_id"], d["status"]) for d in db.orders.find({}, {"status": 1})),
             db.stock_movements.count_documents({}),
             sorted((d["_id"], d["stock_level"], json.dumps(d.get("location"), sort_keys=True), d.get("last_counted"))
                    for d in db.inventory.find({"store_id": {"$in": ["store_seattle", "store_tacoma"]}}))]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


class Servers:
    """Both servers' clients held open in a background event loop; one call at a time from sync code."""

    def __init__(self, stack: ExitStack, portal: anyio.from_thread.BlockingPortal, settings_: Settings) -> None:
        self.portal = portal
        self.clients = {
            Server.CUSTOMER_SALES: stack.enter_context(portal.wrap_async_context_manager(
                Client(build_customer_sales(settings_, HEAD_OFFICE)))),
            Server.SALES_ANALYSIS: stack.enter_context(portal.wrap_async_context_manager(
                Client(build_sales_analysis(settings_, HEAD_OFFICE)))),
        }
        self.arguments = {t.name: list(t.input_schema.get("properties", {}))
                          for client in self.clients.values() for t in portal.call(client.list_tools).tools}

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        async def run() -> Any:
            with anyio.fail_after(30):
                return await self.clients[BY_NAME[tool].server].call_tool(tool, args)  # type: ignore[index]

        return self.portal.start_task_soon(run).result(timeout=40)


@pytest.fixture(scope="module")
def servers(writable: Settings) -> Iterator[Servers]:
    with anyio.from_thread.start_blocking_portal("asyncio") as portal, ExitStack() as stack:
        yield Servers(stack, portal, writable)


def misspelt(name: str, position: int, kind: str, character: str) -> str:
    position %= len(name) + (kind == "insert")
    if kind == "replace":
        return name[:position] + character + name[position + 1:]
    if kind == "delete":
        return name[:position] + name[position + 1:]
    return name[:position] + character + name[position:]


TOOLS_WITH_ARGUMENTS = sorted(name for name in ToolName if name != ToolName.GET_CURRENT_UTC_DATE)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(tool=st.sampled_from(TOOLS_WITH_ARGUMENTS), which=st.integers(0, 20), position=st.integers(0, 40),
       kind=st.sampled_from(["replace", "delete", "insert"]), character=st.sampled_from(NAME_CHARACTERS))
def _one_misspelling(servers: Servers, calls: dict[str, dict], tool: str, which: int, position: int, kind: str,
                     character: str) -> None:
    valid = servers.arguments[tool]
    name = valid[which % len(valid)]
    wrong = misspelt(name, position, kind, character)
    if wrong in valid or not wrong:
        return  # not a misspelling (a change back to a valid name)
    value = calls[tool].get(name, "x")
    result = servers.call(tool, {**calls[tool], wrong: value})
    text = result.content[0].text
    assert result.is_error, f"{tool} ran with {wrong!r}: {text[:200]}"
    assert text.startswith("unknown_argument: ") and "\n" not in text, text
    assert f'has no argument "{wrong}"' in text and f"its arguments: {', '.join(valid)}" in text, text
    suggested = text.split("did you mean '", 1)[1].split("'", 1)[0]
    assert suggested in valid, text
    assert text.endswith("nothing was run"), text


def test_any_argument_name_with_one_character_changed_is_refused_and_nothing_runs(servers: Servers, wdb) -> None:
    calls = valid_calls(wdb)
    assert set(calls) == set(ToolName) and set(servers.arguments) == set(ToolName)
    for tool, args in calls.items():  # each call is complete: only the misspelt name can refuse it
        assert set(args) <= set(servers.arguments[tool]), tool
    before = fingerprint(wdb)
    _one_misspelling(servers, calls)
    assert fingerprint(wdb) == before, "a refused call wrote"


def test_the_issue_examples_are_refused_with_the_name_they_meant(servers: Servers) -> None:
    """The slips that used to widen or change an answer silently (issue 25)."""
    low = servers.call(ToolName.GET_LOW_STOCK_ITEMS, {"store_id": "store_seattle"})
    assert low.is_error and low.content[0].text == (
        'unknown_argument: get_low_stock_items: get_low_stock_items has no argument "store_id" (did you mean '
        "'store'?); its arguments: store, threshold, category, max_rows; nothing was run")
    summary = servers.call(ToolName.SALES_SUMMARY, {"group_by": "store", "metric": "revenue"})
    assert summary.is_error and "did you mean 'metrics'?" in summary.content[0].text
    confirmed = servers.call(ToolName.GET_CURRENT_UTC_DATE, {"timezone": "PST"})
    assert confirmed.is_error and confirmed.content[0].text.endswith(
        'get_current_utc_date has no argument "timezone"; it takes no arguments; nothing was run')


def test_a_union_argument_fails_in_one_plain_line(servers: Servers) -> None:
    result = servers.call(ToolName.SALES_SUMMARY, {"group_by": "region"})
    assert result.is_error and result.content[0].text == (
        "invalid_argument: sales_summary: group_by: one of store, category, product_type, product, year, quarter, "
        'month or a list of up to 3 of them (got "region"); nothing was run')
    pipeline = servers.call(ToolName.RUN_AGGREGATION, {"collection": "orders", "pipeline": 42})
    assert pipeline.content[0].text.startswith("invalid_argument: run_aggregation: pipeline: text or a list of "
                                               "objects (got 42)")


def test_a_misspelt_tool_name_is_refused_with_the_closest_one(servers: Servers) -> None:
    async def call(server: Server, tool: str) -> Any:
        return await servers.clients[server].call_tool(tool, {})

    typo = servers.portal.call(call, Server.SALES_ANALYSIS, "sales_sumary")
    assert typo.is_error and typo.content[0].text.startswith(
        "unknown_tool: zava-sales-analysis has no tool 'sales_sumary' (did you mean 'sales_summary'?); its tools: ")
    elsewhere = servers.portal.call(call, Server.SALES_ANALYSIS, "semantic_search_products")
    assert elsewhere.content[0].text == ("unknown_tool: semantic_search_products is a tool of zava-customer-sales, "
                                         "not of zava-sales-analysis: call it there")
