"""`inventory_health`: stock against recent demand (from the cube): days of cover, items at risk, slow movers."""

from __future__ import annotations

from datetime import date

import numpy as np
from pydantic import Field

from zava_core.analysis.cube import M
from zava_core.analysis.summary import load_cube
from zava_core.analysis.window import next_month
from zava_core.context import Zava
from zava_core.infra.timeutil import utc_now
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta

AT_RISK_DAYS = 14
DEMAND_MONTHS = 3


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


async def inventory_health(zava: Zava, scope: Scope, store: str | None = None, category: str | None = None,
                           max_rows: int = 20) -> InventoryHealth:
    limit, note = cap_rows(max_rows)
    reference = await zava.reference.get()
    store_ids = scope.stores(store, reference.stores)
    category_id = reference.category_id(category) if category else None
    cube = await load_cube(zava, reference)
    this_month = utc_now().strftime("%Y-%m")
    complete = [m for m in cube.months if m < this_month][-DEMAND_MONTHS:]
    days = sum((next_month(date.fromisoformat(m + "-01")) - date.fromisoformat(m + "-01")).days
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
    candidates = zava.models.stock.all_rows(store_ids)
    if candidates is None:
        inventory = zava.collections.inventory
        candidates = await inventory.find(inventory.live(scope, stores=store_ids), projection).to_list()
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
