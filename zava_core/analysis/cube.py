"""The sales rollup in memory: numpy arrays over store x month (x category | product) x measure.

`sales_monthly` holds ~660 documents at the default scale; an analysis question needs a handful of
sums over them. Reading them from the embedded engine per question costs ~100 ms and more with
the product maps; holding them as arrays costs ~16 MB and answers in well under a millisecond.
Freshness: before answering, the cube asks for the documents whose `updated_at` is at or after
the newest one it holds (an indexed query that returns the few cells `create_order` touched), and
reloads everything every few minutes in case the rollup was rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta

import anyio
import numpy as np
from pymongo.asynchronous.database import AsyncDatabase

from zava_core.analysis.rollups import MEASURES, SALES_MONTHLY
from zava_core.infra.timeutil import iso, utc_now

FULL_RELOAD_SECONDS = 300.0
M = {name: i for i, name in enumerate(MEASURES)}  # measure -> last-axis index


class SalesCube:
    def __init__(self, stores: list[str], categories: list[str], products: list[str]) -> None:
        self.stores = stores
        self.categories = categories
        self.products = products
        self.store_index = {s: i for i, s in enumerate(stores)}
        self.category_index = {c: i for i, c in enumerate(categories)}
        self.product_index = {p: i for i, p in enumerate(products)}
        self.months: list[str] = []
        self.month_index: dict[str, int] = {}
        shape = (len(stores), 0)
        self.totals = np.zeros((*shape, len(MEASURES)))
        self.by_category = np.zeros((*shape, len(categories), len(MEASURES)))
        self.by_product = np.zeros((*shape, len(products), len(MEASURES)))
        self.newest = ""

    def _ensure_months(self, months: Iterable[str]) -> None:
        wanted = sorted(set(months) | set(self.months))
        if wanted == self.months:
            return
        full = _month_range(wanted[0], wanted[-1])
        remap = [full.index(m) for m in self.months]

        def grow(array: np.ndarray) -> np.ndarray:
            grown = np.zeros((array.shape[0], len(full), *array.shape[2:]))
            if remap:
                grown[:, remap] = array
            return grown

        self.totals, self.by_category, self.by_product = (grow(self.totals), grow(self.by_category),
                                                           grow(self.by_product))
        self.months = full
        self.month_index = {m: i for i, m in enumerate(full)}

    def put(self, docs: list[dict]) -> None:
        """Write documents into the arrays (replacing the cells they describe)."""
        docs = [d for d in docs if not d.get("deleted") and d["store_id"] in self.store_index]
        if not docs:
            return
        self._ensure_months(d["month"] for d in docs)
        for doc in docs:
            s, m = self.store_index[doc["store_id"]], self.month_index[doc["month"]]
            self.totals[s, m] = _vector(doc.get("totals", {}))
            self.by_category[s, m] = 0
            for category_id, figures in doc.get("categories", {}).items():
                if category_id in self.category_index:
                    self.by_category[s, m, self.category_index[category_id]] = _vector(figures)
            self.by_product[s, m] = 0
            for product_id, figures in doc.get("products", {}).items():
                if product_id in self.product_index:
                    self.by_product[s, m, self.product_index[product_id]] = _vector(figures)
            self.newest = max(self.newest, doc.get("updated_at", ""))

    def month_slice(self, first: str | None, last: str | None) -> slice:
        """Month positions from `first` to `last` inclusive (YYYY-MM), clipped to the data."""
        if not self.months:
            return slice(0, 0)
        lo = 0 if first is None else _bisect(self.months, first)
        hi = len(self.months) if last is None else _bisect(self.months, last, right=True)
        return slice(lo, max(lo, hi))


def _vector(figures: dict) -> np.ndarray:
    return np.array([float(figures.get(name, 0)) for name in MEASURES])


def _bisect(months: list[str], month: str, right: bool = False) -> int:
    import bisect

    return bisect.bisect_right(months, month) if right else bisect.bisect_left(months, month)


def _month_range(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return out


class CubeCache:
    """The process's cube, kept fresh from `sales_monthly`."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self._cube: SalesCube | None = None
        self._loaded_at = 0.0
        self._lock = anyio.Lock()

    async def get(self, stores: list[str], categories: list[str], products: list[str]) -> SalesCube:
        async with self._lock:
            stale = self._cube is None or time.monotonic() - self._loaded_at > FULL_RELOAD_SECONDS
            if stale or self._cube.products != products or self._cube.stores != stores:
                self._cube, self._loaded_at = await self._load(stores, categories, products), time.monotonic()
            elif self._cube.newest:
                # Within a minute of the newest stamp, re-read its second too: another order may have
                # written in that same second (stamps have 1 s resolution) or committed late.
                op = "$gte" if self._cube.newest >= iso(utc_now() - timedelta(seconds=60)) else "$gt"
                self._cube.put(await self._db[SALES_MONTHLY].find({"updated_at": {op: self._cube.newest}}).to_list())
            return self._cube

    async def _load(self, stores: list[str], categories: list[str], products: list[str]) -> SalesCube:
        cube = SalesCube(stores, categories, products)
        months = await self._db[SALES_MONTHLY].distinct("month")
        if months:
            cube._ensure_months(months)
        async for doc in self._db[SALES_MONTHLY].find({}):  # streamed: the product maps are large
            cube.put([doc])
        return cube
