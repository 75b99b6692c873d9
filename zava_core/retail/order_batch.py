"""The orders of one store placed together: one transaction decides each of them, in the order they came.

`create_order` checks its arguments (`orders.prepare_order`), then hands the order to the store's group
commit (`zava.order_batches`, built in `context` around `OrderDesk.place`); this module is the transaction those
batches run. It takes what it uses (the collections, the transaction helper, the read models' freshness), not
the context. Inside the transaction, from the database:

1. keys already used (a retry, a twin in another process): those requests answer with the first order;
2. the batch's customers, read once: an order for a customer its caller may not sell to (`sale_customer`:
   gone, deleted, another store's not found at this till lately) is refused, by the transaction that would
   have sold, and its header takes the customer's name as read there;
3. the stock rows of every product the batch orders, read once; each order in turn takes its units from
   what the orders before it left, or is refused whole (out of stock) with what was left for it;
4. one guarded `$inc` per product for the units the placed orders take together (`stock_level >= units`:
   a row another writer changed after this transaction's read is a write conflict, and the batch is run
   again from its read), the lines and the orders inserted together, the customers' store maps: a few
   round trips whatever the batch's size.

A batch that fails as a whole (a key another process inserted meanwhile, a guard that matched nothing) is
run again one order at a time, so one order's collision never becomes another order's error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core import hints
from zava_core.errors import Conflict, NotFound, OutOfStock, ZavaError
from zava_core.infra.timeutil import now_iso
from zava_core.model import customer_display_name
from zava_core.readmodels.freshness import Freshness
from zava_core.retail.sale_customer import may_sell_to
from zava_core.scope import Scope
from zava_core.store import Abort, Collections, Transactions


@dataclass(frozen=True)
class OrderRequest:
    key: str  # the caller's idempotency key
    store_id: str
    scope: Scope  # the caller's: whom it may sell to is decided in the transaction
    customer_id: str  # the shape checked; the customer is read in the transaction
    order: dict  # the header to insert (its customer_name set from the customer read in the transaction)
    lines: list[dict] = field(default_factory=list)  # one per SKU


class _Replay:
    def __repr__(self) -> str:
        return "REPLAY"


REPLAY: Final = _Replay()  # the key already made an order: answer with that one
Placed = dict[str, int]  # SKU -> units left at the store once this order took its own
Outcome = Placed | _Replay | ZavaError


@dataclass(frozen=True)
class OrderDesk:
    """What placing orders uses of the process: `place` is the group commit's `run`."""

    collections: Collections
    transactions: Transactions
    freshness: Freshness

    async def place(self, store_id: str, requests: list[OrderRequest]) -> list[Outcome]:
        """One outcome per request, in order; every request is of `store_id`."""
        try:
            return await _decide_and_write(self.collections, self.transactions, self.freshness, store_id, requests)
        except ZavaError as exc:
            if len(requests) > 1:
                return [outcome for request in requests for outcome in await self.place(store_id, [request])]
            if isinstance(exc, Conflict) and await self.collections.orders.find_one(
                    {"idempotency_key": requests[0].key}):
                return [REPLAY]  # a twin with the same key committed first: its order is the answer
            return [exc]


async def _decide_and_write(c: Collections, transactions: Transactions, freshness: Freshness, store_id: str,
                            requests: list[OrderRequest]) -> list[Outcome]:
    product_ids = sorted({line["product_id"] for request in requests for line in request.lines})
    outcomes: list[Outcome] = []

    async def write(session: AsyncClientSession) -> None:
        outcomes.clear()  # a retried attempt decides again from what it reads
        used = {o["idempotency_key"] async for o in c.orders.find(
            {"idempotency_key": {"$in": [request.key for request in requests]}}, {"idempotency_key": 1},
            session=session)}
        buyers = {doc["_id"]: doc async for doc in c.customers.find(
            {"_id": {"$in": sorted({request.customer_id for request in requests})}}, session=session)}
        left = {row["product_id"]: row["stock_level"] async for row in c.inventory.find(
            c.inventory.unscoped(product_id={"$in": product_ids}, store_id=store_id),
            {"product_id": 1, "stock_level": 1}, session=session)}
        sellable = await may_sell_to(c.customers, c.till_lookups,
                                     [(request.scope, buyers.get(request.customer_id)) for request in requests],
                                     session)
        placed: list[OrderRequest] = []
        taken: dict[str, int] = {}
        for request, may_sell in zip(requests, sellable, strict=True):
            if request.key in used:
                outcomes.append(REPLAY)
                continue
            if not may_sell:
                outcomes.append(NotFound(hints.NO_CUSTOMER_TO_SERVE(customer_id=request.customer_id,
                                                                     scope=request.scope.label)))
                continue
            short = next((ln for ln in request.lines if left.get(ln["product_id"], 0) < ln["quantity"]), None)
            if short is not None:
                outcomes.append(OutOfStock(hints.OUT_OF_STOCK_ORDER(
                    sku=short["sku"], wanted=short["quantity"], have=left.get(short["product_id"], 0),
                    store_id=store_id)))
                continue
            for line in request.lines:
                left[line["product_id"]] -= line["quantity"]
                taken[line["product_id"]] = taken.get(line["product_id"], 0) + line["quantity"]
            used.add(request.key)  # the same key twice in one batch: the second answers with the first
            buyer = buyers[request.customer_id]  # read, live, and the caller's to sell to
            request.order["customer_name"] = customer_display_name(buyer["first_name"], buyer["last_name"])
            placed.append(request)
            outcomes.append({line["sku"]: left[line["product_id"]] for line in request.lines})
        if not placed:
            return
        now = now_iso()
        linked: dict[str, UpdateOne] = {}  # new to this store: dated by their first sale here (its order_date)
        for r in placed:
            if store_id not in (buyers[r.customer_id].get("stores_shopped") or {}) and r.customer_id not in linked:
                linked[r.customer_id] = UpdateOne({"_id": r.customer_id}, {"$set": {
                    f"stores_shopped.{store_id}": r.order["order_date"], "updated_at": now}})
        # In flight until the run ends (then until the feed echoes it): what this transaction writes, and only that
        # (a customer document the order leaves alone keeps answering from the directory).
        freshness.wrote(*(("inventory", store_id, pid) for pid in taken), *(("customers", cid) for cid in linked),
                        *(("orders", r.customer_id) for r in placed))
        # One round trip for every product's guarded decrement (update_one, not find_one_and_update: the same
        # guard, ~10x faster on the embedded engine).
        decrements = [UpdateOne(c.inventory.unscoped(product_id=product_id, store_id=store_id,
                                                     stock_level={"$gte": units}),
                                {"$inc": {"stock_level": -units}, "$set": {"updated_at": now}})
                      for product_id, units in sorted(taken.items())]
        result = await c.inventory.bulk_write(decrements, ordered=True, session=session)
        if result.matched_count != len(decrements):  # a row moved after the read without a write conflict
            raise Abort(Conflict(f"the stock at {store_id} changed while orders were placed; nothing was ordered: "
                                 "send the same call again"))
        await c.order_items.insert_many([line for r in placed for line in r.lines], session=session)
        await c.orders.insert_many([r.order for r in placed], session=session)
        if linked:
            await c.customers.bulk_write(list(linked.values()), ordered=True, session=session)

    await transactions.run(write, what="the order")
    return outcomes
