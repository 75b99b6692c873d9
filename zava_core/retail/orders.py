"""create_order: a transaction that decrements stock with a guard, writes the order, its lines and the
customer's store map, or changes nothing; the change feed folds the order into the sales rollups.

- The store's orders of the moment share that transaction (`order_batch`, through the group commit
  `zava.order_batches`): it reads the stock once and decides each order in turn from what the orders
  before it left, so an order is placed whole or refused whole whichever orders it came with.
- Stock never goes below zero: each product is decremented with `stock_level >= units` in the filter;
  a row another writer changed after the read is a write conflict, and the transaction runs again.
- The same idempotency key twice returns the first order: a unique sparse index on
  `orders.idempotency_key` makes concurrent duplicates collide, and the loser reads the winner.
  The same key with a different customer, store or items is refused (`IdempotencyMismatch`).
- The customer is named by id: one of the store's customers, or another store's customer the store found at
  the till lately (`sale_customer`, the till rule), read and decided in the order's transaction; the order
  makes them a customer of that store for as long as it stands (`customer_links`).
"""

from __future__ import annotations

import uuid

from pydantic import Field, ValidationError

from zava_core.context import Zava
from zava_core.errors import Conflict, IdempotencyMismatch, InvalidArgument, ZavaError
from zava_core.infra.timeutil import now_iso
from zava_core.limits import MAX_LINE_QUANTITY, MAX_ORDER_LINES
from zava_core.model import ids, new_order_id, new_order_status, order_header, order_line
from zava_core.model.ids import SkuText
from zava_core.retail.customers import (
    OrderView,
    checked_customer_id,
    order_view,
    orders_with_lines,
    servable_customer,
)
from zava_core.retail.operations import idempotency_key as checked_key
from zava_core.retail.order_batch import REPLAY, OrderRequest, Outcome
from zava_core.scope import Scope
from zava_core.shaping import Out


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
    prepared = await prepare_order(zava, scope, customer_id, store, items, idempotency_key)
    if isinstance(prepared, CreatedOrder):
        return prepared  # the key's order, made before
    # The store's group commit decides it in one transaction with the store's other orders of the moment
    # (`order_batch`); no rollup here: the change feed folds this order as it folds a device's.
    return await placed(zava, scope, prepared, await zava.order_batches.submit(prepared.store_id, prepared),
                        customer_id)


async def prepare_order(zava: Zava, scope: Scope, customer_id: str, store: str, items: list[OrderLineRequest | dict],
                        idempotency_key: str) -> OrderRequest | CreatedOrder:
    """The order to place, its arguments and store checked (the customer is decided in its transaction), or the
    answer of a key used before."""
    key = checked_key(idempotency_key)
    if not store or not str(store).strip():
        raise InvalidArgument("store is required, e.g. 'Seattle'")
    reference = await zava.reference.get()
    (store_id,) = scope.stores(store, reference.stores)
    quantities = merge_lines(items)
    cid = checked_customer_id(customer_id)
    # A key used before is found inside the order's transaction (one read for the whole batch); only when this
    # call can no longer be prepared (a product gone, a customer refused below) is it looked up here, so a retry
    # of an order made before still gets that order.
    try:
        products = {sku: reference.product_by_sku(sku) for sku in quantities}
        # Whom the sale is for is decided in its transaction. A customer the directory does not show as the
        # caller's (another store's, unknown, gone) is checked from the database here as well, so that a refusal
        # answers at once instead of waiting for the store's next transaction.
        directory = zava.models.use("customers")
        if not (directory.usable((cid,)) and zava.collections.customers.visible(scope, directory.get(cid))):
            await servable_customer(zava, scope, cid)
    except ZavaError:
        existing = await zava.collections.orders.find_one({"idempotency_key": key})
        if existing is None:
            raise
        return await _replay(zava, scope, existing, customer_id, quantities, store_id)
    store_ref = reference.stores.get(store_id)

    now = now_iso()
    order_id = new_order_id()
    lines = [order_line(line_id=str(uuid.uuid4()), order_id=order_id, store_id=store_id,
                        customer_id=cid, order_date=now, product=products[sku], quantity=quantity,
                        unit_price=products[sku]["base_price"])
             for sku, quantity in quantities.items()]
    order = order_header(
        order_id=order_id, customer_id=cid, customer_name="", store_id=store_id,  # the name: as the batch reads it
        store_name=store_ref.store_name, order_date=now, status=new_order_status(store_ref.is_online),
        lines=lines, idempotency_key=key)
    return OrderRequest(key=key, store_id=store_id, scope=scope, customer_id=cid, order=order, lines=lines)


async def placed(zava: Zava, scope: Scope, request: OrderRequest, outcome: Outcome, customer_id: str) -> CreatedOrder:
    """The answer to the caller from what the order's transaction decided."""
    if isinstance(outcome, ZavaError):
        raise outcome
    if outcome is REPLAY:
        first = await zava.collections.orders.find_one({"idempotency_key": request.key})
        if first is None:  # the twin's order is gone again (soft deletes keep it; a script's hard delete)
            raise Conflict("this idempotency_key collided with another order; nothing was ordered: send the same "
                           "call again")
        quantities = {line["sku"]: line["quantity"] for line in request.lines}
        return await _replay(zava, scope, first, customer_id, quantities, request.store_id)
    view = order_view(request.order, sorted(request.lines, key=lambda ln: ln["sku"]))
    return CreatedOrder(order=view, replayed=False, stock_after=outcome)


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
