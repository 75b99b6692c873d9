"""Who a sale may be for: one of the store's own customers, or another store's customer the store found at the
till within TILL_SALE_WINDOW_S (`till.record_lookup` records those lookups).

Decided from the database, inside the order's transaction when there is one (`order_batch` reads a batch's
customers there, so a customer deleted or moved a moment before the sale is refused by the same transaction that
would have sold). It takes the two collections it reads, not the context: the order batch uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core import limits as L
from zava_core.infra.timeutil import iso, utc_now
from zava_core.scope import Scope
from zava_core.store import Handle


async def found_at_till(lookups: Handle, scope: Scope, customer_ids: Iterable[str],
                        session: AsyncClientSession | None = None) -> set[str]:
    """Which of `customer_ids` `scope`'s store found at the till within the sale window (one read)."""
    wanted = sorted(set(customer_ids))
    if scope.head_office or not wanted:
        return set()
    since = iso(utc_now() - timedelta(seconds=L.TILL_SALE_WINDOW_S))
    (store_id,) = sorted(scope.store_ids)
    found = lookups.find(lookups.live(scope, store_id=store_id, customer_id={"$in": wanted}, at={"$gte": since}),
                         {"customer_id": 1}, session=session)
    return {doc["customer_id"] async for doc in found}


async def may_sell_to(customers: Handle, lookups: Handle, sales: Sequence[tuple[Scope, dict | None]],
                      session: AsyncClientSession | None = None) -> list[bool]:
    """For each (caller's scope, customer as read or None): whether the caller may sell to that customer. The
    till is asked once per caller's store, whatever the number of sales."""
    own = [customers.visible(scope, doc) for scope, doc in sales]
    asked: dict[Scope, set[str]] = {}
    for (scope, doc), mine in zip(sales, own, strict=True):
        if not mine and doc is not None and not doc.get("deleted"):
            asked.setdefault(scope, set()).add(doc["_id"])
    found = {scope: await found_at_till(lookups, scope, ids, session) for scope, ids in asked.items()}
    return [mine or (doc is not None and doc["_id"] in found.get(scope, ()))
            for (scope, doc), mine in zip(sales, own, strict=True)]
