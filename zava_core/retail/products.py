"""Products: search by name/description/SKU and full details, with stock in the caller's stores.

Names come from the in-memory catalog (`zava.catalog`, refreshed when products change); stock is read
live from `inventory` on every call, through `stock_units` (name and product search) or `stock_by_product`
(per store, for product details).
"""

from __future__ import annotations

import re

from pydantic import Field

from zava_core import hints
from zava_core.context import Zava
from zava_core.errors import InvalidArgument
from zava_core.retail.catalog_index import CatalogSnapshot
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta


class ProductSummary(Out):
    sku: str
    product_name: str
    category: str
    product_type: str
    price: float = Field(description="Selling price, USD")
    stock_units: int = Field(description="Units on hand across the caller's stores")


class ProductSearchResult(Out):
    products: list[ProductSummary]
    meta: ListMeta


class StoreStock(Out):
    store_id: str
    stock_level: int


class ProductDetails(Out):
    sku: str
    product_id: str
    product_name: str
    description: str
    category: str
    product_type: str
    price: float = Field(description="Selling price, USD")
    cost: float = Field(description="Unit cost to the store, USD")
    gross_margin_percent: float
    specifications: dict[str, str | int | float | bool]
    stock_units: int = Field(description="Units on hand across the caller's stores")
    stock_by_store: list[StoreStock]


def summary(product: dict, stock: int) -> ProductSummary:
    return ProductSummary(sku=product["sku"], product_name=product["product_name"],
                          category=product["category_name"], product_type=product["type_name"],
                          price=product["base_price"], stock_units=stock)


async def stock_by_product(zava: Zava, scope: Scope, product_ids: list[str],
                           store_ids: list[str] | None = None) -> dict[str, dict[str, int]]:
    """{product_id: {store_id: stock_level}} within the scope: from the stock read model, else one indexed query."""
    if not product_ids:
        return {}
    stores = sorted(scope.store_ids if store_ids is None else set(store_ids) & scope.store_ids)
    rows = zava.models.use("stock").rows(product_ids, stores)
    if rows is not None:
        held: dict[str, dict[str, int]] = {}
        for row in rows:
            held.setdefault(row["product_id"], {})[row["store_id"]] = row["stock_level"]
        return held
    inventory = zava.collections.inventory
    query = inventory.live(scope, stores=store_ids, product_id={"$in": product_ids})
    out: dict[str, dict[str, int]] = {}
    async for row in inventory.find(query, {"product_id": 1, "store_id": 1, "stock_level": 1, "_id": 0}):
        out.setdefault(row["product_id"], {})[row["store_id"]] = row["stock_level"]
    return out


async def stock_units(zava: Zava, scope: Scope, product_ids: list[str]) -> dict[str, int]:
    """{product_id: units on hand across the caller's stores}: the one stock read of name and product search.

    From the stock read model while it is fresh (microseconds), else live from `inventory` (~0.1 ms per row
    on the embedded engine, 8 rows per product for head office: most of a search's time, see docs/search.md).
    """
    return {pid: sum(by_store.values()) for pid, by_store in (await stock_by_product(zava, scope, product_ids)).items()}


def match_products(catalog: CatalogSnapshot, text: str) -> list[dict]:
    """Products whose SKU, name or description contains the text (or, failing that, every word of it).

    Ranked: exact SKU, then name matches, then description matches; ties by name.
    """
    needle = " ".join(text.lower().split())
    if len(needle) < 2:
        raise InvalidArgument("product_name needs at least 2 characters, e.g. 'hammer' or 'PTDR'")
    words = re.findall(r"[a-z0-9]+", needle)
    hits: list[tuple[int, str, dict]] = []
    for product_id, haystack in catalog.search_text.items():
        product = catalog.products[product_id]
        name = catalog.names[product_id]
        if product["sku"].lower() == needle:
            rank = 0
        elif needle in name or needle in product["sku"].lower():
            rank = 1
        elif needle in haystack:
            rank = 2
        elif words and all(w in haystack for w in words):
            rank = 3
        else:
            continue
        hits.append((rank, name, product))
    hits.sort(key=lambda h: (h[0], h[1]))
    return [h[2] for h in hits]


async def find_products_by_name(zava: Zava, scope: Scope, text: str, max_rows: int = 20) -> ProductSearchResult:
    limit, note = cap_rows(max_rows)
    matches = match_products(await zava.catalog.get(), text)
    shown = matches[:limit]
    stock = await stock_units(zava, scope, [p["product_id"] for p in shown])
    products = [summary(p, stock.get(p["product_id"], 0)) for p in shown]
    hint = None if matches else hints.NO_PRODUCT_NAMED()
    return ProductSearchResult(products=products, meta=list_meta(len(products), total=len(matches),
                                                                 notes=[note, hint]))


async def product_details(zava: Zava, scope: Scope, sku: str) -> ProductDetails:
    reference = await zava.reference.get()
    product = reference.product_by_sku(sku)
    stock = (await stock_by_product(zava, scope, [product["product_id"]])).get(product["product_id"], {})
    return ProductDetails(
        sku=product["sku"], product_id=product["product_id"], product_name=product["product_name"],
        description=product["description"], category=product["category_name"], product_type=product["type_name"],
        price=product["base_price"], cost=product["cost"], gross_margin_percent=product["gross_margin_percent"],
        specifications=product["specifications"], stock_units=sum(stock.values()),
        stock_by_store=[StoreStock(store_id=s, stock_level=n) for s, n in sorted(stock.items())],
    )
