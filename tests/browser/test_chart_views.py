"""The views drawn from real results that a test edits to reach a case the `small` dataset does not hold (an
item in "critical" state, an older result shape), shown by the same AppBridge host with the result handed in.
"""

from __future__ import annotations

import copy

import anyio
import pytest
from drawn import BARS, OVERLAPS
from live_server import LiveServer
from view_harness import Harness, tool_result

pytestmark = pytest.mark.integration

Q3 = {"start_date": "2025-07-01", "end_date": "2025-09-30"}
PICK = """(() => {{ const s = document.querySelector('#pickers select'); s.value = {value!r};
  s.dispatchEvent(new Event('change')); return true; }})()"""


def real(server: LiveServer, tool: str, arguments: dict) -> dict:
    return anyio.run(server.call, server.head_office, tool, arguments)


def test_every_state_has_its_colour_and_its_rule(harness: Harness, chart_server: LiveServer) -> None:
    arguments = {"max_rows": 12}
    result = copy.deepcopy(real(chart_server, "inventory_health", arguments))
    low = next(i for i in result["at_risk"] if i["state"] == "low")
    low.update(state="critical", days_of_cover=3.0)  # what a busier store would show
    result["state_counts"]["critical"] += 1
    page = harness.given("stock", tool="inventory_health", arguments=arguments, result=tool_result(result))
    key = page.view("[...document.querySelectorAll('.key [data-state]')].map(k => k.dataset.state)")
    assert key == ["out_of_stock", "critical", "low", "slow_mover"]
    row = page.view(f"(() => {{ const r = document.querySelector('tr[data-sku=\"{low['sku']}\"]');"
                    " return {cls: r.className, cover: r.cells[5].textContent, rule: r.cells[7].title}; })()")
    assert row == {"cls": "critical", "cover": "3.0", "rule": result["rules"]["critical"]}
    # The red rows are exactly those whose state the key calls out of stock or critical.
    red = page.view("[...document.querySelectorAll('tr.out_of_stock, tr.critical')].map(r => r.dataset.sku)")
    assert red == [i["sku"] for i in result["at_risk"] if i["state"] in ("out_of_stock", "critical")]


def test_two_dimensions_group_or_stack_and_a_percent_never_stacks(harness: Harness, chart_server: LiveServer) -> None:
    arguments = {"group_by": ["store", "category"], "metrics": ["revenue", "gross_margin_percent"], **Q3,
                 "compare_to": "previous_year", "top_n": 100}
    result = real(chart_server, "sales_summary", arguments)
    page = harness.given("summary", tool="sales_summary", arguments=arguments, result=tool_result(result),
                         server_tools=False)
    page.view("document.querySelector('button[data-layout=grouped]').click()")
    grouped = page.view(BARS)
    cells = [b for b in grouped if b["kind"] == "bar"]
    assert len({b["x"] for b in grouped}) == 1  # every bar, and every compared bar, starts at zero
    assert {(b["group"], b["series"]): b["value"] for b in cells} == {
        (r["group"]["store"], r["group"]["category"]): r["values"]["revenue"] for r in result["rows"]}
    compared = {(b["group"], b["series"]): b["value"] for b in grouped if b["kind"] == "compare-bar"}
    assert compared == {(r["group"]["store"], r["group"]["category"]): r["compare"]["revenue"]
                        for r in result["rows"]}
    # A percent does not add up: no stacking offered, one bar per cell from zero.
    page.view(PICK.format(value="gross_margin_percent"))
    assert page.view("document.querySelectorAll('button[data-layout]').length") == 0
    percent = [b for b in page.view(BARS) if b["kind"] == "bar"]
    assert len(percent) == len(result["rows"]) and not [b for b in page.view(BARS) if b["kind"] == "rest-bar"]
    assert page.view(OVERLAPS) == []


def test_todays_one_metric_shape_still_draws(harness: Harness) -> None:
    """The result shape before several metrics (group_by a string, `metric`, rows of {group, value})."""
    result = {"group_by": "store", "metric": "revenue", "period": "2025-07-01..2025-09-30",
              "stores": ["store_seattle", "store_tacoma"],
              "rows": [{"group": "Zava Retail Seattle", "value": 14100.74},
                       {"group": "Zava Retail Tacoma", "value": 13861.17}]}
    page = harness.given("summary", tool="sales_summary", arguments={"group_by": "store"}, result=tool_result(result))
    assert [(b["group"], b["value"]) for b in page.view(BARS)] == [(r["group"], r["value"]) for r in result["rows"]]
    assert page.view("document.querySelectorAll('#pickers select').length") == 0
    assert page.view("[...document.querySelectorAll('.value-label')].map(t => t.firstChild.textContent)") == [
        "$14.1K", "$13.9K"]
