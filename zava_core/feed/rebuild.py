"""Rebuilding the rollups and the fold's records from the collections, store by store.

The change feed does this when it has no position to resume from (a database seeded before the feed
existed, or a stored position whose history the server no longer holds), and an operator does it with
`python -m zava_ops fold rebuild` after writing orders where no feed was running (a standalone server).
Every order is summed as it stands (`fold.standing`); a record is kept for each order the rollups would
otherwise hold differently (an order made since seeding, or a seeded one cancelled, returned against or
with a line removed). The new documents replace the old collections at once (`setup.replace_collection`).

A feed opens its change stream before it starts a rebuild, so whatever is written meanwhile is folded
afterwards, against the records the rebuild wrote.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from zava_core.analysis import rollups
from zava_core.feed import fold
from zava_core.infra.timeutil import now_iso
from zava_core.model import ALL_SPECS
from zava_core.store import Collections, setup

log = logging.getLogger("zava.fold")


@dataclass
class RebuildOutcome:
    orders: int
    lines: int
    records: int
    cells: dict[str, int]
    seconds: float


async def rebuild(collections: Collections) -> RebuildOutcome:
    started = time.perf_counter()
    seeded = await fold.seeded_order_count(collections)
    accumulators = {grain: rollups.RollupAccumulator(grain) for grain in rollups.GRAINS}
    records: list[dict] = []
    n_orders = n_lines = 0
    now = now_iso()
    c = collections
    store_ids = sorted(await c.stores.distinct("_id"))
    for store_id in store_ids:
        orders = {o["_id"]: o async for o in c.orders.find({"store_id": store_id}, fold.ORDER_PROJECTION)}
        written: dict[str, list[dict]] = {}
        async for line in c.order_items.find({"store_id": store_id}, fold.LINE_PROJECTION):
            written.setdefault(line["order_id"], []).append(line)
        for order_id in sorted(set(orders) | set(written)):
            lines = written.get(order_id, [])
            after = fold.standing(orders.get(order_id), lines)
            for accumulator in accumulators.values():
                if after:
                    accumulator.add_order(after)
            as_if_unrecorded = fold.held(order_id, None, lines, seeded)
            if not fold.same_lines(after, as_if_unrecorded):
                records.append({"_id": order_id, "order_id": order_id, "store_id": store_id, "applied": after,
                                "version": 1, "deleted": False, "updated_at": now})
        n_orders += len(orders)
        n_lines += sum(len(v) for v in written.values())
    cells = {}
    for grain, accumulator in accumulators.items():
        name = rollups.ROLLUP_OF[grain]
        cells[name] = await setup.replace_collection(c, ALL_SPECS[name], accumulator.documents(now))
    await setup.replace_collection(c, ALL_SPECS["sales_folds"], records)
    outcome = RebuildOutcome(n_orders, n_lines, len(records), cells, time.perf_counter() - started)
    log.warning("rebuilt the rollups from %d orders and %d lines in %.1f s (%d fold records)", n_orders, n_lines,
                outcome.seconds, len(records))
    return outcome
