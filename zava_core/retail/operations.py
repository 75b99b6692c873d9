"""What the store operations share: argument checks, the order they act on, and the stock-movement journal
that makes each of them idempotent.

Every operation (cancel_order, return_items, transfer_stock, receive_stock) is one transaction
(`zava.transactions.run`) that changes stock and the order and writes one `stock_movements` record
carrying the caller's idempotency key. A unique index on that key makes concurrent duplicates collide; the
loser reads the winner (`replay_movement`). The same key with a different request is refused
(`IdempotencyMismatch`): a retry must be the same request. The free-text `reason` is a note, not part of
the request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping

from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core import hints
from zava_core.context import Zava
from zava_core.errors import IdempotencyMismatch, InvalidArgument, NotFound, OutOfStock, echo
from zava_core.limits import (
    IDEMPOTENCY_KEY_MAX_CHARS,
    IDEMPOTENCY_KEY_MIN_CHARS,
    MAX_LINE_QUANTITY,
    ORDER_ID_MAX_CHARS,
    REASON_MAX_CHARS,
    REASON_MIN_CHARS,
)
from zava_core.model import UNSHELVED, ids, inventory_document
from zava_core.scope import Scope
from zava_core.store import Abort, setup

_KEY = re.compile(rf"^[A-Za-z0-9._:\-]{{{IDEMPOTENCY_KEY_MIN_CHARS},{IDEMPOTENCY_KEY_MAX_CHARS}}}$")
# The fields of a movement that say what was asked (the reason is a note, the ids and dates are ours).
REQUEST_FIELDS = ("kind", "store_id", "to_store_id", "order_id", "lines", "reference")


def idempotency_key(value: object) -> str:
    key = str(value).strip()
    if not _KEY.match(key):
        raise InvalidArgument(f"idempotency_key must be {IDEMPOTENCY_KEY_MIN_CHARS}-{IDEMPOTENCY_KEY_MAX_CHARS} "
                              "characters of letters, digits, '.', '_', ':' or '-' (reuse the same key to retry "
                              "safely)")
    return key


def order_id(value: object) -> str:
    oid = str(value).strip().lower()
    if len(oid) > ORDER_ID_MAX_CHARS or not ids.is_order_id(oid):
        raise InvalidArgument(hints.ORDER_ID_SHAPE(given=echo(value)))
    return oid


def note(value: object, name: str = "reason") -> str:
    text = " ".join(str(value).split())
    if not REASON_MIN_CHARS <= len(text) <= REASON_MAX_CHARS:
        raise InvalidArgument(f"{name} must be {REASON_MIN_CHARS}-{REASON_MAX_CHARS} characters, e.g. "
                              "'customer changed their mind'")
    return text


def units(value: object, name: str, maximum: int = MAX_LINE_QUANTITY) -> int:
    """A strict whole number of units (true and "5" are not quantities)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidArgument(f"{name} must be a whole number from 1 to {maximum:,}")
    return value


async def order_in_scope(zava: Zava, scope: Scope, oid: str) -> dict:
    """The order, if the caller's scope covers its store (else NotFound: never reveal another store's order)."""
    orders = zava.collections.orders
    order = await orders.find_one({"_id": oid})
    if not orders.visible(scope, order):
        raise NotFound(f"no order {oid} within your scope ({scope.label})")
    return order


async def order_lines(zava: Zava, oid: str, session: AsyncClientSession | None = None) -> list[dict]:
    lines = zava.collections.order_items
    return await lines.find(lines.unscoped(order_id=oid), session=session).to_list()


# --- the journal -------------------------------------------------------------------------------------

_journal_ready: set[tuple[str, str]] = set()


async def ensure_journal(zava: Zava) -> None:
    """Create the journal's indexes once per process and database, before the first transaction writes to it:
    databases seeded before the journal existed have neither the collection nor its unique key index."""
    movements = zava.collections.stock_movements
    marker = (zava.settings.mongodb_uri or "", movements.database.name)
    if marker not in _journal_ready:
        await setup.create_indexes(zava.collections, [movements.name])
        _journal_ready.add(marker)


def same_request(movement: Mapping, request: Mapping) -> bool:
    """Whether a stored movement answers `request` (the fields the request names; a cancel's lines are
    computed, not asked for)."""
    return all(movement.get(field) == request.get(field) for field in REQUEST_FIELDS if field in request)


async def prior_movement(zava: Zava, key: str, request: Mapping) -> dict | None:
    """The movement already made with `key`, if it is this same request; a different one is refused."""
    found = await zava.collections.stock_movements.find_one({"idempotency_key": key})
    if found is None:
        return None
    if not same_request(found, request):
        # The same answer whatever the first request was (it may be another store's): say nothing of it.
        raise IdempotencyMismatch("this idempotency_key was already used for a different request; nothing was "
                                  "changed. Use a new key for a new request (resend a key only to retry the same one)")
    return found


def replay_movement(zava: Zava, key: str, request: Mapping) -> Callable[[], Awaitable[dict | None]]:
    """What `transactions.run` calls when this attempt lost (a duplicate key, or an abort because a twin with
    the same key already cancelled the order or returned the units): the twin's movement, if there is one."""
    return lambda: prior_movement(zava, key, request)


async def current_stock(zava: Zava, store_id: str, product_ids: list[str],
                        session: AsyncClientSession | None = None) -> dict[str, int]:
    """SKU -> units on hand at one store (inside the caller's transaction when `session` is given)."""
    inventory = zava.collections.inventory
    rows = inventory.find(inventory.unscoped(product_id={"$in": product_ids}, store_id=store_id),
                          {"sku": 1, "stock_level": 1}, session=session)
    return {row["sku"]: row["stock_level"] async for row in rows}


async def add_stock(zava: Zava, session: AsyncClientSession, store_id: str, product: Mapping, delta: int,
                    now: str) -> None:
    """Units back on (or, negative, off) one store's shelf; a decrement never takes stock below zero."""
    inventory = zava.collections.inventory
    zava.models.freshness.wrote(("inventory", store_id, product["product_id"]))
    query = inventory.unscoped(product_id=product["product_id"], store_id=store_id)
    if delta < 0:
        query["stock_level"] = {"$gte": -delta}
    result = await inventory.update_one(query, {"$inc": {"stock_level": delta}, "$set": {"updated_at": now}},
                                        session=session)
    if result.matched_count == 0:
        raise Abort(await _why_not(zava, store_id, product, delta))


async def stock_arrives(zava: Zava, session: AsyncClientSession, store_id: str, product: Mapping, count: int,
                        now: str) -> None:
    """Units arriving at a store (a transfer's destination, a supplier delivery). It never fails on what the
    store holds: a store with no row for the product (or a deleted one) gets one, unshelved. So whether an
    arrival goes through says nothing of another store's range (a refused transfer used to say "not stocked
    at" the destination)."""
    inventory = zava.collections.inventory
    zava.models.freshness.wrote(("inventory", store_id, product["product_id"]))
    # Deleted rows included: the unique (store, product) index holds them too.
    row = await inventory.find_one({"product_id": product["product_id"], "store_id": store_id}, {"deleted": 1},
                                   session=session)
    if row is None:
        await inventory.insert_one(inventory_document(
            inventory_id=str(uuid.uuid4()), store_id=store_id, product_id=product["product_id"], sku=product["sku"],
            category_id=product["category_id"], stock_level=count, location=UNSHELVED, last_counted=now),
            session=session)
    elif row.get("deleted"):  # a row taken out of the range: it starts again from what arrives
        await inventory.update_one({"_id": row["_id"]}, {"$set": {
            "stock_level": count, "deleted": False, "location": dict(UNSHELVED), "updated_at": now}},
            session=session)
    else:
        await inventory.update_one({"_id": row["_id"]}, {"$inc": {"stock_level": count},
                                                         "$set": {"updated_at": now}}, session=session)


async def _why_not(zava: Zava, store_id: str, product: Mapping, delta: int) -> NotFound | OutOfStock:
    inventory = zava.collections.inventory
    row = await inventory.find_one(inventory.unscoped(product_id=product["product_id"], store_id=store_id),
                                   {"stock_level": 1})
    if row is None:
        return NotFound(f"{product['sku']} is not stocked at {store_id}; nothing was changed")
    return OutOfStock(f"{product['sku']}: {-delta} to move but {row['stock_level']} in stock at {store_id}; "
                      "nothing was changed")
