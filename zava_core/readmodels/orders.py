"""A customer's orders in memory: what `get_customer_orders` shows, for every order, in columns.

99,000 orders and 207,000 lines at the default scale (197,000 and 414,000 at full) as documents would cost
hundreds of MB; as numpy columns (ids and dates as fixed-width bytes, found by binary search) they cost ~45 bytes
an order and ~26 a line. The load reads both collections once (`Handle.scan`: a thousand documents a round trip)
and turns each batch into columns before reading the next, so no collection is ever held as Python objects: a
`Base` of orders grouped by customer, oldest first, each with its lines. What changes afterwards (a new order
from any writer, a cancel, a return, a status) arrives through the change feed into `_changed`, whole documents
that override the base; a line of a loaded order written afterwards (the base keeps no line ids), or an order or
line the columns cannot hold (another writer's odd document, left out of the load), sends its customer's lookups
to the database. A restart starts from a fresh base.
"""

from __future__ import annotations

from array import array
from collections.abc import AsyncIterator, Iterable
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
    """Orders sorted by customer then oldest first, their lines found through `line_order`. Ids and dates are UTF-8
    bytes in fixed-width arrays (numpy drops trailing NUL bytes: no id or ISO date ends in one)."""

    order_ids: np.ndarray  # bytes, one per row
    id_order: np.ndarray  # the rows in order_ids order: a binary search finds an id's row
    customers: np.ndarray  # bytes, each customer once, ascending
    customer_rows: np.ndarray  # int64 (customers + 1): customer i's rows are customer_rows[i] to [i + 1] - 1
    date: np.ndarray  # bytes (ISO-8601), one per row
    store: np.ndarray  # int16 index into `stores`
    stores: list[str]
    store_names: list[str]
    status: np.ndarray  # int8 index into `statuses`
    statuses: list[str]
    item_count: np.ndarray
    money: np.ndarray  # float64 (order, 3): subtotal, discount_total, total
    name: np.ndarray  # int32 index into `names` (customer_name per order, as the order has it)
    names: list[str]
    rare: dict[int, dict]
    line_start: np.ndarray  # int64 (orders + 1): row r's lines are line_order[line_start[r]:line_start[r + 1]]
    line_order: np.ndarray  # int32: the lines by row (the line columns stay in the order they were read)
    line_product: np.ndarray  # int32 index into `products`
    products: list[tuple[str, str]]  # (sku, product_name)
    line_quantity: np.ndarray
    line_price: np.ndarray
    line_discount: np.ndarray
    line_total: np.ndarray
    unheld: set[str]  # customers with an order or a line the columns cannot hold (another writer's odd document)

    def rows_of(self, customer_id: str) -> range:
        """The customer's rows, newest first."""
        i = _find(self.customers, customer_id.encode())
        if i is None:
            return range(0)
        return range(int(self.customer_rows[i + 1]) - 1, int(self.customer_rows[i]) - 1, -1)

    def row_of(self, order_id: str) -> int | None:
        i = _find(self.order_ids, order_id.encode(), self.id_order)
        return None if i is None else int(self.id_order[i])

    def order_id(self, row: int) -> str:
        return self.order_ids[row].decode()

    def customer_of(self, row: int) -> str:
        (customer,) = _customers_of(self.customers, self.customer_rows, np.array([row]))
        return customer

    def lines(self, row: int) -> list[dict]:
        """The order's lines as read (unsorted), as documents."""
        sku_name = self.products
        return [{"sku": sku_name[int(self.line_product[i])][0], "product_name": sku_name[int(self.line_product[i])][1],
                 "quantity": int(self.line_quantity[i]), "unit_price": float(self.line_price[i]),
                 "discount_percent": int(self.line_discount[i]), "total_amount": float(self.line_total[i])}
                for i in self.line_order[int(self.line_start[row]):int(self.line_start[row + 1])].tolist()]


class OrderBook(FollowingModel):
    def __init__(self, orders: Handle, lines: Handle, freshness: Freshness) -> None:
        super().__init__(freshness)
        self._orders = orders
        self._lines = lines
        self._base: Base | None = None
        self._changed: dict[str, dict] = {}  # order_id -> header since the load (deleted ones too)
        self._changed_lines: dict[str, dict[str, dict]] = {}  # order_id -> line id -> line since the load
        self._by_customer: dict[str, set[str]] = {}  # customer_id -> order ids changed since the load
        # Customers with a line of a loaded order written since the load (a device's correction, a script's soft
        # delete): the base holds lines without their ids, so it cannot tell which one changed; the database answers.
        self._stale: set[str] = set()

    async def _read(self) -> None:
        self._base = await _load_base(self._orders, self._lines)
        self._changed, self._changed_lines, self._by_customer = {}, {}, {}
        self._stale = set(self._base.unheld)

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
                row = self._base.row_of(doc["order_id"]) if self._base is not None else None
                if row is not None:
                    self._stale.add(self._base.customer_of(row))

    # --- reads: None means "ask the database" ----------------------------------------------------------

    def usable(self, customer_id: str) -> bool:
        return (self.loaded and customer_id not in self._stale and self._freshness.following()
                and self._freshness.settled(("orders", customer_id)))

    def customer_orders(self, customer_id: str, store_ids: set[str] | None,
                        limit: int) -> list[tuple[dict, list[dict]]]:
        """The customer's live orders at these stores (None: any), newest first, at most `limit`, with their
        live lines sorted by SKU."""
        base = self._base
        assert base is not None
        found: list[tuple[dict, list[dict]]] = []
        for row in base.rows_of(customer_id):
            order_id = base.order_id(row)
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
        return {"order_id": base.order_id(row), "customer_name": base.names[int(base.name[row])],
                "store_id": base.stores[store], "store_name": base.store_names[store],
                "order_date": base.date[row].decode(),
                "status": base.statuses[int(base.status[row])], "item_count": int(base.item_count[row]),
                "subtotal": float(subtotal), "discount_total": float(discount), "total": float(total),
                "customer_id": customer_id, **base.rare.get(row, {})}

    def _base_lines(self, row: int) -> list[dict]:
        base = self._base
        assert base is not None
        return sorted(base.lines(row), key=lambda line: line["sku"])  # its lines unchanged: else the customer is stale

    def _lines_of(self, order_id: str) -> list[dict]:
        lines = dict(self._base_line_docs(order_id))
        lines.update(self._changed_lines.get(order_id, {}))
        return sorted((line for line in lines.values() if not line.get("deleted")), key=lambda line: line["sku"])

    def _base_line_docs(self, order_id: str) -> Iterable[tuple[str, dict]]:
        base = self._base
        row = base.row_of(order_id) if base is not None else None
        if row is None:
            return []
        return [(f"base-{i}", line) for i, line in enumerate(base.lines(row))]


async def _load_base(orders: Handle, lines: Handle) -> Base:
    """Stream both collections into columns, a scan batch at a time (no document, and no id as a Python string,
    outlives its batch)."""
    id_chunks: list[np.ndarray] = []
    customer_chunks: list[np.ndarray] = []
    date_chunks: list[np.ndarray] = []
    stores: dict[str, int] = {}
    store_names: dict[str, str] = {}
    statuses: dict[str, int] = {}
    store_col, status_col, items_col, name_col = array("h"), array("b"), array("i"), array("i")
    money = array("d")
    names: dict[str, int] = {}
    rare: dict[int, dict] = {}
    unheld: set[str] = set()
    async for batch in _batches(orders.scan(orders.unscoped(), {name: 1 for name in ORDER_FIELDS}), orders):
        batch = _fitting(batch, _ORDER_TYPES, unheld)
        for h in batch:
            store_col.append(stores.setdefault(h["store_id"], len(stores)))
            store_names.setdefault(h["store_id"], h["store_name"])
            status_col.append(statuses.setdefault(h["status"], len(statuses)))
            items_col.append(int(h.get("item_count") or 0))
            money.extend((h["subtotal"], h["discount_total"], h["total"]))
            name_col.append(names.setdefault(h["customer_name"], len(names)))
            extra = {k: h[k] for k in _RARE if h.get(k)}
            if extra:
                rare[len(items_col) - 1] = extra
        id_chunks.append(_bytes(h["_id"] for h in batch))
        customer_chunks.append(_bytes(h["customer_id"] for h in batch))
        date_chunks.append(_bytes(h["order_date"] for h in batch))
    ids, customers, dates = _joined(id_chunks), _joined(customer_chunks), _joined(date_chunks)
    # Customer, then oldest first: one customer's orders are one run of rows (read backwards: newest first).
    order = np.lexsort((dates, customers))
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    ids, customers, dates = ids[order], customers[order], dates[order]
    # The other order columns in that order too, their unordered sources freed before the lines are read (the load's
    # peak is then the larger of its two phases, not their sum).
    store, status = _column(store_col, np.int16)[order], _column(status_col, np.int8)[order]
    item_count, name = _column(items_col, np.int32)[order], _column(name_col, np.int32)[order]
    money_rows = _column(money, np.float64).reshape(-1, 3)[order]
    del store_col, status_col, items_col, name_col, money
    rare = {int(position[old]): extra for old, extra in rare.items()}
    id_order = np.argsort(ids, kind="stable")
    unique, first = np.unique(customers, return_index=True)
    customer_rows = np.append(first, len(ids)).astype(np.int64)
    del customers
    products: dict[tuple[str, str], int] = {}
    line_row, line_product, line_qty, line_disc = array("i"), array("i"), array("i"), array("h")
    line_price, line_total = array("d"), array("d")
    async for batch in _batches(lines.scan(lines.unscoped(), {name: 1 for name in LINE_FIELDS}), lines):
        odd: set[str] = set()  # the orders of lines that do not fit: their customers are not held whole
        batch = _fitting(batch, _LINE_TYPES, odd, by="order_id")
        if odd:
            unheld |= _customers_of(unique, customer_rows, _rows(ids, id_order, _bytes(odd)))
        rows = _rows(ids, id_order, _bytes(ln["order_id"] for ln in batch))
        for ln, row in zip(batch, rows.tolist(), strict=True):
            if row < 0:
                continue  # a line whose order is not in the book (deleted, or written after the orders' read)
            line_row.append(row)
            line_product.append(products.setdefault((ln["sku"], ln["product_name"]), len(products)))
            line_qty.append(int(ln["quantity"]))
            line_price.append(float(ln["unit_price"]))
            line_disc.append(int(ln["discount_percent"]))
            line_total.append(float(ln["total_amount"]))
    rows = _column(line_row, np.int32)
    line_start = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(ids)))]).astype(np.int64)
    line_order = np.argsort(rows, kind="stable").astype(np.int32)
    del rows, line_row
    store_list = sorted(stores, key=stores.get)
    return Base(
        order_ids=ids, id_order=id_order, customers=unique, customer_rows=customer_rows, date=dates, unheld=unheld,
        store=store, stores=store_list, store_names=[store_names[s] for s in store_list],
        status=status, statuses=sorted(statuses, key=statuses.get), item_count=item_count, money=money_rows,
        name=name, names=sorted(names, key=names.get), rare=rare,
        line_start=line_start, line_order=line_order,
        line_product=_column(line_product, np.int32), products=list(products),
        line_quantity=_column(line_qty, np.int32), line_price=_column(line_price, np.float64),
        line_discount=_column(line_disc, np.int16), line_total=_column(line_total, np.float64),
    )


async def _batches(cursor: AsyncIterator[dict], handle: Handle) -> AsyncIterator[list[dict]]:
    """The scan's documents a batch at a time."""
    batch: list[dict] = []
    async for doc in cursor:
        batch.append(doc)
        if len(batch) >= handle.spec.scan_batch:
            yield batch
            batch = []
    if batch:
        yield batch


# What the columns need of each document; one that does not fit (another writer's) is left out, and its customer's
# lookups read the database: a load that failed on it would be retried, reading every order again, for ever.
_NUMBER = (int, float)
Types = tuple[tuple[str, type | tuple[type, ...]], ...]
_ORDER_TYPES: Types = (
    ("_id", str), ("customer_id", str), ("customer_name", str), ("store_id", str), ("store_name", str),
    ("order_date", str), ("status", str), ("subtotal", _NUMBER), ("discount_total", _NUMBER), ("total", _NUMBER),
    ("item_count", (int, type(None))))
_LINE_TYPES: Types = (
    ("order_id", str), ("sku", str), ("product_name", str), ("quantity", int), ("unit_price", _NUMBER),
    ("discount_percent", int), ("total_amount", _NUMBER))


def _fitting(batch: list[dict], types: Types, left_out: set[str], by: str = "customer_id") -> list[dict]:
    """The documents whose fields have the types the columns hold; the `by` value of the others into `left_out`."""
    kept = []
    for doc in batch:
        if _fits(doc, types):
            kept.append(doc)
        elif isinstance(doc.get(by), str):
            left_out.add(doc[by])
    return kept


def _fits(doc: dict, types: Types) -> bool:
    for name, kind in types:  # a plain loop: twice as fast as all() over a generator, on every document loaded
        value = doc.get(name)
        if not isinstance(value, kind) or value is True or value is False:
            return False
    return True


def _customers_of(customers: np.ndarray, customer_rows: np.ndarray, rows: np.ndarray) -> set[str]:
    """The customers whose runs of rows hold these rows (-1: no row)."""
    at = np.searchsorted(customer_rows, rows[rows >= 0], side="right") - 1
    return {customers[i].decode() for i in at.tolist()}


def _bytes(values: Iterable[str]) -> np.ndarray:
    return np.array([v.encode() for v in values], dtype=np.bytes_)


def _joined(chunks: list[np.ndarray]) -> np.ndarray:
    """One array of the chunks, emptying the list (each chunk freed once copied: a load's peak is its columns)."""
    joined = np.concatenate(chunks) if chunks else np.zeros(0, np.bytes_)
    chunks.clear()
    return joined


def _rows(ids: np.ndarray, id_order: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The row of each wanted id, -1 where it is not in the book."""
    if not len(ids):
        return np.full(len(wanted), -1, np.int64)
    at = np.minimum(np.searchsorted(ids, wanted, sorter=id_order), len(ids) - 1)
    rows = id_order[at]
    return np.where(ids[rows] == wanted, rows, -1)


def _find(values: np.ndarray, key: bytes, sorter: np.ndarray | None = None) -> int | None:
    """Where `key` is in the sorted `values` (sorted through `sorter` when given), or None."""
    i = int(np.searchsorted(values, key, sorter=sorter))
    if i >= len(values):
        return None
    return i if values[i if sorter is None else sorter[i]] == key else None


def _column(values: array, dtype: type) -> np.ndarray:
    """A typed array as numpy, without a copy (an empty one too)."""
    return np.frombuffer(values, dtype) if len(values) else np.zeros(0, dtype)
