"""cancel_order: one transaction that puts an order's units back on the shelf and marks it cancelled, or changes
nothing; the change feed then takes it out of the sales rollups (`zava_core.feed.fold`).

- Soft: the order and its lines stay (Ditto treats a deletion as final); `status` becomes `cancelled`,
  with `cancelled_at` and `cancel_reason`.
- Units already returned (return_items) are on the shelf already: only the units kept go back.
- `cancel_count` counts cancels: two devices cancelling apart make it 2 (a conflict the feed records).
- Unless another order of the customer still stands at that store, the store loses them as its customer
  (`customer_links.release`, in the same transaction): a sale cancelled at once makes no one the store's customer.
- Cancelling twice cannot happen: the status read is the update's guard, so of two concurrent cancels one
  matches nothing (or meets a write conflict and, retried, finds the order cancelled).
"""

from __future__ import annotations

import uuid

from pydantic import Field
from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core.analysis import rollups
from zava_core.context import Zava
from zava_core.errors import Conflict
from zava_core.infra.timeutil import now_iso
from zava_core.model import stock_movement
from zava_core.retail import customer_links, operations, order_status
from zava_core.scope import Scope
from zava_core.shaping import Out
from zava_core.store import Abort


class CancelledOrder(Out):
    order_id: str
    store_id: str
    status: str
    restocked: dict[str, int] = Field(description="SKU -> units back in stock")
    stock_after: dict[str, int] = Field(default_factory=dict, description="SKU -> units now (not on a replay)")
    replayed: bool


async def cancel_order(zava: Zava, scope: Scope, order_id: str, reason: str, idempotency_key: str) -> CancelledOrder:
    key = operations.idempotency_key(idempotency_key)
    oid = operations.order_id(order_id)
    note = operations.note(reason)
    order = await operations.order_in_scope(zava, scope, oid)
    request = {"kind": "cancel", "store_id": order["store_id"], "order_id": oid}
    await operations.ensure_journal(zava)
    if (prior := await operations.prior_movement(zava, key, request)) is not None:
        return await _replay(zava, oid, prior)
    order_status.require_cancellable(oid, order["status"])
    now = now_iso()
    restocked: dict[str, int] = {}
    stock_after: dict[str, int] = {}

    async def write(session: AsyncClientSession) -> None:
        restocked.clear()
        stock_after.clear()
        c = zava.collections
        zava.models.freshness.wrote(("orders", order["customer_id"]))
        current = await c.orders.find_one({"_id": oid}, session=session)
        try:
            order_status.require_cancellable(oid, current["status"])
        except Conflict as exc:
            raise Abort(exc) from None
        lines = await operations.order_lines(zava, oid, session)
        kept = rollups.order_net_lines(current, lines)
        guard = {"_id": oid, "status": current["status"],
                 "returned_quantities": current.get("returned_quantities") or {"$exists": False}}
        result = await c.orders.update_one(guard, {"$set": {
            "status": order_status.CANCELLED, "cancelled_at": now, "cancel_reason": note, "updated_at": now},
            "$inc": {"cancel_count": 1}}, session=session)
        if result.matched_count == 0:
            raise Abort(Conflict(f"order {oid} changed while it was being cancelled; retry with the same "
                                 "idempotency_key"))
        for line in kept:
            await operations.add_stock(zava, session, current["store_id"], line, line["quantity"], now)
            restocked[line["sku"]] = restocked.get(line["sku"], 0) + line["quantity"]
        await customer_links.release(zava, session, current["customer_id"], current["store_id"], now)
        await c.stock_movements.insert_one(stock_movement(
            movement_id=str(uuid.uuid4()), kind="cancel", store_id=current["store_id"], order_id=oid,
            lines=restocked, idempotency_key=key, created_at=now, reason=note), session=session)
        stock_after.update(await operations.current_stock(zava, current["store_id"],
                                                          [line["product_id"] for line in kept], session))

    winner = await zava.transactions.run(write, what="the cancellation",
                                         replay=operations.replay_movement(zava, key, request))
    if winner is not None:
        return await _replay(zava, oid, winner)
    return CancelledOrder(order_id=oid, store_id=order["store_id"], status=order_status.CANCELLED,
                          restocked=restocked, stock_after=stock_after, replayed=False)


async def _replay(zava: Zava, oid: str, movement: dict) -> CancelledOrder:
    order = await zava.collections.orders.find_one({"_id": oid}, {"store_id": 1, "status": 1})
    return CancelledOrder(order_id=oid, store_id=order["store_id"], status=order["status"],
                          restocked=dict(movement["lines"]), replayed=True)
