"""Stock per store and product in memory: `inventory` (3,392 rows at every scale: 8 stores x 424 products),
loaded on its first use (`zava_core.readmodels`) and kept by the change feed's inventory events (post-images)."""

from __future__ import annotations

from collections.abc import Iterable

from zava_core.readmodels.following import FollowingModel
from zava_core.readmodels.freshness import Freshness
from zava_core.store import Handle

Row = dict  # an inventory document as stored


class StockModel(FollowingModel):
    def __init__(self, inventory: Handle, freshness: Freshness) -> None:
        super().__init__(freshness)
        self._inventory = inventory
        self._by_id: dict[str, Row] = {}
        self._by_product: dict[str, dict[str, Row]] = {}  # product_id -> store_id -> row

    async def _read(self) -> None:
        self._by_id.clear()
        self._by_product.clear()
        async for row in self._inventory.scan(self._inventory.unscoped()):
            self._put(row)

    def _apply(self, events: Iterable[dict]) -> None:
        for event in events:
            doc = event.get("fullDocument")
            if doc is not None and not doc.get("deleted"):
                self._put(doc)
            else:
                self._drop((event.get("documentKey") or {}).get("_id"))

    def _put(self, row: Row) -> None:
        if not isinstance(row["_id"], str):  # another writer's object id: no lookup names it
            return
        self._drop(row["_id"])
        if isinstance(row.get("product_id"), str) and isinstance(row.get("store_id"), str):  # else no lookup finds it
            self._by_id[row["_id"]] = row
            self._by_product.setdefault(row["product_id"], {})[row["store_id"]] = row

    def _drop(self, row_id: object) -> None:
        old = self._by_id.pop(row_id, None)
        if old is not None:
            self._by_product.get(old["product_id"], {}).pop(old["store_id"], None)

    # --- reads: None means "ask the database" ----------------------------------------------------------

    def usable(self, keys: Iterable[tuple[str, str]] = ()) -> bool:
        return self.loaded and self._freshness.following() and self._freshness.settled(
            *(("inventory", store_id, product_id) for store_id, product_id in keys))

    def rows(self, product_ids: Iterable[str], store_ids: Iterable[str]) -> list[Row] | None:
        """The live rows of these products at these stores, or None when the model may not answer."""
        products, stores = list(product_ids), list(store_ids)
        if not self.usable((s, p) for p in products for s in stores):
            return None
        return [row for p in products for s, row in self._by_product.get(p, {}).items() if s in stores]

    def at_or_below(self, threshold: int, store_ids: Iterable[str]) -> list[Row] | None:
        """Rows at or below `threshold` at these stores (low-stock alerts), or None."""
        stores = set(store_ids)
        if not self.usable() or not self._freshness.settled_all("inventory"):
            return None
        return [row for row in self._by_id.values() if row["store_id"] in stores  # a level that is no number: as $lte
                and isinstance(row.get("stock_level"), (int, float)) and row["stock_level"] <= threshold]

    def all_rows(self, store_ids: Iterable[str]) -> list[Row] | None:
        """Every row of these stores (stock health), or None."""
        stores = set(store_ids)
        if not self.usable() or not self._freshness.settled_all("inventory"):
            return None
        return [row for row in self._by_id.values() if row["store_id"] in stores]
