"""`inventory_health`: stock against recent demand (from the cube): days of cover, items at risk, slow movers.

Every item listed has exactly one state, and the rules that give it are stated in the answer (`rules`), so a
chart or a model reads them from one place:

| state | rule |
|---|---|
| `out_of_stock` | nothing in stock (whatever it sold) |
| `critical` | it sells, and the stock lasts under `CRITICAL_DAYS` days at the recent rate |
| `low` | it sells, and the stock lasts `CRITICAL_DAYS` to `AT_RISK_DAYS` days |
| `slow_mover` | in stock, and nothing sold in the demand window |

An item that sells and has `AT_RISK_DAYS` days of cover or more is healthy and not listed, however few units
it holds: three units of something that sells once a year are not at risk of running out.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from zava_core.analysis.cube import M
from zava_core.analysis.summary import load_cube
from zava_core.analysis.window import next_month
from zava_core.context import Zava
from zava_core.infra.timeutil import utc_now
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta

CRITICAL_DAYS = 7
AT_RISK_DAYS = 14
DEMAND_MONTHS = 3
AT_RISK_STATES = ("out_of_stock", "critical", "low")
STATES = (*AT_RISK_STATES, "slow_mover")


class StockHealthItem(Out):
    store_id: str
    sku: str
    product_name: str
    state: str = Field(description="out_of_stock, critical, low or slow_mover: see rules")
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
    state_counts: dict[str, int] = Field(description="Items in each state, listed or not")
    rules: dict[str, str] = Field(description="What puts an item in each state")
    at_risk: list[StockHealthItem] = Field(description="out_of_stock, critical and low items: worst first")
    slow_movers: list[StockHealthItem] = Field(description="In stock, no sales in the demand window; "
                                                           "largest stock value first")
    meta: ListMeta = Field(description="max_rows caps both lists together")


def state_rules(window: str) -> dict[str, str]:
    return {
        "out_of_stock": "none in stock",
        "critical": f"sells, under {CRITICAL_DAYS} days of cover at the {window} rate",
        "low": f"sells, {CRITICAL_DAYS} to {AT_RISK_DAYS} days of cover at the {window} rate",
        "slow_mover": f"in stock, no sales in {window}",
    }


def stock_state(stock_level: int, cover: float | None) -> str | None:
    """The one state of an item (None: healthy, not listed). `cover` is None when nothing sold."""
    if stock_level <= 0:
        return "out_of_stock"
    if cover is None:
        return "slow_mover"
    if cover < CRITICAL_DAYS:
        return "critical"
    if cover < AT_RISK_DAYS:
        return "low"
    return None


def split_rows(limit: int, at_risk: int, slow: int) -> tuple[int, int]:
    """How many of each list fit in `limit` rows together: items at risk first, but a quarter of the rows
    stay for slow movers when there are some (and the limit leaves room), and unused room goes to the other."""
    slow_room = min(slow, limit // 4)
    at_risk_take = min(at_risk, limit - slow_room)
    return at_risk_take, min(slow, limit - at_risk_take)


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
    # One covered read of the scope's stock (3,392 small rows at most): cheaper on the embedded engine than
    # several targeted queries with long `$in` lists.
    projection = {"store_id": 1, "product_id": 1, "sku": 1, "stock_level": 1, "category_id": 1}
    candidates = zava.models.use("stock").all_rows(store_ids)
    if candidates is None:
        inventory = zava.collections.inventory
        candidates = await inventory.find(inventory.live(scope, stores=store_ids), projection).to_list()

    at_risk: list[tuple[tuple, StockHealthItem]] = []
    slow: list[tuple[float, StockHealthItem]] = []
    counts = dict.fromkeys(STATES, 0)
    for row in candidates:
        if row["product_id"] not in reference.products or (category_id and row["category_id"] != category_id):
            continue
        demand = float(daily[cube.store_index[row["store_id"]], cube.product_index[row["product_id"]]])
        cover = max(0.0, row["stock_level"] / demand) if demand else None
        state = stock_state(row["stock_level"], cover)
        if state is None:
            continue
        counts[state] += 1
        product = reference.products[row["product_id"]]
        health = StockHealthItem(
            store_id=row["store_id"], sku=row["sku"], product_name=product["product_name"], state=state,
            stock_level=row["stock_level"], daily_demand=round(demand, 3),
            days_of_cover=round(cover, 1) if cover is not None else None)
        if state == "slow_mover":
            slow.append((row["stock_level"] * product["cost"], health))
        else:  # out of stock first (the best sellers first), then the shortest cover
            at_risk.append(((AT_RISK_STATES.index(state), cover or 0.0, -demand), health))
    at_risk.sort(key=lambda i: (i[0], i[1].store_id, i[1].sku))
    slow.sort(key=lambda i: (-i[0], i[1].store_id, i[1].sku))
    window_label = f"{complete[0]}..{complete[-1]}" if complete else "no complete month yet"
    at_risk_take, slow_take = split_rows(limit, len(at_risk), len(slow))
    total = len(at_risk) + len(slow)
    cut = f"showing {at_risk_take} of {len(at_risk)} at risk and {slow_take} of {len(slow)} slow movers: name a " \
          "store or category, or raise max_rows (up to 100)" if at_risk_take + slow_take < total else None
    return InventoryHealth(
        stores=store_ids, category=reference.categories[category_id]["category_name"] if category_id else None,
        demand_window=window_label, items_checked=len(rows_s) * len(rows_p), at_risk_count=len(at_risk),
        slow_mover_count=len(slow), state_counts=counts, rules=state_rules(window_label),
        at_risk=[i[1] for i in at_risk[:at_risk_take]], slow_movers=[i[1] for i in slow[:slow_take]],
        meta=list_meta(at_risk_take + slow_take, total=total, notes=[note, cut]),
    )
