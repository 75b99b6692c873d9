"""Exports through the MCP SDK client: a sales_summary answer beyond the tools' 100-row cap comes back as a
resource link to a CSV, read with resources/read; the CSV is checked line by line against order_items, and the
link against the rules (the caller's scope, the size limit, expiry)."""

from __future__ import annotations

import argparse
import csv
import io
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import ResourceLink, TextContent
from serving import serving

from mcp_servers.auth.bearer_tokens import TokenStore
from mcp_servers.runtime.replies import unfenced
from mcp_servers.sales_analysis.server import build_server
from mcp_servers.serving.runner import build_for_transport, http_app
from zava_core import limits as L
from zava_core.infra.config import Settings
from zava_core.scope import Identity

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

HEAD_OFFICE = Identity(head_office=True)
SEATTLE = Identity(head_office=False, store="seattle")
YEAR = {"start_date": "2025-01-01", "end_date": "2025-12-31"}
EVERY_PRODUCT_BY_STORE_AND_MONTH = {"group_by": ["product", "store", "month"], "metrics": ["revenue", "units"], **YEAR}


async def exported(client: Client, arguments: dict) -> tuple[dict, list[dict]]:
    result = await client.call_tool("export_sales_summary", arguments)
    assert not result.is_error, result.content
    text, link = result.content
    assert isinstance(text, TextContent) and isinstance(link, ResourceLink)
    assert link.uri == result.structured_content["uri"] and link.mime_type == "text/csv"
    assert link.uri in unfenced(text.text)  # clients that show only text still see where it is
    read = await client.read_resource(link.uri)
    (content,) = read.contents
    assert content.mime_type == "text/csv" and len(content.text.encode()) == link.size
    return result.structured_content, list(csv.DictReader(io.StringIO(content.text)))


async def test_an_export_holds_every_row_and_each_is_the_sum_of_its_order_lines(seeded: Settings, raw: dict) -> None:
    async with Client(build_server(seeded, HEAD_OFFICE)) as client:
        link, rows = await exported(client, EVERY_PRODUCT_BY_STORE_AND_MONTH)
        capped = (await client.call_tool("sales_summary", {**EVERY_PRODUCT_BY_STORE_AND_MONTH, "top_n": 100}))
    expected: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0])
    for line in raw["lines"]:
        if "2025-01-01" <= line["order_date"][:10] <= "2025-12-31":
            product = raw["products"][line["product_id"]]
            cell = expected[f"{product['sku']} {product['product_name']}", raw["stores"][line["store_id"]],
                            line["order_date"][:7]]
            cell[0] += line["total_amount"]
            cell[1] += line["quantity"]
    assert capped.structured_content["meta"]["total"] == len(expected) > L.HARD_CAP  # more than a tool returns
    assert link["rows"] == len(rows) == len(expected)
    assert link["columns"] == ["product", "store", "month", "revenue", "units"]
    for row in rows:
        revenue, units = expected[row["product"], row["store"], row["month"]]
        assert float(row["revenue"]) == pytest.approx(round(revenue, 2), abs=1e-6) and int(row["units"]) == units


async def test_the_comparison_comes_with_its_columns(seeded: Settings) -> None:
    arguments = {"group_by": ["store", "category"], "metrics": ["revenue"], "start_date": "2025-07-01",
                 "end_date": "2025-09-30", "compare_to": "previous_year"}
    async with Client(build_server(seeded, HEAD_OFFICE)) as client:
        link, rows = await exported(client, arguments)
        answer = (await client.call_tool("sales_summary", {**arguments, "top_n": 100})).structured_content
    assert link["columns"] == ["store", "category", "revenue", "revenue_compared", "revenue_change_percent"]
    assert not answer["meta"]["truncated"]
    assert [(r["store"], r["category"], float(r["revenue"]), float(r["revenue_compared"])) for r in rows] == [
        (a["group"]["store"], a["group"]["category"], a["values"]["revenue"], a["compare"]["revenue"])
        for a in answer["rows"]]


async def test_an_export_is_scoped_like_its_tool(seeded: Settings, tmp_path: Path) -> None:
    """One server over HTTP, as the runner builds it: a manager's export holds their store only and is read by
    any session with their identity, while head office and another store are told it does not exist."""
    tokens = TokenStore(tmp_path / "tokens.json")
    token = {name: tokens.issue(identity)[1] for name, identity in
             (("seattle", SEATTLE), ("tacoma", Identity(head_office=False, store="tacoma")),
              ("head_office", HEAD_OFFICE))}
    args = argparse.Namespace(transport="http", host="127.0.0.1", port=8000, store=None, head_office=False,
                              read_only=False)
    server = build_for_transport(build_server, replace(seeded, tokens_file=tmp_path / "tokens.json"), args)
    async with serving(http_app(server, "http", "127.0.0.1")) as base:
        async with connect(base, token["seattle"]) as manager:
            link, rows = await exported(manager, EVERY_PRODUCT_BY_STORE_AND_MONTH)
        assert rows and {r["store"] for r in rows} == {"Zava Retail Seattle"}
        async with connect(base, token["seattle"]) as same_identity:
            assert (await same_identity.read_resource(link["uri"])).contents[0].text.count("\n") == len(rows) + 1
        for other in ("tacoma", "head_office"):
            async with connect(base, token[other]) as client:
                with pytest.raises(MCPError, match=f"no export {link['uri'].rsplit('/', 1)[1]} for you"):
                    await client.read_resource(link["uri"])


@asynccontextmanager
async def connect(base: str, token: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http, \
            Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
        yield client


async def test_past_its_limit_an_export_is_refused_in_one_line(seeded: Settings,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "EXPORT_MAX_ROWS", 1_000)  # the `small` dataset stays far under the real limit
    async with Client(build_server(seeded, HEAD_OFFICE)) as client:
        refused = await client.call_tool("export_sales_summary", EVERY_PRODUCT_BY_STORE_AND_MONTH)
    assert refused.is_error
    (message,) = [unfenced(c.text) for c in refused.content]
    assert "\n" not in message
    assert re.search(r"the export would be too large: [\d,]+ rows match, more than the 1,000 that fit", message)
    assert "narrow start_date/end_date" in message


async def test_an_expired_export_says_so(seeded: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "EXPORT_TTL_SECONDS", 0)
    async with Client(build_server(seeded, HEAD_OFFICE)) as client:
        result = await client.call_tool("export_sales_summary", {"group_by": "store", **YEAR})
        with pytest.raises(MCPError, match=r"expired at .*: make it again"):
            await client.read_resource(result.structured_content["uri"])
