"""Offline conflicts, found in the change feed: what store devices did apart that no rule allows.

A device checks a cancel, a return or a sale against what it knows; two devices apart can each be right
and together wrong. When their writes reach MongoDB (Ditto's connector), the feed records each case in
`sync_conflicts`, store-scoped, with what happened and the stock correction a manager applies
(`zava_core.retail.conflicts`). The sales fold already counts each of them once (a cancelled order counts
nothing, a line returned beyond what was bought counts nothing): only stock needs a correction.

- `double_cancel`: an order's `cancel_count` counter above 1 (each device's cancel adds 1), or a cancelled
  order cancelled again with another `cancelled_at`. Correction: take off the units each extra cancel restocked.
- `over_return`: `returned_quantities[sku]` above the units bought. Correction: take off the units returned
  beyond them.
- `negative_stock`: `stock_level` below zero (devices sold the same units offline). Correction: put units on
  until it reads zero (better: count the shelf).
- `unknown_sku`: an order line whose SKU the catalog lacks. No correction: the line counts in totals, in no
  product.

Detection is idempotent: a conflict's id is its kind and key (one per order, order and SKU, or line), and the
same case seen again (another replica, a replayed event) refreshes the open record instead of adding one.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.errors import DuplicateKeyError

from zava_core import hints
from zava_core.analysis.rollups import CANCELLED
from zava_core.infra.timeutil import now_iso
from zava_core.model import ids
from zava_core.store import Collections


def conflict_key(kind: str, *parts: str) -> str:
    return "|".join((kind, *parts))


async def detect(collections: Collections, batch: Sequence[dict]) -> int:
    """Record the conflicts this batch of change events shows; how many new ones."""
    found: list[dict] = []
    unknown_lines: list[dict] = []
    for event in batch:
        coll = event.get("ns", {}).get("coll")
        post, pre = event.get("fullDocument"), event.get("fullDocumentBeforeChange")
        if post is None or post.get("deleted"):
            continue
        if coll == "orders":
            found += await _order_conflicts(collections, post, pre)
        elif coll == "inventory" and isinstance(post.get("stock_level"), int | float) and post["stock_level"] < 0:
            found.append(_negative_stock(post))
        elif coll == "order_items" and event.get("operationType") == "insert":
            unknown_lines.append(post)
    if unknown_lines:
        skus = {line.get("sku") for line in unknown_lines}
        known = {p["sku"] async for p in collections.products.find({"sku": {"$in": sorted(map(str, skus))}},
                                                                   {"sku": 1})}
        found += [_unknown_sku(line) for line in unknown_lines if line.get("sku") not in known]
    new = 0
    for conflict in found:
        new += await _record(collections, conflict)
    return new


async def _order_conflicts(collections: Collections, order: dict, before: dict | None) -> list[dict]:
    cancels = order.get("cancel_count")
    recancelled = (before is not None and before.get("status") == CANCELLED and order.get("status") == CANCELLED
                   and before.get("cancelled_at") != order.get("cancelled_at"))
    returned = order.get("returned_quantities") or {}
    extra_cancels = max(int(cancels) - 1 if isinstance(cancels, int | float) else 0, 1 if recancelled else 0)
    if not extra_cancels and not returned:
        return []
    bought: dict[str, int] = {}
    async for line in collections.order_items.find(collections.order_items.unscoped(order_id=order["_id"]),
                                                   {"sku": 1, "quantity": 1}):
        bought[line["sku"]] = bought.get(line["sku"], 0) + int(line["quantity"])
    out = []
    if extra_cancels and order.get("status") == CANCELLED:
        kept = {sku: n - min(n, _count(returned.get(sku))) for sku, n in bought.items()}
        correction = {sku: -n * extra_cancels for sku, n in sorted(kept.items()) if n}
        out.append(conflict_document(
            "double_cancel", order["store_id"], (order["_id"],), order_id=order["_id"],
            what=f"order {order['_id']} was cancelled {extra_cancels + 1} times on devices apart; each cancel put "
                 "its units back on the shelf",
            correction=correction, suggestion="resolving takes the extra units off the shelf (never below zero)"))
    for sku, units in sorted(returned.items()):
        over = _count(units) - bought.get(sku, 0)
        if over > 0:
            out.append(conflict_document(
                "over_return", order["store_id"], (order["_id"], sku), order_id=order["_id"], sku=sku,
                what=f"order {order['_id']}: {_count(units)} units of {sku} returned on devices apart, "
                     f"{bought.get(sku, 0)} bought",
                correction={sku: -over},
                suggestion=f"resolving takes the {over} units returned beyond the sale off the shelf"))
    return out


def _negative_stock(row: dict) -> dict:
    level = int(row["stock_level"])
    return conflict_document(
        "negative_stock", row["store_id"], (row["store_id"], row.get("sku", "?")), sku=row.get("sku"),
        what=f"stock of {row.get('sku')} at {row['store_id']} reads {level} after offline sales",
        correction={row.get("sku", "?"): -level}, suggestion=hints.COUNT_BEFORE_RESOLVING())


def _unknown_sku(line: dict) -> dict:
    return conflict_document(
        "unknown_sku", line.get("store_id", "?"), (str(line.get("_id")),), order_id=line.get("order_id"),
        sku=str(line.get("sku")),
        what=f"order {line.get('order_id')} has a line for {str(line.get('sku'))[:24]!r}, a SKU the catalog lacks",
        correction={}, suggestion="nothing moves: fix the product on the device, or cancel the order")


def conflict_document(kind: str, store_id: str, key: tuple[str, ...], *, what: str, correction: dict[str, int],
                      suggestion: str, order_id: str | None = None, sku: str | None = None) -> dict:
    """A conflict as `sync_conflicts` holds it, open (its `_id` from the kind and what identifies the case)."""
    now = now_iso()
    return {"_id": conflict_key(kind, *key), "kind": kind, "store_id": store_id, "order_id": order_id,
            "sku": sku if sku is None or ids.is_sku(sku) else None, "found_at": now, "what": what,
            "correction": correction, "suggestion": suggestion, "status": "open", "deleted": False, "updated_at": now}


async def _record(collections: Collections, conflict: dict) -> int:
    """Insert the conflict, or refresh its open record; a resolved one found again is a new conflict."""
    handle = collections.sync_conflicts
    base = conflict["_id"]
    open_ones = handle.find(handle.unscoped(store_id=conflict["store_id"], status="open"), {"_id": 1})
    for existing in [doc["_id"] async for doc in open_ones if doc["_id"] == base or doc["_id"].startswith(base + "|")]:
        await handle.update_one({"_id": existing, "status": "open"}, {"$set": {
            "what": conflict["what"], "correction": conflict["correction"], "updated_at": conflict["updated_at"]}})
        return 0
    conflict_id = base
    if await handle.find_one({"_id": conflict_id}, {"_id": 1}) is not None:  # resolved before, seen again
        conflict_id = f"{conflict_id}|{conflict['found_at']}"
    try:
        await handle.insert_one({**conflict, "_id": conflict_id, "conflict_id": conflict_id})
    except DuplicateKeyError:  # another process recorded the same case at the same moment
        return 0
    return 1


def _count(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0

