"""Measure sums per group, for any 1-3 dimensions, from the cube and (for partial months) order_items.

The cube is store x month x (nothing | category | product) x measure. A question's dimensions map onto
those axes: `store` onto stores, `year`/`quarter`/`month` onto months, `category`/`product_type`/`product`
onto the item axis (products carry their type and category, so product-type and SKU filters work from the
product grain). Each axis is collapsed to its groups with a 0/1 matrix, so one `einsum` answers the
question whatever the combination.

Orders are the one measure that does not add up across items: an order with lines in two categories is
one order, but counts once in each category. The cube therefore answers `orders` exactly only when each
group covers every item, one whole category or one product; otherwise the distinct orders are counted
from the order lines themselves, and `source` says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from zava_core.analysis import rollups
from zava_core.analysis.cube import M, SalesCube
from zava_core.analysis.rollups import RollupAccumulator
from zava_core.analysis.window import Window, after
from zava_core.context import Zava
from zava_core.directory import ReferenceSnapshot
from zava_core.errors import InvalidArgument, echo
from zava_core.scope import Scope

DIMENSIONS = ("store", "category", "product_type", "product", "year", "quarter", "month")
TIME_DIMENSIONS = ("year", "quarter", "month")
ITEM_DIMENSIONS = ("category", "product_type", "product")
Key = tuple[str, ...]
EDGE_PROJECTION = {"order_id": 1, "store_id": 1, "order_date": 1, "category_id": 1, "product_id": 1, "sku": 1,
                   "quantity": 1, "unit_price": 1, "unit_cost": 1, "discount_percent": 1, "discount_amount": 1,
                   "total_amount": 1}
ORDER_PROJECTION = {"_id": 0, "order_id": 1, "store_id": 1, "order_date": 1, "product_id": 1, "category_id": 1,
                    "sku": 1, "quantity": 1}


@dataclass(frozen=True)
class Filters:
    store_ids: list[str]
    category_ids: list[str] | None
    type_ids: list[str] | None
    skus: list[str] | None
    product_ids: frozenset[str]  # every product passing the item filters (all products without any)

    @property
    def product_level(self) -> bool:
        return bool(self.type_ids or self.skus)


def type_id(reference: ReferenceSnapshot, name: str) -> str:
    """Resolve a product type by id or name, any case (`drills`, `DRILLS`, `ptype_drills`)."""
    wanted = " ".join(str(name).lower().replace("_", " ").split())
    for tid, doc in reference.types.items():
        if wanted in {doc["type_name"].lower(), tid.replace("_", " "), tid.removeprefix("ptype_").replace("_", " ")}:
            return tid
    valid = ", ".join(sorted(d["type_name"] for d in reference.types.values()))
    raise InvalidArgument(f"unknown product type {echo(name)}; use one of: {valid}")


def resolve_filters(reference: ReferenceSnapshot, scope: Scope, stores: Sequence[str] | None = None,
                    categories: Sequence[str] | None = None, product_types: Sequence[str] | None = None,
                    skus: Sequence[str] | None = None) -> Filters:
    """Names to ids; a store outside the caller's scope is refused, never dropped silently."""
    if stores:
        store_ids = sorted({sid for name in stores for sid in scope.stores(name, reference.stores)})
    else:
        store_ids = sorted(scope.store_ids)
    category_ids = sorted({reference.category_id(c) for c in categories}) if categories else None
    type_ids = sorted({type_id(reference, t) for t in product_types}) if product_types else None
    sku_list = sorted({reference.product_by_sku(s)["sku"] for s in skus}) if skus else None
    products = frozenset(
        pid for pid, p in reference.products.items()
        if (category_ids is None or p["category_id"] in category_ids)
        and (type_ids is None or p["type_id"] in type_ids) and (sku_list is None or p["sku"] in sku_list))
    if (categories or product_types or skus) and not products:
        raise InvalidArgument("no product matches these categories, product types and SKUs together")
    return Filters(store_ids, category_ids, type_ids, sku_list, products)


def validate_dimensions(group_by: str | Sequence[str], max_dimensions: int) -> tuple[str, ...]:
    dims = (group_by,) if isinstance(group_by, str) else tuple(group_by)
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown or not dims:
        raise InvalidArgument(f"group_by must be one of {', '.join(DIMENSIONS)} (or a list of up to "
                              f"{max_dimensions} of them)")
    if len(dims) > max_dimensions or len(set(dims)) != len(dims):
        raise InvalidArgument(f"group_by takes up to {max_dimensions} different dimensions, got {list(dims)}")
    return dims


def item_level(dims: Iterable[str], filters: Filters) -> str:
    """Which array answers: 'product', 'category' or 'none' (order-level totals)."""
    dims = set(dims)
    if dims & {"product", "product_type"} or filters.product_level:
        return "product"
    if "category" in dims or filters.category_ids:
        return "category"
    return "none"


def orders_exact(dims: Sequence[str], filters: Filters) -> bool:
    """Whether the cube's `orders` are distinct orders for every group of this question."""
    level = item_level(dims, filters)
    if level == "none":
        return True
    if level == "category":
        return "category" in dims or len(filters.category_ids or ()) == 1
    return "product" in dims or len(filters.product_ids) == 1


# --- labels, the same for the cube and for order lines ------------------------------------------------


def time_label(month: str, dim: str) -> str:
    if dim == "year":
        return month[:4]
    if dim == "quarter":
        return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"
    return month


def item_label(reference: ReferenceSnapshot, dim: str, product_id: str | None, category_id: str) -> str:
    if dim == "category":
        return reference.categories[category_id]["category_name"]
    product = reference.products[product_id]
    return product["type_name"] if dim == "product_type" else f"{product['sku']} {product['product_name']}"


def _axis_groups(keys: list[Key]) -> tuple[np.ndarray, list[Key]]:
    """A 0/1 matrix (groups x positions) collapsing an axis, and each group's key."""
    distinct = list(dict.fromkeys(keys))
    where = {key: g for g, key in enumerate(distinct)}
    matrix = np.zeros((len(distinct), len(keys)))
    matrix[[where[k] for k in keys], range(len(keys))] = 1.0
    return matrix, distinct


def reduce(cube: SalesCube, dims: Sequence[str], filters: Filters, months: slice,
           reference: ReferenceSnapshot) -> dict[Key, np.ndarray]:
    """{group key (labels in `dims` order): measure vector} over the selected stores, months and items."""
    level = item_level(dims, filters)
    month_list = cube.months[months]
    stores = [cube.store_index[s] for s in filters.store_ids if s in cube.store_index]
    if not month_list or not stores:
        return {}
    store_dims = [d for d in dims if d == "store"]
    time_dims = [d for d in dims if d in TIME_DIMENSIONS]
    item_dims = [d for d in dims if d in ITEM_DIMENSIONS]
    store_keys = [tuple(reference.stores.get(cube.stores[s]).store_name for _ in store_dims) for s in stores]
    month_keys = [tuple(time_label(m, d) for d in time_dims) for m in month_list]
    positions = np.arange(months.start, months.start + len(month_list))
    if level == "product":
        items = sorted(filters.product_ids & cube.product_index.keys())
        item_keys = [tuple(item_label(reference, d, p, reference.products[p]["category_id"]) for d in item_dims)
                     for p in items]
        block = cube.by_product[np.ix_(stores, positions, [cube.product_index[p] for p in items])]
    elif level == "category":
        items = [c for c in (filters.category_ids or cube.categories) if c in cube.category_index]
        item_keys = [tuple(item_label(reference, d, None, c) for d in item_dims) for c in items]
        block = cube.by_category[np.ix_(stores, positions, [cube.category_index[c] for c in items])]
    else:
        item_keys = [()]
        block = cube.totals[np.ix_(stores, positions)][:, :, None, :]
    if block.size == 0:
        return {}
    s_matrix, s_groups = _axis_groups(store_keys)
    m_matrix, m_groups = _axis_groups(month_keys)
    i_matrix, i_groups = _axis_groups(item_keys)
    summed = np.einsum("as,bm,ci,smik->abck", s_matrix, m_matrix, i_matrix, block, optimize=True)
    out: dict[Key, np.ndarray] = {}
    for a, b, c in zip(*np.nonzero(summed[..., M["lines"]]), strict=True):
        labels = dict(zip(store_dims, s_groups[a], strict=True)) | dict(zip(time_dims, m_groups[b], strict=True)) \
            | dict(zip(item_dims, i_groups[c], strict=True))
        out[tuple(labels[d] for d in dims)] = summed[a, b, c]
    return out


def merge(*parts: dict[Key, np.ndarray]) -> dict[Key, np.ndarray]:
    out: dict[Key, np.ndarray] = {}
    for part in parts:
        for key, vector in part.items():
            out[key] = out[key] + vector if key in out else vector.copy()
    return out


# --- order lines: partial months, and distinct orders ---------------------------------------------------


async def read_lines(zava: Zava, store_ids: list[str], ranges: Iterable[tuple[str, str]],
                     projection: dict) -> list[dict]:
    """Order lines in [lo, hi) per store, net of cancellations and returns as the rollup is: one indexed
    range query per store and range, and the same range of orders for those that were adjusted."""
    c = zava.collections
    lines: list[dict] = []
    adjusted: dict[str, dict] = {}
    for store_id in store_ids:
        for lo, hi in ranges:
            # The process's own read: `store_ids` were checked against the caller's scope (`Filters`).
            query = c.order_items.unscoped(store_id=store_id, order_date={"$gte": lo, "$lt": hi})
            lines += await c.order_items.find(query, projection).to_list()
            adjusted |= await rollups.adjusted_orders(c.orders, query)
    return rollups.net_lines(lines, adjusted)


DAY_START, DAY_END = "T00:00:00Z", "T23:59:59Z"


def whole_days(lo: str, hi: str) -> tuple[str, str] | None:
    """The first and last day of a [lo, hi) edge when it is made of whole days (what `sales_daily` answers),
    else None (a range given to the second: read from the lines)."""
    if not lo.endswith(DAY_START):
        return None
    if hi.endswith(DAY_START):
        last = (date.fromisoformat(hi[:10]) - timedelta(days=1)).isoformat()
    elif hi == after(hi[:10] + DAY_END):
        last = hi[:10]
    else:
        return None
    return lo[:10], last


async def read_days(zava: Zava, store_ids: list[str], days: Iterable[tuple[str, str]]) -> list[dict]:
    """`sales_daily` cells of these stores (checked against the caller's scope: `Filters`) and day ranges
    (inclusive): held in memory once read while the feed delivers (`day_cells`), else one indexed range read per
    store and range."""
    return await zava.day_cells.read(store_ids, days)


def day_cube(reference: ReferenceSnapshot, cells: list[dict]) -> SalesCube:
    """Day cells summed per store and month into a cube of their own (an order is in one day: every measure,
    orders included, adds up across days)."""
    months: dict[str, dict] = {}
    for cell in cells:
        key = f"{cell['store_id']}|{cell['month']}"
        target = months.setdefault(key, {"_id": key, "store_id": cell["store_id"], "month": cell["month"],
                                         "totals": {}, "categories": {}, "products": {}})
        _add_figures(target["totals"], cell.get("totals", {}))
        for part in ("categories", "products"):
            for item, figures in cell.get(part, {}).items():
                _add_figures(target[part].setdefault(item, {}), figures)
    cube = SalesCube(reference.stores.ids, sorted(reference.categories), sorted(reference.products))
    cube.put(list(months.values()))
    return cube


def _add_figures(into: dict, figures: dict) -> None:
    for measure, value in figures.items():
        into[measure] = into.get(measure, 0) + value


def edge_cube(reference: ReferenceSnapshot, lines: list[dict]) -> SalesCube:
    """Order lines summed into a cube of their own with the rollup's arithmetic (`RollupAccumulator`)."""
    orders: dict[str, list[dict]] = {}
    for line in lines:
        orders.setdefault(line["order_id"], []).append(line)
    accumulator = RollupAccumulator()
    for order_lines in orders.values():
        accumulator.add_order(order_lines)
    cube = SalesCube(reference.stores.ids, sorted(reference.categories), sorted(reference.products))
    cube.put(accumulator.documents(updated_at=""))
    return cube


def distinct_orders(lines: list[dict], dims: Sequence[str], filters: Filters,
                    reference: ReferenceSnapshot) -> dict[Key, int]:
    """Distinct order ids per group key, from order lines (what the cube cannot sum across items)."""
    seen: dict[Key, set[str]] = {}
    stores = set(filters.store_ids)
    for line in lines:
        if line["store_id"] not in stores or line["product_id"] not in filters.product_ids:
            continue
        key = tuple(_line_label(reference, d, line) for d in dims)
        seen.setdefault(key, set()).add(line["order_id"])
    return {key: len(ids) for key, ids in seen.items()}


def _line_label(reference: ReferenceSnapshot, dim: str, line: dict) -> str:
    if dim == "store":
        return reference.stores.get(line["store_id"]).store_name
    if dim in TIME_DIMENSIONS:
        return time_label(line["order_date"][:7], dim)
    return item_label(reference, dim, line["product_id"], line["category_id"])


@dataclass
class Measured:
    groups: list[dict[Key, np.ndarray]]  # one per dimension set asked for
    source: str


async def measure(zava: Zava, reference: ReferenceSnapshot, cube: SalesCube, window: Window, filters: Filters,
                  dim_sets: Sequence[Sequence[str]], needs_orders: bool) -> Measured:
    """Each dimension set's groups over the window: whole months from the cube, partial months from
    order_items (read once for every set), and distinct orders from order_items where the cube cannot."""
    full = cube.month_slice(window.full_first, window.full_last) if window.full_first else slice(0, 0)
    edges = []
    day_ranges = [whole_days(lo, hi) for lo, hi in window.edges]
    if any(days is not None for days in day_ranges):
        edges.append(day_cube(reference, await read_days(zava, filters.store_ids, [d for d in day_ranges if d])))
    to_the_second = [edge for edge, days in zip(window.edges, day_ranges, strict=True) if days is None]
    if to_the_second:
        edges.append(edge_cube(reference, await read_lines(zava, filters.store_ids, to_the_second, EDGE_PROJECTION)))
    groups = []
    for dims in dim_sets:
        parts = [reduce(cube, dims, filters, full, reference)]
        parts += [reduce(edge, dims, filters, edge.month_slice(None, None), reference) for edge in edges]
        groups.append(merge(*parts))
    sources = ["rollup sales_monthly"] if window.full_first is not None else []
    if any(day_ranges):
        sources.append("sales_daily" if window.full_first is None else "sales_daily for partial months")
    if to_the_second:
        sources.append("order_items for ranges within a day")
    source = " + ".join(sources)
    inexact = [i for i, dims in enumerate(dim_sets) if not orders_exact(dims, filters)]
    if needs_orders and inexact:
        lines = await read_lines(zava, filters.store_ids, [(window.start, after(window.end))], ORDER_PROJECTION)
        for i in inexact:
            counts = distinct_orders(lines, dim_sets[i], filters, reference)
            for key, vector in groups[i].items():
                vector[M["orders"]] = counts.get(key, 0)
        source += "; distinct orders counted from order_items"
    return Measured(groups, source)
