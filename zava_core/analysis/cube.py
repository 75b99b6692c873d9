"""The sales rollup in memory: numpy arrays over store x month (x category | product) x measure.

`sales_monthly` holds ~660 documents at the default scale; an analysis question needs a handful of
sums over them. Reading them from the embedded engine per question costs ~100 ms and more with
the product maps; holding them as arrays costs ~16 MB and answers in well under a millisecond.
Freshness: where the process runs the change feed, the cells the sales fold rewrites arrive as its events
(`on_changes`) and the cube answers with no database read at all; elsewhere, before answering, the cube asks
for the documents whose `updated_at` is at or after the newest one it holds (an indexed query that returns the
few cells changed since). Every few minutes it checks the collection's identity (its UUID, ~5 ms) in case the
rollup was rebuilt, reloading everything only then. A full load leaves a snapshot on local disk
(`cube_snapshot`), so the next process starts from it in milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path

import anyio
import numpy as np

from zava_core.analysis import cube_snapshot
from zava_core.analysis.cube_snapshot import Fingerprint
from zava_core.analysis.rollups import MEASURES
from zava_core.infra.memory import release_freed_memory
from zava_core.infra.timeutil import iso, now_iso, parse_iso, utc_now
from zava_core.store import Handle

log = logging.getLogger("zava.cube")
FULL_RELOAD_SECONDS = 300.0  # how often the rollup's identity is checked for a rebuild
SAME_SECOND_MARGIN = timedelta(seconds=60)  # stamps have 1 s resolution and commits can land late
M = {name: i for i, name in enumerate(MEASURES)}  # measure -> last-axis index
REPLACED = ("rename", "drop")  # events that mean the rollup was replaced or removed whole, not changed cell by cell


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
            for array, index, key in ((self.by_category, self.category_index, "categories"),
                                      (self.by_product, self.product_index, "products")):
                array[s, m] = 0
                cells = [(index[k], figures) for k, figures in doc.get(key, {}).items() if k in index]
                if cells:  # one assignment per document: ~4x faster than a row at a time
                    array[s, m, [i for i, _ in cells]] = [[float(f.get(n, 0)) for n in MEASURES] for _, f in cells]
            self.newest = max(self.newest, doc.get("updated_at", ""))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"totals": self.totals, "by_category": self.by_category, "by_product": self.by_product}

    def restore(self, arrays: dict[str, np.ndarray], months: list[str], newest: str) -> None:
        self.totals, self.by_category, self.by_product = arrays["totals"], arrays["by_category"], arrays["by_product"]
        self.months = months
        self.month_index = {m: i for i, m in enumerate(months)}
        self.newest = newest

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
    """The process's cube, kept fresh from `sales_monthly`; `snapshot_dir` (optional) holds its disk copy."""

    def __init__(self, rollup: Handle, snapshot_dir: Path | None = None) -> None:
        self._rollup = rollup
        self._snapshot_dir = snapshot_dir
        self._cube: SalesCube | None = None
        self._fingerprint: Fingerprint | None = None
        self._checked_at = 0.0
        self._lock = anyio.Lock()
        self.loaded_from = ""  # "snapshot" or "rollup": how the cube in hand was first filled
        self._fed: Callable[[], bool] | None = None
        self._missed = True  # events may have passed while no cube was held: read the changes once

    async def get(self, stores: list[str], categories: list[str], products: list[str]) -> SalesCube:
        async with self._lock:
            cube = self._cube
            shape_changed = cube is None or (cube.stores, cube.categories, cube.products) != (
                stores, categories, products)
            if not shape_changed and time.monotonic() - self._checked_at > FULL_RELOAD_SECONDS:
                now = await self._fingerprint_now()
                shape_changed = now is None or now != self._fingerprint  # no identity to compare: reload
                self._checked_at = time.monotonic()
            if shape_changed:
                self._cube = await self._load(stores, categories, products)
                self._missed = True
            fed = self._fed is not None and self._fed()
            if self._cube is not None and self._cube.newest and (self._missed or not fed):
                await self._apply_changes(self._cube, self._cube.newest, utc_now())
                self._missed = not fed
            return self._cube

    def follow(self, following: Callable[[], bool]) -> None:
        """Take the rollup's changed cells from the process's change feed (`on_changes`); `following()` says
        whether the feed delivers (when not, each ask reads the cells changed since the newest one held)."""
        self._fed = following

    async def on_changes(self, events: Sequence[dict]) -> None:
        if any(event.get("operationType") in REPLACED for event in events):
            self._checked_at = float("-inf")  # the rollup was replaced whole (a rebuild): the next ask reloads
            self._missed = True
            return
        cube = self._cube
        if cube is None or self._lock.locked():  # loading: the load reads the changes itself afterwards
            self._missed = True
            return
        cube.put([event["fullDocument"] for event in events if event.get("fullDocument")])

    async def _apply_changes(self, cube: SalesCube, newest: str, read_at: object) -> None:
        # Near the newest stamp, re-read its second too: another order may have written in that same second
        # (stamps have 1 s resolution) or committed late.
        near = newest >= iso(read_at - SAME_SECOND_MARGIN)  # type: ignore[operator]
        changed = await self._rollup.find({"updated_at": {"$gte" if near else "$gt": newest}}).to_list()
        cube.put(changed)

    async def _fingerprint_now(self) -> Fingerprint | None:
        db = self._rollup.database
        infos = await (await db.list_collections(filter={"name": self._rollup.name})).to_list()
        if not infos or "uuid" not in infos[0].get("info", {}):
            return None
        return Fingerprint(db.name, bytes(infos[0]["info"]["uuid"]).hex())

    async def _load(self, stores: list[str], categories: list[str], products: list[str]) -> SalesCube:
        fingerprint = await self._fingerprint_now()
        self._fingerprint, self._checked_at = fingerprint, time.monotonic()
        cube = SalesCube(stores, categories, products)
        if fingerprint is not None and self._snapshot_dir is not None:
            saved = await anyio.to_thread.run_sync(cube_snapshot.load, self._snapshot_dir, fingerprint)
            if saved is not None and saved[1].get("axes") == [stores, categories, products]:
                arrays, meta = saved
                cube.restore(arrays, meta["months"], meta["newest"])
                await self._apply_changes(cube, meta["newest"], parse_iso(meta["saved_at"]))
                self.loaded_from = "snapshot"
                return cube
        started_at = now_iso()
        months = await self._rollup.distinct("month")
        if months:
            cube._ensure_months(months)
        async for doc in self._rollup.scan({}):  # a few cells a round trip: the product maps are large
            cube.put([doc])
        self.loaded_from = "rollup"
        release_freed_memory()  # what decoding the cells used
        # The snapshot claims to be complete only up to a margin before the read began: a write stamped later
        # (or stamped earlier and committed late, within the margin) is read again on top when it is restored.
        complete_to = min(cube.newest, iso(parse_iso(started_at) - SAME_SECOND_MARGIN))
        if fingerprint is not None and self._snapshot_dir is not None and cube.months:
            meta = {"axes": [stores, categories, products], "months": cube.months, "newest": complete_to,
                    "saved_at": started_at}
            # Written from a copy in a worker thread, not awaited: compressing ~16 MB must not hold up the answer.
            copies = {name: array.copy() for name, array in cube.arrays().items()}
            asyncio.get_running_loop().run_in_executor(None, cube_snapshot.save, self._snapshot_dir, fingerprint,
                                                       copies, meta)
        return cube
