"""Each view drawn by Chromium from a recorded result: the elements it draws, their values and positions.

Expected figures come from the fixture itself (tests/browser/data), never from the page; positions are
checked against each other (a larger value sits higher or reaches further), so a wrong scale fails.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from view_harness import Harness, ViewPage, fixture

POINTS = """[...document.querySelectorAll('circle.point')].map(c => ({series: c.dataset.series,
  period: c.dataset.period, value: Number(c.dataset.value), cx: Number(c.getAttribute('cx')),
  cy: Number(c.getAttribute('cy'))}))"""
BARS = """[...document.querySelectorAll('rect.bar')].map(r => ({group: r.dataset.group, series: r.dataset.series,
  month: r.dataset.month, value: Number(r.dataset.value), x: Number(r.getAttribute('x')),
  y: Number(r.getAttribute('y')), width: Number(r.getAttribute('width')), height: Number(r.getAttribute('height')),
  cls: r.getAttribute('class')}))"""
TEXTS = "[...document.querySelectorAll('{selector}')].map(t => t.textContent)"


def open_fixture(harness: Harness, view: str, name: str, **changes) -> tuple[ViewPage, dict]:
    recorded = fixture(name)
    result = {**recorded["result"], **changes}
    page = harness.open(view, tool=recorded["tool"], arguments=recorded["arguments"], structured=result)
    return page, result


def path_vertices(d: str) -> list[tuple[float, float]]:
    return [tuple(map(float, part.split(","))) for part in d.replace("M", " ").replace("L", " ").split()]


def test_the_trend_draws_revenue_with_last_year_beneath(harness: Harness, screenshot_dir: Path) -> None:
    page, result = open_fixture(harness, "trend", "trend_month")
    points = result["points"]
    assert page.view("document.querySelectorAll('path.series-line').length") == 1
    assert page.view("document.querySelectorAll('path.yoy-line').length") == 1
    drawn = page.view(POINTS)
    assert [p["period"] for p in drawn] == [p["period"] for p in points]
    assert [p["value"] for p in drawn] == pytest.approx([p["revenue"] for p in points])
    # Higher revenue sits higher (smaller y); time runs left to right.
    best = max(range(len(points)), key=lambda i: points[i]["revenue"])
    worst = min(range(len(points)), key=lambda i: points[i]["revenue"])
    assert drawn[best]["cy"] == min(p["cy"] for p in drawn) and drawn[worst]["cy"] == max(p["cy"] for p in drawn)
    assert [p["cx"] for p in drawn] == sorted(p["cx"] for p in drawn)
    # Where the year before is in the window, the dashed line passes through last year's own point.
    overlay = path_vertices(page.view("document.querySelector('path.yoy-line').getAttribute('d')"))
    assert len(overlay) == sum(1 for p in points if p["yoy_percent"] is not None)
    by_period = {p["period"]: p for p in drawn}
    march_2025 = next(i for i, p in enumerate(points) if p["period"] == "2025-03")
    assert overlay[march_2025][1] == pytest.approx(by_period["2024-03"]["cy"], abs=0.2)
    # Before the window, last year comes from yoy_percent: value / (1 + yoy / 100).
    first = points[0]
    expected = first["revenue"] / (1 + first["yoy_percent"] / 100)
    y_of = page.view("""(() => { const c = [...document.querySelectorAll('circle.point')];
        const a = c[0], b = c.reduce((m, x) => Number(x.dataset.value) > Number(m.dataset.value) ? x : m);
        return [Number(a.dataset.value), Number(a.getAttribute('cy')), Number(b.dataset.value),
                Number(b.getAttribute('cy'))]; })()""")
    slope = (y_of[3] - y_of[1]) / (y_of[2] - y_of[0])
    assert overlay[0][1] == pytest.approx(y_of[1] + (expected - y_of[0]) * slope, abs=0.5)
    labels = page.view(TEXTS.format(selector=".x-label"))
    assert labels[0] == "2023-01" and set(labels) <= {p["period"] for p in points}
    assert any(t.startswith("$") for t in page.view(TEXTS.format(selector=".y-axis text")))
    page.screenshot(screenshot_dir / "trend.png")


def test_a_split_trend_draws_one_line_per_series_and_switches_metric(harness: Harness,
                                                                     screenshot_dir: Path) -> None:
    page, result = open_fixture(harness, "trend", "trend_split")
    names = [s["name"] for s in result["series"]]
    assert page.view("[...document.querySelectorAll('path.series-line')].map(p => p.dataset.series)") == names
    assert page.view("document.querySelectorAll('path.yoy-line').length") == 0
    assert page.view(TEXTS.format(selector=".legend span")) == names
    drawn = page.view(POINTS)
    for series in result["series"]:
        mine = [p for p in drawn if p["series"] == series["name"]]
        assert [p["value"] for p in mine] == pytest.approx([p["revenue"] for p in series["points"]])
    page.view("document.querySelector('button[data-metric=units]').click()")
    units = page.view(POINTS)
    assert [p["value"] for p in units] == [p["units"] for s in result["series"] for p in s["points"]]
    assert page.view("document.querySelector('button[data-metric=units]').getAttribute('aria-pressed')") == "true"
    page.screenshot(screenshot_dir / "trend_split.png")


def test_one_dimension_draws_one_bar_per_group_beside_the_compare_period(harness: Harness) -> None:
    page, result = open_fixture(harness, "summary", "summary_one_dim")
    bars = page.view(BARS)
    rows = result["rows"]
    assert [b["group"] for b in bars] == [r["group"]["store"] for r in rows]
    assert [b["value"] for b in bars] == pytest.approx([r["values"]["revenue"] for r in rows])
    compare = page.view("[...document.querySelectorAll('rect.compare-bar')].map(r => Number(r.dataset.value))")
    assert compare == pytest.approx([r["compare"]["revenue"] for r in rows])
    # Bar length is proportional to the value (all bars start at the zero line).
    ratios = {round(b["width"] / b["value"], 9) for b in bars}
    assert max(ratios) / min(ratios) == pytest.approx(1, abs=2e-3)
    # Several metrics: a picker, and picking redraws with that metric's values.
    assert page.view("[...document.querySelectorAll('#pickers select option')].map(o => o.value)") == result["metrics"]
    page.view("(() => { const s = document.querySelector('#pickers select'); s.value = 'units';"
              " s.dispatchEvent(new Event('change')); })()")
    assert [b["value"] for b in page.view(BARS)] == [r["values"]["units"] for r in rows]


def test_two_dimensions_stack_or_group_the_second_dimension(harness: Harness, screenshot_dir: Path) -> None:
    page, result = open_fixture(harness, "summary", "summary_two_dims")
    rows = result["rows"]
    stores = list(dict.fromkeys(r["group"]["store"] for r in rows))
    categories = list(dict.fromkeys(r["group"]["category"] for r in rows))
    assert page.view(TEXTS.format(selector=".legend span")) == categories
    assert page.view("[...document.querySelectorAll('.group-label')].map(t => t.dataset.group)") == stores
    stacked = page.view(BARS)
    assert len(stacked) == len(rows)
    for store in stores:  # the segments of one row touch end to end, in legend order
        segments = [b for b in stacked if b["group"] == store]
        assert [b["series"] for b in segments] == categories
        for left, right in itertools.pairwise(segments):
            assert left["x"] + left["width"] == pytest.approx(right["x"], abs=0.11)
    totals = {s: sum(r["values"]["revenue"] for r in rows if r["group"]["store"] == s) for s in stores}
    ends = {s: max(b["x"] + b["width"] for b in stacked if b["group"] == s) for s in stores}
    assert max(ends, key=ends.get) == max(totals, key=totals.get)
    page.screenshot(screenshot_dir / "summary.png")
    page.view("document.querySelector('button[data-layout=grouped]').click()")
    grouped = page.view(BARS)
    assert len(grouped) == len(rows) and len({b["x"] for b in grouped}) == 1  # every bar starts at zero
    by_cell = {(b["group"], b["series"]): b["value"] for b in grouped}
    assert by_cell == {(r["group"]["store"], r["group"]["category"]): r["values"]["revenue"] for r in rows}
    # A percent does not add up: no stacking offered for it.
    page.view("(() => { const s = document.querySelector('#pickers select'); s.value = 'gross_margin_percent';"
              " s.dispatchEvent(new Event('change')); })()")
    assert page.view("document.querySelectorAll('button[data-layout]').length") == 0
    assert {b["x"] for b in page.view(BARS)} == {grouped[0]["x"]}


def test_todays_summary_shape_still_draws(harness: Harness) -> None:
    page, result = open_fixture(harness, "summary", "summary_current")
    bars = page.view(BARS)
    assert [(b["group"], b["value"]) for b in bars] == [(r["group"], r["value"]) for r in result["rows"]]
    assert page.view("document.querySelectorAll('#pickers select').length") == 0


def test_the_seasonal_profile_marks_peaks_and_lows_around_the_average(harness: Harness,
                                                                      screenshot_dir: Path) -> None:
    page, result = open_fixture(harness, "seasonal", "seasonal")
    bars = page.view(BARS)
    assert [b["month"] for b in bars] == [m["month"] for m in result["months"]]
    assert [b["value"] for b in bars] == pytest.approx([m["index"] for m in result["months"]])
    assert {b["month"] for b in bars if "peak" in b["cls"]} == set(result["peak_months"])
    assert {b["month"] for b in bars if "low" in b["cls"]} == set(result["low_months"])
    heights = [b["height"] / b["value"] for b in bars]
    assert max(heights) / min(heights) == pytest.approx(1, abs=5e-3)
    # The average line sits at index 1.0: as far above the baseline as a bar of index 1 would reach.
    baseline = bars[0]["y"] + bars[0]["height"]
    average_y = page.view("Number(document.querySelector('.average-line').getAttribute('y1'))")
    assert baseline - average_y == pytest.approx(heights[0], rel=5e-3)
    assert page.view(TEXTS.format(selector=".x-label"))[:3] == ["Jan", "Feb", "Mar"]
    page.screenshot(screenshot_dir / "seasonal.png")


def test_the_stock_table_highlights_items_at_risk(harness: Harness, screenshot_dir: Path) -> None:
    page, result = open_fixture(harness, "stock", "stock")
    rows = page.view("[...document.querySelectorAll('tbody tr')].map(r => ({sku: r.dataset.sku,"
                     " cls: r.className, cells: [...r.cells].map(c => c.textContent)}))")
    items = result["at_risk"] + result["slow_movers"]
    assert [r["sku"] for r in rows] == [i["sku"] for i in items]
    at_risk = {i["sku"] for i in result["at_risk"]}
    assert {r["sku"] for r in rows if "at-risk" in r["cls"].split()} == at_risk
    critical = {i["sku"] for i in result["at_risk"] if i["days_of_cover"] is not None and i["days_of_cover"] < 7}
    assert {r["sku"] for r in rows if "critical" in r["cls"].split()} == critical and critical
    first = rows[0]["cells"]
    assert first[2] == items[0]["product_name"] and first[5] == f"{items[0]['days_of_cover']:.1f}"
    assert rows[-1]["cells"][5] == "no sales"
    page.screenshot(screenshot_dir / "stock.png")
