"""transfer_stock and receive_stock: stock that moves between stores or arrives from a supplier, each one
transaction with its stock-movement record, or nothing.

- A transfer never takes the source below zero (the decrement's filter holds `stock_level >= quantity`).
  Head office may move stock between any two stores; a store manager only out of their own store (to
  any store: the destination's level is not shown to them, and nothing about the destination decides
  whether the transfer goes through: a destination without the product gets a row for it, unshelved).
- A delivery is identified by its supplier reference: the same reference, store and SKU again is the same
  delivery (replayed, not counted twice); with another quantity it is refused. References are compared
  normalised (trimmed, case-folded, inner spaces collapsed): a reference retyped in another case is the same.
- Stock only, never the rollup: moving or receiving units sells nothing.
"""

from __future__ import annotations

import re
import uuid

from pydantic import Field
from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core.context import Zava
from zava_core.errors import IdempotencyMismatch, InvalidArgument, echo
from zava_core.infra.timeutil import now_iso
from zava_core.limits import (
    DELIVERY_REFERENCE_MAX_CHARS,
    DELIVERY_REFERENCE_MIN_CHARS,
    MAX_RECEIVED_QUANTITY,
    MAX_TRANSFER_QUANTITY,
)
from zava_core.model import stock_movement
from zava_core.retail import operations
from zava_core.scope import Scope
from zava_core.shaping import Out

# Checked after normalising (`delivery_reference`): lower case, single inner spaces.
_REFERENCE = re.compile(rf"^[a-z0-9][a-z0-9._:#\- ]{{{DELIVERY_REFERENCE_MIN_CHARS - 1},"
                        rf"{DELIVERY_REFERENCE_MAX_CHARS - 1}}}$")


class TransferResult(Out):
    sku: str
    from_store_id: str
    to_store_id: str
    quantity: int
    from_stock_after: int | None = Field(None, description="Units left at the source (not on a replay)")
    to_stock_after: int | None = Field(None, description="Units at the destination, if it is your store")
    replayed: bool


class ReceiptResult(Out):
    sku: str
    store_id: str
    quantity: int
    reference: str = Field(description="The delivery reference as counted (trimmed, lower case, single spaces)")
    stock_after: int | None = Field(None, description="Units now (not on a replay)")
    replayed: bool


async def transfer_stock(zava: Zava, scope: Scope, sku: str, from_store: str, to_store: str, quantity: int,
                         idempotency_key: str) -> TransferResult:
    key = operations.idempotency_key(idempotency_key)
    count = operations.units(quantity, "quantity", MAX_TRANSFER_QUANTITY)
    reference = await zava.reference.get()
    product = reference.product_by_sku(sku)
    if not from_store or not str(from_store).strip() or not to_store or not str(to_store).strip():
        raise InvalidArgument("from_store and to_store are both required, e.g. 'Seattle' and 'Tacoma'")
    (source,) = scope.stores(from_store, reference.stores)  # out of your own store(s) only
    destination = reference.stores.resolve(to_store).store_id  # to any store
    if source == destination:
        raise InvalidArgument(f"from_store and to_store are both {source}; a transfer moves stock between two stores")
    request = {"kind": "transfer", "store_id": source, "to_store_id": destination, "lines": {product["sku"]: count}}
    answer = TransferResult(sku=product["sku"], from_store_id=source, to_store_id=destination, quantity=count,
                            replayed=True)
    await operations.ensure_journal(zava)
    if await operations.prior_movement(zava, key, request) is not None:
        return answer
    now = now_iso()

    async def write(session: AsyncClientSession) -> None:
        await operations.add_stock(zava, session, source, product, -count, now)
        await operations.stock_arrives(zava, session, destination, product, count, now)
        await zava.collections.stock_movements.insert_one(stock_movement(
            movement_id=str(uuid.uuid4()), kind="transfer", store_id=source, to_store_id=destination,
            lines={product["sku"]: count}, idempotency_key=key, created_at=now), session=session)
        levels = {store_id: (await operations.current_stock(zava, store_id, [product["product_id"]], session))
                  .get(product["sku"]) for store_id in (source, destination)}
        answer.from_stock_after = levels[source]
        answer.to_stock_after = levels[destination] if scope.covers(destination) else None

    winner = await zava.transactions.run(write, what="the transfer",
                                         replay=operations.replay_movement(zava, key, request))
    if winner is not None:
        return TransferResult(**{**answer.model_dump(), "from_stock_after": None, "to_stock_after": None})
    answer.replayed = False
    return answer


def delivery_reference(value: object) -> str:
    """The reference as it is counted: trimmed, case-folded, inner spaces collapsed to one, so the same paper
    retyped ("PO-RT7-FE8CA7", " po-rt7-fe8ca7") is the same delivery and is never booked twice."""
    text = " ".join(str(value).split()).casefold()
    if not _REFERENCE.match(text):
        raise InvalidArgument(f"reference {echo(value)} must be the supplier's delivery reference: "
                              f"{DELIVERY_REFERENCE_MIN_CHARS}-{DELIVERY_REFERENCE_MAX_CHARS} letters, digits, spaces, "
                              "'.', '_', ':', '#' or '-', e.g. PO-2026-0117")
    return text


async def receive_stock(zava: Zava, scope: Scope, sku: str, store: str, quantity: int,
                        reference: str) -> ReceiptResult:
    count = operations.units(quantity, "quantity", MAX_RECEIVED_QUANTITY)
    ref = delivery_reference(reference)
    directory = await zava.reference.get()
    product = directory.product_by_sku(sku)
    if not store or not str(store).strip():
        raise InvalidArgument("store is required, e.g. 'Seattle'")
    (store_id,) = scope.stores(store, directory.stores)
    # One delivery = one reference, store and SKU; '/' cannot occur in caller keys, so these never collide.
    key = f"receipt/{store_id}/{ref}/{product['sku']}"
    request = {"kind": "receipt", "store_id": store_id, "lines": {product["sku"]: count}, "reference": ref}
    answer = ReceiptResult(sku=product["sku"], store_id=store_id, quantity=count, reference=ref, replayed=True)
    await operations.ensure_journal(zava)
    try:
        if await operations.prior_movement(zava, key, request) is not None:
            return answer
    except IdempotencyMismatch:
        raise IdempotencyMismatch(_same_reference(ref, product["sku"], store_id)) from None
    now = now_iso()

    async def write(session: AsyncClientSession) -> None:
        await operations.stock_arrives(zava, session, store_id, product, count, now)
        await zava.collections.stock_movements.insert_one(stock_movement(
            movement_id=str(uuid.uuid4()), kind="receipt", store_id=store_id, lines={product["sku"]: count},
            reference=ref, idempotency_key=key, created_at=now), session=session)
        answer.stock_after = (await operations.current_stock(zava, store_id, [product["product_id"]], session)
                              ).get(product["sku"])

    try:
        winner = await zava.transactions.run(write, what="the delivery",
                                             replay=operations.replay_movement(zava, key, request))
    except IdempotencyMismatch:
        raise IdempotencyMismatch(_same_reference(ref, product["sku"], store_id)) from None
    if winner is not None:
        return ReceiptResult(**{**answer.model_dump(), "stock_after": None})
    answer.replayed = False
    return answer


def _same_reference(ref: str, sku: str, store_id: str) -> str:
    return (f"delivery {ref} of {sku} at {store_id} was already received with another quantity; nothing was "
            "changed (a second delivery needs its own reference)")
