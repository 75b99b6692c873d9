"""Who a sale may be for: one of the store's own customers, or another store's customer the store found at the
till within TILL_SALE_WINDOW_S (`till.record_lookup` records those lookups).

Decided from the database, inside the order's transaction when there is one (`order_batch` reads a batch's
customers there, so a customer deleted or moved a moment before the sale is refused by the same transaction that
would have sold). It takes the two collections it reads, not the context: the order batch uses it.
"""

from __future__ import annotations

from datetime import timedelta

from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core import limits as L
from zava_core.infra.timeutil import iso, utc_now
from zava_core.scope import Scope
from zava_core.store import Handle


async def looked_up(lookups: Handle, scope: Scope, customer_id: str,
                    session: AsyncClientSession | None = None) -> bool:
    """Whether `scope`'s store found `customer_id` at the till within the sale window."""
    if scope.head_office:
        return False
    since = iso(utc_now() - timedelta(seconds=L.TILL_SALE_WINDOW_S))
    (store_id,) = sorted(scope.store_ids)
    found = await lookups.find_one(lookups.live(scope, store_id=store_id, customer_id=customer_id,
                                                at={"$gte": since}), {"_id": 1}, session=session)
    return found is not None


async def may_sell_to(customers: Handle, lookups: Handle, scope: Scope, doc: dict | None,
                      session: AsyncClientSession | None = None) -> bool:
    """Whether `scope` may sell to the customer `doc` (as read, or None when there is none)."""
    if customers.visible(scope, doc):
        return True
    return doc is not None and not doc.get("deleted") and await looked_up(lookups, scope, doc["_id"], session)
