"""The typed analysis tools against figures computed independently from the raw documents."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest

from zava_core.analysis import analytics
from zava_core.context import Zava
from zava_core.limits import HARD_CAP
from zava_core.scope import Scope

pytestmark = pytest.mark.integration


async def scopes(zava: Zava) -> tuple[Scope, Scope]:
    directory = (await zava.reference.get()).stores
    return Scope.for_head_office(directory), Scope.for_store_manager(directory.resolve("Tacoma"))


def plain_sum(lines, *, key, value="total_amount", start="", end="~", stores=None, categories=None):
    out: dict[str, float] = defaultdict(float)
    for line in lines:
        if not start <= line["order_date"] <= end:
            continue
        if stores is not None and line["store_id"] not in stores:
            continue
        if categories is not None and line["category_id"] not in categories:
            continue
        out[key(line)] += line[value] if value != "count" else 1
    return out


@pytest.mark.anyio
async def test_revenue_by_store_whole_months_comes_from_the_rollup(zava, raw):
    head_office, _ = await scopes(zava)
    result = await analytics.sales_summary(zava, head_office, "store", start_date="2024-01-01",
                                           end_date="2024-12-31", top_n=HARD_CAP)
    expected = plain_sum(raw["lines"], key=lambda ln: raw["stores"][ln["store_id"]],
                         start="2024-01-01T00:00:00Z", end="2024-12-31T23:59:59Z")
    assert result.source == "rollup sales_monthly"
    assert {r.group["store"]: r.values["revenue"] for r in result.rows} == pytest.approx(expected, abs=0.01)
    revenues = [r.values["revenue"] for r in result.rows]
    assert revenues == sorted(revenues, reverse=True)
    assert result.totals["revenue"] == pytest.approx(sum(expected.values()), abs=0.02)


@pytest.mark.anyio
async def test_partial_months_add_day_cells_and_match_the_plain_sum(zava, raw):
    head_office, _ = await scopes(zava)
    result = await analytics.sales_summary(zava, head_office, "category", "units", start_date="2025-03-15",
                                           end_date="2025-06-10", top_n=HARD_CAP)
    expected = plain_sum(raw["lines"], key=lambda ln: raw["categories"][ln["category_id"]], value="quantity",
                         start="2025-03-15T00:00:00Z", end="2025-06-10T23:59:59Z")
    assert result.source == "rollup sales_monthly + sales_daily for partial months"
    assert {r.group["category"]: r.values["units"] for r in result.rows} == pytest.approx(expected)
    inside_one_month = await analytics.sales_summary(zava, head_office, "category", start_date="2025-03-10",
                                                     end_date="2025-03-20")
    assert inside_one_month.source == "sales_daily"
    lines = plain_sum(raw["lines"], key=lambda ln: raw["categories"][ln["category_id"]], value="total_amount",
                      start="2025-03-10T00:00:00Z", end="2025-03-20T23:59:59Z")
    assert {r.group["category"]: r.values["revenue"] for r in inside_one_month.rows} == pytest.approx(lines, abs=0.02)
    to_the_second = await analytics.sales_summary(zava, head_office, "category", start_date="2025-03-10T12:00:00Z",
                                                  end_date="2025-03-20")
    assert to_the_second.source == "order_items for ranges within a day"


@pytest.mark.anyio
async def test_a_store_manager_sees_only_their_store_and_cannot_ask_for_another(zava, raw):
    _, tacoma = await scopes(zava)
    result = await analytics.sales_summary(zava, tacoma, "month", start_date="2025-01-01", end_date="2025-06-30")
    expected = plain_sum(raw["lines"], key=lambda ln: ln["order_date"][:7], stores={"store_tacoma"},
                         start="2025-01-01T00:00:00Z", end="2025-06-30T23:59:59Z")
    assert result.stores == ["store_tacoma"]
    assert {r.group["month"]: r.values["revenue"] for r in result.rows} == pytest.approx(expected, abs=0.01)
    with pytest.raises(Exception, match="outside your scope"):
        await analytics.sales_summary(zava, tacoma, "store", stores=["Seattle"])


@pytest.mark.anyio
async def test_orders_and_average_order_value_count_distinct_orders(zava, raw):
    head_office, _ = await scopes(zava)
    result = await analytics.sales_summary(zava, head_office, "year", ["average_order_value", "orders"],
                                           start_date="2023-01-01", end_date="2023-12-31")
    revenue = plain_sum(raw["lines"], key=lambda ln: "2023", start="2023-01-01T00:00:00Z", end="2023-12-31T23:59:59Z")
    orders = {ln["order_id"] for ln in raw["lines"] if ln["order_date"].startswith("2023")}
    assert result.rows[0].values["average_order_value"] == pytest.approx(revenue["2023"] / len(orders), abs=0.01)
    assert result.totals["orders"] == len(orders)


@pytest.mark.anyio
async def test_gross_margin_by_category_filter(zava, raw):
    head_office, _ = await scopes(zava)
    result = await analytics.sales_summary(zava, head_office, "category", "gross_margin_percent",
                                           categories=["Power Tools"])
    lines = [ln for ln in raw["lines"] if ln["category_id"] == "cat_power_tools"]
    revenue = sum(ln["total_amount"] for ln in lines)
    cost = sum(ln["unit_cost"] * ln["quantity"] for ln in lines)
    assert [r.group["category"] for r in result.rows] == ["POWER TOOLS"]
    assert result.rows[0].values["gross_margin_percent"] == pytest.approx((revenue - cost) / revenue * 100, abs=0.01)


@pytest.mark.anyio
async def test_trend_has_period_over_period_and_year_over_year_changes(zava, raw):
    head_office, _ = await scopes(zava)
    trend = await analytics.sales_trend(zava, head_office, "quarter", start_date="2024-01-01",
                                        end_date="2025-12-31")
    def quarter(line: dict) -> str:
        return f"{line['order_date'][:4]}-Q{(int(line['order_date'][5:7]) - 1) // 3 + 1}"

    by_quarter = plain_sum(raw["lines"], key=quarter)
    assert [p.period for p in trend.points] == [f"{y}-Q{q}" for y in (2024, 2025) for q in (1, 2, 3, 4)]
    for before, point in zip(trend.points, trend.points[1:], strict=False):
        assert point.revenue == pytest.approx(by_quarter[point.period], abs=0.01)
        assert point.change_percent == pytest.approx((point.revenue - before.revenue) / before.revenue * 100, abs=0.1)
    first = trend.points[0]
    last_year = by_quarter["2023-Q1"]
    assert first.yoy_percent == pytest.approx((first.revenue - last_year) / last_year * 100, abs=0.1)


@pytest.mark.anyio
async def test_seasonal_profile_uses_complete_years_and_finds_the_peak(zava, raw):
    head_office, _ = await scopes(zava)
    profile = await analytics.seasonal_profile(zava, head_office, "garden & outdoor")
    first, last = profile.years.split("-")
    expected = [0.0] * 12
    for line in raw["lines"]:
        if line["category_id"] == "cat_garden_outdoor" and first <= line["order_date"][:4] <= last:
            expected[int(line["order_date"][5:7]) - 1] += line["total_amount"]
    assert [m.revenue for m in profile.months] == pytest.approx(expected, abs=0.01)
    assert profile.peak_months[0] == analytics.MONTH_NAMES[expected.index(max(expected))]
    assert sum(m.index for m in profile.months) == pytest.approx(12, abs=0.01)


@pytest.mark.anyio
async def test_inventory_health_demand_and_cover(zava, raw):
    head_office, tacoma = await scopes(zava)
    health = await analytics.inventory_health(zava, tacoma, max_rows=HARD_CAP)
    first, last = health.demand_window.split("..")
    end = (date.fromisoformat(last + "-01").replace(day=28) + timedelta(days=4)).replace(day=1)
    days = (end - date.fromisoformat(first + "-01")).days
    units = plain_sum(raw["lines"], key=lambda ln: (ln["store_id"], ln["product_id"]), value="quantity",
                      start=f"{first}-01T00:00:00Z", end=f"{end}T00:00:00Z")
    sku_to_id = {p["sku"]: pid for pid, p in raw["products"].items()}
    assert health.stores == ["store_tacoma"] and health.slow_movers
    for item in health.at_risk + health.slow_movers:
        assert item.store_id == "store_tacoma"
    health = await analytics.inventory_health(zava, head_office, max_rows=HARD_CAP)
    assert health.at_risk, "the dataset holds a few rows with nothing in stock"
    for item in health.at_risk + health.slow_movers:
        demand = units.get((item.store_id, sku_to_id[item.sku]), 0) / days
        assert item.daily_demand == pytest.approx(demand, abs=0.001)
    # One state per item, by the stated rule: none in stock, or it sells and the cover is short.
    for item in health.at_risk:
        if item.stock_level <= 0:
            assert item.state == "out_of_stock"
        else:
            assert item.daily_demand > 0 and item.days_of_cover < analytics.AT_RISK_DAYS
            assert item.state == ("critical" if item.days_of_cover < analytics.CRITICAL_DAYS else "low")
    for item in health.slow_movers:
        assert item.daily_demand == 0 and item.stock_level > 0 and item.state == "slow_mover"
    assert sum(health.state_counts.values()) == health.at_risk_count + health.slow_mover_count


@pytest.mark.anyio
async def test_inventory_health_max_rows_caps_the_whole_answer(zava):
    head_office, _ = await scopes(zava)
    for max_rows in (1, 4, 12):
        health = await analytics.inventory_health(zava, head_office, max_rows=max_rows)
        listed = len(health.at_risk) + len(health.slow_movers)
        assert listed == health.meta.returned == min(max_rows, health.at_risk_count + health.slow_mover_count)
        assert health.meta.truncated == (listed < health.at_risk_count + health.slow_mover_count)
    # Both kinds stay visible when both exist and there is room: a quarter of the rows go to slow movers.
    health = await analytics.inventory_health(zava, head_office, max_rows=12)
    assert health.at_risk_count and health.slow_mover_count > 12
    assert len(health.at_risk) == min(health.at_risk_count, 9) and len(health.slow_movers) == 12 - len(health.at_risk)


@pytest.mark.anyio
async def test_bad_arguments_are_refused_with_the_valid_choices(zava):
    head_office, _ = await scopes(zava)
    with pytest.raises(Exception, match="group_by must be one of"):
        await analytics.sales_summary(zava, head_office, "weekday")
    with pytest.raises(Exception, match="is after end_date"):
        await analytics.sales_summary(zava, head_office, "store", start_date="2025-05-01", end_date="2025-04-01")
    with pytest.raises(Exception, match="not a date"):
        await analytics.sales_summary(zava, head_office, "store", start_date="last tuesday")
    with pytest.raises(Exception, match="unknown category"):
        await analytics.seasonal_profile(zava, head_office, "toys")
