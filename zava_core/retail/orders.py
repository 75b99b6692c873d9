"""create_order: one transaction that decrements stock with a guard, writes the order, its lines and the
customer's store map, or changes nothing; the change feed folds the order into the sales rollups.

- Stock never goes below zero: each line decrements with `stock_level >= quantity` in the filter;
  a line that matches nothing aborts the whole transaction.
- The same idempotency key twice returns the first order: a unique sparse index on
  `orders.idempotency_key` makes concurrent duplicates collide, and the loser reads the winner.
  The same key with a different customer, store or items is refused (`IdempotencyMismatch`).
- The customer is named by id: one of the store's customers, or another store's customer the store found at
  the till lately (`customers.servable_customer`, the till rule); the order makes them a customer of that
  store for as long as it stands (`customer_links`).
- One transaction (`zava.transactions.run`): write conflicts are retried, and a concurrent twin with the same
  key that won is this call's answer.
"""

from __future__ import annotations

import uuid

from pydantic import Field, ValidationError
from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core import hints
from zava_core.context import Zava
from zava_core.errors import IdempotencyMismatch, InvalidArgument, OutOfStock
from zava_core.infra.timeutil import now_iso
from zava_core.limits import MAX_LINE_QUANTITY, MAX_ORDER_LINES
from zava_core.model import ids, new_order_id, new_order_status, order_header, order_line
from zava_core.model.ids import SkuText
from zava_core.retail.customers import OrderView, order_view, orders_with_lines, servable_customer
from zava_core.retail.operations import idempotency_key as checked_key
from zava_core.scope import Scope
from zava_core.shaping import Out
from zava_core.store import Abort


class OrderLineRequest(Out):
    sku: SkuText
    # Strict: true and "5" are not quantities (lax pydantic would read them as 1 and 5).
    quantity: int = Field(ge=1, le=MAX_LINE_QUANTITY, strict=True)


class CreatedOrder(Out):
    order: OrderView
    replayed: bool = Field(description="True when this idempotency key had already created the order")
    stock_after: dict[str, int] = Field(default_factory=dict, description="SKU -> units left at the store")


def merge_lines(items: list[OrderLineRequest | dict]) -> dict[str, int]:
    if not items:
        raise InvalidArgument("items must list at least one {sku, quantity}")
    if len(items) > MAX_ORDER_LINES:
        raise InvalidArgument(f"an order takes at most {MAX_ORDER_LINES} lines")
    merged: dict[str, int] = {}
    for raw in items:
        try:
            item = raw if isinstance(raw, OrderLineRequest) else OrderLineRequest.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "item"
            raise InvalidArgument(f"items: {where}: {first['msg']} (each item is {{sku, quantity}})") from None
        sku = ids.normal_sku(item.sku)
        merged[sku] = merged.get(sku, 0) + item.quantity
        if merged[sku] > MAX_LINE_QUANTITY:
            raise InvalidArgument(f"{sku}: at most {MAX_LINE_QUANTITY} units per line")
    return merged


async def create_order(zava: Zava, scope: Scope, customer_id: str, store: str,
                       items: list[OrderLineRequest | dict], idempotency_key: str) -> CreatedOrder:
    key = checked_key(idempotency_key)
    if not store or not str(store).strip():
        raise InvalidArgument("store is required, e.g. 'Seattle'")
    reference = await zava.reference.get()
    (store_id,) = scope.stores(store, reference.stores)
    quantities = merge_lines(items)
    orders = zava.collections.orders
    existing = await orders.find_one({"idempotency_key": key})
    if existing is not None:
        return await _replay(zava, scope, existing, customer_id, quantities, store_id)
    products = {sku: reference.product_by_sku(sku) for sku in quantities}
    customer = await servable_customer(zava, scope, customer_id)
    store_ref = reference.stores.get(store_id)

    now = now_iso()
    order_id = new_order_id()
    lines = [order_line(line_id=str(uuid.uuid4()), order_id=order_id, store_id=store_id,
                        customer_id=customer["_id"], order_date=now, product=products[sku], quantity=quantity,
                        unit_price=products[sku]["base_price"])
             for sku, quantity in quantities.items()]
    order = order_header(
        order_id=order_id, customer_id=customer["_id"],
        customer_name=f"{customer['first_name']} {customer['last_name']}", store_id=store_id,
        store_name=store_ref.store_name, order_date=now, status=new_order_status(store_ref.is_online),
        lines=lines, idempotency_key=key)
    stock_after: dict[str, int] = {}

    async def write(session: AsyncClientSession) -> None:
        stock_after.clear()
        c = zava.collections
        zava.models.freshness.wrote(*(("inventory", store_id, ln["product_id"]) for ln in lines),
                                    ("customers", customer["_id"]), ("orders", customer["_id"]))
        for line in lines:
            # update_one, not find_one_and_update: the same guard, ~10x faster on the embedded engine.
            result = await c.inventory.update_one(
                c.inventory.unscoped(product_id=line["product_id"], store_id=store_id,
                                     stock_level={"$gte": line["quantity"]}),
                {"$inc": {"stock_level": -line["quantity"]}, "$set": {"updated_at": now}}, session=session,
            )
            if result.matched_count == 0:
                raise Abort(await _out_of_stock(zava, store_id, line))
        rows = c.inventory.find(c.inventory.unscoped(product_id={"$in": [ln["product_id"] for ln in lines]},
                                                     store_id=store_id), {"sku": 1, "stock_level": 1}, session=session)
        stock_after.update({row["sku"]: row["stock_level"] async for row in rows})
        await c.order_items.insert_many(lines, session=session)
        await c.orders.insert_one(order, session=session)
        if store_id not in (customer.get("stores_shopped") or {}):
            await c.customers.update_one(
                {"_id": customer["_id"]}, {"$set": {f"stores_shopped.{store_id}": now, "updated_at": now}},
                session=session,
            )

    async def twin() -> CreatedOrder | None:
        # A concurrent call with the same key won the race: its order is this call's answer.
        winner = await orders.find_one({"idempotency_key": key})
        return None if winner is None else await _replay(zava, scope, winner, customer_id, quantities, store_id)

    # No rollup here: the change feed folds this order as it folds a device's (one arithmetic for every writer), so
    # concurrent orders of one store share no document but the stock rows of the products they both sell.
    replayed = await zava.transactions.run(write, what="the order", replay=twin)
    if replayed is not None:
        return replayed
    view = order_view(order, sorted(lines, key=lambda ln: ln["sku"]))
    return CreatedOrder(order=view, replayed=False, stock_after=stock_after)


async def _out_of_stock(zava: Zava, store_id: str, line: dict) -> OutOfStock:
    inventory = zava.collections.inventory
    row = await inventory.find_one(inventory.unscoped(product_id=line["product_id"], store_id=store_id),
                                   {"stock_level": 1})
    have = row["stock_level"] if row else 0
    return OutOfStock(hints.OUT_OF_STOCK_ORDER(sku=line["sku"], wanted=line["quantity"], have=have, store_id=store_id))


async def _replay(zava: Zava, scope: Scope, order: dict, customer_id: str, quantities: dict[str, int],
                  store_id: str | None = None) -> CreatedOrder:
    """The first order of a repeated key, if this call asks for the same thing (customer, store, items)."""
    (view,) = await orders_with_lines(zava, [order])
    bought: dict[str, int] = {}
    for line in view.lines:
        bought[line.sku] = bought.get(line.sku, 0) + line.quantity
    # The same answer whether the key's order is another store's, customer's or basket: say nothing of it.
    if not scope.covers(order["store_id"]) or order["customer_id"] != str(customer_id).strip().lower() \
            or (store_id is not None and order["store_id"] != store_id) or bought != quantities:
        raise IdempotencyMismatch("this idempotency_key was already used for a different order (another customer, "
                                  "store or items); nothing was ordered. Use a new key for a new order")
    return CreatedOrder(order=view, replayed=True)
