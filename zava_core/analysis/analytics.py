"""Typed sales analysis, answered from the in-memory rollup cube.

Whole months come from the cube (`sales_monthly`); a date range that starts or ends inside a month
adds those partial months from `order_items` (an indexed range per store), summed with the same
`RollupAccumulator` arithmetic. Every answer says which path it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from pydantic import Field

from zava_core.analysis.cube import M, SalesCube
from zava_core.analysis.rollups import RollupAccumulator
from zava_core.context import Zava
from zava_core.directory import ReferenceSnapshot
from zava_core.errors import InvalidArgument
from zava_core.infra.timeutil import parse_user_date, utc_now
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta

GROUPINGS = ("store", "category", "product_type", "product", "year", "quarter", "month")
METRICS = ("revenue", "units", "orders", "average_order_value", "gross_margin")
PERIODS = ("month", "quarter", "year")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
AT_RISK_DAYS = 14
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
DEMAND_MONTHS = 3


class Totals(Out):
    revenue: float
    units: int
    orders: int = Field(description="Orders (with a category filter: orders with a line in those categories)")
    average_order_value: float
    gross_margin_percent: float


class SummaryRow(Out):
    group: str
    value: float
    share_percent: float | None = Field(None, description="Share of the total, for additive metrics")


class SalesSummary(Out):
    group_by: str
    metric: str
    rows: list[SummaryRow]
    totals: Totals
    period: str = Field(description="Dates covered, inclusive")
    stores: list[str]
    categories: list[str] | None
    source: str = Field(description="Which data answered: the rollup, plus order_items for partial months")
    meta: ListMeta


class TrendPoint(Out):
    period: str
    revenue: float
    units: int
    orders: int
    change_percent: float | None = Field(None, description="Revenue vs the previous period")
    yoy_percent: float | None = Field(None, description="Revenue vs the same period a year before")


class SalesTrend(Out):
    period_type: str
    points: list[TrendPoint]
    period: str
    stores: list[str]
    categories: list[str] | None
    source: str
    note: str | None = None


class MonthShare(Out):
    month: str
    revenue: float
    index: float = Field(description="Revenue / average month (1.0 = average)")


class SeasonalProfile(Out):
    category: str | None
    stores: list[str]
    years: str = Field(description="Complete years used")
    months: list[MonthShare]
    peak_months: list[str]
    low_months: list[str]
    source: str


class StockHealthItem(Out):
    store_id: str
    sku: str
    product_name: str
    stock_level: int
    daily_demand: float = Field(description=f"Average units a day over the last {DEMAND_MONTHS} full months")
    days_of_cover: float | None = Field(None, description="stock / daily demand; null when nothing sold")


class InventoryHealth(Out):
    stores: list[str]
    category: str | None
    demand_window: str
    items_checked: int
    at_risk_count: int
    slow_mover_count: int
    at_risk: list[StockHealthItem] = Field(description=f"Under {AT_RISK_DAYS} days of cover (or 10 units), worst first")
    slow_movers: list[StockHealthItem] = Field(description="In stock but no sales in the demand window")
    meta: ListMeta


# --- shared plumbing -----------------------------------------------------------------------------


async def warm_cube(zava: Zava) -> None:
    await load_cube(zava, await zava.reference.get())


async def load_cube(zava: Zava, reference: ReferenceSnapshot) -> SalesCube:
    return await zava.cube.get(reference.stores.ids, sorted(reference.categories), sorted(reference.products))


@dataclass(frozen=True)
class Window:
    """A question's date range split into whole months (cube) and partial edges (order_items)."""

    start: str  # inclusive timestamps
    end: str
    full_first: str | None  # YYYY-MM, inclusive; None when no whole month is inside
    full_last: str | None
    edges: tuple[tuple[str, str], ...]  # [start, end) timestamp ranges read from order_items

    @property
    def label(self) -> str:
        return f"{self.start[:10]}..{self.end[:10]}"


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def make_window(start_date: str | None, end_date: str | None, cube: SalesCube) -> Window:
    try:
        start = parse_user_date(start_date) if start_date else None
        end = parse_user_date(end_date, end_of_day=True) if end_date else None
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    today = utc_now().date()
    first_day = date.fromisoformat((cube.months[0] if cube.months else today.strftime("%Y-%m")) + "-01")
    # Clamped to years with room on both sides for the month arithmetic below; no order lies outside.
    start_day = max(date.fromisoformat(start[:10]) if start else first_day, EARLIEST)
    end_day = min(date.fromisoformat(end[:10]) if end else today, LATEST)
    if start_day > end_day:
        raise InvalidArgument(f"start_date {start_day} is after end_date {end_day}")
    start_ts = max(start or "", f"{start_day}T00:00:00Z")
    end_ts = min(end or "~", f"{end_day}T23:59:59Z")
    # Whole months: those lying entirely inside [start_day, end_day].
    first_full = start_day if start_day.day == 1 and start_ts.endswith("T00:00:00Z") else _next_month(start_day)
    after_end = end_day + timedelta(days=1)
    last_full_end = _month_start(after_end) if end_ts.endswith("T23:59:59Z") else _month_start(end_day)
    if end_day >= today:  # the rollup holds every order up to now: this month needs no edge read
        last_full_end = _next_month(today)
    edges: list[tuple[str, str]] = []
    if first_full < last_full_end:
        full = (first_full.strftime("%Y-%m"), (last_full_end - timedelta(days=1)).strftime("%Y-%m"))
        if start_ts < f"{first_full}T00:00:00Z":
            edges.append((start_ts, f"{first_full}T00:00:00Z"))
        if f"{last_full_end}T00:00:00Z" <= end_ts:
            edges.append((f"{last_full_end}T00:00:00Z", _after(end_ts)))
        return Window(start_ts, end_ts, full[0], full[1], tuple(edges))
    return Window(start_ts, end_ts, None, None, ((start_ts, _after(end_ts)),))


def _after(timestamp: str) -> str:
    """The exclusive bound just after an inclusive timestamp (fixed-width strings compare in order)."""
    return timestamp[:-1] + "~"  # '~' sorts after every digit and 'Z'


async def edge_cube(zava: Zava, reference: ReferenceSnapshot, store_ids: list[str],
                    ranges: tuple[tuple[str, str], ...]) -> SalesCube | None:
    """Partial months read from order_items (one indexed range query per store and range)."""
    if not ranges:
        return None
    accumulator = RollupAccumulator()
    projection = {"order_id": 1, "store_id": 1, "order_date": 1, "category_id": 1, "product_id": 1,
                  "quantity": 1, "unit_price": 1, "unit_cost": 1, "discount_amount": 1, "total_amount": 1}
    for store_id in store_ids:
        for lo, hi in ranges:
            orders: dict[str, list[dict]] = {}
            query = {"store_id": store_id, "deleted": False, "order_date": {"$gte": lo, "$lt": hi}}
            async for line in zava.db["order_items"].find(query, projection):
                orders.setdefault(line["order_id"], []).append(line)
            for lines in orders.values():
                accumulator.add_order(lines)
    cube = SalesCube(reference.stores.ids, sorted(reference.categories), sorted(reference.products))
    cube.put(accumulator.documents(updated_at=""))
    return cube


@dataclass
class Selection:
    """Measure sums for a question, per group key, from the cube and the edge cube."""

    store_ids: list[str]
    category_ids: list[str] | None
    window: Window
    source: str


def _resolve_filters(reference: ReferenceSnapshot, scope: Scope, stores: list[str] | None,
                     categories: list[str] | None) -> tuple[list[str], list[str] | None]:
    if stores:
        store_ids = sorted({sid for name in stores for sid in scope.stores(name, reference.stores)})
    else:
        store_ids = sorted(scope.store_ids)
    category_ids = sorted({reference.category_id(c) for c in categories}) if categories else None
    return store_ids, category_ids


def _axis(cube: SalesCube, group_by: str, category_ids: list[str] | None) -> tuple[np.ndarray, list[int] | None]:
    """The array to sum for a grouping (store x month x [item] x measure) and the item positions kept."""
    if group_by in ("product", "product_type"):
        return cube.by_product, None
    if category_ids is not None or group_by == "category":
        keep = [cube.category_index[c] for c in category_ids] if category_ids is not None else None
        return cube.by_category, keep
    return cube.totals, None


def _sum_groups(cube: SalesCube, group_by: str, store_ids: list[str], category_ids: list[str] | None,
                months: slice, reference: ReferenceSnapshot) -> dict[str, np.ndarray]:
    """{group label: measure vector} over the selected stores and months of one cube."""
    stores = [cube.store_index[s] for s in store_ids]
    array, keep = _axis(cube, group_by, category_ids)
    sub = array[:, months]  # a view: stores x months x [item] x measure
    if stores != list(range(len(cube.stores))):
        sub = sub[stores]  # copies only the selected stores
    out: dict[str, np.ndarray] = {}

    def add(label: str, vector: np.ndarray) -> None:
        out[label] = out.get(label, 0) + vector

    if group_by in ("product", "product_type"):
        allowed = None if category_ids is None else set(category_ids)
        per_product = sub.sum(axis=(0, 1))
        for product_id, p in cube.product_index.items():
            product = reference.products.get(product_id)
            if product is None or (allowed is not None and product["category_id"] not in allowed):
                continue
            label = f"{product['sku']} {product['product_name']}" if group_by == "product" else product["type_name"]
            add(label, per_product[p])
        return out
    if array is cube.by_category:
        sub = sub[:, :, keep] if keep is not None else sub
        if group_by == "category":
            ids = category_ids if category_ids is not None else cube.categories
            per_category = sub.sum(axis=(0, 1))
            for i, category_id in enumerate(ids):
                add(reference.categories[category_id]["category_name"], per_category[i])
            return out
        sub = sub.sum(axis=2)  # the selected categories together
    if group_by == "store":
        for i, store_id in enumerate(store_ids):
            add(reference.stores.get(store_id).store_name, sub[i].sum(axis=0))
        return out
    months_list = cube.months[months]
    per_month = sub.sum(axis=0)
    for j, month in enumerate(months_list):
        add(_period_label(month, group_by), per_month[j])
    return out


def _period_label(month: str, period: str) -> str:
    if period == "year":
        return month[:4]
    if period == "quarter":
        return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"
    return month


def _merge(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for part in parts:
        for key, vector in part.items():
            out[key] = out.get(key, 0) + vector
    return out


def _metric(vector: np.ndarray, metric: str) -> float:
    revenue, orders = vector[M["revenue"]], vector[M["orders"]]
    if metric == "revenue":
        return round(float(revenue), 2)
    if metric == "units":
        return float(vector[M["units"]])
    if metric == "orders":
        return float(orders)
    if metric == "average_order_value":
        return round(float(revenue / orders), 2) if orders else 0.0
    return round(float((revenue - vector[M["cost"]]) / revenue * 100), 2) if revenue else 0.0


def _totals(vector: np.ndarray) -> Totals:
    return Totals(revenue=_metric(vector, "revenue"), units=int(vector[M["units"]]),
                  orders=int(vector[M["orders"]]), average_order_value=_metric(vector, "average_order_value"),
                  gross_margin_percent=_metric(vector, "gross_margin"))


async def _grouped(zava: Zava, scope: Scope, group_by: str, start_date: str | None, end_date: str | None,
                   stores: list[str] | None, categories: list[str] | None
                   ) -> tuple[dict[str, np.ndarray], np.ndarray, Selection]:
    reference = await zava.reference.get()
    store_ids, category_ids = _resolve_filters(reference, scope, stores, categories)
    cube = await load_cube(zava, reference)
    window = make_window(start_date, end_date, cube)
    full = cube.month_slice(window.full_first, window.full_last) if window.full_first else slice(0, 0)
    parts = [_sum_groups(cube, group_by, store_ids, category_ids, full, reference)]
    totals_parts = [_sum_groups(cube, "year", store_ids, category_ids, full, reference)]
    edge = await edge_cube(zava, reference, store_ids, window.edges)
    if edge is not None:
        every = edge.month_slice(None, None)
        parts.append(_sum_groups(edge, group_by, store_ids, category_ids, every, reference))
        totals_parts.append(_sum_groups(edge, "year", store_ids, category_ids, every, reference))
    source = "rollup sales_monthly" if edge is None else (
        "order_items" if window.full_first is None else "rollup sales_monthly + order_items for partial months")
    totals = sum(_merge(*totals_parts).values(), np.zeros(len(M)))
    return _merge(*parts), totals, Selection(store_ids, category_ids, window, source)


# --- the typed tools ------------------------------------------------------------------------------


async def sales_summary(zava: Zava, scope: Scope, group_by: str, metric: str = "revenue",
                        start_date: str | None = None, end_date: str | None = None,
                        stores: list[str] | None = None, categories: list[str] | None = None,
                        top_n: int = 20) -> SalesSummary:
    if group_by not in GROUPINGS:
        raise InvalidArgument(f"group_by must be one of {', '.join(GROUPINGS)}")
    if metric not in METRICS:
        raise InvalidArgument(f"metric must be one of {', '.join(METRICS)}")
    limit, note = cap_rows(top_n, name="top_n")
    groups, totals, sel = await _grouped(zava, scope, group_by, start_date, end_date, stores, categories)
    total_value = _metric(totals, metric)
    additive = metric in ("revenue", "units", "orders") and not (metric == "orders" and group_by in
                                                                   ("category", "product", "product_type"))
    rows = [SummaryRow(group=label, value=_metric(vector, metric),
                       share_percent=round(_metric(vector, metric) / total_value * 100, 2)
                       if additive and total_value else None)
            for label, vector in groups.items() if vector[M["lines"]] > 0]
    if group_by in ("year", "quarter", "month"):
        rows.sort(key=lambda r: r.group)
    else:
        rows.sort(key=lambda r: (-r.value, r.group))
    orders_note = ("orders per category count every order with a line in it, so they overlap"
                   if metric in ("orders", "average_order_value") and group_by in ("category", "product_type",
                                                                                  "product") else None)
    return SalesSummary(
        group_by=group_by, metric=metric, rows=rows[:limit], totals=_totals(totals), period=sel.window.label,
        stores=sel.store_ids, categories=sel.category_ids, source=sel.source,
        meta=list_meta(min(len(rows), limit), total=len(rows), notes=[note, orders_note]),
    )


async def sales_trend(zava: Zava, scope: Scope, period: str = "month", start_date: str | None = None,
                      end_date: str | None = None, stores: list[str] | None = None,
                      categories: list[str] | None = None) -> SalesTrend:
    if period not in PERIODS:
        raise InvalidArgument(f"period must be one of {', '.join(PERIODS)}")
    groups, _, sel = await _grouped(zava, scope, period, start_date, end_date, stores, categories)
    # Year-over-year needs the year before the window too: computed from the whole history.
    history, _, _ = await _grouped(zava, scope, period, None, end_date, stores, categories)
    labels = sorted(k for k, v in groups.items() if v[M["lines"]] > 0)
    points = []
    previous: float | None = None
    for label in labels:
        revenue = _metric(groups[label], "revenue")
        last_year = history.get(_year_before(label, period))
        ly_revenue = _metric(last_year, "revenue") if last_year is not None else None
        points.append(TrendPoint(
            period=label, revenue=revenue, units=int(groups[label][M["units"]]),
            orders=int(groups[label][M["orders"]]),
            change_percent=_change(revenue, previous), yoy_percent=_change(revenue, ly_revenue)))
        previous = revenue
    note = None
    if labels and labels[-1] == _period_label(utc_now().strftime("%Y-%m"), period):
        note = f"{labels[-1]} is still in progress: compare it with care"
    return SalesTrend(period_type=period, points=points, period=sel.window.label, stores=sel.store_ids,
                      categories=sel.category_ids, source=sel.source, note=note)


def _year_before(label: str, period: str) -> str:
    return str(int(label[:4]) - 1) + label[4:]


def _change(value: float, before: float | None) -> float | None:
    return round((value - before) / before * 100, 1) if before else None


async def seasonal_profile(zava: Zava, scope: Scope, category: str | None = None,
                           stores: list[str] | None = None) -> SeasonalProfile:
    reference = await zava.reference.get()
    store_ids, category_ids = _resolve_filters(reference, scope, stores, [category] if category else None)
    cube = await load_cube(zava, reference)
    this_year = utc_now().year
    full_years = sorted({m[:4] for m in cube.months if int(m[:4]) < this_year})
    if not full_years:
        raise InvalidArgument("no complete year of sales yet")
    months = cube.month_slice(f"{full_years[0]}-01", f"{full_years[-1]}-12")
    by_month = _sum_groups(cube, "month", store_ids, category_ids, months, reference)
    per_calendar = np.zeros(12)
    for label, vector in by_month.items():
        per_calendar[int(label[5:7]) - 1] += vector[M["revenue"]]
    mean = per_calendar.mean() or 1.0
    shares = [MonthShare(month=MONTH_NAMES[i], revenue=round(float(per_calendar[i]), 2),
                         index=round(float(per_calendar[i] / mean), 3)) for i in range(12)]
    ranked = sorted(shares, key=lambda s: -s.revenue)
    name = reference.categories[category_ids[0]]["category_name"] if category_ids else None
    return SeasonalProfile(category=name, stores=store_ids, years=f"{full_years[0]}-{full_years[-1]}",
                           months=shares, peak_months=[s.month for s in ranked[:3]],
                           low_months=[s.month for s in ranked[-3:][::-1]], source="rollup sales_monthly")


async def inventory_health(zava: Zava, scope: Scope, store: str | None = None, category: str | None = None,
                           max_rows: int = 20) -> InventoryHealth:
    limit, note = cap_rows(max_rows)
    reference = await zava.reference.get()
    store_ids = scope.stores(store, reference.stores)
    category_id = reference.category_id(category) if category else None
    cube = await load_cube(zava, reference)
    this_month = utc_now().strftime("%Y-%m")
    complete = [m for m in cube.months if m < this_month][-DEMAND_MONTHS:]
    days = sum((_next_month(date.fromisoformat(m + "-01")) - date.fromisoformat(m + "-01")).days
               for m in complete) or 1
    window = cube.month_slice(complete[0], complete[-1]) if complete else slice(0, 0)
    daily = cube.by_product[:, window, :, M["units"]].sum(axis=1) / days  # store x product
    in_scope = [p for p in reference.products.values() if category_id is None or p["category_id"] == category_id]
    rows_s = [cube.store_index[s] for s in store_ids]
    rows_p = [cube.product_index[p["product_id"]] for p in in_scope]
    scoped = daily[np.ix_(rows_s, rows_p)] if rows_s and rows_p else np.zeros((0, 0))
    # One covered read of the scope's stock (3,392 small rows at most): cheaper on the embedded engine than
    # several targeted queries with long `$in` lists.
    projection = {"store_id": 1, "product_id": 1, "sku": 1, "stock_level": 1, "category_id": 1}
    candidates = await zava.db["inventory"].find({"deleted": False, **scope.store_filter(store_ids)},
                                                 projection).to_list()
    unsold = {(store_ids[i], in_scope[j]["product_id"]) for i, j in zip(*np.nonzero(scoped == 0), strict=True)}

    def item(row: dict) -> tuple[float, StockHealthItem]:
        demand = float(daily[cube.store_index[row["store_id"]], cube.product_index[row["product_id"]]])
        cover = row["stock_level"] / demand if demand else None
        name = reference.products[row["product_id"]]["product_name"]
        return (cover if cover is not None else float("inf")), StockHealthItem(
            store_id=row["store_id"], sku=row["sku"], product_name=name,
            stock_level=row["stock_level"], daily_demand=round(demand, 3),
            days_of_cover=round(cover, 1) if cover is not None else None)

    at_risk: list[tuple[float, StockHealthItem]] = []
    slow: list[tuple[float, StockHealthItem]] = []
    for row in candidates:
        if row["product_id"] not in reference.products or (category_id and row["category_id"] != category_id):
            continue
        cover, health = item(row)
        if cover < AT_RISK_DAYS or row["stock_level"] <= 10:
            at_risk.append((cover, health))
        if (row["store_id"], row["product_id"]) in unsold and row["stock_level"] > 0:
            slow.append((row["stock_level"] * reference.products[row["product_id"]]["cost"], health))
    at_risk.sort(key=lambda i: (i[0], i[1].stock_level))
    slow.sort(key=lambda i: -i[0])
    window_label = f"{complete[0]}..{complete[-1]}" if complete else "no complete month yet"
    return InventoryHealth(
        stores=store_ids, category=reference.categories[category_id]["category_name"] if category_id else None,
        demand_window=window_label, items_checked=len(rows_s) * len(rows_p), at_risk_count=len(at_risk),
        slow_mover_count=len(slow), at_risk=[i[1] for i in at_risk[:limit]], slow_movers=[i[1] for i in slow[:limit]],
        meta=list_meta(min(len(at_risk), limit) + min(len(slow), limit), total=len(at_risk) + len(slow),
                       truncated=len(at_risk) > limit or len(slow) > limit,
                       notes=[note, "slow movers: in stock, no sales in the window; largest stock value first"]),
    )
