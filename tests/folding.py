"""Waiting for the change feed: after a write, the rollups hold it once the feed has folded it.

The servers a test opens (in process, over stdio or HTTP) each run a change feed that folds every order
change into `sales_monthly` and `sales_daily`. A test that checks the rollups after a write waits here until
the rollups hold each order as it stands (`fold.settled`), or fails after `timeout` seconds: nothing here folds
by itself, so a feed that does not fold fails the test.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import anyio

from zava_core.feed import fold
from zava_core.feed.conflicts import conflict_document
from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.store import Collections

SETTLE_TIMEOUT_S = 20.0


async def until_settled(settings: Settings, order_ids: Iterable[str], timeout: float = SETTLE_TIMEOUT_S) -> float:
    """Seconds until the rollups hold every one of `order_ids` as it stands; AssertionError past `timeout`."""
    wanted = sorted(set(order_ids))
    client = await zdb.connect(settings)
    started = time.monotonic()
    try:
        collections = Collections(zdb.database(client, settings))
        while not await fold.settled(collections, wanted):
            if time.monotonic() - started > timeout:
                raise AssertionError(f"the change feed did not fold {len(wanted)} order(s) within {timeout:g} s")
            await anyio.sleep(0.05)
        return time.monotonic() - started
    finally:
        await client.close()


def recent_orders(db, seconds: float = 900.0) -> list[str]:
    """Ids of the orders changed in the last `seconds` (a sync handle): what a feed may still have to fold."""
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))
    return [d["_id"] for d in db.orders.find({"updated_at": {"$gte": since}}, {"_id": 1})]


def harmless_conflict(db, store_id: str, key: str) -> str:
    """An open sync conflict at `store_id` as the feed records a device's line for an SKU the catalog lacks: nothing
    to move, so resolving it changes no stock. Made once per `key` (a sync handle); returns its id."""
    doc = conflict_document("unknown_sku", store_id, (key,), correction={},
                            what="a device line for an unknown SKU", suggestion="nothing moves")
    db.sync_conflicts.update_one({"_id": doc["_id"]}, {"$setOnInsert": {**doc, "conflict_id": doc["_id"]}},
                                 upsert=True)
    return doc["_id"]
