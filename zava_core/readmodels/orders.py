"""A customer's orders in memory: what `get_customer_orders` shows, for every order, in columns.

99,000 orders and 207,000 lines at the default scale (197,000 and 414,000 at full) as documents would cost
hundreds of MB; as numpy columns they cost ~40 bytes an order and ~25 a line. The load reads both
collections once (in the background at start; lookups go to the database meanwhile) into a `Base`: orders
grouped by customer, newest first, each with its lines. What changes afterwards (a new order from any writer,
a cancel, a return, a status) arrives through the change feed into `_changed`, whole documents that override
the base. A restart starts from a fresh base.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from zava_core.readmodels.following import FollowingModel
from zava_core.readmodels.freshness import Freshness
from zava_core.store import Handle

ORDER_FIELDS = ("order_id", "customer_id", "customer_name", "store_id", "store_name", "order_date", "status",
                "item_count", "subtotal", "discount_total", "total", "returned_quantities", "cancel_reason", "deleted")
LINE_FIELDS = ("order_id", "order_item_id", "sku", "product_name", "quantity", "unit_price", "discount_percent",
               "total_amount", "deleted")
_RARE = ("returned_quantities", "cancel_reason")  # kept per order only where present


@dataclass
class Base:
    """Orders sorted by customer then newest first; each order's lines contiguous (`line_start`)."""

    order_ids: list[str]
    row_of: dict[str, int]
    customer_start: dict[str, tuple[int, int]]  # customer_id -> [first row, end row)
    date: list[str]
    store: np.ndarray  # int16 index into `stores`
    stores: list[str]
    store_names: list[str]
    status: np.ndarray  # int8 index into `statuses`
    statuses: list[str]
    item_count: np.ndarray
    money: np.ndarray  # float64 (order, 3): subtotal, discount_total, total
    names: list[str]  # customer_name per order (interned: one string per customer)
    rare: dict[int, dict]
    line_start: np.ndarray  # int64 (orders + 1)
    line_product: np.ndarray  # int32 index into `products`
    products: list[tuple[str, str]]  # (sku, product_name)
    line_quantity: np.ndarray
    line_price: np.ndarray
    line_discount: np.ndarray
    line_total: np.ndarray


class OrderBook(FollowingModel):
    def __init__(self, orders: Handle, lines: Handle, freshness: Freshness) -> None:
        super().__init__(freshness)
        self._orders = orders
        self._lines = lines
        self._base: Base | None = None
        self._changed: dict[str, dict] = {}  # order_id -> header since the load (deleted ones too)
        self._changed_lines: dict[str, dict[str, dict]] = {}  # order_id -> line id -> line since the load
        self._by_customer: dict[str, set[str]] = {}  # customer_id -> order ids changed since the load

    async def _read(self) -> None:
        self._base = await _load_base(self._orders, self._lines)
        self._changed, self._changed_lines, self._by_customer = {}, {}, {}

    def _apply(self, events: Iterable[dict]) -> None:
        for event in events:
            coll = event.get("ns", {}).get("coll")
            doc = event.get("fullDocument") or event.get("fullDocumentBeforeChange")
            if doc is None:
                continue
            if event.get("operationType") == "delete":
                doc = {**doc, "deleted": True}
            if coll == "orders":
                header = {name: doc.get(name) for name in ORDER_FIELDS}
                self._changed[doc["_id"]] = header
                self._by_customer.setdefault(header["customer_id"], set()).add(doc["_id"])
            elif coll == "order_items":
                self._changed_lines.setdefault(doc["order_id"], {})[doc["_id"]] = {n: doc.get(n) for n in LINE_FIELDS}

    # --- reads: None means "ask the database" ----------------------------------------------------------

    def usable(self, customer_id: str) -> bool:
        return self.loaded and self._freshness.following() and self._freshness.settled(("orders", customer_id))

    def customer_orders(self, customer_id: str, store_ids: set[str] | None,
                        limit: int) -> list[tuple[dict, list[dict]]]:
        """The customer's live orders at these stores (None: any), newest first, at most `limit`, with their
        live lines sorted by SKU."""
        base = self._base
        assert base is not None
        found: list[tuple[dict, list[dict]]] = []
        first, end = base.customer_start.get(customer_id, (0, 0))
        for row in range(first, end):
            order_id = base.order_ids[row]
            if order_id in self._changed:
                continue
            if store_ids is not None and base.stores[base.store[row]] not in store_ids:
                continue
            found.append((self._base_header(row, customer_id), self._base_lines(row)))
            if len(found) >= limit and not self._by_customer.get(customer_id):
                break  # rows are newest first and nothing newer changed: the rest would not be shown
        for order_id in self._by_customer.get(customer_id, ()):
            header = self._changed[order_id]
            if header.get("deleted") or header.get("customer_id") != customer_id or (
                    store_ids is not None and header.get("store_id") not in store_ids):
                continue
            found.append((header, self._lines_of(order_id)))
        found.sort(key=lambda pair: pair[0]["order_date"], reverse=True)
        return found[:limit]

    def _base_header(self, row: int, customer_id: str) -> dict:
        base = self._base
        assert base is not None
        subtotal, discount, total = base.money[row]
        store = int(base.store[row])
        return {"order_id": base.order_ids[row], "customer_name": base.names[row], "store_id": base.stores[store],
                "store_name": base.store_names[store], "order_date": base.date[row],
                "status": base.statuses[int(base.status[row])], "item_count": int(base.item_count[row]),
                "subtotal": float(subtotal), "discount_total": float(discount), "total": float(total),
                "customer_id": customer_id, **base.rare.get(row, {})}

    def _base_lines(self, row: int) -> list[dict]:
        base = self._base
        assert base is not None
        order_id = base.order_ids[row]
        lines = [{"sku": base.products[int(base.line_product[i])][0],
                  "product_name": base.products[int(base.line_product[i])][1],
                  "quantity": int(base.line_quantity[i]), "unit_price": float(base.line_price[i]),
                  "discount_percent": int(base.line_discount[i]), "total_amount": float(base.line_total[i])}
                 for i in range(int(base.line_start[row]), int(base.line_start[row + 1]))]
        changed = self._changed_lines.get(order_id)
        if changed:  # a line written after the load (a device's late line): the live ones, whole
            return self._lines_of(order_id)
        return sorted(lines, key=lambda line: line["sku"])

    def _lines_of(self, order_id: str) -> list[dict]:
        lines = dict(self._base_line_docs(order_id))
        lines.update(self._changed_lines.get(order_id, {}))
        return sorted((line for line in lines.values() if not line.get("deleted")), key=lambda line: line["sku"])

    def _base_line_docs(self, order_id: str) -> Iterable[tuple[str, dict]]:
        base = self._base
        row = base.row_of.get(order_id) if base is not None else None
        if row is None:
            return []
        return [(f"base-{i}", {"sku": base.products[int(base.line_product[i])][0],
                               "product_name": base.products[int(base.line_product[i])][1],
                               "quantity": int(base.line_quantity[i]), "unit_price": float(base.line_price[i]),
                               "discount_percent": int(base.line_discount[i]),
                               "total_amount": float(base.line_total[i])})
                for i in range(int(base.line_start[row]), int(base.line_start[row + 1]))]


async def _load_base(orders: Handle, lines: Handle) -> Base:
    """Stream both collections into columns (typed arrays while reading: no document is kept)."""
    order_ids: list[str] = []
    customers: list[str] = []
    dates: list[str] = []
    stores: dict[str, int] = {}
    store_names: dict[str, str] = {}
    statuses: dict[str, int] = {}
    names: dict[str, str] = {}
    name_of: list[str] = []
    store_col, status_col, items_col = array("h"), array("b"), array("i")
    money = array("d")
    rare: dict[int, dict] = {}
    interned: dict[str, str] = {}
    async for h in orders.find(orders.unscoped(), {name: 1 for name in ORDER_FIELDS}):
        row = len(order_ids)
        order_ids.append(h["_id"])
        customers.append(interned.setdefault(h["customer_id"], h["customer_id"]))
        dates.append(h["order_date"])
        store_col.append(stores.setdefault(h["store_id"], len(stores)))
        store_names.setdefault(h["store_id"], h["store_name"])
        status_col.append(statuses.setdefault(h["status"], len(statuses)))
        items_col.append(int(h.get("item_count") or 0))
        money.extend((h["subtotal"], h["discount_total"], h["total"]))
        name_of.append(names.setdefault(h["customer_name"], h["customer_name"]))
        extra = {k: h[k] for k in _RARE if h.get(k)}
        if extra:
            rare[row] = extra
    # Customer, then newest first: one customer's orders are one run of rows, already in the order shown.
    order = sorted(range(len(order_ids)), key=lambda i: (customers[i], dates[i]), reverse=True)
    position = np.empty(len(order), np.int64)
    position[np.array(order, np.int64)] = np.arange(len(order))
    row_of = {order_ids[i]: int(position[i]) for i in range(len(order_ids))}
    customer_start: dict[str, tuple[int, int]] = {}
    for new_row, old_row in enumerate(order):
        first, _ = customer_start.get(customers[old_row], (new_row, new_row))
        customer_start[customers[old_row]] = (first, new_row + 1)
    products: dict[tuple[str, str], int] = {}
    line_row, line_product, line_qty, line_disc = array("i"), array("i"), array("i"), array("h")
    line_price, line_total = array("d"), array("d")
    async for ln in lines.find(lines.unscoped(), {name: 1 for name in LINE_FIELDS}):
        row = row_of.get(ln["order_id"])
        if row is None:
            continue
        line_row.append(row)
        line_product.append(products.setdefault((ln["sku"], ln["product_name"]), len(products)))
        line_qty.append(int(ln["quantity"]))
        line_price.append(float(ln["unit_price"]))
        line_disc.append(int(ln["discount_percent"]))
        line_total.append(float(ln["total_amount"]))
    rows = _column(line_row, np.int32)
    by_row = np.argsort(rows, kind="stable")
    line_start = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(order_ids)))]).astype(np.int64)
    perm = np.array(order, np.int64)
    store_list = sorted(stores, key=stores.get)
    return Base(
        order_ids=[order_ids[i] for i in order], row_of=row_of, customer_start=customer_start,
        date=[dates[i] for i in order], store=_column(store_col, np.int16)[perm],
        stores=store_list, store_names=[store_names[s] for s in store_list],
        status=_column(status_col, np.int8)[perm], statuses=sorted(statuses, key=statuses.get),
        item_count=_column(items_col, np.int32)[perm], money=_column(money, np.float64).reshape(-1, 3)[perm],
        names=[name_of[i] for i in order], rare={int(position[old]): extra for old, extra in rare.items()},
        line_start=line_start, line_product=_column(line_product, np.int32)[by_row], products=list(products),
        line_quantity=_column(line_qty, np.int32)[by_row], line_price=_column(line_price, np.float64)[by_row],
        line_discount=_column(line_disc, np.int16)[by_row], line_total=_column(line_total, np.float64)[by_row],
    )


def _column(values: array, dtype: type) -> np.ndarray:
    """A typed array as numpy, without a copy (an empty one too)."""
    return np.frombuffer(values, dtype) if len(values) else np.zeros(0, dtype)
