"""Offline conflicts for a store manager: list what the change feed found (`zava_core.feed.conflicts`) and
resolve one, applying its stock correction in one transaction recorded in `stock_movements`.

Resolving is idempotent: the conflict's id is the movement's idempotency key, so resolving twice (a retry,
two managers) moves stock once; a resolved conflict answers with the movement that resolved it. A correction
never takes stock below zero: it moves what is on the shelf at most, and the answer says what moved.
"""

from __future__ import annotations

import uuid

from pydantic import Field
from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core import hints
from zava_core.context import Zava
from zava_core.errors import InvalidArgument, NotFound
from zava_core.infra.timeutil import now_iso
from zava_core.limits import CONFLICT_ID_MAX_CHARS
from zava_core.model import stock_movement
from zava_core.retail import operations
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta
from zava_core.store import Abort

STATUSES = ("open", "resolved", "all")


class ConflictView(Out):
    conflict_id: str
    kind: str
    store_id: str
    order_id: str | None = None
    sku: str | None = None
    found_at: str
    what: str
    correction: dict[str, int] = Field(description="SKU -> units resolving puts on (+) or takes off (-) the shelf")
    suggestion: str
    status: str
    resolved_at: str | None = None
    resolved_by: str | None = None


class ConflictList(Out):
    conflicts: list[ConflictView]
    meta: ListMeta


class Resolution(Out):
    """What resolving did (the conflict itself is in list_sync_conflicts' answer: not repeated here)."""

    conflict_id: str
    store_id: str
    status: str
    resolved_at: str | None = None
    moved: dict[str, int] = Field(description="SKU -> units put on (+) or taken off (-) the shelf by resolving it")
    stock_after: dict[str, int] = Field(default_factory=dict, description="SKU -> units now (not on a replay)")
    replayed: bool


def _view(doc: dict) -> ConflictView:
    return ConflictView(**{name: doc.get(name) for name in ConflictView.model_fields if name in doc})


async def list_conflicts(zava: Zava, scope: Scope, status: str = "open", store: str | None = None,
                         max_rows: int = 20) -> ConflictList:
    """The conflicts of the caller's stores (one store if named), oldest first."""
    if status not in STATUSES:
        raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}")
    limit, note = cap_rows(max_rows)
    store_ids = scope.stores(store, (await zava.reference.get()).stores)
    handle = zava.collections.sync_conflicts
    found: list[dict] = []
    for store_id in store_ids:  # one indexed query per store (the engine scans for $in on a leading key)
        query = handle.live(scope, store_id=store_id, **({} if status == "all" else {"status": status}))
        found += await handle.find(query).sort("found_at", 1).limit(limit + 1).to_list()
    found.sort(key=lambda d: (d["found_at"], d["_id"]))
    shown = [_view(doc) for doc in found[:limit]]
    hint = None if shown else f"no {'' if status == 'all' else status + ' '}conflicts at {', '.join(store_ids)}"
    return ConflictList(conflicts=shown, meta=list_meta(len(shown), truncated=len(found) > limit,
                                                        notes=[note, hint]))


async def resolve_conflict(zava: Zava, scope: Scope, conflict_id: str, note: str | None = None) -> Resolution:
    """Apply an open conflict's correction to the store's stock and mark it resolved, once."""
    reason = operations.note(note or "sync conflict resolved")
    c = zava.collections
    conflict = await conflict_in_scope(zava, scope, conflict_id)
    cid = conflict["_id"]
    key = f"conflict/{cid}"
    if conflict["status"] == "resolved":
        return await _replay(zava, conflict, key)
    store_id = conflict["store_id"]
    reference = await zava.reference.get()
    moved: dict[str, int] = {}
    stock_after: dict[str, int] = {}
    now = now_iso()

    async def write(session: AsyncClientSession) -> None:
        moved.clear()
        stock_after.clear()
        current = await c.sync_conflicts.find_one({"_id": cid}, session=session)
        if current is None or current["status"] != "open":
            raise Abort(NotFound(f"conflict {cid!r} was resolved meanwhile"))
        for sku, units in sorted(current.get("correction", {}).items()):
            product = reference.by_sku.get(sku)
            if product is None or not units:
                continue
            row = await c.inventory.find_one(c.inventory.unscoped(product_id=product["product_id"], store_id=store_id),
                                             {"stock_level": 1}, session=session)
            if row is None:
                continue
            delta = max(units, -max(0, int(row["stock_level"])))  # never below zero
            zava.models.freshness.wrote(("inventory", store_id, product["product_id"]))
            if delta:
                await c.inventory.update_one({"_id": row["_id"]}, {"$inc": {"stock_level": delta},
                                                                  "$set": {"updated_at": now}}, session=session)
                moved[sku] = delta
            stock_after[sku] = int(row["stock_level"]) + delta
        await c.stock_movements.insert_one(stock_movement(
            movement_id=str(uuid.uuid4()), kind="correction", store_id=store_id, order_id=current.get("order_id"),
            lines=moved, idempotency_key=key, created_at=now, reason=reason, reference=cid), session=session)
        await c.sync_conflicts.update_one({"_id": cid}, {"$set": {
            "status": "resolved", "resolved_at": now, "resolved_by": scope.label, "updated_at": now}},
            session=session)

    replay = operations.replay_movement(zava, key, {"kind": "correction", "store_id": store_id})
    if await zava.transactions.run(write, what="the correction", replay=replay) is not None:
        return await _replay(zava, await c.sync_conflicts.find_one({"_id": cid}), key)
    resolved = await c.sync_conflicts.find_one({"_id": cid})
    return Resolution(**_outcome(resolved), moved=moved, stock_after=stock_after, replayed=False)


async def conflict_in_scope(zava: Zava, scope: Scope, conflict_id: str) -> dict:
    """The conflict, if the caller's stores include its store (another store's is "not found")."""
    cid = str(conflict_id).strip()
    if not cid or len(cid) > CONFLICT_ID_MAX_CHARS:
        raise InvalidArgument(hints.CONFLICT_ID_SHAPE())
    handle = zava.collections.sync_conflicts
    conflict = await handle.find_one({"_id": cid})
    if not handle.visible(scope, conflict):
        raise NotFound(hints.NO_CONFLICT(conflict_id=cid, scope=scope.label))
    return conflict


async def _replay(zava: Zava, conflict: dict, key: str) -> Resolution:
    movement = await zava.collections.stock_movements.find_one({"idempotency_key": key}) or {}
    return Resolution(**_outcome(conflict), moved=dict(movement.get("lines") or {}), replayed=True)


def _outcome(conflict: dict) -> dict:
    return {"conflict_id": conflict["_id"], "store_id": conflict["store_id"], "status": conflict["status"],
            "resolved_at": conflict.get("resolved_at")}
