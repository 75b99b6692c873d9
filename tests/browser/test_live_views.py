"""The views against the real server over the seeded `small` dataset: what a host receives (tools linked
to ui:// views, the views as MCP Apps resources), and that a client without the extension gets exactly the
same results. (How the views draw live results through AppBridge: test_live_charts.py.)
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

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
