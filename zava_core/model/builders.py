"""One builder per document kind: every writer (seeding, the customer-sales tools, the device-side Ditto
statements, the rollup's fold) builds documents through here, so the shapes (and the arithmetic of
totals) cannot drift apart; tests validate the output against the pydantic models in `model.documents`.

Each builder sets the duplicated id (`_id` and the collection's id field, from its spec) in one place,
`_identified`, and `deleted: false` on every document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zava_core.model.collections import ALL_SPECS


def _identified(collection: str, doc_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """`_id` and the collection's id field (the same string: Ditto matches on it), then the fields, then
    `deleted: false`."""
    id_field = ALL_SPECS[collection].id_field
    head = {"_id": doc_id} if id_field == "_id" else {"_id": doc_id, id_field: doc_id}
    return {**head, **fields, "deleted": False}


def store_document(*, store_id: str, store_name: str, short_name: str, is_online: bool,
                   location: Mapping[str, Any], customer_weight: int, order_frequency_multiplier: float,
                   order_value_multiplier: float, manager_name: str, updated_at: str) -> dict[str, Any]:
    return _identified("stores", store_id, {
        "store_name": store_name, "short_name": short_name, "is_online": is_online, "location": dict(location),
        "customer_weight": customer_weight, "order_frequency_multiplier": order_frequency_multiplier,
        "order_value_multiplier": order_value_multiplier, "manager_name": manager_name, "updated_at": updated_at})


def category_document(*, category_id: str, category_name: str, category_code: str,
                      seasonal_multipliers: Mapping[str, float], updated_at: str) -> dict[str, Any]:
    return _identified("categories", category_id, {
        "category_name": category_name, "category_code": category_code,
        "seasonal_multipliers": dict(seasonal_multipliers), "updated_at": updated_at})


def product_type_document(*, type_id: str, type_name: str, type_code: str, category_id: str, category_name: str,
                          updated_at: str) -> dict[str, Any]:
    return _identified("product_types", type_id, {
        "type_name": type_name, "type_code": type_code, "category_id": category_id, "category_name": category_name,
        "updated_at": updated_at})


def product_document(*, product_id: str, sku: str, product_name: str, description: str, category_id: str,
                     category_name: str, type_id: str, type_name: str, cost: float, base_price: float,
                     specifications: Mapping[str, Any], created_at: str) -> dict[str, Any]:
    """A catalog product; the margin is derived from cost and price here, never stored from elsewhere."""
    return _identified("products", product_id, {
        "sku": sku, "product_name": product_name, "description": description, "category_id": category_id,
        "category_name": category_name, "type_id": type_id, "type_name": type_name, "cost": cost,
        "base_price": base_price, "gross_margin_percent": round((base_price - cost) / base_price * 100, 2),
        "specifications": dict(specifications), "created_at": created_at, "updated_at": created_at})


def customer_document(*, customer_id: str, first_name: str, last_name: str, email: str, phone: str,
                      primary_store_id: str, stores_shopped: Mapping[str, str], created_at: str) -> dict[str, Any]:
    """A customer, with the lower-case name fields the indexed name search reads."""
    return _identified("customers", customer_id, {
        "first_name": first_name, "last_name": last_name, "first_name_lower": first_name.lower(),
        "last_name_lower": last_name.lower(), "email": email, "phone": phone, "primary_store_id": primary_store_id,
        "stores_shopped": dict(sorted(stores_shopped.items())), "created_at": created_at, "updated_at": created_at})


def inventory_document(*, inventory_id: str, store_id: str, product_id: str, sku: str, category_id: str,
                       stock_level: int, location: Mapping[str, str], last_counted: str) -> dict[str, Any]:
    return _identified("inventory", inventory_id, {
        "store_id": store_id, "product_id": product_id, "sku": sku, "category_id": category_id,
        "stock_level": stock_level, "location": dict(location), "last_counted": last_counted,
        "updated_at": last_counted})


def sales_cell_key(store_id: str, period: str) -> str:
    """The rollup cell of one store and period (a month YYYY-MM, or a day YYYY-MM-DD): its `_id`."""
    return f"{store_id}|{period}"


def sales_cell_header(store_id: str, period: str) -> dict[str, Any]:
    """The fields of a rollup cell other than its figures, for a month (`sales_monthly`) or a day (`sales_daily`):
    what an upsert sets on insert, and what a rebuilt cell starts from (the figures are `$inc`ed or summed into
    `totals`, `categories`, `products`)."""
    day = {"day": period} if len(period) == 10 else {}
    return {"store_id": store_id, **day, "month": period[:7], "year": int(period[:4]), "deleted": False}


def order_line(*, line_id: str, order_id: str, store_id: str, customer_id: str, order_date: str,
               product: Mapping[str, Any], quantity: int, unit_price: float,
               discount_percent: int = 0) -> dict[str, Any]:
    """One order line. `product` holds product_id, sku, product_name, category_id, type_id and cost
    (a products document has them all); money is rounded to cents line by line."""
    gross = round(unit_price * quantity, 2)
    discount = round(gross * discount_percent / 100, 2)
    return _identified("order_items", line_id, {
        "order_id": order_id, "store_id": store_id,
        "customer_id": customer_id, "order_date": order_date, "product_id": product["product_id"],
        "sku": product["sku"], "product_name": product["product_name"], "category_id": product["category_id"],
        "type_id": product["type_id"], "quantity": quantity, "unit_price": unit_price,
        "unit_cost": product["cost"], "discount_percent": discount_percent, "discount_amount": discount,
        "total_amount": round(gross - discount, 2), "created_at": order_date,
    })


def net_line(line: Mapping[str, Any], returned: int) -> dict[str, Any] | None:
    """The line as it stands after `returned` of its units came back: the units kept, with the money of
    `order_line` recomputed for them (the same rounding, so a line with nothing returned is unchanged);
    None when every unit came back. Fields a caller did not read (a projection) are left out of it."""
    kept = int(line["quantity"]) - returned
    if kept <= 0:
        return None
    if returned == 0:
        return dict(line)
    net = {**line, "quantity": kept}
    if "unit_price" in line and "discount_percent" in line:
        gross = round(line["unit_price"] * kept, 2)
        discount = round(gross * line["discount_percent"] / 100, 2)
        net |= {"discount_amount": discount, "total_amount": round(gross - discount, 2)}
    elif "total_amount" in line or "discount_amount" in line:
        raise ValueError("net_line needs unit_price and discount_percent to recompute the line's money")
    return net


def stock_movement(*, movement_id: str, kind: str, store_id: str, lines: Mapping[str, int], idempotency_key: str,
                   created_at: str, to_store_id: str | None = None, order_id: str | None = None,
                   reason: str | None = None, reference: str | None = None) -> dict[str, Any]:
    """One stock-movement record (a cancel, a return, a transfer, a receipt); optional fields are left out
    when they do not apply, as `idempotency_key` is on seeded orders."""
    optional = {"to_store_id": to_store_id, "order_id": order_id, "reason": reason, "reference": reference}
    return _identified("stock_movements", movement_id, {
        "kind": kind, "store_id": store_id, **{k: v for k, v in optional.items() if v is not None},
        "lines": dict(lines), "idempotency_key": idempotency_key, "created_at": created_at,
    })


def till_lookup_document(*, lookup_id: str, store_id: str, caller: str, matched_by: str, at: str,
                         customer_id: str | None = None) -> dict[str, Any]:
    """One till lookup of another store's customer (or of an e-mail or phone no customer has): who, when, which
    customer, by what kind of detail; never the detail itself."""
    found = {"customer_id": customer_id} if customer_id is not None else {}
    return _identified("till_lookups", lookup_id, {"store_id": store_id, "caller": caller[:200], **found,
                                                   "matched_by": matched_by, "at": at})


def customer_display_name(first_name: str, last_name: str) -> str:
    """An order's `customer_name` (denormalized for devices offline): the customer's names as they were at the sale."""
    return f"{first_name} {last_name}"


def order_header(*, order_id: str, customer_id: str, customer_name: str, store_id: str, store_name: str,
                 order_date: str, status: str, lines: Sequence[Mapping[str, Any]],
                 **extra: Any) -> dict[str, Any]:
    """The order document for `lines`: subtotal (before discounts), discount_total and total are
    summed from the lines in order, then rounded, as the lines were."""
    subtotal = round(sum(round(line["unit_price"] * line["quantity"], 2) for line in lines), 2)
    discount_total = round(sum(line["discount_amount"] for line in lines), 2)
    return _identified("orders", order_id, {
        "customer_id": customer_id, "customer_name": customer_name,
        "store_id": store_id, "store_name": store_name, "order_date": order_date, "status": status,
        "item_count": len(lines), "subtotal": subtotal, "discount_total": discount_total,
        "total": round(subtotal - discount_total, 2), **extra, "created_at": order_date, "updated_at": order_date,
    })


def new_order_status(is_online: bool) -> str:
    """An online order starts its delivery life cycle; a till sale is complete when it is made."""
    return "processing" if is_online else "completed"


def embedding_document(product: Mapping[str, Any], *, backend: str, model: str, dimensions: int,
                       vector: Sequence[float], text: str, created_at: str) -> dict[str, Any]:
    """A product's stored vector (one per product: `_id` is the product id)."""
    return _identified("product_embeddings", product["product_id"], {
        "sku": product["sku"], "backend": backend, "model": model, "dimensions": dimensions,
        "embedding": [round(float(x), 6) for x in vector], "text": text, "created_at": created_at,
    })


# Where stock that arrives for a product a store had no row for is put until someone shelves it (move_inventory).
UNSHELVED = {"aisle": "RECEIVING", "shelf": "-", "bin": "-"}
