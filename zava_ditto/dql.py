"""The edge apps' access patterns as parameterised DQL (Ditto Query Language), in one place.

Two apps run on store devices against their local Ditto store, online or not:
- Worker app (one store): find a product and its shelf location, list low stock, move stock to another
  location, record a stock count.
- Sales Rep app: browse and search the catalog, check availability across stores, look up a customer and
  their orders (by exact e-mail or phone at the till), create an order with its lines.
- Store operations (both apps): cancel an order, take a return, move an online order along its delivery
  status, transfer stock to another store, book a supplier delivery.

Rules that keep these correct when devices edit offline and merge later (docs/ditto.md, docs/dataset.md section 3):
- Stock is a COUNTER: a count sets it (`RESTART WITH`), a sale changes it (`INCREMENT BY -n`), a cancel, a
  return, a delivery or a transfer's arrival puts units back (`INCREMENT BY +n`). Never
  `SET stock_level = stock_level - n`: that is a last-writer-wins write and concurrent sales would be lost.
- A counter must be created as one (`INSERT INTO COLLECTION inventory (stock_level COUNTER) ...`):
  incrementing a field first written as a plain number discards its value.
- Returned units are counters inside the order's `returned_quantities` map (one key per SKU), so returns
  of different lines, or of the same line on two devices, all count.
- Objects are maps: a move sets `location.aisle`, `location.shelf`, `location.bin` key by key, so two
  devices editing different keys both win.
- Every read filters `deleted = false` (soft deletes); filters use the top-level id fields
  (`store_id`, `product_id`, `order_id`, ...), never the shape of a field-mapped Ditto `_id`.

This module only builds statements and their arguments; it does not import the Ditto SDK (an optional
extra), so the server side can import it too. Run a statement with
`await ditto.store.execute(statement.dql, statement.args(...))`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from zava_core.model import ids, new_order_status, order_header, order_line
from zava_core.retail.order_status import CANCELLABLE, RETURNABLE

App = Literal["worker", "sales_rep", "both", "load"]

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# DQL LIKE wildcards are % and _; `!` escapes them (a backslash would need escaping twice).
LIKE_ESCAPE = "!"

# Fields devices change only through counter operations; the sample loader and any device-side insert
# must declare them, or the first INCREMENT BY would discard the value.
COUNTER_FIELDS: dict[str, tuple[str, ...]] = {"inventory": ("stock_level",)}


@dataclass(frozen=True)
class Statement:
    name: str
    app: App
    collection: str
    dql: str
    purpose: str
    params: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(dict.fromkeys(_PARAM.findall(self.dql))))

    @property
    def mutates(self) -> bool:
        return self.dql.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE", "EVICT"}

    def args(self, **values: Any) -> dict[str, Any]:
        """The arguments, checked against the statement's placeholders (a typo fails here, not on a device)."""
        missing = [p for p in self.params if p not in values]
        extra = [k for k in values if k not in self.params]
        if missing or extra:
            raise ValueError(f"{self.name}: missing {missing or 'none'}, unexpected {extra or 'none'} "
                             f"(takes {', '.join(self.params) or 'no arguments'})")
        return dict(values)


_INVENTORY_ROW = "_id, store_id, product_id, sku, stock_level, location, last_counted, updated_at"
_PRODUCT_ROW = "product_id, sku, product_name, category_id, category_name, type_id, type_name, base_price"

# --- Worker app (scoped to the device's store: every statement takes :store_id) ------------------------

WORKER_FIND_BY_SKU = Statement(
    "worker_find_by_sku", "worker", "inventory",
    f"SELECT {_INVENTORY_ROW} FROM inventory "
    "WHERE store_id = :store_id AND sku = :sku AND deleted = false",
    "A scanned or typed SKU: stock and shelf location in my store.",
)
WORKER_LOCATE_PRODUCTS = Statement(
    "worker_locate_products", "worker", "inventory",
    f"SELECT {_INVENTORY_ROW} FROM inventory "
    "WHERE store_id = :store_id AND product_id IN :product_ids AND deleted = false ORDER BY sku",
    "After a name search (SEARCH_PRODUCTS): where those products are in my store.",
)
WORKER_LOW_STOCK = Statement(
    "worker_low_stock", "worker", "inventory",
    f"SELECT {_INVENTORY_ROW} FROM inventory "
    "WHERE store_id = :store_id AND deleted = false AND stock_level <= :threshold "
    "ORDER BY stock_level ASC, sku ASC LIMIT :limit",
    "Restock list: my store's lines at or below a threshold, emptiest first.",
)
WORKER_MOVE_STOCK = Statement(
    "worker_move_stock", "worker", "inventory",
    "UPDATE inventory SET location.aisle = :aisle, location.shelf = :shelf, location.bin = :bin, "
    "updated_at = :now WHERE store_id = :store_id AND product_id = :product_id AND deleted = false",
    "Move a product to another aisle/shelf/bin: map keys, so concurrent edits of other keys survive.",
)
WORKER_RECORD_COUNT = Statement(
    "worker_record_count", "worker", "inventory",
    "UPDATE COLLECTION inventory (stock_level COUNTER) APPLY stock_level RESTART WITH :counted "
    "SET last_counted = :now, updated_at = :now "
    "WHERE store_id = :store_id AND product_id = :product_id AND deleted = false",
    "A stock count sets the counter (RESTART WITH); sales recorded elsewhere after it still add up.",
)

# --- Sales Rep app --------------------------------------------------------------------------------

LIST_CATEGORIES = Statement(
    "list_categories", "sales_rep", "categories",
    "SELECT category_id, category_name FROM categories WHERE deleted = false ORDER BY category_name",
    "The catalog's first level.",
)
BROWSE_PRODUCTS = Statement(
    "browse_products", "sales_rep", "products",
    f"SELECT {_PRODUCT_ROW} FROM products WHERE category_id = :category_id AND deleted = false "
    "ORDER BY product_name LIMIT :limit OFFSET :offset",
    "A category's products by name, a page at a time.",
)
SEARCH_PRODUCTS = Statement(
    "search_products", "both", "products",
    f"SELECT {_PRODUCT_ROW} FROM products WHERE product_name ILIKE :pattern ESCAPE '{LIKE_ESCAPE}' "
    "AND deleted = false ORDER BY product_name LIMIT :limit",
    "Search by name, offline, case-insensitive (pattern from like_pattern()).",
)
PRODUCT_BY_SKU = Statement(
    "product_by_sku", "both", "products",
    "SELECT * FROM products WHERE sku = :sku AND deleted = false",
    "One product with its description and specifications.",
)
LIST_STORES = Statement(
    "list_stores", "sales_rep", "stores",
    "SELECT store_id, store_name, short_name, is_online FROM stores WHERE deleted = false ORDER BY store_id",
    "Store names for the availability view.",
)
AVAILABILITY = Statement(
    "availability", "sales_rep", "inventory",
    "SELECT store_id, stock_level, location FROM inventory "
    "WHERE product_id = :product_id AND deleted = false ORDER BY store_id",
    "Stock of one product in every store the device holds.",
)
FIND_CUSTOMERS = Statement(
    "find_customers", "sales_rep", "customers",
    "SELECT customer_id, first_name, last_name, email, phone, primary_store_id FROM customers "
    f"WHERE last_name_lower LIKE :prefix ESCAPE '{LIKE_ESCAPE}' AND deleted = false "
    "ORDER BY last_name_lower, first_name_lower LIMIT :limit",
    "Customers by last-name prefix (prefix_pattern()).",
)
CUSTOMER_BY_ID = Statement(
    "customer_by_id", "sales_rep", "customers",
    "SELECT * FROM customers WHERE customer_id = :customer_id AND deleted = false",
    "The customer an order is for.",
)
CUSTOMER_ORDERS = Statement(
    "customer_orders", "sales_rep", "orders",
    "SELECT order_id, order_date, store_id, store_name, status, item_count, total FROM orders "
    "WHERE customer_id = :customer_id AND deleted = false ORDER BY order_date DESC LIMIT :limit",
    "A customer's recent orders (names are denormalized for offline display).",
)
ORDER_LINES = Statement(
    "order_lines", "sales_rep", "order_items",
    "SELECT * FROM order_items WHERE order_id = :order_id AND deleted = false ORDER BY sku",
    "The lines of one order.",
)
STOCK_FOR_ORDER = Statement(
    "stock_for_order", "sales_rep", "inventory",
    "SELECT product_id, sku, stock_level FROM inventory "
    "WHERE store_id = :store_id AND product_id IN :product_ids AND deleted = false",
    "Before an order: what this device knows is on hand (another offline device may have sold some).",
)
INSERT_ORDER = Statement(
    "insert_order", "sales_rep", "orders",
    "INSERT INTO orders DOCUMENTS (:order)",
    "The order header; no conflict clause, so a retried order id fails instead of duplicating.",
)
INSERT_ORDER_ITEM = Statement(
    "insert_order_item", "sales_rep", "order_items",
    "INSERT INTO order_items DOCUMENTS (:line)",
    "One order line (its own document: devices subscribe to lines per store).",
)
DECREMENT_STOCK = Statement(
    "decrement_stock", "sales_rep", "inventory",
    "UPDATE COLLECTION inventory (stock_level COUNTER) APPLY stock_level INCREMENT BY :delta "
    "SET updated_at = :now WHERE store_id = :store_id AND product_id = :product_id AND deleted = false",
    "A sale: the counter changes by -quantity, so sales on several devices all count.",
)

CREATE_ORDER = (INSERT_ORDER, INSERT_ORDER_ITEM, DECREMENT_STOCK)  # run in one store transaction

_CUSTOMER_ROW = "customer_id, first_name, last_name, email, phone, primary_store_id"
CUSTOMER_BY_EMAIL = Statement(
    "customer_by_email", "sales_rep", "customers",
    f"SELECT {_CUSTOMER_ROW} FROM customers WHERE email = :email AND deleted = false",
    "The till: a customer named by their whole e-mail (lower case), whatever their home store.",
)
CUSTOMER_BY_PHONE = Statement(
    "customer_by_phone", "sales_rep", "customers",
    f"SELECT {_CUSTOMER_ROW} FROM customers WHERE phone = :phone AND deleted = false",
    "The till: a customer named by their whole phone number, as stored: (XXX) XXX-XXXX.",
)

# --- Store operations (both apps) ----------------------------------------------------------------

# The statuses the server's rule allows (zava_core.retail.order_status), passed as :cancellable / :returnable.
CANCELLABLE_STATUSES = list(CANCELLABLE)
RETURNABLE_STATUSES = list(RETURNABLE)

ORDER_FOR_CHANGE = Statement(
    "order_for_change", "both", "orders",
    "SELECT order_id, store_id, status, returned_quantities FROM orders "
    "WHERE order_id = :order_id AND store_id = :store_id AND deleted = false",
    "Before a cancel or a return: the order's status and what was already returned (with ORDER_LINES).",
)
CANCEL_ORDER = Statement(
    "cancel_order", "both", "orders",
    "UPDATE COLLECTION orders (cancel_count COUNTER) APPLY cancel_count INCREMENT BY 1 "
    "SET status = 'cancelled', cancelled_at = :now, cancel_reason = :reason, updated_at = :now "
    "WHERE order_id = :order_id AND store_id = :store_id AND status IN :cancellable AND deleted = false",
    "Cancel (soft: the documents stay). Matches nothing if it is already cancelled here: then restock nothing. "
    "`cancel_count` is a COUNTER: two devices cancelling apart make it 2 once they merge, which the server's "
    "change feed records as a double cancel (each restocked the units).",
)
RESTOCK = Statement(
    "restock", "both", "inventory",
    "UPDATE COLLECTION inventory (stock_level COUNTER) APPLY stock_level INCREMENT BY :units "
    "SET updated_at = :now WHERE store_id = :store_id AND product_id = :product_id AND deleted = false",
    "Units back on the shelf (+n): a cancel's kept units, a return, a delivery, a transfer's arrival.",
)
UPDATE_ORDER_STATUS = Statement(
    "update_order_status", "sales_rep", "orders",
    "UPDATE orders SET status = :status, updated_at = :now "
    "WHERE order_id = :order_id AND store_id = :store_id AND status = :from_status AND deleted = false",
    "An online order's next status (processing -> shipped -> delivered); guarded by the status it leaves.",
)

CANCEL_ORDER_STEPS = (ORDER_FOR_CHANGE, ORDER_LINES, CANCEL_ORDER, RESTOCK)  # one store transaction
TRANSFER_STOCK = (STOCK_FOR_ORDER, DECREMENT_STOCK, RESTOCK)  # source -n, destination +n, one transaction
RECEIVE_STOCK = (RESTOCK,)

STATEMENTS: tuple[Statement, ...] = (
    WORKER_FIND_BY_SKU, WORKER_LOCATE_PRODUCTS, WORKER_LOW_STOCK, WORKER_MOVE_STOCK, WORKER_RECORD_COUNT,
    LIST_CATEGORIES, BROWSE_PRODUCTS, SEARCH_PRODUCTS, PRODUCT_BY_SKU, LIST_STORES, AVAILABILITY,
    FIND_CUSTOMERS, CUSTOMER_BY_ID, CUSTOMER_ORDERS, ORDER_LINES, STOCK_FOR_ORDER, *CREATE_ORDER,
    CUSTOMER_BY_EMAIL, CUSTOMER_BY_PHONE, ORDER_FOR_CHANGE, UPDATE_ORDER_STATUS, CANCEL_ORDER, RESTOCK,
)


def record_return(sku: str) -> Statement:
    """Add returned units of one line to the order's `returned_quantities` map: a COUNTER per SKU key, so two
    devices taking back units of the same line both count. The key is spliced in (DQL takes no map key as a
    parameter) after checking it is a SKU; run it with RESTOCK for the same units in one transaction."""
    if not ids.is_sku(sku):
        raise ValueError(f"sku {sku!r} is not a SKU (4 capitals and 6 digits)")
    return Statement(
        "record_return", "both", "orders",
        f"UPDATE COLLECTION orders (returned_quantities MAP({sku} COUNTER)) "
        f"APPLY returned_quantities.{sku} INCREMENT BY :units SET updated_at = :now "
        "WHERE order_id = :order_id AND store_id = :store_id AND status IN :returnable AND deleted = false",
        "A return of some units of one line (check ORDER_FOR_CHANGE and ORDER_LINES first: never more than "
        "bought minus returned).",
    )


def mark_store_shopped(store_id: str) -> Statement:
    """Record the first order of a customer at a store: the `stores_shopped` map gains one key.

    DQL cannot take a map key as a parameter, so the key is spliced in, after checking it is a plain
    identifier. `IS MISSING` keeps the first date when two devices race.
    """
    if not _IDENT.match(store_id):
        raise ValueError(f"store_id {store_id!r} is not a plain identifier")
    return Statement(
        "mark_store_shopped", "sales_rep", "customers",
        f"UPDATE customers SET stores_shopped.{store_id} = :now, updated_at = :now "
        f"WHERE customer_id = :customer_id AND deleted = false AND stores_shopped.{store_id} IS MISSING",
        "A customer's first order at this store (store managers see customers who ordered there).",
    )


def load_statement(collection: str) -> Statement:
    """Upsert one document as the connector would deliver it (counters declared as counters)."""
    if not _IDENT.match(collection):
        raise ValueError(f"collection {collection!r} is not a plain identifier")
    counters = COUNTER_FIELDS.get(collection, ())
    target = f"COLLECTION {collection} ({', '.join(f'{c} COUNTER' for c in counters)})" if counters else collection
    return Statement(f"load_{collection}", "load", collection,
                     f"INSERT INTO {target} DOCUMENTS (:doc) ON ID CONFLICT DO UPDATE",
                     "Load a document exported from MongoDB (tests, demos).")


# --- arguments ------------------------------------------------------------------------------------------

def _escape_like(text: str) -> str:
    return "".join(LIKE_ESCAPE + ch if ch in ("%", "_", LIKE_ESCAPE) else ch for ch in text)


def like_pattern(text: str) -> str:
    """`hammer` -> `%hammer%`, with the user's own % and _ taken literally."""
    return f"%{_escape_like(text.strip())}%"


def prefix_pattern(text: str) -> str:
    """A last-name prefix for FIND_CUSTOMERS (the stored `last_name_lower` is lower case)."""
    return f"{_escape_like(text.strip().lower())}%"


def order_documents(order_id: str, customer: Mapping[str, Any], store: Mapping[str, Any],
                    lines: list[tuple[Mapping[str, Any], int]], now: str) -> tuple[dict, list[dict]]:
    """The order header and its lines, shaped like the server's create_order writes them.

    `lines` pairs a product document with a quantity; the unit price is the product's list price
    (discounts are a server-side matter).
    """
    if not lines:
        raise ValueError("an order needs at least one line")
    for product, quantity in lines:
        if not isinstance(quantity, int) or quantity < 1:
            raise ValueError(f"{product['sku']}: quantity must be a positive integer")
    items = [order_line(line_id=str(uuid.uuid4()), order_id=order_id, store_id=store["store_id"],
                        customer_id=customer["customer_id"], order_date=now, product=product, quantity=quantity,
                        unit_price=product["base_price"])
             for product, quantity in lines]
    order = order_header(
        order_id=order_id, customer_id=customer["customer_id"],
        customer_name=f"{customer['first_name']} {customer['last_name']}", store_id=store["store_id"],
        store_name=store["store_name"], order_date=now, status=new_order_status(store["is_online"]), lines=items)
    return order, items
