"""The four views as a user meets them: a web host built on AppBridge (the official MCP Apps host library)
connects to the analysis server over Streamable HTTP with a bearer token, reads each tool's `ui://` view,
calls the tool and hands the view the real result. Checked on what is drawn: which bands and series, in which
order, how long, what the comparison says, the colour key, the labels' boxes. The README's screenshots come
from here (ZAVA_SCREENSHOT_DIR=docs/screenshots).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import anyio
import pytest
from drawn import BARS, OVERLAPS, POINTS, path_runs, status, texts
from live_server import LiveServer
from view_harness import Harness

pytestmark = pytest.mark.integration

Q3 = {"start_date": "2025-07-01", "end_date": "2025-09-30"}
STORE_BY_CATEGORY = {"group_by": ["store", "category"], **Q3, "compare_to": "previous_year"}
GROUP_LABELS = "[...document.querySelectorAll('.group-label')].map(t => t.dataset.group)"
TABLE = "[...document.querySelectorAll('table.changes tbody tr')].map(r => [...r.cells].map(c => c.textContent))"


def asked(server: LiveServer, tool: str, arguments: dict, token: str | None = None) -> dict:
    """The same question asked by another client (the Python SDK) of the same server."""
    return anyio.run(server.call, token or server.head_office, tool, arguments)


def money(value: float) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def percent_of(text: str) -> float:
    return float(text.replace("%", "").replace("+", "").strip())


def test_two_dimensions_draw_every_store_whole_in_order_with_the_comparison(
        harness: Harness, chart_server: LiveServer, screenshot_dir: Path) -> None:
    page = harness.live(chart_server.url, chart_server.head_office, tool="sales_summary", arguments=STORE_BY_CATEGORY)
    first = page.host("window.firstResult.structuredContent")
    assert first["meta"]["truncated"] and first["meta"]["returned"] < first["meta"]["total"] <= 100
    # The view asks the server, through the host, for every row that matched (the server caps top_n).
    page.wait_host("window.toolCalls.length === 1")
    assert page.host("window.toolCalls[0]") == {"name": "sales_summary",
                                                "arguments": {**STORE_BY_CATEGORY, "top_n": first["meta"]["total"]}}
    page.wait_view(f"document.querySelectorAll('rect.bar').length === {first['meta']['total']}")
    full = asked(chart_server, "sales_summary", {**STORE_BY_CATEGORY, "top_n": 100})
    assert not full["meta"]["truncated"]
    bands = [s["group"]["store"] for s in full["subtotals"]]
    assert len(bands) == 8 and page.view(GROUP_LABELS) == bands  # every store, largest total first
    assert "8 stores" in page.view("document.getElementById('subtitle').textContent")
    bars = page.view(BARS)
    assert not [b for b in bars if b["kind"] == "rest-bar"]  # nothing left out once every row is in
    ends = []
    for band in full["subtotals"]:
        name = band["group"]["store"]
        segments = sorted((b for b in bars if b["kind"] == "bar" and b["group"] == name), key=lambda b: b["x"])
        rows = {r["group"]["category"]: r["values"]["revenue"] for r in full["rows"] if r["group"]["store"] == name}
        assert {b["series"]: b["value"] for b in segments} == pytest.approx(rows)
        assert sum(b["value"] for b in segments) == pytest.approx(band["values"]["revenue"], abs=0.05)
        for left, right in itertools.pairwise(segments):  # stacked end to end
            assert left["x"] + left["width"] == pytest.approx(right["x"], abs=0.11)
        ends.append(segments[-1]["x"] + segments[-1]["width"])
        compare = [b["value"] for b in bars if b["kind"] == "compare-bar" and b["group"] == name]
        assert compare == pytest.approx([band["compare"]["revenue"]])
    assert ends == sorted(ends, reverse=True)  # longest first: the bands are ordered by their totals
    # The comparison in numbers: one line per store, the change as the server computes it.
    table = page.view(TABLE)
    assert [row[0] for row in table] == bands
    for row, band in zip(table, full["subtotals"], strict=True):
        assert row[1] == money(band["values"]["revenue"]) and row[2] == money(band["compare"]["revenue"])
        assert percent_of(row[3]) == pytest.approx(band["change_percent"]["revenue"], abs=0.11)
    assert "Compared (2024-07-01..2024-09-30)" in texts(page, ".legend span")
    assert page.view(OVERLAPS) == []
    page.screenshot(screenshot_dir / "summary.png")


def test_a_cut_answer_is_drawn_as_whole_bands_and_says_what_the_rows_leave_out(
        harness: Harness, chart_server: LiveServer) -> None:
    """A host that runs no tool for the view: the view draws the 20 rows it got, each band still as long as its
    store's whole total, the part the rows do not hold hatched, and says so."""
    page = harness.live(chart_server.url, chart_server.head_office, tool="sales_summary", arguments=STORE_BY_CATEGORY,
                        server_tools=False)
    result = page.host("window.firstResult.structuredContent")
    assert result["meta"]["truncated"] and page.host("window.toolCalls.length") == 0
    bars = page.view(BARS)
    assert page.view(GROUP_LABELS) == [s["group"]["store"] for s in result["subtotals"]]
    value_labels = page.view("Object.fromEntries([...document.querySelectorAll('.value-label')]"
                             ".map(t => [t.dataset.group, t.querySelector('title').textContent]))")
    rows_missing = 0
    for band in result["subtotals"]:
        name, total = band["group"]["store"], band["values"]["revenue"]
        returned = sum(r["values"]["revenue"] for r in result["rows"] if r["group"]["store"] == name)
        segments = [b["value"] for b in bars if b["kind"] == "bar" and b["group"] == name]
        rest = [b["value"] for b in bars if b["kind"] == "rest-bar" and b["group"] == name]
        assert sum(segments) == pytest.approx(returned, abs=0.01)
        assert sum(segments) + sum(rest) == pytest.approx(total, abs=0.05)  # the band is the whole total
        rows_missing += not segments
        assert value_labels[name].startswith(f"{name}: {money(total)}")  # labelled with the total, not the rows' sum
    assert rows_missing, "some stores have no row among the first 20: they are drawn hatched, not left out"
    meta = result["meta"]
    assert f"{meta['returned']} of {meta['total']} rows returned" in page.view(
        "document.getElementById('footnote').textContent")
    assert "not in the returned rows" in texts(page, ".legend span")
    assert page.view(OVERLAPS) == []


def test_more_bands_than_the_cap_draws_the_largest_whole_and_counts_the_rest(
        harness: Harness, chart_server: LiveServer) -> None:
    arguments = {"group_by": ["product", "store"], **Q3, "top_n": 5}
    page = harness.live(chart_server.url, chart_server.head_office, tool="sales_summary", arguments=arguments,
                        server_tools=False)
    result = page.host("window.firstResult.structuredContent")
    assert len(result["subtotals"]) == 5 < result["subtotal_count"]
    assert page.view(GROUP_LABELS) == [s["group"]["product"] for s in result["subtotals"]]
    left = result["subtotal_count"] - 5
    assert (f"The 5 largest of {result['subtotal_count']} values of product; the other {left} are not drawn."
            in page.view("document.getElementById('footnote').textContent"))


def test_one_dimension_draws_the_comparison_with_labels_clear_of_every_bar(
        harness: Harness, chart_server: LiveServer) -> None:
    arguments = {"group_by": "store", "metrics": ["revenue", "units"], **Q3, "compare_to": "previous_year"}
    page = harness.live(chart_server.url, chart_server.head_office, tool="sales_summary", arguments=arguments)
    result = page.host("window.firstResult.structuredContent")
    rows = result["rows"]
    # Some store sold less than a year before: its compare bar reaches past its own bar, where a label placed
    # after the bar alone would sit on it.
    assert any(r["compare"]["revenue"] > r["values"]["revenue"] for r in rows)
    bars = page.view(BARS)
    assert [(b["group"], b["value"]) for b in bars if b["kind"] == "bar"] == [
        (r["group"]["store"], r["values"]["revenue"]) for r in rows]
    assert [b["value"] for b in bars if b["kind"] == "compare-bar"] == [r["compare"]["revenue"] for r in rows]
    widths = {round(b["width"] / b["value"], 9) for b in bars if b["value"] > 0}
    assert max(widths) / min(widths) == pytest.approx(1, abs=5e-3)  # lengths proportional to values
    assert page.view(OVERLAPS) == []
    table = page.view(TABLE)
    assert [(row[0], percent_of(row[3])) for row in table] == [
        (r["group"]["store"], pytest.approx(r["change_percent"]["revenue"], abs=0.11)) for r in rows]
    page.view("(() => { const s = document.querySelector('#pickers select'); s.value = 'units';"
              " s.dispatchEvent(new Event('change')); })()")
    assert [b["value"] for b in page.view(BARS) if b["kind"] == "bar"] == [r["values"]["units"] for r in rows]
    assert page.view(OVERLAPS) == []


STOCK_ROWS = """[...document.querySelectorAll('tbody tr')].map(r => ({sku: r.dataset.sku, state: r.dataset.state,
  cls: r.className, store: r.cells[0].textContent, cover: r.cells[5].textContent, kind: r.cells[7].textContent,
  rule: r.cells[7].title}))"""
STOCK_KEY = ("[...document.querySelectorAll('.key [data-state]')]"
             ".map(k => ({state: k.dataset.state, text: k.textContent}))")


def test_the_stock_view_states_each_rule_where_its_colour_is(
        harness: Harness, chart_server: LiveServer, screenshot_dir: Path) -> None:
    page = harness.live(chart_server.url, chart_server.head_office, tool="inventory_health",
                        arguments={"max_rows": 12})
    result = page.host("window.firstResult.structuredContent")
    items = result["at_risk"] + result["slow_movers"]
    rows = page.view(STOCK_ROWS)
    # max_rows caps the whole answer, and the view draws exactly what came.
    assert len(rows) == len(items) == 12 and result["meta"]["truncated"]
    assert [(r["sku"], r["state"]) for r in rows] == [(i["sku"], i["state"]) for i in items]
    # The counts lowered for this dataset land in the states the rules give them.
    by_item = {(i["store_id"], i["sku"]): i for i in items}
    assert by_item["store_online", "PFRL000004"]["state"] == "out_of_stock"
    for key in (("store_seattle", "PLPI000502"), ("store_online", "HTPL000003")):
        assert by_item[key]["state"] == "low" and 7 <= by_item[key]["days_of_cover"] < 14
    # Each row is coloured by its state, names it, and carries the rule; the key beside the colours quotes the
    # server's rules for every state drawn (and only those the answer holds).
    rules = result["rules"]
    for row in rows:
        assert row["cls"] == row["state"] and row["kind"] == row["state"].replace("_", " ")
        assert row["rule"] == rules[row["state"]]
    key = page.view(STOCK_KEY)
    counted = {state for state, n in result["state_counts"].items() if n}
    assert {k["state"] for k in key} == counted | {r["state"] for r in rows}
    for entry in key:
        assert entry["text"].endswith(rules[entry["state"]])
        assert f"({result['state_counts'][entry['state']]:,})" in entry["text"]
    # No claim the rules do not make: nothing in red for cover, unless the rule for red is stated.
    assert all(r["state"] in ("out_of_stock", "critical") for r in rows if "out_of_stock" in r["cls"] or
               "critical" in r["cls"])
    page.screenshot(screenshot_dir / "stock.png")


PANELS = """[...document.querySelectorAll('g.panel')].map(p => {
  const baseline = Number(p.querySelector('.x-axis line').getAttribute('y1'));
  const top = Math.min(...[...p.querySelectorAll('.grid line')].map(l => Number(l.getAttribute('y1'))));
  return {series: p.dataset.series, baseline, top, d: p.querySelector('path.series-line').getAttribute('d'),
          peak: Math.min(...[...p.querySelectorAll('circle.point')].map(c => Number(c.getAttribute('cy'))))};
})"""


def test_a_trend_split_by_store_gives_each_store_its_own_scale(
        harness: Harness, chart_server: LiveServer, screenshot_dir: Path) -> None:
    arguments = {"split_by": "store", "start_date": "2025-01-01", "end_date": "2025-12-31"}
    page = harness.live(chart_server.url, chart_server.head_office, tool="sales_trend", arguments=arguments)
    result = page.host("window.firstResult.structuredContent")
    series = result["series"]
    peaks = [max(p["revenue"] for p in s["points"]) for s in series]
    assert min(peaks) < 0.25 * max(peaks)  # on one axis the smallest store would lie along the bottom
    panels = page.view(PANELS)
    assert [p["series"] for p in panels] == [s["name"] for s in series]
    periods = sorted({p["period"] for s in series for p in s["points"]})
    for panel, line in zip(panels, series, strict=True):
        # Each store's own peak reaches at least 60 % of its panel's height (its scale ends on the first round
        # step above the peak, in about three steps).
        assert (panel["baseline"] - panel["peak"]) / (panel["baseline"] - panel["top"]) >= 0.59, panel["series"]
        # A month without sales breaks the line instead of being bridged.
        present = [period in {p["period"] for p in line["points"]} for period in periods]
        runs = sum(1 for i, here in enumerate(present) if here and (i == 0 or not present[i - 1]))
        assert len(path_runs(panel["d"])) == runs
    drawn = page.view(POINTS)
    assert [(p["series"], p["period"], p["value"]) for p in drawn] == [
        (s["name"], p["period"], p["revenue"]) for s in series for p in s["points"]]
    assert "Each panel has its own scale." in page.view("document.getElementById('footnote').textContent")
    page.screenshot(screenshot_dir / "trend_split.png")
    page.view("document.querySelector('button[data-layout=together]').click()")
    assert page.view("document.querySelectorAll('g.panel').length") == 0
    assert page.view("[...document.querySelectorAll('path.series-line')].map(p => p.dataset.series)") == [
        s["name"] for s in series]
    assert texts(page, ".legend span") == [s["name"] for s in series]


def test_a_trend_draws_revenue_with_the_year_before_beneath(
        harness: Harness, chart_server: LiveServer, screenshot_dir: Path) -> None:
    arguments = {"start_date": "2024-01-01", "end_date": "2025-12-31"}
    page = harness.live(chart_server.url, chart_server.head_office, tool="sales_trend", arguments=arguments)
    points = page.host("window.firstResult.structuredContent")["points"]
    drawn = page.view(POINTS)
    assert [(p["period"], p["value"]) for p in drawn] == [(p["period"], p["revenue"]) for p in points]
    best = max(range(len(points)), key=lambda i: points[i]["revenue"])
    assert drawn[best]["cy"] == min(p["cy"] for p in drawn)  # higher revenue sits higher
    overlay = path_runs(page.view("document.querySelector('path.yoy-line').getAttribute('d')"))
    # Where the year before is inside the window, the dashed line passes through its own point.
    by_period = {p["period"]: p for p in drawn}
    march = [p["period"] for p in points].index("2025-03")
    assert overlay[0][march][1] == pytest.approx(by_period["2024-03"]["cy"], abs=0.2)
    page.screenshot(screenshot_dir / "trend.png")


def test_the_seasonal_profile_marks_peaks_and_lows_around_the_average(
        harness: Harness, chart_server: LiveServer, screenshot_dir: Path) -> None:
    page = harness.live(chart_server.url, chart_server.head_office, tool="seasonal_profile",
                        arguments={"category": "Garden & Outdoor"})
    result = page.host("window.firstResult.structuredContent")
    bars = page.view(BARS)
    assert [(b["month"], b["value"]) for b in bars] == [(m["month"], m["index"]) for m in result["months"]]
    assert {b["month"] for b in bars if "peak" in b["cls"]} == set(result["peak_months"])
    assert {b["month"] for b in bars if "low" in b["cls"]} == set(result["low_months"])
    heights = [b["height"] / b["value"] for b in bars]
    assert max(heights) / min(heights) == pytest.approx(1, abs=5e-3)
    assert page.view(OVERLAPS) == [] and status(page) == ""
    page.screenshot(screenshot_dir / "seasonal.png")
