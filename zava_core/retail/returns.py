"""return_items: part of an order comes back. One transaction puts the units on the shelf, adds them to the
order's `returned_quantities` map (SKU -> units returned so far), or changes nothing; the change feed then
takes the units out of the sales rollups.

- Never more than was bought minus what was already returned, per line: the map's value read is the
  update's guard, so concurrent returns of the same line cannot both pass.
- A map, not an array: returns of different lines made on two devices both count when Ditto merges them.
- The rollups follow the order's net lines (`zava_core.feed.fold`): a line whose every unit came back leaves
  them, and so does an order whose every line did.
- An order whose every unit came back no longer stands: unless another order of the customer stands at that
  store, the store loses them as its customer (`customer_links.release`), in the same transaction.
"""

from __future__ import annotations

import uuid

from pydantic import Field
from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core.context import Zava
from zava_core.errors import Conflict, InvalidArgument
from zava_core.infra.timeutil import now_iso
from zava_core.model import stock_movement
from zava_core.retail import customer_links, operations, order_status
from zava_core.retail.orders import OrderLineRequest, merge_lines
from zava_core.scope import Scope
from zava_core.shaping import Out
from zava_core.store import Abort


class ReturnedItems(Out):
    order_id: str
    store_id: str
    status: str
    returned: dict[str, int] = Field(description="SKU -> units this return took back")
    returned_quantities: dict[str, int] = Field(description="SKU -> units returned so far on the order")
    stock_after: dict[str, int] = Field(default_factory=dict, description="SKU -> units now (not on a replay)")
    replayed: bool


async def return_items(zava: Zava, scope: Scope, order_id: str, items: list[OrderLineRequest | dict], reason: str,
                       idempotency_key: str) -> ReturnedItems:
    key = operations.idempotency_key(idempotency_key)
    oid = operations.order_id(order_id)
    note = operations.note(reason)
    quantities = merge_lines(items)
    order = await operations.order_in_scope(zava, scope, oid)
    request = {"kind": "return", "store_id": order["store_id"], "order_id": oid, "lines": quantities}
    await operations.ensure_journal(zava)
    if (prior := await operations.prior_movement(zava, key, request)) is not None:
        return await _answer(zava, oid, prior, {}, replayed=True)
    order_status.require_returnable(oid, order["status"])
    now = now_iso()
    stock_after: dict[str, int] = {}

    async def write(session: AsyncClientSession) -> None:
        stock_after.clear()
        c = zava.collections
        zava.models.freshness.wrote(("orders", order["customer_id"]))
        current = await c.orders.find_one({"_id": oid}, session=session)
        try:
            order_status.require_returnable(oid, current["status"])
        except Conflict as exc:
            raise Abort(exc) from None
        lines = await operations.order_lines(zava, oid, session)
        by_sku = {line["sku"]: line for line in lines}
        already = dict(current.get("returned_quantities") or {})
        guard: dict = {"_id": oid, "status": current["status"]}
        for sku, count in quantities.items():
            line = by_sku.get(sku)
            if line is None:
                raise Abort(InvalidArgument(f"{sku} is not on order {oid}; its lines are "
                                            f"{', '.join(sorted(by_sku))}; nothing was returned"))
            left = line["quantity"] - already.get(sku, 0)
            if count > left:
                raise Abort(InvalidArgument(
                    f"{sku}: {count} to return but only {left} of the {line['quantity']} bought are not yet "
                    f"returned on order {oid}; nothing was returned"))
            guard[f"returned_quantities.{sku}"] = already.get(sku, {"$exists": False})
        result = await c.orders.update_one(guard, {
            "$inc": {f"returned_quantities.{sku}": count for sku, count in quantities.items()},
            "$set": {"updated_at": now}}, session=session)
        if result.matched_count == 0:
            raise Abort(Conflict(f"order {oid} changed during the return; retry with the same idempotency_key"))
        for sku, count in quantities.items():
            await operations.add_stock(zava, session, current["store_id"], by_sku[sku], count, now)
        after = {**current, "returned_quantities": {s: already.get(s, 0) + quantities.get(s, 0)
                                                    for s in {*already, *quantities}}}
        if not customer_links.stands(after, lines):  # the last units came back: is the customer still the store's?
            await customer_links.release(zava, session, current["customer_id"], current["store_id"], now)
        await c.stock_movements.insert_one(stock_movement(
            movement_id=str(uuid.uuid4()), kind="return", store_id=current["store_id"], order_id=oid,
            lines=quantities, idempotency_key=key, created_at=now, reason=note), session=session)
        stock_after.update(await operations.current_stock(
            zava, current["store_id"], [by_sku[sku]["product_id"] for sku in quantities], session))

    winner = await zava.transactions.run(write, what="the return",
                                         replay=operations.replay_movement(zava, key, request))
    if winner is not None:
        return await _answer(zava, oid, winner, {}, replayed=True)
    return await _answer(zava, oid, {"lines": quantities}, stock_after, replayed=False)


async def _answer(zava: Zava, oid: str, movement: dict, stock_after: dict[str, int], replayed: bool) -> ReturnedItems:
    order = await zava.collections.orders.find_one({"_id": oid},
                                                   {"store_id": 1, "status": 1, "returned_quantities": 1})
    return ReturnedItems(order_id=oid, store_id=order["store_id"], status=order["status"],
                         returned=dict(movement["lines"]),
                         returned_quantities=dict(order.get("returned_quantities") or {}), stock_after=stock_after,
                         replayed=replayed)
