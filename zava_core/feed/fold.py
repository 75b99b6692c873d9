"""The sales fold: every order's contribution to the rollups, applied exactly once, whoever wrote the order.

An order's contribution is its net lines (`rollups.order_net_lines`: nothing once cancelled, fewer units
after returns). The rollups hold, per order, what `sales_folds` records as applied; folding an order moves
the rollups from that record to what the order is now, in one transaction:

    read the order, its lines and its record  ->  increments(now) - increments(recorded)
    add them into the monthly and daily cells  ->  replace the record with now

The record is the exactly-once guard. Two folders of one order (a retry, a restart that replays events,
several replicas consuming the same change stream) read the same record and write it in their
transactions: one commits, the other meets a write conflict, is retried by the driver, reads the new record
and finds nothing left to do. Our own write tools do not touch the rollups at all: the feed folds their
orders like anyone else's, through this one arithmetic.

Seeded orders carry no record: seeding folded each of them, as written, into the rollups it built. So an
order without a record is held "as seeded" (every line written for it, whole) when its id is one seeding
gave (`ids.is_seeded_order_id`, within the seeded count); any other order without a record is held as
nothing (a device's order the fold has not seen yet).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from pymongo.asynchronous.client_session import AsyncClientSession

from zava_core.analysis import rollups
from zava_core.errors import Conflict
from zava_core.infra.timeutil import now_iso
from zava_core.model import STATE_ID, FoldedLine, ids
from zava_core.store import Abort, Collections, Transactions

log = logging.getLogger("zava.fold")
# What the arithmetic reads of a line, and what a record keeps of it.
LINE_FIELDS = ("order_item_id", "order_id", "store_id", "order_date", "category_id", "product_id", "sku", "quantity",
               "unit_price", "unit_cost", "discount_percent", "discount_amount", "total_amount")
LINE_PROJECTION = {name: 1 for name in (*LINE_FIELDS, "deleted")}
ORDER_PROJECTION = {"status": 1, "returned_quantities": 1, "store_id": 1, "deleted": 1}
BATCH = 100  # orders per fold transaction: small enough to retry cheaply, large enough to amortise round trips
CONFLICT_RETRIES = 5


@dataclass
class FoldOutcome:
    orders: int = 0  # orders looked at
    changed: int = 0  # orders whose contribution moved


async def seeded_order_count(collections: Collections) -> int:
    """How many orders seeding wrote (their ids are `seeded_order_id(0..n-1)`): 0 without a seeding record."""
    state = await collections.meta.find_one({"_id": STATE_ID}, {"done.orders": 1})
    return int(((state or {}).get("done") or {}).get("orders") or 0)


def _line(doc: Mapping) -> dict | None:
    """What the arithmetic reads of a line, checked against the model of a folded line; None for a line it cannot
    count (a script's line without its cost, a quantity that is no number): such a line is left out, and logged,
    instead of failing the fold of its batch again and again (every later change would wait behind it)."""
    fields = {name: doc.get(name) for name in LINE_FIELDS}
    fields["order_item_id"] = fields["order_item_id"] or str(doc.get("_id", ""))
    try:
        return FoldedLine.model_validate(fields).model_dump()
    except ValidationError as exc:
        where = ", ".join(".".join(map(str, error["loc"])) for error in exc.errors()[:3])
        log.warning("order line %s of order %s cannot be counted (%s): left out of the rollups", doc.get("_id"),
                    doc.get("order_id"), where)
        return None


def _lines(docs: Iterable[Mapping]) -> list[dict]:
    return [line for line in map(_line, docs) if line is not None]


def held(order_id: str, record: Mapping | None, written: Sequence[Mapping], seeded: int) -> list[dict]:
    """The net lines the rollups hold for an order: its record's, or as seeded, or none."""
    if record is not None:
        return [dict(line) for line in record.get("applied", [])]
    if ids.seeded_order_index(order_id) is not None and ids.seeded_order_index(order_id) < seeded:
        return _lines(written)
    return []


def standing(order: Mapping | None, written: Sequence[Mapping]) -> list[dict]:
    """The net lines an order contributes now: none without a live header; its live lines net of cancel and
    returns (a line arriving before its header waits for it)."""
    if order is None or order.get("deleted"):
        return []
    live = _lines(line for line in written if not line.get("deleted"))
    return [dict(line) for line in rollups.order_net_lines(order, live)]


def same_lines(a: Iterable[Mapping], b: Iterable[Mapping]) -> bool:
    def key(line: Mapping) -> tuple:
        return tuple(line.get(name) for name in LINE_FIELDS)
    return sorted(map(key, a)) == sorted(map(key, b))


async def fold_orders(collections: Collections, transactions: Transactions, order_ids: Iterable[str], *,
                      seeded: int | None = None) -> FoldOutcome:
    """Fold each order (exactly once per change, whatever runs concurrently), a batch per transaction."""
    wanted = sorted(set(order_ids))
    if seeded is None:
        seeded = await seeded_order_count(collections)
    outcome = FoldOutcome()
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start:start + BATCH]
        for attempt in range(CONFLICT_RETRIES):
            try:
                outcome.changed += await _fold_batch(collections, transactions, batch, seeded)
                break
            except Conflict:  # a concurrent folder wrote a record of this batch first: read it and redo
                if attempt == CONFLICT_RETRIES - 1:
                    raise
        outcome.orders += len(batch)
    return outcome


async def _fold_batch(collections: Collections, transactions: Transactions, batch: list[str], seeded: int) -> int:
    c = collections
    changed: list[str] = []

    async def body(session: AsyncClientSession) -> None:
        changed.clear()
        first_records: list[dict] = []
        orders = {o["_id"]: o async for o in c.orders.find({"_id": {"$in": batch}}, ORDER_PROJECTION,
                                                            session=session)}
        written: dict[str, list[dict]] = {}
        async for line in c.order_items.find({"order_id": {"$in": batch}}, LINE_PROJECTION, session=session):
            written.setdefault(line["order_id"], []).append(line)
        records = {r["_id"]: r async for r in c.sales_folds.find({"_id": {"$in": batch}}, session=session)}
        increments: dict[str, rollups.Increments] = {grain: {} for grain in rollups.GRAINS}
        now = now_iso()
        for order_id in batch:
            lines = written.get(order_id, [])
            before = held(order_id, records.get(order_id), lines, seeded)
            after = standing(orders.get(order_id), lines)
            if same_lines(before, after):
                continue
            changed.append(order_id)
            for grain in rollups.GRAINS:
                rollups.add_into(increments[grain], rollups.change_increments(before, after, grain))
            store_id = (orders.get(order_id) or {}).get("store_id") or (lines[0]["store_id"] if lines else "")
            previous = records.get(order_id)
            version = int(previous["version"]) if previous else 0
            record = {"_id": order_id, "order_id": order_id, "store_id": store_id, "applied": after,
                      "version": version + 1, "deleted": False, "updated_at": now}
            if previous is not None:
                # The version read is the guard: a concurrent folder that moved it makes this match nothing.
                result = await c.sales_folds.replace_one({"_id": order_id, "version": version}, record,
                                                         session=session)
                if result.matched_count == 0:
                    raise Abort(Conflict(f"the fold record of {order_id} changed meanwhile"))
            else:
                first_records.append(record)
        if first_records:  # in one round trip; a concurrent twin's record makes this a duplicate key
            await c.sales_folds.insert_many(first_records, session=session)
        for grain, cells in increments.items():
            await rollups.apply_increments(c[rollups.ROLLUP_OF[grain]], cells, now, session=session)

    await transactions.run(body, what="the sales fold")
    if changed:
        log.debug("folded %d of %d orders", len(changed), len(batch))
    return len(changed)


async def settled(collections: Collections, order_ids: Iterable[str], *, seeded: int | None = None) -> bool:
    """Whether the rollups hold each of these orders as it now stands (tests and benchmarks wait on this)."""
    wanted = sorted(set(order_ids))
    if seeded is None:
        seeded = await seeded_order_count(collections)
    c = collections
    orders = {o["_id"]: o async for o in c.orders.find({"_id": {"$in": wanted}}, ORDER_PROJECTION)}
    written: dict[str, list[dict]] = {}
    async for line in c.order_items.find({"order_id": {"$in": wanted}}, LINE_PROJECTION):
        written.setdefault(line["order_id"], []).append(line)
    records = {r["_id"]: r async for r in c.sales_folds.find({"_id": {"$in": wanted}})}
    return all(same_lines(held(o, records.get(o), written.get(o, []), seeded),
                          standing(orders.get(o), written.get(o, []))) for o in wanted)
