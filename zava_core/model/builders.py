"""One builder per document kind that more than one writer creates: an order, its lines (and how a
line reads net of returns), an embedding, a stock movement. Seeding, the customer-sales tools and the
device-side Ditto statements all build through here, so the shapes (and the arithmetic of totals)
cannot drift apart; tests validate the output against the pydantic models in `model.documents`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any


def new_order_id() -> str:
    """A fresh order id: 64 random bits, because devices create orders offline and ids must not
    collide across them (seeded orders use `seeded_order_id`, which never has this shape)."""
    return "ord_" + secrets.token_hex(8)


def seeded_order_id(index: int) -> str:
    """The id of the index-th generated order: reproducible from the seed, and distinct from every
    `new_order_id` (8 decimal digits against 16 hex digits)."""
    return f"ord_{index + 1:08d}"


def order_line(*, line_id: str, order_id: str, store_id: str, customer_id: str, order_date: str,
               product: Mapping[str, Any], quantity: int, unit_price: float,
               discount_percent: int = 0) -> dict[str, Any]:
    """One order line. `product` holds product_id, sku, product_name, category_id, type_id and cost
    (a products document has them all); money is rounded to cents line by line."""
    gross = round(unit_price * quantity, 2)
    discount = round(gross * discount_percent / 100, 2)
    return {
        "_id": line_id, "order_item_id": line_id, "order_id": order_id, "store_id": store_id,
        "customer_id": customer_id, "order_date": order_date, "product_id": product["product_id"],
        "sku": product["sku"], "product_name": product["product_name"], "category_id": product["category_id"],
        "type_id": product["type_id"], "quantity": quantity, "unit_price": unit_price,
        "unit_cost": product["cost"], "discount_percent": discount_percent, "discount_amount": discount,
        "total_amount": round(gross - discount, 2), "deleted": False, "created_at": order_date,
    }


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
    return {
        "_id": movement_id, "movement_id": movement_id, "kind": kind, "store_id": store_id,
        **{k: v for k, v in optional.items() if v is not None}, "lines": dict(lines),
        "idempotency_key": idempotency_key, "deleted": False, "created_at": created_at,
    }


def order_header(*, order_id: str, customer_id: str, customer_name: str, store_id: str, store_name: str,
                 order_date: str, status: str, lines: Sequence[Mapping[str, Any]],
                 **extra: Any) -> dict[str, Any]:
    """The order document for `lines`: subtotal (before discounts), discount_total and total are
    summed from the lines in order, then rounded, as the lines were."""
    subtotal = round(sum(round(line["unit_price"] * line["quantity"], 2) for line in lines), 2)
    discount_total = round(sum(line["discount_amount"] for line in lines), 2)
    return {
        "_id": order_id, "order_id": order_id, "customer_id": customer_id, "customer_name": customer_name,
        "store_id": store_id, "store_name": store_name, "order_date": order_date, "status": status,
        "item_count": len(lines), "subtotal": subtotal, "discount_total": discount_total,
        "total": round(subtotal - discount_total, 2), **extra, "deleted": False,
        "created_at": order_date, "updated_at": order_date,
    }


def new_order_status(is_online: bool) -> str:
    """An online order starts its delivery life cycle; a till sale is complete when it is made."""
    return "processing" if is_online else "completed"


def embedding_document(product: Mapping[str, Any], *, backend: str, model: str, dimensions: int,
                       vector: Sequence[float], text: str, created_at: str) -> dict[str, Any]:
    """A product's stored vector (one per product: `_id` is the product id)."""
    return {
        "_id": product["product_id"], "product_id": product["product_id"], "sku": product["sku"],
        "backend": backend, "model": model, "dimensions": dimensions,
        "embedding": [round(float(x), 6) for x in vector], "text": text, "deleted": False,
        "created_at": created_at,
    }
