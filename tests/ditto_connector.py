"""Ditto's MongoDB Connector, simulated for tests: store devices are real Ditto peers running our DQL, and what
they did reaches MongoDB the way the connector writes it.

    devices (real offline Ditto small peers, zava_ditto.dql)  ──merge (Ditto's CRDT rules)──►  MongoDB
                                                                one whole document per write, json mode

What is real, what is simulated, and the assumptions (each one a place where the real connector may differ):

1. **The documents are the SDK's.** Each device is an offline small peer of `dittolive-ditto` (as in
   tests/integration/test_ditto_dql.py). The apps' operations run our statements (`zava_ditto.dql`: the
   CREATE_ORDER steps, CANCEL_ORDER_STEPS, `record_return` with RESTOCK) in a device transaction; what is written
   into MongoDB is read back from the peer (`SELECT *`), never built here.
2. **A device holds what it subscribed to when it was last online**: `Connector.apart()` opens fresh peers and
   loads each with the same MongoDB documents (the connector's initial sync), counters declared as counters
   (`inventory.stock_level`, `orders.cancel_count`, each key of `orders.returned_quantities`). docs/ditto.md lists
   how the connector delivers a counter as unverified; a plain number would make the first increment discard it.
3. **Peers never meet** (peer-to-peer sync needs a licence token): `Connector.plan()` merges each document the
   devices changed the way Ditto's CRDTs do (`merge`): a COUNTER is the base plus the sum of each device's
   increment; a map (object, `dqlStrictMode: false`) is merged key by key; any other field (a REGISTER) is the
   last writer's. "Last" is per document: the device whose latest statement touched the document, by the order
   the statements ran here (Ditto stamps each register with a hybrid logical clock; per field would differ only
   when two devices change different registers of one document with interleaved writes). A field a device
   removed counts as written (absent); a register written back to its base value cannot be told from one left
   alone (it counts as untouched). `RESTART WITH` on one device is taken as an increment by the difference
   (no test restarts a counter on two devices apart).
4. **The base of the merge is MongoDB's copy when the devices loaded it**: nothing else writes those documents in
   MongoDB while the devices are apart (the connector's own MongoDB-versus-Ditto resolution is not public).
5. **How the connector writes** (`mode: json`, docs/ditto.md): string `_id`s as on the device, counters as plain
   numbers, one document per write and no transaction across documents. Each changed document is written whole
   with `replace_one(..., upsert=True)` (an insert when new): in json mode the connector holds the document's
   resolved value, not the operations that made it (a counter's merged value cannot be an `$inc` without the
   value MongoDB last had), and a replace is the harder case for a reader of the change stream (no
   `updateDescription`; only the full document and its pre-image). Each document is written once per sync, at
   the position of its last change, so a line may reach MongoDB before its order's header when a test reorders
   the plan (the connector gives no order across documents).
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zava_core.infra.timeutil import now_iso
from zava_core.model import ids, new_order_id
from zava_ditto import dql

if TYPE_CHECKING:  # the SDK is imported only where devices run (the merge rules need none of it)
    from ditto import Ditto
    from pymongo.asynchronous.database import AsyncDatabase

# Fields devices change only through COUNTER operations; "*" is every key of a map of counters.
COUNTERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "inventory": (("stock_level",),),
    "orders": (("cancel_count",), ("returned_quantities", "*")),
}
_ABSENT = object()


# --- Ditto's merge, on plain dicts ---------------------------------------------------------------------------


def is_counter(collection: str, path: Sequence[str]) -> bool:
    return any(len(pattern) == len(path) and all(p in ("*", k) for p, k in zip(pattern, path, strict=True))
               for pattern in COUNTERS.get(collection, ()))


def merge(collection: str, base: Mapping[str, Any] | None, versions: Sequence[tuple[int, Mapping[str, Any]]]
          ) -> dict[str, Any]:
    """One document as Ditto converges it: `base` is what every device started from (None: created on a device),
    `versions` pairs each device's copy with the stamp of its last write of it (a higher stamp wrote later)."""
    return _merge_map(collection, (), base or {}, versions)


def _merge_map(collection: str, path: tuple[str, ...], base: Mapping[str, Any],
               versions: Sequence[tuple[int, Mapping[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    keys = dict.fromkeys([*base, *(k for _, version in versions for k in version)])
    for key in keys:
        here = (*path, key)
        old = base.get(key, _ABSENT)
        new = [(stamp, version.get(key, _ABSENT)) for stamp, version in versions]
        if is_counter(collection, here):
            values = [v for _, v in new if v is not _ABSENT]
            if old is _ABSENT and not values:
                continue
            start = _number(old)
            out[key] = start + sum(_number(v) - start for v in values)
        elif all(isinstance(v, Mapping) for v in (old, *(v for _, v in new)) if v is not _ABSENT):
            out[key] = _merge_map(collection, here, old if old is not _ABSENT else {},
                                  [(stamp, v if v is not _ABSENT else {}) for stamp, v in new])
        else:
            written = [(stamp, v) for stamp, v in new if v != old]
            value = max(written, key=lambda sv: sv[0])[1] if written else old
            if value is not _ABSENT:
                out[key] = value
    return out


def _number(value: object) -> int | float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


# --- devices ---------------------------------------------------------------------------------------------------


@dataclass
class Write:
    """One document the connector writes into MongoDB, in the order it writes them."""

    collection: str
    doc: dict[str, Any]

    @property
    def doc_id(self) -> str:
        return self.doc["_id"]


@dataclass
class Device:
    """One store device: a real offline Ditto small peer holding what it loaded, running the apps' statements."""

    name: str
    peer: Ditto
    clock: itertools.count
    changed: dict[tuple[str, str], int] = field(default_factory=dict)  # (collection, _id) -> stamp of last write

    async def query(self, statement: dql.Statement, **args: Any) -> list[dict]:
        with await self.peer.store.execute(statement.dql, statement.args(**args)) as result:
            return [item.value for item in result.items]

    async def read(self, collection: str, doc_id: str) -> dict | None:
        with await self.peer.store.execute(f"SELECT * FROM {collection} WHERE _id = :id", {"id": doc_id}) as result:
            rows = [item.value for item in result.items]
        return rows[0] if rows else None

    async def _run(self, executor: Any, statement: dql.Statement, **args: Any) -> list[dict]:
        """Run one statement (on the store or in a transaction) and note what it changed."""
        with await executor.execute(statement.dql, statement.args(**args)) as result:
            rows = [item.value for item in result.items]
            if statement.mutates:
                stamp = next(self.clock)
                rows = [{"_id": doc_id.value} for doc_id in result.mutated_document_ids()]
                for row in rows:
                    self.changed[(statement.collection, row["_id"])] = stamp
        return rows

    # The apps' operations (the same steps as tests/integration/test_ditto_dql.py runs).

    async def sell(self, customer_id: str, store_id: str, items: Sequence[tuple[str, int]]) -> tuple[dict, list[dict]]:
        """A Sales Rep order: the customer, store and products as this device knows them, then header, lines,
        counter decrements and the customer's store key in one device transaction."""
        (customer,) = await self.query(dql.CUSTOMER_BY_ID, customer_id=customer_id)
        (store,) = [s for s in await self.query(dql.LIST_STORES) if s["store_id"] == store_id]
        products = [(await self.query(dql.PRODUCT_BY_SKU, sku=sku))[0] for sku, _ in items]
        now = now_iso()
        order, lines = dql.order_documents(new_order_id(), customer, store,
                                           [(p, q) for p, (_, q) in zip(products, items, strict=True)], now)

        async def scope(tx: Any) -> None:
            await self._run(tx, dql.INSERT_ORDER, order=order)
            for line in lines:
                await self._run(tx, dql.INSERT_ORDER_ITEM, line=line)
                await self._run(tx, dql.DECREMENT_STOCK, delta=-line["quantity"], now=now, store_id=store_id,
                                product_id=line["product_id"])
            await self._run(tx, dql.mark_store_shopped(store_id), now=now, customer_id=customer_id)

        await self.peer.store.transaction(scope)
        return order, lines

    async def cancel(self, order_id: str, store_id: str, reason: str = "customer changed their mind") -> bool:
        """CANCEL_ORDER_STEPS: the guarded cancel, then each line's kept units back on the shelf."""
        cancelled = False

        async def scope(tx: Any) -> None:
            nonlocal cancelled
            now = now_iso()
            (order,) = await self._run(tx, dql.ORDER_FOR_CHANGE, order_id=order_id, store_id=store_id)
            lines = await self._run(tx, dql.ORDER_LINES, order_id=order_id)
            cancelled = bool(await self._run(tx, dql.CANCEL_ORDER, now=now, reason=reason, order_id=order_id,
                                             store_id=store_id, cancellable=dql.CANCELLABLE_STATUSES))
            returned = order.get("returned_quantities") or {}
            for line in lines if cancelled else ():
                kept = line["quantity"] - returned.get(line["sku"], 0)
                if kept > 0:
                    await self._run(tx, dql.RESTOCK, units=kept, now=now, store_id=store_id,
                                    product_id=line["product_id"])

        await self.peer.store.transaction(scope)
        return cancelled

    async def take_back(self, order_id: str, store_id: str, line: Mapping[str, Any], units: int) -> bool:
        """A return: `record_return(sku)` (a counter per SKU in the order's map) and RESTOCK, in one transaction."""
        returned = False

        async def scope(tx: Any) -> None:
            nonlocal returned
            now = now_iso()
            returned = bool(await self._run(tx, dql.record_return(line["sku"]), units=units, now=now,
                                            order_id=order_id, store_id=store_id,
                                            returnable=dql.RETURNABLE_STATUSES))
            if returned:
                await self._run(tx, dql.RESTOCK, units=units, now=now, store_id=store_id,
                                product_id=line["product_id"])

        await self.peer.store.transaction(scope)
        return returned


def load_statement(collection: str, doc: Mapping[str, Any]) -> str:
    """An upsert of one document as delivered to a device, its counters declared as counters (the keys of a map of
    counters are named: DQL declares a map's counters key by key)."""
    declared = []
    for pattern in COUNTERS.get(collection, ()):
        if pattern[-1] != "*":
            declared.append(f"{'.'.join(pattern)} COUNTER")
            continue
        keys = sorted((doc.get(pattern[0]) or {}).keys())
        if any(not ids.is_sku(k) for k in keys):  # spliced into DQL: only SKUs (as dql.record_return checks)
            raise ValueError(f"{collection} {doc.get('_id')}: {pattern[0]} has a key that is not a SKU")
        if keys:
            declared.append(f"{pattern[0]} MAP({', '.join(f'{k} COUNTER' for k in keys)})")
    target = f"COLLECTION {collection} ({', '.join(declared)})" if declared else collection
    return f"INSERT INTO {target} DOCUMENTS (:doc) ON ID CONFLICT DO UPDATE"


# --- the connector ---------------------------------------------------------------------------------------------


class Connector:
    """Ditto Server and its MongoDB Connector between the devices and one MongoDB database."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.clock = itertools.count(1)  # one order of statements across every device
        self.base: dict[tuple[str, str], dict] = {}  # what the devices apart loaded, per document
        self.devices: list[Device] = []

    @contextlib.asynccontextmanager
    async def apart(self, count: int, subscriptions: Mapping[str, Mapping[str, Any]],
                    extra: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> AsyncIterator[list[Device]]:
        """`count` devices that synced `subscriptions` (collection -> MongoDB filter) and then went offline,
        plus `extra` documents only the devices hold (a product the catalog lacks, say)."""
        from ditto import Ditto, DittoConfig, DittoConfigConnect

        loaded: dict[str, list[dict]] = {}
        for collection, query in subscriptions.items():
            loaded[collection] = await self.db[collection].find(dict(query)).to_list()
            for doc in loaded[collection]:
                self.base[(collection, doc["_id"])] = doc
        folders, devices = [], []
        try:
            for number in range(count):
                folder = tempfile.mkdtemp(prefix="zava-device-")
                folders.append(folder)
                config = DittoConfig(database_id=str(uuid.uuid4()), connect=DittoConfigConnect.small_peers_only(),
                                     persistence_directory=folder)
                peer = await Ditto.open(config)
                device = Device(f"device-{number + 1}", peer, self.clock)
                devices.append(device)
                for collection, docs in [*loaded.items(), *(extra or {}).items()]:
                    for doc in docs:
                        (await peer.store.execute(load_statement(collection, doc), {"doc": dict(doc)})).close()
            self.devices = devices
            yield devices
        finally:
            for device in devices:
                await device.peer.close()
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)

    async def plan(self, devices: Sequence[Device] | None = None) -> list[Write]:
        """Each document the devices changed, merged (`merge`), in the order of its last change."""
        devices = self.devices if devices is None else devices
        last: dict[tuple[str, str], int] = {}
        for device in devices:
            for key, stamp in device.changed.items():
                last[key] = max(stamp, last.get(key, 0))
        writes = []
        for key in sorted(last, key=last.__getitem__):
            collection, doc_id = key
            versions = []
            for device in devices:
                if key in device.changed:
                    version = await device.read(collection, doc_id)
                    versions.append((device.changed[key], version if version is not None else {}))
            writes.append(Write(collection, merge(collection, self.base.get(key), versions)))
        return writes

    async def write(self, writes: Sequence[Write]) -> None:
        """Into MongoDB as the connector writes: one whole document per write, no transaction across them."""
        for w in writes:
            await self.db[w.collection].replace_one({"_id": w.doc_id}, w.doc, upsert=True)

    async def deliver(self, writes: Sequence[Write], devices: Sequence[Device] | None = None) -> None:
        """The merged documents back on the devices (they were online for the sync): later changes start there."""
        devices = self.devices if devices is None else devices
        for w in writes:
            self.base[(w.collection, w.doc_id)] = w.doc
            for device in devices:
                (await device.peer.store.execute(load_statement(w.collection, w.doc), {"doc": w.doc})).close()
                device.changed.pop((w.collection, w.doc_id), None)

    async def sync(self, devices: Sequence[Device] | None = None) -> list[Write]:
        """Everything the devices changed, merged, written into MongoDB and delivered back to the devices."""
        writes = await self.plan(devices)
        await self.write(writes)
        await self.deliver(writes, devices)
        return writes
