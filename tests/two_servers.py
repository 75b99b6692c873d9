"""Both servers over Streamable HTTP, built as `python -m mcp_servers.<server> --transport http` builds them,
with a head-office bearer token: the harness of the agent-framework tests, and the two calls they make (one tool
of each server) with the answers checked against the seeded documents."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from serving import serving

from mcp_servers.auth.bearer_tokens import TokenStore
from mcp_servers.customer_sales.server import build_server as build_customer_sales
from mcp_servers.runtime.replies import unfenced
from mcp_servers.sales_analysis.server import build_server as build_sales_analysis
from mcp_servers.serving import runner
from mcp_servers.tools.names import Server, ToolName
from mcp_servers.tools.table import expected_names
from zava_core.infra.config import Settings
from zava_core.scope import Identity

SKU = "PTDR000001"
INVENTORY_CALL = (ToolName.GET_INVENTORY, {"sku": SKU, "store": "Seattle"})
SUMMARY_CALL = (ToolName.SALES_SUMMARY, {"group_by": "store", "start_date": "2024-01-01", "end_date": "2024-12-31",
                                         "top_n": 100})
ALL_TOOLS = set(expected_names(Server.CUSTOMER_SALES)) | set(expected_names(Server.SALES_ANALYSIS))


@dataclass
class Running:
    urls: dict[Server, str]  # server -> its /mcp URL
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


BY_SERVER = {name: server.value for server in Server for name in expected_names(server)}


@asynccontextmanager
async def both_servers(seeded: Settings, tmp_path: Path) -> AsyncIterator[Running]:
    """Both servers on their own ports, built as the runner builds them for `--transport http`, with a head-office
    token in a tokens file of the test's own."""
    settings = replace(seeded, tokens_file=tmp_path / "tokens.json")
    _, token = TokenStore(settings.tokens_file).issue(Identity(head_office=True), label="agent")
    urls: dict[Server, str] = {}
    args = argparse.Namespace(transport="http", host="127.0.0.1", port=0, store=None, head_office=False,
                              read_only=False, stateless=False)
    async with AsyncExitStack() as stack:
        for server, factory in ((Server.CUSTOMER_SALES, build_customer_sales),
                                (Server.SALES_ANALYSIS, build_sales_analysis)):
            app = runner.http_app(runner.build_for_transport(factory, settings, args), "http", "127.0.0.1")
            urls[server] = f"{await stack.enter_async_context(serving(app))}/mcp"
        yield Running(urls, token)


def expected(sdb, raw) -> tuple[int, float]:
    """Seattle's stock of SKU, and its 2024 revenue summed from the order lines."""
    stock = sdb.inventory.find_one({"store_id": "store_seattle", "product_id": f"prod_{SKU}"})["stock_level"]
    revenue = sum(line["total_amount"] for line in raw["lines"] if line["store_id"] == "store_seattle"
                  and "2024-01-01T00:00:00Z" <= line["order_date"] <= "2024-12-31T23:59:59Z")
    return stock, revenue


def check(inventory: dict, summary: dict, sdb, raw) -> None:
    stock, revenue = expected(sdb, raw)
    assert [(row["store_id"], row["stock_level"]) for row in inventory["stores"]] == [("store_seattle", stock)]
    seattle = next(row for row in summary["rows"] if row["group"]["store"] == "Zava Retail Seattle")
    assert seattle["values"]["revenue"] == pytest.approx(revenue, abs=0.01)


def payload(text: str) -> dict:
    """The JSON a tool's text content carries (inside the untrusted-data fence)."""
    return json.loads(unfenced(text))
