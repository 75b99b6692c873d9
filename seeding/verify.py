"""`python -m seeding verify`: the dataset's statistics beside the reference figures of docs/dataset.md.

It reads the documents themselves (streamed, projected to the fields it needs), not the rollups,
so it also catches a rollup or loader bug. Exit code 1 when any figure is outside its tolerance.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

from seeding import figures as ref
from seeding.catalog_loader import load_catalog
from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.model import MONTHS, STATE_ID, ids
from zava_core.store import Collections


@dataclass(frozen=True)
class Check:
    name: str
    actual: str
    target: str
    ok: bool


def _near(name: str, actual: float, target: float, tolerance: float, fmt: str = "{:,.2f}") -> Check:
    """Within a relative tolerance of the target."""
    ok = abs(actual - target) <= tolerance * abs(target)
    return Check(name, fmt.format(actual), f"{fmt.format(target)} ±{tolerance:.0%}", ok)


async def collect_checks(c: Collections) -> list[Check]:
    state = await c.meta.find_one({"_id": STATE_ID})
    if not state:
        return [Check("dataset present", "no seeding record", "run python -m seeding first", False)]
    params = state["params"]
    as_of = date.fromisoformat(params["as_of"])
    customers_expected = ref.SCALES[params["scale"]]
    catalog = load_catalog()
    checks: list[Check] = [Check("seeding finished", state.get("status", "?"), "complete",
                                 state.get("status") == "complete")]

    exact = {"stores": len(ref.STORES), "categories": len(catalog.categories), "product_types": len(catalog.types),
             "products": len(catalog.products), "inventory": len(ref.STORES) * len(catalog.products),
             "customers": customers_expected}
    for name, expected in exact.items():
        count = await c[name].count_documents(c[name].unscoped())
        checks.append(Check(f"{name} count", f"{count:,}", f"{expected:,}", count == expected))

    weights = {ids.store_id(s.key): s.customer_weight for s in ref.STORES}
    homes: Counter[str] = Counter()
    async for doc in c.customers.find(c.customers.unscoped(), {"primary_store_id": 1, "_id": 0}):
        homes[doc["primary_store_id"]] += 1
    n_customers = sum(homes.values()) or 1
    for store, weight in weights.items():
        share, target = homes[store] / n_customers, weight / sum(weights.values())
        checks.append(Check(f"home-store share {ids.store_key(store)}", f"{share:.1%}", f"{target:.1%} ±3pp",
                            abs(share - target) <= 0.03))

    orders_by_year: Counter[int] = Counter()
    home_orders = n_orders = 0
    latest = ""
    home_of = {}
    async for doc in c.customers.find(c.customers.unscoped(), {"primary_store_id": 1}):
        home_of[doc["_id"]] = doc["primary_store_id"]
    async for o in c.orders.find(c.orders.unscoped(), {"order_date": 1, "store_id": 1, "customer_id": 1, "_id": 0}):
        n_orders += 1
        orders_by_year[int(o["order_date"][:4])] += 1
        home_orders += home_of.get(o["customer_id"]) == o["store_id"]
        latest = max(latest, o["order_date"])
    home_of.clear()
    checks.append(_near("orders per customer", n_orders / n_customers, 3.95, 0.05))
    checks.append(Check("latest order before as-of", latest, f"< {as_of}T00:00:00Z", latest < f"{as_of}T00:00:00Z"))
    checks.append(Check("orders at the home store", f"{home_orders / max(n_orders, 1):.1%}", "70-80%",
                        0.70 <= home_orders / max(n_orders, 1) <= 0.80))
    full_years = [y for y in sorted(orders_by_year) if y < as_of.year]
    # About 1,100 orders a year at `small`: a year's count carries ~3% noise, a ratio of two ~5%.
    year_tolerance = 0.12 if params["scale"] == "small" else 0.05
    for year in full_years[1:]:
        ratio = orders_by_year[year] / orders_by_year[full_years[0]]
        target = ref.year_weight(year) / ref.year_weight(full_years[0])
        checks.append(_near(f"orders {year} / {full_years[0]}", ratio, target, year_tolerance, "{:.3f}"))
    # The dip is 5 %; at `small` (~1,100 orders a year) that is within noise, so it is checked from `default` up.
    if 2022 in orders_by_year and 2023 in full_years and params["scale"] != "small":
        checks.append(Check("the 2023 dip", f"{orders_by_year[2023]:,} vs {orders_by_year[2022]:,} in 2022",
                            "2023 < 2022", orders_by_year[2023] < orders_by_year[2022]))

    lines = units = 0
    revenue = gross = cost = 0.0
    discounted = 0
    by_category_month: dict[str, list[float]] = defaultdict(lambda: [0.0] * 12)
    lines_by_category_month: dict[str, list[float]] = defaultdict(lambda: [0.0] * 12)
    projection = {"quantity": 1, "total_amount": 1, "unit_price": 1, "unit_cost": 1, "discount_percent": 1,
                  "category_id": 1, "order_date": 1, "_id": 0}
    async for item in c.order_items.find(c.order_items.unscoped(), projection):
        lines += 1
        units += item["quantity"]
        revenue += item["total_amount"]
        gross += item["unit_price"] * item["quantity"]
        cost += item["unit_cost"] * item["quantity"]
        discounted += item["discount_percent"] > 0
        if int(item["order_date"][:4]) < as_of.year:
            month = int(item["order_date"][5:7]) - 1
            by_category_month[item["category_id"]][month] += item["total_amount"]
            lines_by_category_month[item["category_id"]][month] += 1
    checks.append(_near("items per order", lines / max(n_orders, 1), 2.10, 0.04))
    checks.append(_near("quantity per line", units / max(lines, 1), 1.62, 0.04))
    checks.append(_near("share of lines discounted", discounted / max(lines, 1), ref.DISCOUNT_SHARE, 0.10, "{:.3f}"))
    checks.append(_near("gross margin before discounts %", (gross - cost) / max(gross, 1) * 100,
                        ref.GROSS_MARGIN * 100, 0.05))
    checks += _seasonality_checks(catalog, by_category_month, lines_by_category_month, params["scale"])

    stock: dict[str, list[int]] = defaultdict(list)
    async for inv in c.inventory.find(c.inventory.unscoped(), {"store_id": 1, "stock_level": 1, "_id": 0}):
        stock[inv["store_id"]].append(inv["stock_level"])
    for key, target in (("seattle", 2100), ("kirkland", 290)):
        levels = stock.get(ids.store_id(key), [0])
        checks.append(_near(f"mean stock per product {key}", sum(levels) / len(levels), target, 0.20, "{:,.0f}"))
    return checks


def _seasonality_checks(catalog, revenue: dict[str, list[float]], lines: dict[str, list[float]],
                        scale: str) -> list[Check]:
    """Volume follows each category's multipliers.

    Pooled over the nine categories (each profile divided by its mean) the correlation is steady at
    every scale (0.85-0.90 over 12 seeds at `small`). Per category it is not: ~130 lines per
    category-month at `small` leave the flattest profiles within noise (r from 0.04 to 0.62), so
    per-category correlation and revenue peaks are checked from `default` up.
    """
    checks: list[Check] = []
    xs: list[float] = []
    ys: list[float] = []
    for category in catalog.categories:
        counts = lines.get(category.category_id)
        if not counts or not sum(counts):
            continue
        multipliers = [category.seasonal_multipliers[m] for m in MONTHS]
        xs += [c / (sum(counts) / 12) for c in counts]
        ys += [m / (sum(multipliers) / 12) for m in multipliers]
        if scale != "small":
            r = _correlation(counts, multipliers)
            checks.append(Check(f"seasonality r {category.name.lower()}", f"{r:.2f}", ">= 0.5", r >= 0.5))
            monthly = revenue[category.category_id]
            peak = MONTHS[monthly.index(max(monthly))]
            busy = peak_months(category.seasonal_multipliers)
            checks.append(Check(f"revenue peak {category.name.lower()}", peak, "one of " + "/".join(busy),
                                peak in busy))
    pooled = _correlation(xs, ys) if xs else 0.0
    checks.insert(0, Check("seasonality r, all categories", f"{pooled:.2f}", ">= 0.7", pooled >= 0.7))
    return checks


PEAK_TOLERANCE = 0.20


def peak_months(multipliers: dict[str, float]) -> list[str]:
    """The months a category's revenue may peak in: its three highest multipliers, and any within 20 % of the
    highest.

    A category's revenue is a sum of heavy-tailed prices, and the months just below its peak are close behind
    it once the orders' own seasonality is mixed in, so "one of the top three" alone failed on 12 of 120
    generated `default` datasets (20 seeds, 12 as-of dates from 2025-02 to 2026-12: plumbing in May, electrical
    in June, hand tools in April). With the 20 % band none of the 120 failed, while a generator without
    per-category seasonality still fails 3-4 categories per dataset.
    """
    ranked = sorted(MONTHS, key=lambda m: -multipliers[m])
    highest = multipliers[ranked[0]]
    return [m for i, m in enumerate(ranked) if i < 3 or multipliers[m] >= (1 - PEAK_TOLERANCE) * highest]


def _correlation(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sx = sum((x - mx) ** 2 for x in xs) ** 0.5
    sy = sum((y - my) ** 2 for y in ys) ** 0.5
    return cov / (sx * sy) if sx and sy else 0.0


async def run_verify(settings: Settings, quiet: bool = False) -> int:
    client = await zdb.connect(settings)
    try:
        checks = await collect_checks(Collections(zdb.database(client, settings)))
    finally:
        await client.close()
    width = max(len(c.name) for c in checks)
    failed = [c for c in checks if not c.ok]
    for check in checks:
        if not quiet or not check.ok:
            print(f"{'ok  ' if check.ok else 'FAIL'}  {check.name:<{width}}  {check.actual:>22}  target {check.target}")
    print(f"{len(checks) - len(failed)} of {len(checks)} checks within tolerance"
          + (f"; {len(failed)} off: {', '.join(c.name for c in failed)}" if failed else ""))
    return 1 if failed else 0
