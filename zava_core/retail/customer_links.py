"""A store gains a customer only through a sale that stands.

`stores_shopped.<store>` is what makes someone a store's customer (`Scope.can_see_customer`): their name in
its searches, their contact details, their orders there. create_order adds it in the sale's transaction;
`release` takes it away in the transaction of a cancel, or of a return that takes back the last units, when
the customer has no standing order left at that store. Without this, a manager could sell a $3 item to
another store's customer, cancel at once (stock and sales net to zero) and keep their e-mail and phone.

An order stands while it is not cancelled (nor returned whole, as seeded history may be) and keeps at least
one unit (`rollups.order_net_lines`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core.analysis.rollups import order_net_lines
from zava_core.context import Zava

NOT_STANDING = ("cancelled", "returned")


def stands(order: Mapping, lines: Iterable[Mapping]) -> bool:
    """Whether `order` (with its `lines`) is a sale that stands."""
    return order.get("status") not in NOT_STANDING and bool(order_net_lines(order, lines))


async def release(zava: Zava, session: AsyncClientSession, customer_id: str, store_id: str, now: str) -> bool:
    """Inside the caller's transaction, after it cancelled or emptied an order: remove the customer's link to
    `store_id` unless another order of theirs there still stands. True when the link was removed."""
    c = zava.collections
    # The index (customer_id, deleted, store_id, ...) answers this; the status is checked here, not in the filter
    # (the embedded engine scans the collection for a filter its index does not cover).
    orders = await c.orders.find(c.orders.unscoped(customer_id=customer_id, store_id=store_id),
                                 {"status": 1, "returned_quantities": 1}, session=session).to_list()
    for order in orders:
        if order.get("status") in NOT_STANDING:
            continue
        lines = await c.order_items.find(c.order_items.unscoped(order_id=order["_id"]),
                                         {"sku": 1, "quantity": 1}, session=session).to_list()
        if stands(order, lines):
            return False
    zava.models.freshness.wrote(("customers", customer_id))  # the customers read model waits for the feed
    result = await c.customers.update_one(
        {"_id": customer_id, f"stores_shopped.{store_id}": {"$exists": True}},
        {"$unset": {f"stores_shopped.{store_id}": ""}, "$set": {"updated_at": now}}, session=session)
    return result.modified_count == 1
