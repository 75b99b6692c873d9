"""`python -m zava_ops fold status|rebuild`: the sales fold's position, and rebuilding the rollups from the
collections (after orders were written where no change feed ran: a standalone server, a restore).

`rebuild` is what a feed does by itself when it has no position to resume from; run it by hand after a bulk
load or a script on a server without change streams. It replaces `sales_monthly`, `sales_daily` and the fold's
records at once, then stores the current position so the servers' feeds fold what comes next.
"""

from __future__ import annotations

from datetime import UTC, datetime

from zava_core.feed import rebuild as feed_rebuild
from zava_core.feed.stream import FOLD_TOKEN_ID, store_position
from zava_core.infra import db as zdb
from zava_core.store import Collections


async def fold_status(collections: Collections) -> int:
    """Where the fold stands: its stored position's age, its records, the open conflicts. Exit 1 without a
    position (the next server to start rebuilds first)."""
    stored = await collections.feed.find_one({"_id": FOLD_TOKEN_ID})
    records = await collections.sales_folds.estimated_document_count()
    open_conflicts = await collections.sync_conflicts.count_documents({"status": "open", "deleted": False})
    caps = await zdb.capabilities(collections.products)
    if not caps.replica_set:
        print("no change streams on this server (not a replica set): no feed follows it; after writing orders run "
              "`python -m zava_ops fold rebuild`")
    if stored is None:
        print(f"no stored position: the next server to start rebuilds the rollups first ({records:,} fold records, "
              f"{open_conflicts:,} open conflicts)")
        return 1
    saved = datetime.fromisoformat(stored["saved_at"])
    age = (datetime.now(UTC) - saved).total_seconds()
    print(f"the sales fold's position was stored {age:,.0f} s ago ({stored['saved_at']}); {records:,} fold records; "
          f"{open_conflicts:,} open sync conflicts")
    return 0


async def fold_rebuild(collections: Collections) -> int:
    outcome = await feed_rebuild.rebuild(collections)
    stored = await store_position(collections)
    cells = ", ".join(f"{name} {n:,}" for name, n in outcome.cells.items())
    print(f"rebuilt from {outcome.orders:,} orders and {outcome.lines:,} lines in {outcome.seconds:.1f} s: {cells} "
          f"cells, {outcome.records:,} fold records" + ("; position stored" if stored else "; no change streams here"))
    return 0
