"""The views against the real server over the seeded `small` dataset: what a host receives (tools linked
to ui:// views, the views as MCP Apps resources), that a client without the extension gets exactly the
same results, and that live results draw and the re-query arguments a view builds are accepted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from view_harness import Harness, tool_result

from mcp_servers.sales_analysis.server import build_server
from mcp_servers.sales_analysis.views import VIEWS, view_html
from zava_core.infra.config import Settings
from zava_core.scope import Identity

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

APPS_HOST = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
CALLS = {
    "sales_trend": {"period": "quarter", "start_date": "2024-01-01", "end_date": "2025-06-30",
                    "split_by": "category"},
    "sales_summary": {"group_by": ["store", "category"], "metrics": ["revenue", "units"],
                      "start_date": "2025-01-01", "end_date": "2025-06-30", "top_n": 30},
    "seasonal_profile": {"category": "Garden & Outdoor"},
    "inventory_health": {"max_rows": 8},
}
VIEW_OF = {v.tool: v.name for v in VIEWS}
SEATTLE = Identity(head_office=False, store="seattle")


def unfenced(text: str) -> str:
    """The reply text without the fence's per-reply random tag."""
    return re.sub(r"untrusted-user-data-[0-9a-zA-Z_-]+", "untrusted-user-data", text)


def dump(result: Any) -> dict[str, Any]:
    return result.model_dump(by_alias=True, exclude_none=True, mode="json")


async def test_hosts_see_the_views_and_hosts_without_them_see_todays_results(seeded: Settings) -> None:
    async with Client(build_server(seeded, SEATTLE), extensions=[APPS_HOST]) as apps_host, \
               Client(build_server(seeded, SEATTLE)) as plain_host:
        listed = {t.name: dump(t) for t in (await apps_host.list_tools()).tools}
        for view in VIEWS:
            assert listed[view.tool]["_meta"]["ui"]["resourceUri"] == view.uri
            read = dump(await apps_host.read_resource(view.uri))["contents"]
            assert [(c["mimeType"], c["text"]) for c in read] == [(APP_MIME_TYPE, view_html(view.name))]
        for tool, arguments in CALLS.items():
            with_apps, without = await apps_host.call_tool(tool, arguments), await plain_host.call_tool(tool, arguments)
            assert not with_apps.is_error, with_apps.content
            assert with_apps.structured_content == without.structured_content
            assert [unfenced(c.text) for c in with_apps.content] == [unfenced(c.text) for c in without.content]


async def test_live_results_draw_and_the_views_re_queries_are_accepted(seeded: Settings, harness: Harness,
                                                                      screenshot_dir: Path) -> None:
    async with Client(build_server(seeded, SEATTLE), extensions=[APPS_HOST]) as client:
        for tool, arguments in CALLS.items():
            result = await client.call_tool(tool, arguments)
            structured = result.structured_content
            page = harness.open(VIEW_OF[tool], tool=tool, arguments=arguments,
                                result=tool_result(structured, text=result.content[0].text))
            assert page.view("document.getElementById('status').classList.contains('error')") is False
            if tool == "sales_trend":
                drawn = page.view("document.querySelectorAll('path.series-line').length")
                assert drawn == len(structured["series"]) > 1
                assert page.view("document.querySelectorAll('circle.point').length") == sum(
                    len(s["points"]) for s in structured["series"])
            elif tool == "sales_summary":
                assert page.view("document.querySelectorAll('rect.bar').length") == len(structured["rows"]) > 1
            elif tool == "seasonal_profile":
                assert page.view("document.querySelectorAll('rect.bar').length") == 12
            else:
                assert page.view("document.querySelectorAll('tbody tr').length") == (
                    len(structured["at_risk"]) + len(structured["slow_movers"]))
            page.screenshot(screenshot_dir / f"live_{VIEW_OF[tool]}.png")
            # The view asks again with what its controls hold; the real tool must accept those arguments.
            assert structured["stores"] == ["store_seattle"]
            page.view("document.querySelector('#controls button.update').click()")
            page.wait_host("window.toolCalls.length === 1")
            call = page.host("window.toolCalls[0]")
            assert call["name"] == tool
            again = await client.call_tool(tool, call["arguments"])
            assert not again.is_error, again.content
            assert again.structured_content["stores"] == ["store_seattle"]
