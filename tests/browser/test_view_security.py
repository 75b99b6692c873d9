"""The views in a real browser against hostile data: markup in names shows as text, and the document's
Content-Security-Policy stops what would run if it did not (inline handlers, injected scripts, network).
The results are real ones from the server with names replaced, handed to the same AppBridge host."""

from __future__ import annotations

import copy

import anyio
import pytest
from live_server import LiveServer
from view_harness import Harness, tool_result

pytestmark = pytest.mark.integration

SCRIPT_NAME = "<script>window.__pwned = 'script'</script>Drill"
IMG_NAME = "<img src=x onerror=\"window.__pwned='img'\">Paint"
NOTHING_RAN = "window.__pwned === undefined"
ELEMENTS_FROM_DATA = "document.querySelectorAll('#app img, #app script, #app b').length"


def real(server: LiveServer, tool: str, arguments: dict) -> dict:
    return copy.deepcopy(anyio.run(server.call, server.head_office, tool, arguments))


def test_markup_in_product_names_is_shown_as_text(harness: Harness, chart_server: LiveServer) -> None:
    arguments = {"max_rows": 6}
    result = real(chart_server, "inventory_health", arguments)
    items = result["at_risk"] + result["slow_movers"]
    items[0]["product_name"], items[1]["product_name"], items[2]["sku"] = SCRIPT_NAME, IMG_NAME, "<b>BOLD</b>"
    result["rules"]["out_of_stock"] = IMG_NAME
    page = harness.given("stock", tool="inventory_health", arguments=arguments, result=tool_result(result))
    cells = page.view("[...document.querySelectorAll('tbody td.product')].map(c => c.textContent)")
    assert cells[:2] == [SCRIPT_NAME, IMG_NAME]
    assert page.view("document.querySelector('tbody tr:nth-child(3)').cells[1].textContent") == "<b>BOLD</b>"
    assert IMG_NAME in page.view("document.querySelector('.key').textContent")
    assert page.view(ELEMENTS_FROM_DATA) == 0
    assert page.view("document.scripts.length") == 1  # ours, nothing added
    assert page.view(NOTHING_RAN)


def test_markup_in_series_group_and_store_names_is_shown_as_text(harness: Harness,
                                                                 chart_server: LiveServer) -> None:
    arguments = {"group_by": ["store", "category"], "start_date": "2025-07-01", "end_date": "2025-09-30",
                 "top_n": 100}
    summary = real(chart_server, "sales_summary", arguments)
    for row in summary["rows"] + summary["subtotals"]:
        if row["group"].get("category") == "POWER TOOLS":
            row["group"]["category"] = IMG_NAME
        if row["group"]["store"] == "Zava Retail Seattle":
            row["group"]["store"] = SCRIPT_NAME
    page = harness.given("summary", tool="sales_summary", arguments=arguments, result=tool_result(summary))
    assert IMG_NAME in page.view("[...document.querySelectorAll('.legend span')].map(s => s.textContent)")
    assert SCRIPT_NAME in page.view("[...document.querySelectorAll('.group-label')].map(t => t.dataset.group)")
    assert page.view(ELEMENTS_FROM_DATA) == 0 and page.view(NOTHING_RAN)

    arguments = {"split_by": "category", "start_date": "2025-01-01", "end_date": "2025-12-31"}
    trend = real(chart_server, "sales_trend", arguments)
    trend["series"][0]["name"] = IMG_NAME
    trend["stores"] = [SCRIPT_NAME]
    page = harness.given("trend", tool="sales_trend", arguments=arguments, result=tool_result(trend))
    assert IMG_NAME in page.view("[...document.querySelectorAll('[data-series]')].map(s => s.dataset.series)")
    assert SCRIPT_NAME in page.view("document.getElementById('subtitle').textContent")
    assert SCRIPT_NAME in page.view("[...document.querySelectorAll('#controls option')].map(o => o.textContent)")
    assert page.view(ELEMENTS_FROM_DATA) == 0 and page.view(NOTHING_RAN)


def test_an_error_result_is_shown_as_text(harness: Harness) -> None:
    message = "Unknown store <b>nowhere</b><img src=x onerror=\"window.__pwned='err'\">: use a store name or id"
    page = harness.given("seasonal", tool="seasonal_profile", arguments={},
                         result=tool_result({}, is_error=True, text=message))
    page.wait_view("document.getElementById('status').classList.contains('error')")
    assert page.view("document.getElementById('status').textContent") == message
    assert page.view(ELEMENTS_FROM_DATA) == 0 and page.view(NOTHING_RAN)


def test_the_content_security_policy_blocks_injected_markup_and_the_network(harness: Harness,
                                                                           chart_server: LiveServer) -> None:
    """Were some markup ever injected, the CSP would still stop it: checked by injecting it on purpose."""
    page = harness.live(chart_server.url, chart_server.head_office, tool="seasonal_profile", arguments={})
    page.view("""window.__violations = [];
      document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.effectiveDirective));
      document.body.insertAdjacentHTML('beforeend',
        '<img src="x" onerror="window.__pwned = 1"><div onclick="window.__pwned = 2" id="clicky">x</div>');
      const s = document.createElement('script'); s.textContent = 'window.__pwned = 3'; document.body.appendChild(s);
      document.getElementById('clicky').click(); true""")
    probe = f"{harness.base}/probe-from-the-view"
    fetched = page.view(f"fetch({probe!r}).then(() => 'fetched', () => 'refused')")
    page.wait_view("window.__violations.length >= 4")
    violations = set(page.view("window.__violations"))
    assert page.view(NOTHING_RAN)
    assert {"script-src-attr", "script-src-elem", "connect-src", "img-src"} <= violations
    assert fetched == "refused"
    assert not any("probe" in path for path in harness.requests_seen)
    # The policy itself: nothing remote, no blanket 'unsafe-inline' for scripts or styles.
    csp = page.view("document.querySelector('meta[http-equiv=Content-Security-Policy]').content")
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
