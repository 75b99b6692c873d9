"""One set of questions, each asked both ways: our MCP tool, and the SQL the original would run.

The original's customer-sales server has `get_products_by_name` (its SQL is copied below as it is);
everything else it answers through `execute_sales_query`, SQL an agent writes against the schema.
That SQL is written here as such an agent would: plain joins over `retail.order_items` and
`retail.orders`, grouped, no rollups. Each question says whose identity asks: head office (the
original's super-manager id) or the Seattle store manager (row-level security on the original's
side, our store scope on ours).

Both answers are reduced to {row key: {field: value}} for `compare.mismatches`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.peer.convert import order_key
from seeding.generate import Generator

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
Canonical = dict[str, dict[str, object]]
Call = tuple[str, dict]  # (tool, arguments)
TREND_FIELDS = ("revenue", "units", "orders", "change_percent")

# --- the original's SQL ------------------------------------------------------------------------------

# customer_sales_postgres.py: get_products_by_name, verbatim but for whitespace.
PRODUCTS_BY_NAME = """
SELECT p.product_name, pt.type_name, c.category_name, p.base_price as price, SUM(i.stock_level) AS total_stock
FROM retail.products p
JOIN retail.product_types pt ON p.type_id = pt.type_id
JOIN retail.categories c ON p.category_id = c.category_id
JOIN retail.inventory i ON p.product_id = i.product_id
WHERE product_name ILIKE $1 OR product_description ILIKE $1
GROUP BY p.product_name, pt.type_name, c.category_name, p.base_price
ORDER BY p.product_name
LIMIT $2;
"""

INVENTORY_FOR_SKU = """
SELECT s.store_name, i.stock_level
FROM retail.inventory i
JOIN retail.products p ON p.product_id = i.product_id
JOIN retail.stores s ON s.store_id = i.store_id
WHERE p.sku = $1
ORDER BY s.store_name
"""

CUSTOMER_ORDERS = """
SELECT o.order_id, o.order_date, s.store_name, COUNT(*) AS lines, SUM(oi.quantity) AS units,
       SUM(oi.total_amount) AS total
FROM retail.orders o
JOIN retail.order_items oi ON oi.order_id = o.order_id
JOIN retail.stores s ON s.store_id = o.store_id
WHERE o.customer_id = $1
GROUP BY o.order_id, o.order_date, s.store_name
ORDER BY o.order_date DESC, o.order_id DESC
LIMIT $2
"""

LINES = """
FROM retail.order_items oi
JOIN retail.orders o ON o.order_id = oi.order_id
JOIN retail.stores s ON s.store_id = oi.store_id
JOIN retail.products p ON p.product_id = oi.product_id
JOIN retail.product_types pt ON pt.type_id = p.type_id
JOIN retail.categories c ON c.category_id = p.category_id
"""
QUARTER = "to_char(o.order_date, 'YYYY') || '-Q' || EXTRACT(QUARTER FROM o.order_date)"


def _between(start: str, end: str) -> str:
    return f"o.order_date BETWEEN '{start}' AND '{end}'"


def grouped_sql(groups: Sequence[str], measure: str, where: str = "TRUE", order: str = "value DESC",
                limit: str = "") -> str:
    keys = ", ".join(f"{g} AS g{i}" for i, g in enumerate(groups))
    by = ", ".join(str(i + 1) for i in range(len(groups)))
    return f"SELECT {keys}, {measure} AS value {LINES} WHERE {where} GROUP BY {by} ORDER BY {order} {limit}"


REVENUE = "SUM(oi.total_amount)"
UNITS = "SUM(oi.quantity)"
ORDERS = "COUNT(DISTINCT oi.order_id)"
AOV = "SUM(oi.total_amount) / COUNT(DISTINCT oi.order_id)"
MARGIN = "(SUM(oi.total_amount) - SUM(p.cost * oi.quantity)) / SUM(oi.total_amount) * 100"


def trend_sql(where: str = "TRUE") -> str:
    return f"""
WITH t AS (SELECT to_char(o.order_date, 'YYYY-MM') AS period, {REVENUE} AS revenue, {UNITS} AS units,
                  {ORDERS} AS orders
           {LINES} WHERE {where} GROUP BY 1)
SELECT period, revenue, units, orders,
       (revenue - LAG(revenue) OVER w) / NULLIF(LAG(revenue) OVER w, 0) * 100 AS change_percent
FROM t WINDOW w AS (ORDER BY period) ORDER BY period"""


# Like with like, as our sales_trend compares: the year in progress against the same dates a year before.
YEARLY_YOY = f"""
WITH cur AS (SELECT EXTRACT(YEAR FROM o.order_date)::int AS year, {REVENUE} AS revenue {LINES} GROUP BY 1),
     prev AS (SELECT EXTRACT(YEAR FROM o.order_date)::int + 1 AS year, {REVENUE} AS revenue
              {LINES} WHERE o.order_date <= current_date - interval '1 year' GROUP BY 1)
SELECT cur.year::text AS period, cur.revenue,
       (cur.revenue - prev.revenue) / NULLIF(prev.revenue, 0) * 100 AS yoy_percent
FROM cur LEFT JOIN prev USING (year) ORDER BY 1"""


def quarterly_yoy_sql(year: int) -> str:
    return f"""
WITH q AS (SELECT {QUARTER} AS period, {REVENUE} AS revenue
           {LINES} WHERE {_between(f"{year - 1}-01-01", f"{year}-12-31")} GROUP BY 1)
SELECT cur.period, cur.revenue, (cur.revenue - prev.revenue) / NULLIF(prev.revenue, 0) * 100 AS yoy_percent
FROM q cur LEFT JOIN q prev ON prev.period = '{year - 1}' || substr(cur.period, 5)
WHERE cur.period LIKE '{year}-%' ORDER BY cur.period"""


SEASONAL = f"""
WITH m AS (SELECT EXTRACT(MONTH FROM o.order_date)::int AS month, {REVENUE} AS revenue
           {LINES} WHERE c.category_name = $1 AND o.order_date < date_trunc('year', current_date) GROUP BY 1)
SELECT month, revenue, revenue / AVG(revenue) OVER () AS index FROM m ORDER BY month"""


# --- questions ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    name: str
    group: str  # lookup | analysis
    store: str | None  # None: head office; else the store key whose manager asks
    server: str  # customer_sales | sales_analysis
    calls: tuple[Call, ...]  # ours: usually one tool call
    sql: str
    params: tuple = ()
    ours: Callable[[list[dict]], Canonical] = field(default=lambda results: {})
    theirs: Callable[[list[Mapping]], Canonical] = field(default=lambda rows: {})
    note: str = ""

    @property
    def identity(self) -> str:
        return "head office" if self.store is None else f"{self.store.title()} manager"


@dataclass(frozen=True)
class Sample:
    """What the lookups ask about, picked from the generated dataset."""

    sku: str
    customer: int  # head office asks about this customer (more orders than the page shows)
    seattle_customer: int  # a Seattle customer who also shops elsewhere
    garden: str  # category names as the dataset spells them
    power_tools: str
    store_names: tuple[str, ...]


def pick_sample(generator: Generator) -> Sample:
    orders = Counter(plan.customer for plan in generator.order_plans)
    stores: dict[int, set[int]] = {}
    for plan in generator.order_plans:
        stores.setdefault(plan.customer, set()).add(plan.store)
    home = generator.customer_plans
    busy = next(c for c, n in sorted(orders.items()) if n > 10)
    seattle_index = next(i for i, s in enumerate(generator.stores) if s.key == "seattle")
    seattle = next(c for c in sorted(stores)
                   if home[c].home_store == seattle_index and len(stores[c]) > 1 and orders[c] >= 3)
    categories = [c["category_name"] for c in generator.category_documents()]
    return Sample(sku=generator.product_documents()[17]["sku"], customer=busy + 1, seattle_customer=seattle + 1,
                  garden=next(c for c in categories if "garden" in c.lower()),
                  power_tools=next(c for c in categories if "power" in c.lower()),
                  store_names=tuple(s["store_name"] for s in generator.store_documents()))


def _keyed(rows: Sequence[Mapping], key: Callable[[Mapping], str], fields: Mapping[str, str]) -> Canonical:
    return {key(r): {ours: r[theirs] for ours, theirs in fields.items()} for r in rows}


def summary_arguments(new_shape: bool, group_by: Sequence[str], metric: str, **rest: object) -> dict:
    """sales_summary's arguments in the contract this build serves (metric names as in the new contract)."""
    if new_shape:
        return {"group_by": list(group_by), "metrics": [metric], **rest}
    if len(group_by) != 1:
        raise ValueError("this build's sales_summary groups by one dimension")
    return {"group_by": group_by[0], "metric": {"gross_margin_percent": "gross_margin"}.get(metric, metric), **rest}


def summary_canonical(results: Sequence[dict], metric: str, prefix: Sequence[str] = ()) -> Canonical:
    """{group key: {metric: value}} from sales_summary results of either shape (several calls: one prefix each)."""
    out: Canonical = {}
    for i, result in enumerate(results):
        for row in result["rows"]:
            if isinstance(row.get("group"), dict):  # the new shape: group and values are maps
                parts = [str(row["group"][g]) for g in result["group_by"]]
                value = row["values"][metric]
            else:
                parts, value = [str(row["group"])], row["value"]
            if result["group_by"] in ("product", ["product"]):
                parts = [parts[0].split(" ")[0]]  # "SKU name": the SKU is the key
            out["|".join([*prefix[i:i + 1], *parts])] = {metric: value}
    return out


def grouped_canonical(rows: Sequence[Mapping], metric: str) -> Canonical:
    # Record.keys(): iterating an asyncpg Record yields its values, not its column names.
    return {"|".join(str(r[k]) for k in r.keys() if k.startswith("g")): {metric: r["value"]}  # noqa: SIM118
            for r in rows}


def trend_canonical(results: Sequence[dict], fields: Sequence[str]) -> Canonical:
    return {p["period"]: {f: p[f] for f in fields} for p in results[0]["points"]}


def build(sample: Sample, new_shape: bool) -> list[Question]:
    s = summary_arguments
    y25, y24 = _between("2025-01-01", "2025-12-31"), _between("2024-01-01", "2024-12-31")

    def summary(name: str, group_by: list[str], metric: str, sql: str, store: str | None = None,
                **arguments: object) -> Question:
        return Question(name, "analysis", store, "sales_analysis",
                        (("sales_summary", s(new_shape, group_by, metric, **arguments)),), sql,
                        ours=lambda r, m=metric: summary_canonical(r, m),
                        theirs=lambda rows, m=metric: grouped_canonical(rows, m))

    products = lambda r: {p["product_name"]: {"price": p["price"], "stock": p["stock_units"]}  # noqa: E731
                          for p in r[0]["products"]}
    products_pg = lambda rows: _keyed(rows, lambda r: r["product_name"], {"price": "price", "stock": "total_stock"})  # noqa: E731
    stock = lambda r: {x["store_name"]: {"stock": x["stock_level"]} for x in r[0]["stores"]}  # noqa: E731
    stock_pg = lambda rows: _keyed(rows, lambda r: r["store_name"], {"stock": "stock_level"})  # noqa: E731

    def orders(r: list[dict]) -> Canonical:
        return {o["order_id"]: {"date": o["order_date"][:10], "store": o["store_name"], "lines": len(o["lines"]),
                                "units": sum(ln["quantity"] for ln in o["lines"]), "total": o["total"]}
                for o in r[0]["orders"]}

    def orders_pg(rows: Sequence[Mapping]) -> Canonical:
        return {order_key(r["order_id"]): {"date": r["order_date"].isoformat(), "store": r["store_name"],
                                           "lines": r["lines"], "units": r["units"], "total": r["total"]}
                for r in rows}

    cid = lambda n: f"cust_{n:06d}"  # noqa: E731
    questions = [
        Question("product by name ('drill')", "lookup", None, "customer_sales",
                 (("get_products_by_name", {"product_name": "drill", "max_rows": 100}),), PRODUCTS_BY_NAME,
                 ("%drill%", 100), products, products_pg),
        Question("product by name ('paint')", "lookup", "seattle", "customer_sales",
                 (("get_products_by_name", {"product_name": "paint", "max_rows": 100}),), PRODUCTS_BY_NAME,
                 ("%paint%", 100), products, products_pg),
        Question(f"inventory for a SKU ({sample.sku})", "lookup", None, "customer_sales",
                 (("get_inventory", {"sku": sample.sku}),), INVENTORY_FOR_SKU, (sample.sku,), stock, stock_pg),
        Question(f"inventory for a SKU ({sample.sku})", "lookup", "seattle", "customer_sales",
                 (("get_inventory", {"sku": sample.sku}),), INVENTORY_FOR_SKU, (sample.sku,), stock, stock_pg),
        Question("a customer's last 10 orders", "lookup", None, "customer_sales",
                 (("get_customer_orders", {"customer_id": cid(sample.customer), "max_rows": 10}),), CUSTOMER_ORDERS,
                 (sample.customer, 10), orders, orders_pg),
        Question("a customer's orders at the store", "lookup", "seattle", "customer_sales",
                 (("get_customer_orders", {"customer_id": cid(sample.seattle_customer), "max_rows": 10}),),
                 CUSTOMER_ORDERS, (sample.seattle_customer, 10), orders, orders_pg),
        summary("revenue by store, all time", ["store"], "revenue", grouped_sql(["s.store_name"], REVENUE)),
        summary("revenue by category, 2025", ["category"], "revenue", grouped_sql(["c.category_name"], REVENUE, y25),
                start_date="2025-01-01", end_date="2025-12-31"),
        summary("top 10 products by units", ["product"], "units",
                grouped_sql(["p.sku"], UNITS, order='value DESC, p.sku COLLATE "C"', limit="LIMIT 10"), top_n=10),
        Question("monthly trend, all time", "analysis", None, "sales_analysis", (("sales_trend", {"period": "month"}),),
                 trend_sql(), ours=lambda r: trend_canonical(r, TREND_FIELDS),
                 theirs=lambda rows: _keyed(rows, lambda r: r["period"], {f: f for f in TREND_FIELDS})),
        Question("year over year, by year", "analysis", None, "sales_analysis", (("sales_trend", {"period": "year"}),),
                 YEARLY_YOY, ours=lambda r: trend_canonical(r, ("revenue", "yoy_percent")),
                 theirs=lambda rows: _keyed(rows, lambda r: r["period"], {"revenue": "revenue",
                                                                         "yoy_percent": "yoy_percent"})),
        Question("year over year, 2025 by quarter", "analysis", None, "sales_analysis",
                 (("sales_trend", {"period": "quarter", "start_date": "2025-01-01", "end_date": "2025-12-31"}),),
                 quarterly_yoy_sql(2025), ours=lambda r: trend_canonical(r, ("revenue", "yoy_percent")),
                 theirs=lambda rows: _keyed(rows, lambda r: r["period"], {"revenue": "revenue",
                                                                         "yoy_percent": "yoy_percent"})),
        Question(f"seasonality of {sample.garden.lower()}", "analysis", None, "sales_analysis",
                 (("seasonal_profile", {"category": sample.garden}),), SEASONAL, (sample.garden,),
                 ours=lambda r: {m["month"]: {"revenue": m["revenue"], "index": m["index"]} for m in r[0]["months"]},
                 theirs=lambda rows: {MONTH_NAMES[r["month"] - 1]: {"revenue": r["revenue"], "index": r["index"]}
                                      for r in rows}),
        two_dimensions(sample, new_shape, y25),
        summary("gross margin % by category", ["category"], "gross_margin_percent",
                grouped_sql(["c.category_name"], MARGIN)),
        summary("average order value by store, 2024", ["store"], "average_order_value",
                grouped_sql(["s.store_name"], AOV, y24), start_date="2024-01-01", end_date="2024-12-31"),
        summary("orders by store, 2025", ["store"], "orders", grouped_sql(["s.store_name"], ORDERS, y25),
                start_date="2025-01-01", end_date="2025-12-31"),
        summary("revenue by quarter, 2025-03-15..2025-08-10", ["quarter"], "revenue",
                grouped_sql([QUARTER], REVENUE, _between("2025-03-15", "2025-08-10")),
                start_date="2025-03-15", end_date="2025-08-10"),
        summary(f"units by product type, {sample.power_tools.lower()}, 2025", ["product_type"], "units",
                grouped_sql(["pt.type_name"], UNITS, f"{y25} AND c.category_name = '{sample.power_tools}'"),
                start_date="2025-01-01", end_date="2025-12-31", categories=[sample.power_tools], top_n=100),
        summary("revenue by category, 2025", ["category"], "revenue", grouped_sql(["c.category_name"], REVENUE, y25),
                store="seattle", start_date="2025-01-01", end_date="2025-12-31"),
    ]
    return questions


def two_dimensions(sample: Sample, new_shape: bool, where: str) -> Question:
    """Revenue by store and category: one call in the new contract, one call per store before it."""
    sql = grouped_sql(["s.store_name", "c.category_name"], REVENUE, where)
    dates = {"start_date": "2025-01-01", "end_date": "2025-12-31"}
    if new_shape:
        calls: tuple[Call, ...] = (("sales_summary", summary_arguments(True, ["store", "category"], "revenue",
                                                                       top_n=100, **dates)),)
        return Question("revenue by store x category, 2025", "analysis", None, "sales_analysis", calls, sql,
                        ours=lambda r: summary_canonical(r, "revenue"),
                        theirs=lambda rows: grouped_canonical(rows, "revenue"))
    calls = tuple(("sales_summary", summary_arguments(False, ["category"], "revenue", stores=[name], top_n=100,
                                                      **dates)) for name in sample.store_names)
    return Question("revenue by store x category, 2025", "analysis", None, "sales_analysis", calls, sql,
                    ours=lambda r: summary_canonical(r, "revenue", prefix=sample.store_names),
                    theirs=lambda rows: grouped_canonical(rows, "revenue"),
                    note=f"{len(calls)} sales_summary calls (one per store): this build groups by one dimension")
