"""The app-to-host bridge: a view re-runs its own tool through AppBridge, which forwards it to the server;
the view never asks for more than the first result showed (the server enforces scope regardless)."""

from __future__ import annotations

import anyio
import pytest
from drawn import POINTS, status
from live_server import LiveServer
from view_harness import Harness, tool_result

pytestmark = pytest.mark.integration

SET = """(() => {{ const f = document.getElementById('controls'); f.elements[{name!r}].value = {value!r};
  return true; }})()"""
SUBMIT = "document.querySelector('#controls button.update').click()"
STORE_OPTIONS = "[...document.querySelector('#controls select[name={name}]').options].map(o => o.value)"


def test_the_trend_re_queries_a_store_and_period_through_the_server(harness: Harness,
                                                                   chart_server: LiveServer) -> None:
    arguments = {"start_date": "2024-01-01", "end_date": "2025-12-31"}
    page = harness.live(chart_server.url, chart_server.head_office, tool="sales_trend", arguments=arguments)
    everyone = page.host("window.firstResult.structuredContent.stores")
    assert page.view(STORE_OPTIONS.format(name="stores")) == ["", *everyone]
    for name, value in (("stores", "store_seattle"), ("period", "quarter"), ("start_date", "2025-01-01")):
        page.view(SET.format(name=name, value=value))
    page.view(SUBMIT)
    page.wait_host("window.toolCalls.length === 1")
    call = page.host("window.toolCalls[0]")
    assert call == {"name": "sales_trend", "arguments": {"start_date": "2025-01-01", "end_date": "2025-12-31",
                                                         "period": "quarter", "stores": ["store_seattle"]}}
    expected = anyio.run(chart_server.call, chart_server.head_office, "sales_trend", call["arguments"])
    page.wait_view(f"document.querySelectorAll('circle.point').length === {len(expected['points'])}")
    assert [(p["period"], p["value"]) for p in page.view(POINTS)] == [
        (p["period"], p["revenue"]) for p in expected["points"]]
    # A narrower answer does not shrink the choice, and "all shown" asks again exactly as first asked.
    assert page.view(STORE_OPTIONS.format(name="stores")) == ["", *everyone]
    page.view(SET.format(name="stores", value=""))
    page.view(SUBMIT)
    page.wait_host("window.toolCalls.length === 2")
    assert "stores" not in page.host("window.toolCalls[1].arguments")


def test_a_store_managers_view_offers_only_the_store_it_was_shown(harness: Harness,
                                                                   chart_server: LiveServer) -> None:
    page = harness.live(chart_server.url, chart_server.seattle, tool="inventory_health", arguments={"max_rows": 20})
    assert page.view(STORE_OPTIONS.format(name="store")) == ["", "store_seattle"]
    page.view(SET.format(name="max_rows", value="5"))
    page.view(SET.format(name="category", value="Plumbing"))
    page.view(SUBMIT)
    page.wait_host("window.toolCalls.length === 1")
    assert page.host("window.toolCalls[0]") == {"name": "inventory_health",
                                                "arguments": {"max_rows": 5, "category": "Plumbing"}}
    page.wait_view("document.getElementById('subtitle').textContent.includes('PLUMBING')")
    stores = page.view("[...document.querySelectorAll('tbody tr')].map(r => r.cells[0].textContent)")
    assert stores and set(stores) == {"Seattle"} and len(stores) <= 5


def test_a_refused_call_is_reported_and_the_chart_kept(harness: Harness, chart_server: LiveServer) -> None:
    arguments = {"group_by": "store", "start_date": "2025-07-01", "end_date": "2025-09-30"}
    result = anyio.run(chart_server.call, chart_server.head_office, "sales_summary", arguments)
    page = harness.given("summary", tool="sales_summary", arguments=arguments, result=tool_result(result))
    before = page.view("document.querySelectorAll('rect.bar').length")
    page.view(SET.format(name="compare_to", value="previous_period"))
    page.view(SUBMIT)  # the host has no reply for it: AppBridge answers with an error
    page.wait_view("document.getElementById('status').classList.contains('error')")
    assert "no recorded reply" in status(page)
    assert page.view("document.querySelectorAll('rect.bar').length") == before
    assert page.host("window.toolCalls[0].arguments.compare_to") == "previous_period"


def test_without_the_hosts_tool_bridge_there_are_no_controls(harness: Harness, chart_server: LiveServer) -> None:
    page = harness.live(chart_server.url, chart_server.head_office, tool="seasonal_profile", arguments={},
                        server_tools=False)
    assert page.view("document.getElementById('controls').hidden") is True
    assert page.view("document.querySelectorAll('rect.bar').length") == 12


def test_the_view_follows_the_handshake_and_the_hosts_theme(harness: Harness, chart_server: LiveServer) -> None:
    page = harness.live(chart_server.url, chart_server.head_office, tool="seasonal_profile", arguments={},
                        theme="dark")
    log = page.host("window.hostLog")
    assert [m.get("method") for m in log][:2] == ["ui/initialize", "ui/notifications/initialized"]
    initialize = log[0]["params"]
    assert initialize["protocolVersion"] == "2026-01-26" and initialize["appInfo"]["name"] == "zava-seasonal"
    assert page.host("window.bridge.getAppVersion().name") == "zava-seasonal"  # AppBridge accepted the handshake
    page.settle()
    assert "ui/notifications/size-changed" in [m.get("method") for m in page.host("window.hostLog")]
    assert page.view("document.documentElement.dataset.theme") == "dark"
    page.host("window.bridge.sendHostContextChange({theme: 'light'})")
    page.wait_view("document.documentElement.dataset.theme === 'light'")
