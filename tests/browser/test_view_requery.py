"""The app-to-host bridge: a view re-runs its own tool through the host's tools/call, and never asks
for more than the first result showed (the server enforces scope regardless; the view only asks).
"""

from __future__ import annotations

from view_harness import Harness, fixture, tool_result

SET = """(() => {{ const f = document.getElementById('controls'); f.elements[{name!r}].value = {value!r};
  return true; }})()"""
SUBMIT = "document.querySelector('#controls button.update').click()"
STORE_OPTIONS = "[...document.querySelector('#controls select[name={name}]').options].map(o => o.value)"


def test_the_trend_re_queries_a_store_and_period_through_the_host(harness: Harness) -> None:
    recorded, reply = fixture("trend_month"), fixture("trend_quarter_seattle")
    page = harness.open("trend", tool="sales_trend", arguments=recorded["arguments"], structured=recorded["result"],
                        replies=[tool_result(reply)])
    everyone = recorded["result"]["stores"]
    assert page.view(STORE_OPTIONS.format(name="stores")) == ["", *everyone]
    page.view(SET.format(name="stores", value="store_seattle"))
    page.view(SET.format(name="period", value="quarter"))
    page.view(SET.format(name="start_date", value="2024-01-01"))
    page.view(SUBMIT)
    page.wait_view(f"document.querySelectorAll('circle.point').length === {len(reply['points'])}")
    calls = page.host("window.toolCalls")
    assert calls == [{"name": "sales_trend", "arguments": {
        "period": "quarter", "start_date": "2024-01-01", "end_date": "2025-12-31", "stores": ["store_seattle"]}}]
    assert page.view("[...document.querySelectorAll('circle.point')].map(c => c.dataset.period)") == [
        p["period"] for p in reply["points"]]
    # The narrower answer does not shrink the choice: every store of the first result is still offered,
    # and "all shown" asks again exactly as the model first asked (no stores argument).
    assert page.view(STORE_OPTIONS.format(name="stores")) == ["", *everyone]
    page.view(SET.format(name="stores", value=""))
    page.view(SUBMIT)
    page.wait_host("window.toolCalls.length === 2")
    assert "stores" not in page.host("window.toolCalls[1].arguments")


def test_a_store_managers_view_offers_only_the_store_it_was_shown(harness: Harness) -> None:
    recorded = fixture("stock")
    arguments = {"store": "seattle", "max_rows": 20}
    page = harness.open("stock", tool="inventory_health", arguments=arguments, structured=recorded["result"],
                        replies=[tool_result(recorded["result"])])
    assert page.view(STORE_OPTIONS.format(name="store")) == ["", "store_seattle"]
    page.view(SET.format(name="max_rows", value="5"))
    page.view(SET.format(name="category", value="Power Tools"))
    page.view(SUBMIT)
    page.wait_host("window.toolCalls.length === 1")
    assert page.host("window.toolCalls[0]") == {"name": "inventory_health", "arguments": {
        "store": "seattle", "max_rows": 5, "category": "Power Tools"}}


def test_a_refused_call_is_reported_and_the_chart_kept(harness: Harness) -> None:
    recorded = fixture("summary_one_dim")
    page = harness.open("summary", tool="sales_summary", arguments=recorded["arguments"],
                        structured=recorded["result"])  # no recorded reply: the host refuses
    before = page.view("document.querySelectorAll('rect.bar').length")
    page.view(SET.format(name="compare_to", value="previous_period"))
    page.view(SUBMIT)
    page.wait_view("document.getElementById('status').classList.contains('error')")
    assert "no recorded reply" in page.view("document.getElementById('status').textContent")
    assert page.view("document.querySelectorAll('rect.bar').length") == before
    assert page.host("window.toolCalls[0].arguments.compare_to") == "previous_period"


def test_without_the_hosts_tool_bridge_there_are_no_controls(harness: Harness) -> None:
    recorded = fixture("seasonal")
    page = harness.open("seasonal", tool="seasonal_profile", arguments=recorded["arguments"],
                        structured=recorded["result"], server_tools=False)
    assert page.view("document.getElementById('controls').hidden") is True
    assert page.view("document.querySelectorAll('rect.bar').length") == 12


def test_the_view_follows_the_protocol_handshake(harness: Harness) -> None:
    recorded = fixture("seasonal")
    page = harness.open("seasonal", tool="seasonal_profile", arguments=recorded["arguments"],
                        structured=recorded["result"], theme="dark")
    log = page.host("window.hostLog")
    from_view = [m.get("method") for m in log if m.get("from") == "view"]
    assert from_view[:2] == ["ui/initialize", "ui/notifications/initialized"]
    initialize = next(m for m in log if m.get("method") == "ui/initialize")
    assert initialize["params"]["protocolVersion"] == "2026-01-26" and "appInfo" in initialize["params"]
    page.settle()
    assert "ui/notifications/size-changed" in [m.get("method") for m in page.host("window.hostLog")]
    assert page.view("document.documentElement.dataset.theme") == "dark"
    assert page.view("getComputedStyle(document.body).colorScheme") in ("dark", "light dark")
