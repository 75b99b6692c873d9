"""Sales rollups: one small pre-aggregated collection that answers the analysis tools quickly.

A `$group` over the order history takes seconds on the embedded engine (15.7 s for the rollups
of the `small` scale), so analysis reads `sales_monthly` instead: one document per store and
month (about 660 at the default scale) holding

- `totals`: order-level figures (orders, revenue, gross, discount, cost, units, lines),
- `categories`: a map category_id -> the same figures (`orders` = orders with a line in it),
- `products`: a map product_id -> the same figures (a product appears once per order).

`order_increments` is the one code path for rollup arithmetic: seeding feeds every generated order
to `RollupAccumulator`; `create_order` applies the new order's increments as one `$inc` in the same
transaction that writes the order, so the rollup never drifts. Maps, not arrays, keep each
`$inc` atomic per key. The rollup lives in MongoDB only (never synced to devices). A test
recomputes it from order_items and compares.

The rollup is **net**: it holds each order's lines as they stand (`net_lines`), so a cancelled order
counts nothing and a returned unit is not sold. `cancel_order` and `return_items` apply the difference
between the order's net lines after and before (`apply_change`), through the same `order_increments`
that applied the sale; an order whose every unit came back no longer counts as an order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core.model import ROLLUPS, net_line, sales_cell_header, sales_cell_key
from zava_core.store import Collections, Handle, setup

SALES_MONTHLY = ROLLUPS[0].name
ROLLUP_COLLECTIONS = (SALES_MONTHLY,)
LINE_MEASURES = ("revenue", "gross", "discount", "cost", "units", "lines")
MEASURES = (*LINE_MEASURES, "orders")


def _line_measures(line: Mapping) -> dict[str, float]:
    return {
        "revenue": line["total_amount"], "gross": line["unit_price"] * line["quantity"],
        "discount": line["discount_amount"], "cost": line["unit_cost"] * line["quantity"],
        "units": line["quantity"], "lines": 1,
    }


def order_increments(lines: Iterable[Mapping]) -> dict[str, dict[str, float]]:
    """For one order's lines: {cell _id: {dotted field path: increment}}."""
    out: dict[str, dict[str, float]] = {}
    seen_categories: set[tuple[str, str]] = set()
    seen_orders: set[str] = set()
    for line in lines:
        key = sales_cell_key(line["store_id"], line["order_date"][:7])
        inc = out.setdefault(key, {})
        measures = _line_measures(line)
        category = line["category_id"]
        for measure, value in measures.items():
            for path in (f"totals.{measure}", f"categories.{category}.{measure}",
                         f"products.{line['product_id']}.{measure}"):
                inc[path] = inc.get(path, 0) + value
        inc[f"products.{line['product_id']}.orders"] = inc.get(f"products.{line['product_id']}.orders", 0) + 1
        if (key, category) not in seen_categories:
            seen_categories.add((key, category))
            inc[f"categories.{category}.orders"] = inc.get(f"categories.{category}.orders", 0) + 1
        if line["order_id"] not in seen_orders:
            seen_orders.add(line["order_id"])
            inc["totals.orders"] = inc.get("totals.orders", 0) + 1
    return out


class RollupAccumulator:
    """Sums many orders into `sales_monthly` documents in memory (seeding and rebuilds)."""

    def __init__(self) -> None:
        self.cells: dict[str, dict[str, float]] = {}

    def add_order(self, lines: Iterable[Mapping]) -> None:
        for key, inc in order_increments(lines).items():
            cell = self.cells.setdefault(key, {})
            for path, value in inc.items():
                cell[path] = cell.get(path, 0) + value

    def documents(self, updated_at: str) -> list[dict]:
        docs = []
        for key, cell in sorted(self.cells.items()):
            store_id, month = key.split("|")
            doc: dict = {"_id": key, **sales_cell_header(store_id, month), "totals": {}, "categories": {},
                         "products": {}, "updated_at": updated_at}
            for path, value in cell.items():
                target = doc
                *parents, leaf = path.split(".")
                for part in parents:
                    target = target.setdefault(part, {})
                target[leaf] = round(value, 2) if isinstance(value, float) else value
            docs.append(doc)
        return docs


def rounded(inc: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in inc.items()}


CANCELLED = "cancelled"


def is_adjusted(order: Mapping) -> bool:
    """Whether an order's lines no longer stand as sold (cancelled, or some units returned)."""
    return order.get("status") == CANCELLED or bool(order.get("returned_quantities"))


def order_net_lines(order: Mapping, lines: Iterable[Mapping]) -> list[dict]:
    """One order's lines net of its cancellation and returns (`model.net_line`)."""
    if order.get("status") == CANCELLED:
        return []
    returned = order.get("returned_quantities") or {}
    kept = (net_line(line, int(returned.get(line["sku"], 0))) for line in lines)
    return [line for line in kept if line is not None]


def net_lines(lines: Iterable[Mapping], adjusted: Mapping[str, Mapping]) -> list[dict]:
    """Order lines as they stand: `adjusted` maps order_id -> order header for the orders that were
    cancelled or had returns (others stand as sold). Read lines with `sku` and `quantity` (and the money
    fields, if any are read, with `unit_price` and `discount_percent`)."""
    out: list[dict] = []
    for line in lines:
        order = adjusted.get(line["order_id"])
        out += [dict(line)] if order is None else order_net_lines(order, [line])
    return out


ADJUSTMENT_PROJECTION = {"status": 1, "returned_quantities": 1}


async def adjusted_orders(orders: Handle, query: Mapping) -> dict[str, dict]:
    """The cancelled or returned-against orders among those `query` selects (an orders filter on
    store_id, deleted and order_date: the shape of the lines' own query, on the orders' index)."""
    found = orders.find(dict(query), ADJUSTMENT_PROJECTION)
    return {doc["_id"]: doc async for doc in found if is_adjusted(doc)}


def change_increments(before: Sequence[Mapping], after: Sequence[Mapping]) -> dict[str, dict[str, float]]:
    """What turns an order's net lines `before` into `after`: increments(after) - increments(before)."""
    out = order_increments(after)
    for key, inc in order_increments(before).items():
        cell = out.setdefault(key, {})
        for path, value in inc.items():
            cell[path] = cell.get(path, 0) - value
    # Zeros are kept: a new cell gets every measure (the model's SalesFigures has no optional field).
    return out


async def apply_order(rollup: Handle, lines: list[Mapping], updated_at: str,
                      session: AsyncClientSession | None = None) -> None:
    """Add one new order to the rollup (inside the caller's transaction when `session` is given)."""
    await apply_change(rollup, [], lines, updated_at, session=session)


async def apply_change(rollup: Handle, before: Sequence[Mapping], after: Sequence[Mapping], updated_at: str,
                       session: AsyncClientSession | None = None) -> None:
    """Move an order's contribution from its net lines `before` to `after` (a sale: before is empty; a
    cancel: after is empty; a return: fewer units after), inside the caller's transaction."""
    for key, inc in change_increments(before, after).items():
        store_id, month = key.split("|")
        await rollup.update_one(
            {"_id": key},
            {"$inc": rounded(inc), "$set": {"updated_at": updated_at},
             "$setOnInsert": sales_cell_header(store_id, month)},
            upsert=True, session=session,
        )


async def write_rollups(collections: Collections, accumulator: RollupAccumulator, updated_at: str) -> int:
    """Replace the rollup with the accumulator's documents (seeding and rebuilds)."""
    rollup = collections.sales_monthly
    await collections.db.drop_collection(rollup.name)
    docs = accumulator.documents(updated_at)
    for start in range(0, len(docs), 200):
        await rollup.insert_many(docs[start:start + 200], ordered=False)
    await setup.create_indexes(collections, [rollup.name])
    return len(docs)
