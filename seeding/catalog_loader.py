"""The Zava DIY catalog: read from the data files in `catalog/`, checked on load.

`taxonomy.json` holds the 9 categories (code, seasonality) and 89 product types (code, how many
products each carries); `products/<category>.json` holds one entry per product. A malformed
entry is reported with its file and SKU, so an edit to the data cannot slip through.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from zava_core.errors import ErrorCode, ZavaError
from zava_core.model import MONTHS, ids

CATALOG_DIR = Path(__file__).parent / "catalog"


class CatalogError(ZavaError, ValueError):
    code = ErrorCode.INVALID_CONFIG


@dataclass(frozen=True)
class ProductType:
    name: str
    code: str
    product_count: int

    @cached_property
    def type_id(self) -> str:
        return ids.type_id(slug(self.name))


@dataclass(frozen=True)
class Category:
    name: str
    code: str
    seasonal_multipliers: dict[str, float]
    types: tuple[ProductType, ...]

    @cached_property
    def category_id(self) -> str:
        return ids.category_id(slug(self.name))

    @property
    def mean_seasonal_multiplier(self) -> float:
        return sum(self.seasonal_multipliers.values()) / 12


@dataclass(frozen=True)
class CatalogProduct:
    sku: str
    name: str
    description: str
    cost: float
    specifications: dict[str, str | int | float | bool]
    category: Category
    type: ProductType

    @cached_property
    def product_id(self) -> str:
        return ids.product_id(self.sku)


@dataclass(frozen=True)
class Catalog:
    categories: tuple[Category, ...]
    products: tuple[CatalogProduct, ...]
    content_hash: str

    @property
    def types(self) -> tuple[ProductType, ...]:
        return tuple(t for c in self.categories for t in c.types)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower().replace("'", "")).strip("_")


@cache
def load_catalog(directory: Path = CATALOG_DIR) -> Catalog:
    digest = hashlib.sha256()
    taxonomy_path = directory / "taxonomy.json"
    taxonomy_bytes = taxonomy_path.read_bytes()
    digest.update(taxonomy_bytes)
    categories: list[Category] = []
    products: list[CatalogProduct] = []
    seen_skus: set[str] = set()
    seen_names: set[str] = set()
    for raw in json.loads(taxonomy_bytes)["categories"]:
        multipliers = {m: float(raw["seasonal_multipliers"][m]) for m in MONTHS}
        types = tuple(ProductType(t["name"], t["code"], int(t["product_count"])) for t in raw["types"])
        category = Category(raw["name"], raw["code"], multipliers, types)
        categories.append(category)
        by_name = {t.name: t for t in types}
        path = directory / "products" / raw["products_file"]
        if not path.exists():
            raise CatalogError(f"{path}: missing products file for {category.name}")
        data = path.read_bytes()
        digest.update(data)
        counts = dict.fromkeys(by_name, 0)
        for entry in json.loads(data):
            try:
                products.append(_product(entry, category, by_name, path, seen_skus, seen_names))
            except (KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, CatalogError):
                    raise
                where = f"{path.name} {entry.get('sku', '(no sku)') if isinstance(entry, dict) else entry!r}"
                detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                raise CatalogError(f"{where}: {detail}") from None
            counts[entry["type"]] += 1
        for type_name, expected in ((t.name, t.product_count) for t in types):
            if counts[type_name] != expected:
                raise CatalogError(f"{path}: {type_name} has {counts[type_name]} products, expected {expected}")
    return Catalog(tuple(categories), tuple(products), digest.hexdigest()[:16])


def _product(
    entry: dict, category: Category, by_name: dict[str, ProductType], path: Path,
    seen_skus: set[str], seen_names: set[str],
) -> CatalogProduct:
    sku = str(entry.get("sku", ""))
    where = f"{path.name} {sku or '(no sku)'}"
    ptype = by_name.get(entry.get("type", ""))
    if ptype is None:
        raise CatalogError(f"{where}: type {entry.get('type')!r} is not a type of {category.name}")
    if not ids.is_sku(sku) or not sku.startswith(category.code + ptype.code):
        raise CatalogError(f"{where}: SKU must be {category.code}{ptype.code} followed by 6 digits")
    if sku in seen_skus or entry["name"] in seen_names:
        raise CatalogError(f"{where}: duplicate SKU or name")
    specs = entry.get("specifications", {})
    if not isinstance(specs, dict) or any(isinstance(v, list | dict) or v is None for v in specs.values()):
        raise CatalogError(f"{where}: specifications must be a flat map of strings, numbers or booleans")
    cost = float(entry["cost"])
    if not 1 <= cost <= 500 or round(cost, 2) != cost:
        raise CatalogError(f"{where}: cost {cost} must be dollars and cents between 1 and 500")
    seen_skus.add(sku)
    seen_names.add(entry["name"])
    return CatalogProduct(sku, entry["name"], entry["description"], cost, specs, category, ptype)
