"""`python -m bench scale-model [--stores 8,128,1000] [--structures cube,stock,customers,orders]`: what the in-memory
structures cost with many stores, built from synthetic documents (no engine, no seeding).

The source is the generated default-scale dataset (8 stores, ~25K customers, ~99K orders, ~207K lines; seed 1, as of
2026-11-01). N stores are N/8 copies of it under fresh ids of realistic length (`store_0001`, `cust_0025001`,
`ord_00099001`, UUID-length line and inventory ids): every store sells, stocks and serves customers as a default-scale
store does. Each (structure, stores) is built by the structure's own loader (`StockModel.load`,
`CustomerDirectory.load`, `OrderBook.load`, `SalesCube.put`) from an in-memory stand-in for the collection, in a
fresh process, and reported as:

- live MB: the resident memory the built structure adds (Linux RSS after a garbage collection, minus the process's
  RSS holding the source before the build): what a server process pays, allocator overhead included;
- build s: the loader's time over documents already in memory (a server also waits for the database to send them:
  see docs/scale.md for the read rates measured on the engine);
- for the cube, the arrays' exact bytes, and its disk snapshot's size and save/load times.

Linux only (/proc). Large store counts need memory: the orders model at 1,000 stores is several GB.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import pickle
import platform
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from bench import procstat
from zava_core.model import ALL_SPECS
from zava_core.store.handles import CollectionRules

SOURCE_STORES = 8
SOURCE_CACHE = Path(tempfile.gettempdir()) / "zava-scale-model-source-v1.pickle"
STRUCTURES = ("cube", "stock", "customers", "orders")


# --- the source: the default-scale dataset, generated once and cached ------------------------------------------


def _generate_source() -> dict[str, Any]:
    from bench.harness import AS_OF
    from seeding.catalog_loader import load_catalog
    from seeding.generate import Generator
    from zava_core.analysis.rollups import RollupAccumulator
    from zava_core.readmodels.customers import FIELDS
    from zava_core.readmodels.orders import LINE_FIELDS, ORDER_FIELDS

    generator = Generator(load_catalog(), scale="default", seed=1, as_of=AS_OF)
    monthly = RollupAccumulator("month")
    orders, lines = [], []
    for _, headers, chunk_lines in generator.order_chunks():
        orders += [{"_id": h["_id"], **{k: h.get(k) for k in ORDER_FIELDS}} for h in headers]
        start = 0
        for end in range(1, len(chunk_lines) + 1):
            if end == len(chunk_lines) or chunk_lines[end]["order_id"] != chunk_lines[start]["order_id"]:
                monthly.add_order(chunk_lines[start:end])
                start = end
        lines += [{"_id": ln["_id"], **{k: ln.get(k) for k in LINE_FIELDS}} for ln in chunk_lines]
    customers = [{**{k: c.get(k) for k in FIELDS}, "deleted": False} for batch in generator.customer_batches()
                 for c in batch]
    return {"stores": [s["store_id"] for s in generator.store_documents()],
            "store_names": {s["store_id"]: s["store_name"] for s in generator.store_documents()},
            "categories": [c["category_id"] for c in generator.category_documents()],
            "products": [p["product_id"] for p in generator.product_documents()],
            "inventory": generator.inventory_documents(), "customers": customers, "orders": orders, "lines": lines,
            "monthly": monthly.documents("2026-11-01T00:00:00Z")}


def source() -> dict[str, Any]:
    if SOURCE_CACHE.exists():
        with SOURCE_CACHE.open("rb") as cached:
            return pickle.load(cached)
    data = _generate_source()
    temporary = SOURCE_CACHE.with_suffix(f".{os.getpid()}.tmp")
    with temporary.open("wb") as out:
        pickle.dump(data, out, protocol=pickle.HIGHEST_PROTOCOL)
    temporary.replace(SOURCE_CACHE)
    return data


# --- N stores as copies of the source under fresh ids ----------------------------------------------------------


class Copies:
    """Copy `c` of the source becomes stores c*8 .. c*8+7; ids keep their shape, widened to the larger counts."""

    def __init__(self, data: dict[str, Any], stores: int) -> None:
        self.data = data
        self.copies = max(1, stores // SOURCE_STORES)
        self.customers, self.orders = len(data["customers"]), len(data["orders"])
        self.store_index = {s: i for i, s in enumerate(data["stores"])}

    def store_ids(self) -> list[str]:
        return [self.store(c, s) for c in range(self.copies) for s in self.data["stores"]]

    def store(self, copy: int, store_id: str) -> str:
        return f"store_{copy * SOURCE_STORES + self.store_index[store_id]:04d}"

    def customer(self, copy: int, customer_id: str) -> str:
        return f"cust_{copy * self.customers + int(customer_id[5:]):07d}"

    def order(self, copy: int, order_id: str) -> str:
        return f"ord_{copy * self.orders + int(order_id[4:]):08d}"

    @staticmethod
    def uuid(copy: int, value: str) -> str:
        return f"{value[:-6]}{copy:06d}"

    def inventory(self) -> Iterator[dict]:
        for c in range(self.copies):
            for row in self.data["inventory"]:
                yield {**row, "_id": self.uuid(c, row["_id"]), "store_id": self.store(c, row["store_id"])}

    def customer_docs(self) -> Iterator[dict]:
        for c in range(self.copies):
            for doc in self.data["customers"]:
                user, _, domain = doc["email"].partition("@")
                yield {**doc, "_id": self.customer(c, doc["_id"]), "email": f"{user}.{c}@{domain}",
                       "primary_store_id": self.store(c, doc["primary_store_id"]),
                       "stores_shopped": {self.store(c, s): t for s, t in (doc["stores_shopped"] or {}).items()}}

    def order_docs(self) -> Iterator[dict]:
        for c in range(self.copies):
            for doc in self.data["orders"]:
                yield {**doc, "_id": self.order(c, doc["_id"]), "customer_id": self.customer(c, doc["customer_id"]),
                       "store_id": self.store(c, doc["store_id"])}

    def line_docs(self) -> Iterator[dict]:
        for c in range(self.copies):
            for doc in self.data["lines"]:
                yield {**doc, "_id": self.uuid(c, doc["_id"]), "order_id": self.order(c, doc["order_id"])}

    def monthly_docs(self) -> Iterator[dict]:
        for c in range(self.copies):
            for doc in self.data["monthly"]:
                store = self.store(c, doc["store_id"])
                yield {**doc, "_id": f"{store}|{doc['month']}", "store_id": store}


class Collection(CollectionRules):
    """A store handle over documents in memory for the read models' loaders: the collection's rules from its spec
    (`unscoped`, `scan`: the loaders' own calls) and a `find` that ignores its filter."""

    def __init__(self, name: str, documents: Iterable[dict]) -> None:
        self.spec = ALL_SPECS[name]
        self._documents = documents

    def find(self, *args: Any, **kwargs: Any) -> Cursor:
        return Cursor(iter(self._documents))


class Cursor:
    def __init__(self, documents: Iterator[dict]) -> None:
        self._documents = documents

    def __aiter__(self) -> Cursor:
        return self

    async def __anext__(self) -> dict:
        try:
            return next(self._documents)
        except StopIteration:
            raise StopAsyncIteration from None

    def batch_size(self, count: int) -> Cursor:
        return self

    async def to_list(self) -> list[dict]:
        return list(self._documents)


# --- one measurement, in a fresh process -----------------------------------------------------------------------


def _rss() -> float:
    gc.collect()
    return (procstat.memory_mb(os.getpid()) or {}).get("VmRSS", 0.0)


def _import_loaders() -> None:
    import zava_core.analysis.cube
    import zava_core.analysis.cube_snapshot
    import zava_core.readmodels  # noqa: F401  (the models, the feed, pymongo, numpy)


def _build(structure: str, copies: Copies) -> tuple[Any, dict[str, Any]]:
    from zava_core.readmodels.freshness import Freshness

    extra: dict[str, Any] = {}
    if structure == "cube":
        from zava_core.analysis.cube import SalesCube

        cube = SalesCube(copies.store_ids(), copies.data["categories"], copies.data["products"])
        docs = copies.monthly_docs()
        months = sorted({d["month"] for d in copies.data["monthly"]})
        cube._ensure_months(months)  # as CubeCache._load does (distinct months first): no regrowth
        for doc in docs:
            cube.put([doc])
        extra["array_mb"] = sum(a.nbytes for a in cube.arrays().values()) / 2**20
        extra["cells"] = len(copies.data["monthly"]) * copies.copies
        return cube, extra
    if structure == "stock":
        from zava_core.readmodels.stock import StockModel

        model: Any = StockModel(Collection("inventory", copies.inventory()), Freshness())  # type: ignore[arg-type]
        extra["rows"] = len(copies.data["inventory"]) * copies.copies
    elif structure == "customers":
        from zava_core.readmodels.customers import CustomerDirectory

        model = CustomerDirectory(Collection("customers", copies.customer_docs()), Freshness())  # type: ignore[arg-type]
        extra["rows"] = copies.customers * copies.copies
    else:
        from zava_core.readmodels.orders import OrderBook

        model = OrderBook(Collection("orders", copies.order_docs()), Collection("order_items", copies.line_docs()),  # type: ignore[arg-type]
                          Freshness())
        extra["rows"] = copies.orders * copies.copies
        extra["lines"] = len(copies.data["lines"]) * copies.copies
    asyncio.run(model.load())
    return model, extra


def _snapshot_costs(cube: Any) -> dict[str, float]:
    from zava_core.analysis import cube_snapshot
    from zava_core.analysis.cube_snapshot import Fingerprint

    with tempfile.TemporaryDirectory() as directory:
        fingerprint = Fingerprint("scale", "0" * 32)
        started = time.perf_counter()
        path = cube_snapshot.save(Path(directory), fingerprint, cube.arrays(), {"months": cube.months})
        saved = time.perf_counter() - started
        size = path.stat().st_size / 2**20 if path else 0.0
        started = time.perf_counter()
        cube_snapshot.load(Path(directory), fingerprint)
        return {"snapshot_mb": size, "snapshot_save_s": saved, "snapshot_load_s": time.perf_counter() - started}


def measure(structure: str, stores: int) -> dict[str, Any]:
    """Build one structure for `stores` stores (in this process) and say what it cost."""
    data = source()
    copies = Copies(data, stores)
    _import_loaders()  # their modules are not the structure's cost
    before = _rss()
    started = time.perf_counter()
    built, extra = _build(structure, copies)
    seconds = time.perf_counter() - started
    after = _rss()
    row = {"structure": structure, "stores": copies.copies * SOURCE_STORES, "build_s": seconds,
           "live_mb": after - before, **extra}
    if structure == "cube":
        row.update(_snapshot_costs(built))
    del built
    return row


def _child(structure: str, stores: int, queue: multiprocessing.Queue) -> None:
    try:
        queue.put(measure(structure, stores))
    except MemoryError:
        queue.put({"structure": structure, "stores": stores, "error": "out of memory"})


def measure_apart(structure: str, stores: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(structure, stores, queue))
    process.start()
    process.join()
    if process.exitcode != 0 or queue.empty():
        return {"structure": structure, "stores": stores, "error": f"exit {process.exitcode}"}
    return queue.get()


def render(rows: list[dict[str, Any]]) -> str:
    lines = [f"## In-memory structures with many stores (synthetic: copies of the default scale)\n\n"
             f"{date.today()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
             f"load average {procstat.load_average()}.\n",
             "| structure | stores | rows | live MB | MB per store | build s | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['structure']} | {r['stores']:,} | | | | | {r['error']} |")
            continue
        note = ""
        if r["structure"] == "cube":
            note = (f"arrays {r['array_mb']:,.0f} MB; snapshot {r['snapshot_mb']:,.1f} MB on disk, saved in "
                    f"{r['snapshot_save_s']:.1f} s, loaded in {r['snapshot_load_s']:.1f} s")
        elif r["structure"] == "orders":
            note = f"{r['lines']:,} lines"
        count = r.get("rows", r.get("cells", 0))
        lines.append(f"| {r['structure']} | {r['stores']:,} | {count:,} | {r['live_mb']:,.1f} | "
                     f"{r['live_mb'] / r['stores']:.2f} | {r['build_s']:.1f} | {note} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scale-model", description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="8,128,1000", help="store counts, multiples of 8, comma-separated")
    parser.add_argument("--structures", default=",".join(STRUCTURES), help=f"some of {','.join(STRUCTURES)}")
    args = parser.parse_args(argv)
    if platform.system() != "Linux":
        raise SystemExit("error: bench scale-model reads /proc (Linux only)")
    try:
        counts = [int(n) for n in args.stores.split(",") if n.strip()]
    except ValueError:
        raise SystemExit("error: --stores takes whole numbers, e.g. 8,128,1000") from None
    if any(n < SOURCE_STORES or n % SOURCE_STORES for n in counts):
        raise SystemExit(f"error: --stores: each count must be a multiple of {SOURCE_STORES}, e.g. 8,128,1000")
    structures = [s.strip() for s in args.structures.split(",") if s.strip()]
    unknown = sorted(set(structures) - set(STRUCTURES))
    if unknown:
        raise SystemExit(f"error: --structures: unknown {', '.join(unknown)}; choose from {', '.join(STRUCTURES)}")
    if not SOURCE_CACHE.exists():
        print("generating the default-scale source once (cached in " f"{SOURCE_CACHE})", file=sys.stderr)
        source()
    rows = []
    for structure in structures:
        for stores in counts:
            rows.append(measure_apart(structure, stores))
            print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    print(render(rows))
    return 0
