"""`sales_trend`: revenue, units and orders per period, with period-over-period and year-over-year change,
optionally split into one series per store, category, product type or product."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from zava_core import limits as L
from zava_core.analysis.grouping import Key, measure, resolve_filters, time_label
from zava_core.analysis.metrics import change_percent, metric_value
from zava_core.analysis.summary import check_list_lengths, load_cube, window_for
from zava_core.analysis.window import compare_window
from zava_core.context import Zava
from zava_core.errors import InvalidArgument
from zava_core.infra.timeutil import utc_now
from zava_core.scope import Scope
from zava_core.shaping import Out

PERIODS = ("month", "quarter", "year")
SPLITS = ("store", "category", "product_type", "product")


class TrendPoint(Out):
    period: str
    revenue: float
    units: int
    orders: int
    change_percent: float | None = Field(None, description="Revenue vs the previous period")
    yoy_percent: float | None = Field(None, description="Revenue vs the same period a year before")


class TrendSeries(Out):
    name: str
    points: list[TrendPoint]


class SalesTrend(Out):
    period_type: str
    points: list[TrendPoint] = Field(description="Every selected store and category together")
    split_by: str | None = None
    series: list[TrendSeries] | None = Field(None, description="One line per split_by value, largest first")
    period: str
    stores: list[str]
    categories: list[str] | None
    source: str
    note: str | None = None


def _points(groups: dict[Key, np.ndarray], year_before: dict[Key, np.ndarray], labels: list[str],
            prefix: Key = ()) -> list[TrendPoint]:
    points: list[TrendPoint] = []
    previous: float | None = None
    for label in labels:
        vector = groups.get((*prefix, label))
        if vector is None:
            continue
        revenue = metric_value(vector, "revenue")
        last_year = year_before.get((*prefix, str(int(label[:4]) - 1) + label[4:]))
        points.append(TrendPoint(
            period=label, revenue=revenue, units=metric_value(vector, "units"), orders=metric_value(vector, "orders"),
            change_percent=change_percent(revenue, previous),
            yoy_percent=change_percent(revenue, metric_value(last_year, "revenue")) if last_year is not None else None))
        previous = revenue
    return points


async def sales_trend(zava: Zava, scope: Scope, period: str = "month", start_date: str | None = None,
                      end_date: str | None = None, stores: Sequence[str] | None = None,
                      categories: Sequence[str] | None = None, split_by: str | None = None) -> SalesTrend:
    if period not in PERIODS:
        raise InvalidArgument(f"period must be one of {', '.join(PERIODS)}")
    if split_by is not None and split_by not in SPLITS:
        raise InvalidArgument(f"split_by must be one of {', '.join(SPLITS)} (or left out)")
    check_list_lengths(stores=(stores, L.MAX_STORES_LISTED), categories=(categories, L.MAX_CATEGORIES_LISTED))
    reference = await zava.reference.get()
    filters = resolve_filters(reference, scope, stores, categories)
    cube = await load_cube(zava, reference)
    window = window_for(start_date, end_date, cube)
    dim_sets: list[tuple[str, ...]] = [(period,)] + ([(split_by, period)] if split_by else [])
    current = await measure(zava, reference, cube, window, filters, dim_sets, needs_orders=True)
    # Year-over-year compares like with like: the same dates a year earlier (a partial period with the same
    # part of the period before).
    earlier, _ = compare_window(window, "previous_year")
    before = await measure(zava, reference, cube, earlier, filters, dim_sets, needs_orders=True)
    labels = sorted(k[0] for k in current.groups[0])
    note = None
    if labels and labels[-1] == time_label(utc_now().strftime("%Y-%m"), period):
        note = f"{labels[-1]} is still in progress: compare it with care"
    series = None
    if split_by:
        revenue_by_name: dict[str, float] = {}
        for (name, _), vector in current.groups[1].items():
            revenue_by_name[name] = revenue_by_name.get(name, 0.0) + metric_value(vector, "revenue")
        ranked = sorted(revenue_by_name, key=lambda n: (-revenue_by_name[n], n))
        series = [TrendSeries(name=name, points=_points(current.groups[1], before.groups[1], labels, (name,)))
                  for name in ranked[:L.MAX_TREND_SERIES]]
        if len(ranked) > L.MAX_TREND_SERIES:
            cut = f"{len(ranked)} {split_by} series, the {L.MAX_TREND_SERIES} largest by revenue shown"
            note = f"{note}; {cut}" if note else cut
    return SalesTrend(period_type=period, points=_points(current.groups[0], before.groups[0], labels),
                      split_by=split_by, series=series, period=window.label, stores=filters.store_ids,
                      categories=filters.category_ids, source=current.source, note=note)
