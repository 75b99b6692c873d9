"""Ids, defined once: every id prefix, the SKU rule, and the functions that build and recognise ids.

Ids are strings a person can read (`store_seattle`, `cat_power_tools`, `prod_PTDR000001`,
`cust_000123`, `ord_00000001`), because Ditto matches documents by them and store staff read them.
Seeding, the catalog loader, the tools and the device-side statements build and check ids here only.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

STORE_PREFIX = "store_"
CATEGORY_PREFIX = "cat_"
TYPE_PREFIX = "ptype_"
PRODUCT_PREFIX = "prod_"
CUSTOMER_PREFIX = "cust_"
ORDER_PREFIX = "ord_"

# A SKU: the category's two-letter code, the type's two-letter code, six digits (PTDR000001).
SKU_PATTERN = r"^[A-Z]{4}\d{6}$"
SKU_LENGTH = 10
SKU_EXAMPLE = "PTDR000001"
_SKU = re.compile(SKU_PATTERN)
# What a caller may type for a SKU: the same rule, any case, with spaces around it.
SKU_INPUT_PATTERN = r"^[A-Za-z]{4}\d{6}$"
_CUSTOMER_ID = re.compile(rf"^{CUSTOMER_PREFIX}\d{{1,12}}$")
# Seeded orders carry 8 decimal digits, orders made since (by a tool or a device) 16 hex digits.
_ORDER_ID = re.compile(rf"^{ORDER_PREFIX}(\d{{8}}|[0-9a-f]{{16}})$")


def normal_sku(text: object) -> str:
    """A SKU as stored: trimmed and upper-case (callers type `ptdr000001`)."""
    return str(text).strip().upper()


def is_sku(text: object) -> bool:
    return isinstance(text, str) and bool(_SKU.match(text))


def _trimmed(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


# A SKU argument (tools, order lines): checked against the SKU rule, returned as stored.
SkuText = Annotated[str, Field(pattern=SKU_INPUT_PATTERN, description=f"Product SKU, e.g. {SKU_EXAMPLE}"),
                    BeforeValidator(_trimmed), AfterValidator(normal_sku)]


def store_id(key: str) -> str:
    """`seattle` -> `store_seattle`."""
    return STORE_PREFIX + key


def store_key(store_id_: str) -> str:
    """`store_seattle` -> `seattle`: the short form people type."""
    return store_id_.removeprefix(STORE_PREFIX)


def category_id(slug: str) -> str:
    return CATEGORY_PREFIX + slug


def category_slug(category_id_: str) -> str:
    return category_id_.removeprefix(CATEGORY_PREFIX)


def type_id(slug: str) -> str:
    return TYPE_PREFIX + slug


def type_slug(type_id_: str) -> str:
    return type_id_.removeprefix(TYPE_PREFIX)


def product_id(sku: str) -> str:
    return PRODUCT_PREFIX + sku


def customer_id(number: int) -> str:
    """The number-th customer (1-based): `cust_000123`."""
    return f"{CUSTOMER_PREFIX}{number:06d}"


def is_customer_id(text: str) -> bool:
    return bool(_CUSTOMER_ID.match(text))


def new_order_id() -> str:
    """A fresh order id: 64 random bits, because devices create orders offline and ids must not
    collide across them (seeded orders use `seeded_order_id`, which never has this shape)."""
    return ORDER_PREFIX + secrets.token_hex(8)


def seeded_order_id(index: int) -> str:
    """The id of the index-th generated order: reproducible from the seed, and distinct from every
    `new_order_id` (8 decimal digits against 16 hex digits)."""
    return f"{ORDER_PREFIX}{index + 1:08d}"


def is_order_id(text: str) -> bool:
    return bool(_ORDER_ID.match(text))


def seeded_order_index(order_id: str) -> int | None:
    """The index `seeded_order_id` made `order_id` from, or None for an order made since (by a tool or a
    device: 16 hex digits)."""
    digits = order_id.removeprefix(ORDER_PREFIX)
    return int(digits) - 1 if len(digits) == 8 and digits.isdigit() and order_id.startswith(ORDER_PREFIX) else None
