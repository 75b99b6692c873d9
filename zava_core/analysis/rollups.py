"""Sales rollups: small pre-aggregated collections that answer the analysis tools quickly.

A `$group` over the order history takes seconds on the embedded engine (15.7 s for the rollups
of the `small` scale), so analysis reads rollups instead, at two grains:

- `sales_monthly`: one document per store and month (about 660 at the default scale),
- `sales_daily`: one per store and day, for ranges that start or end inside a month,

each holding

- `totals`: order-level figures (orders, revenue, gross, discount, cost, units, lines),
- `categories`: a map category_id -> the same figures (`orders` = orders with a line in it),
- `products`: a map product_id -> the same figures (a product appears once per order).

`order_increments` is the one arithmetic: seeding feeds every generated order to `RollupAccumulator`; the
sales fold (`zava_core.feed.fold`) moves each order's contribution from what the rollups hold to what the
order now is (`change_increments`), whoever wrote it (our tools, a device through Ditto, a script), adding them
into the cells it reads in its transaction (`apply_increments`). Maps, not arrays: a cell's figures are found by
key. The rollups live in MongoDB only (never synced to devices).

The rollups are **net**: they hold each order's lines as they stand (`order_net_lines`), so a cancelled order
counts nothing and a returned unit is not sold; an order whose every unit came back no longer counts as an
order.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pymongo import ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core.model import ROLLUPS, net_line, sales_cell_header, sales_cell_key
from zava_core.store import Collections, Handle, setup

SALES_MONTHLY, SALES_DAILY = (spec.name for spec in ROLLUPS)
ROLLUP_COLLECTIONS = (SALES_MONTHLY, SALES_DAILY)
LINE_MEASURES = ("revenue", "gross", "discount", "cost", "units", "lines")
MEASURES = (*LINE_MEASURES, "orders")
Grain = Literal["month", "day"]
GRAINS: tuple[Grain, ...] = ("month", "day")
_PERIOD_CHARS = {"month": 7, "day": 10}  # of an ISO timestamp: 2024-12 / 2024-12-05
ROLLUP_OF: dict[Grain, str] = {"month": SALES_MONTHLY, "day": SALES_DAILY}
Increments = dict[str, dict[str, float]]  # cell _id -> {dotted field path: increment}


def period(order_date: str, grain: Grain) -> str:
    return order_date[:_PERIOD_CHARS[grain]]


def _line_measures(line: Mapping) -> dict[str, float]:
    return {
        "revenue": line["total_amount"], "gross": line["unit_price"] * line["quantity"],
        "discount": line["discount_amount"], "cost": line["unit_cost"] * line["quantity"],
        "units": line["quantity"], "lines": 1,
    }


def order_increments(lines: Iterable[Mapping], grain: Grain = "month") -> Increments:
    """For one order's lines: {cell _id: {dotted field path: increment}}."""
    out: Increments = {}
    seen_categories: set[tuple[str, str]] = set()
    seen_orders: set[tuple[str, str]] = set()
    for line in lines:
        key = sales_cell_key(line["store_id"], period(line["order_date"], grain))
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
        if (key, line["order_id"]) not in seen_orders:
            seen_orders.add((key, line["order_id"]))
            inc["totals.orders"] = inc.get("totals.orders", 0) + 1
    return out


def add_into(total: Increments, more: Increments, sign: int = 1) -> None:
    for key, inc in more.items():
        cell = total.setdefault(key, {})
        for path, value in inc.items():
            cell[path] = cell.get(path, 0) + sign * value


class RollupAccumulator:
    """Sums many orders into rollup documents in memory (seeding and rebuilds)."""

    def __init__(self, grain: Grain = "month") -> None:
        self.grain = grain
        self.cells: Increments = {}

    def add_order(self, lines: Iterable[Mapping]) -> None:
        add_into(self.cells, order_increments(lines, self.grain))

    def documents(self, updated_at: str) -> list[dict]:
        docs = []
        for key, cell in sorted(self.cells.items()):
            doc = new_cell(key, updated_at)
            add_to_cell(doc, rounded(cell))
            docs.append(doc)
        return docs


def new_cell(key: str, updated_at: str) -> dict:
    """A rollup cell holding nothing yet."""
    store_id, cell_period = key.split("|")
    return {"_id": key, **sales_cell_header(store_id, cell_period), "totals": {}, "categories": {}, "products": {},
            "updated_at": updated_at}


def add_to_cell(doc: dict, increments: Mapping[str, float]) -> None:
    """Add {dotted field path: increment} into the cell document `doc`, as `$inc` would (a missing field is 0)."""
    for path, value in increments.items():
        parents, leaf = _parts(path)
        target = doc
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = target.get(leaf, 0) + value


@functools.lru_cache(maxsize=1 << 16)
def _parts(path: str) -> tuple[tuple[str, ...], str]:
    """A dotted path's parents and leaf: the same few thousand paths recur in every cell (seeding splits millions)."""
    *parents, leaf = path.split(".")
    return tuple(parents), leaf


def rounded(inc: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in inc.items()}


CANCELLED = "cancelled"


def is_adjusted(order: Mapping) -> bool:
    """Whether an order's lines no longer stand as sold (cancelled, or some units returned)."""
    return order.get("status") == CANCELLED or bool(order.get("returned_quantities"))


def order_net_lines(order: Mapping, lines: Iterable[Mapping]) -> list[dict]:
    """One order's lines net of its cancellation and returns (`model.net_line`); a returned quantity beyond what
    was bought (offline devices) takes the line out, never below zero."""
    if order.get("status") == CANCELLED:
        return []
    returned = order.get("returned_quantities") or {}
    kept = (net_line(line, _returned(returned.get(line["sku"], 0))) for line in lines)
    return [line for line in kept if line is not None]


def _returned(value: object) -> int:
    """A returned quantity as stored: a number (a device's counter arrives as one); anything else counts 0."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else 0


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


def change_increments(before: Sequence[Mapping], after: Sequence[Mapping], grain: Grain = "month") -> Increments:
    """What turns an order's net lines `before` into `after`: increments(after) - increments(before)."""
    out = order_increments(after, grain)
    add_into(out, order_increments(before, grain), sign=-1)
    # Zeros are kept: a new cell gets every measure (the model's SalesFigures has no optional field).
    return out


async def apply_increments(rollup: Handle, increments: Increments, updated_at: str,
                           session: AsyncClientSession | None = None) -> None:
    """Add each cell's increments (creating it when new), inside the caller's transaction: the cells are read
    and written back whole. A `$inc` of every measure needs no read, but the embedded engine checks an update's
    paths against each other pairwise (a store's busy day is ~300 paths a fold) and spent half its CPU doing
    so under a stream of orders; in the transaction a concurrent writer of the same cell is a write conflict
    and the fold runs again, so nothing is lost either way. The sums are the ones `$inc` makes."""
    keys = sorted(increments)
    if not keys:
        return
    held = {doc["_id"]: doc async for doc in rollup.find({"_id": {"$in": keys}}, session=session)}
    writes = []
    for key in keys:
        doc = held.get(key) or new_cell(key, updated_at)
        add_to_cell(doc, rounded(increments[key]))
        doc["updated_at"] = updated_at
        writes.append(ReplaceOne({"_id": key}, doc, upsert=True))
    await rollup.bulk_write(writes, ordered=True, session=session)  # one round trip, however many cells


async def write_rollups(collections: Collections, documents: Mapping[Grain, list[dict]]) -> dict[str, int]:
    """Replace the rollups with these documents per grain (seeding: `RollupAccumulator.documents`); the cells
    written per rollup."""
    written = {}
    for grain, docs in documents.items():
        rollup = collections[ROLLUP_OF[grain]]
        await collections.db.drop_collection(rollup.name)
        for start in range(0, len(docs), 500):
            await rollup.insert_many(docs[start:start + 500], ordered=False)
        await setup.create_indexes(collections, [rollup.name])
        written[rollup.name] = len(docs)
    return written
