"""Our generated documents as rows of the PostgreSQL original's tables (pure; the loader COPYs them).

The original keys every table with SERIAL integers; ours are strings. The mapping is positional and
deterministic: stores, categories, product types and products are numbered in the generator's order
(stores in the original's reference order), customers and orders by the number inside their id
(`cust_000123` -> 123, `ord_00000012` -> 12), order lines in the order they are generated. Money
becomes DECIMAL(10,2) from the cent-rounded floats; the original's `order_date` is a DATE, so an
order's timestamp keeps its UTC day.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from zava_core.infra.timeutil import ISO_FORMAT

# The original's "super manager" (sees every row) and its store managers' ids, from the workshop's
# data/database/reference_data.json; a store it does not name gets a UUID derived from its name.
SUPER_MANAGER_UUID = "00000000-0000-0000-0000-000000000000"
ORIGINAL_RLS_USER_IDS = {
    "Zava Retail Seattle": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "Zava Retail Bellevue": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    "Zava Retail Tacoma": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    "Zava Retail Spokane": "d8e9f0a1-b2c3-4567-8901-234567890abc",
    "Zava Retail Everett": "3b9ac9fa-cd5e-4b92-a7f2-b8c1d0e9f2a3",
    "Zava Retail Redmond": "e7f8a9b0-c1d2-3e4f-5678-90abcdef1234",
    "Zava Retail Kirkland": "9c8b7a65-4321-fed0-9876-543210fedcba",
    "Zava Retail Online": "2f4e6d8c-1a3b-5c7e-9f0a-b2d4f6e8c0a2",
}
_NUMBERED = {"cust": re.compile(r"^cust_(\d{6,})$"), "ord": re.compile(r"^ord_(\d{8,})$")}

# Column order of each table as COPY receives it (the loader passes these names to asyncpg).
COLUMNS: dict[str, tuple[str, ...]] = {
    "stores": ("store_id", "store_name", "rls_user_id", "is_online"),
    "categories": ("category_id", "category_name"),
    "product_types": ("type_id", "category_id", "type_name"),
    "products": ("product_id", "sku", "product_name", "category_id", "type_id", "cost", "base_price",
                 "gross_margin_percent", "product_description"),
    "customers": ("customer_id", "first_name", "last_name", "email", "phone", "primary_store_id", "created_at"),
    "inventory": ("store_id", "product_id", "stock_level"),
    "orders": ("order_id", "customer_id", "store_id", "order_date"),
    "order_items": ("order_item_id", "order_id", "store_id", "product_id", "quantity", "unit_price",
                    "discount_percent", "discount_amount", "total_amount"),
}


def money(value: float) -> Decimal:
    """A cent-rounded float as the exact DECIMAL(10,2) it stands for (never the float's binary expansion)."""
    return Decimal(f"{value:.2f}")


def numbered_id(value: str, prefix: str) -> int:
    """`cust_000123` -> 123, `ord_00000012` -> 12: the original's SERIAL key for our id."""
    match = _NUMBERED[prefix].match(value)
    if not match:
        raise ValueError(f"{value!r} is not a {prefix}_ id")
    return int(match.group(1))


def order_key(order_id: int) -> str:
    """The original's integer order id back as ours (for comparing a customer's orders)."""
    return f"ord_{order_id:08d}"


def order_day(timestamp: str) -> date:
    return datetime.strptime(timestamp, ISO_FORMAT).date()


def rls_user_id(store_name: str) -> uuid.UUID:
    known = ORIGINAL_RLS_USER_IDS.get(store_name)
    return uuid.UUID(known) if known else uuid.uuid5(uuid.NAMESPACE_URL, f"zava-store:{store_name}")


@dataclass
class IdMap:
    """Our string ids -> the original's integers, for the positional tables."""

    stores: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    products: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def numbering(ids: Iterable[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for value in ids:
            if value in out:
                raise ValueError(f"duplicate id {value!r}")
            out[value] = len(out) + 1
        return out


def reference_rows(stores: list[dict], categories: list[dict], types: list[dict],
                   products: list[dict]) -> tuple[IdMap, dict[str, list[tuple]]]:
    ids = IdMap(stores=IdMap.numbering(s["store_id"] for s in stores),
                categories=IdMap.numbering(c["category_id"] for c in categories),
                types=IdMap.numbering(t["type_id"] for t in types),
                products=IdMap.numbering(p["product_id"] for p in products))
    rows = {
        "stores": [(ids.stores[s["store_id"]], s["store_name"], rls_user_id(s["store_name"]), s["is_online"])
                   for s in stores],
        "categories": [(ids.categories[c["category_id"]], c["category_name"]) for c in categories],
        "product_types": [(ids.types[t["type_id"]], ids.categories[t["category_id"]], t["type_name"])
                          for t in types],
        "products": [(ids.products[p["product_id"]], p["sku"], p["product_name"], ids.categories[p["category_id"]],
                      ids.types[p["type_id"]], money(p["cost"]), money(p["base_price"]),
                      money(p["gross_margin_percent"]), p["description"]) for p in products],
    }
    return ids, rows


def customer_rows(ids: IdMap, customers: Iterable[dict]) -> list[tuple]:
    return [(numbered_id(c["customer_id"], "cust"), c["first_name"], c["last_name"], c["email"], c["phone"],
             ids.stores[c["primary_store_id"]], datetime.strptime(c["created_at"], ISO_FORMAT))
            for c in customers]


def inventory_rows(ids: IdMap, inventory: Iterable[dict]) -> list[tuple]:
    return [(ids.stores[r["store_id"]], ids.products[r["product_id"]], r["stock_level"]) for r in inventory]


def order_rows(ids: IdMap, orders: Iterable[dict]) -> list[tuple]:
    return [(numbered_id(o["order_id"], "ord"), numbered_id(o["customer_id"], "cust"), ids.stores[o["store_id"]],
             order_day(o["order_date"])) for o in orders]


def order_item_rows(ids: IdMap, lines: Iterable[dict], first_id: int) -> Iterator[tuple]:
    """Order lines numbered from `first_id` (the original's SERIAL order_item_id)."""
    for offset, line in enumerate(lines):
        yield (first_id + offset, numbered_id(line["order_id"], "ord"), ids.stores[line["store_id"]],
               ids.products[line["product_id"]], line["quantity"], money(line["unit_price"]),
               line["discount_percent"], money(line["discount_amount"]), money(line["total_amount"]))
