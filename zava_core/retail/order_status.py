"""An order's life cycle, defined once: which statuses follow which, and what may be cancelled or returned.

    in store:  completed ──────────────────────────────► (return_items)
    online:    processing ──► shipped ──► delivered ───► (return_items)
    cancel_order: from completed or processing only ──► cancelled (final; the documents stay)

A shipped order is on its way: it cannot be cancelled, only returned once delivered. `returned` is a
status of the seeded history (orders returned whole before this project recorded returns per line); such
an order takes no further change.
"""

from __future__ import annotations

from pydantic import Field

from zava_core import hints
from zava_core.context import Zava
from zava_core.errors import Conflict, InvalidArgument, InvalidTransition
from zava_core.infra.timeutil import now_iso
from zava_core.retail import operations
from zava_core.scope import Scope
from zava_core.shaping import Out

CANCELLED = "cancelled"
# update_order_status: the delivery life cycle of an online order.
TRANSITIONS: dict[str, tuple[str, ...]] = {"processing": ("shipped",), "shipped": ("delivered",)}
DELIVERY_STATUSES = ("processing", "shipped", "delivered")
CANCELLABLE = ("completed", "processing")
RETURNABLE = ("completed", "delivered")


def _why(status: str) -> str:
    if status == CANCELLED:
        return "it is already cancelled"
    if status == "shipped":
        return hints.SHIPPED_NOT_YET()
    if status == "returned":
        return "it was returned whole before returns were recorded per line"
    return f"it is {status}"


def require_cancellable(order_id: str, status: str) -> None:
    if status not in CANCELLABLE:
        raise InvalidTransition(f"order {order_id} cannot be cancelled: {_why(status)}; only "
                                f"{' or '.join(CANCELLABLE)} orders can")


def require_returnable(order_id: str, status: str) -> None:
    if status not in RETURNABLE:
        hint = hints.CANCEL_INSTEAD() if status == "processing" else ""
        raise InvalidTransition(f"order {order_id} takes no returns: {_why(status)}{hint}; only "
                                f"{' or '.join(RETURNABLE)} orders do")


def next_statuses(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())


class StatusChange(Out):
    order_id: str
    previous_status: str
    status: str
    changed: bool = Field(description="False if it already had this status")
    updated_at: str


async def update_order_status(zava: Zava, scope: Scope, order_id: str, status: str) -> StatusChange:
    """Move an online order along processing -> shipped -> delivered; anything else is refused, naming
    what the order can move to."""
    oid = operations.order_id(order_id)
    target = str(status).strip().lower()
    if target not in DELIVERY_STATUSES:
        raise InvalidArgument(hints.DELIVERY_STATUS(statuses=", ".join(DELIVERY_STATUSES)))
    order = await operations.order_in_scope(zava, scope, oid)
    current = order["status"]
    if current == target:  # a retry: the same answer, nothing written
        return StatusChange(order_id=oid, previous_status=current, status=current, changed=False,
                            updated_at=order["updated_at"])
    legal = next_statuses(current)
    if target not in legal:
        allowed = f"it can move to: {', '.join(legal)}" if legal else "its status is final"
        raise InvalidTransition(f"order {oid} is {current} and cannot become {target}: {allowed}")
    now = now_iso()
    # The status read is the guard: two callers moving the same order at once cannot both succeed.
    with zava.models.freshness.writing(("orders", order["customer_id"])):
        result = await zava.collections.orders.update_one({"_id": oid, "status": current},
                                                          {"$set": {"status": target, "updated_at": now}})
    if result.matched_count == 0:
        raise Conflict(hints.STATUS_RACE(order_id=oid))
    return StatusChange(order_id=oid, previous_status=current, status=target, changed=True, updated_at=now)
