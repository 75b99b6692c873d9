"""Read models: what lookups read, held in memory per process and kept by the change feed.

| model | holds | loaded |
|---|---|---|
| `stock` | every inventory row (store x product) | at start (3,392 rows) |
| `customers` | the customer directory and its search indexes | at start, by the customer-sales server |
| `orders` | every order and its lines, in columns, by customer | at start, by the customer-sales server |

(The catalog is `context.catalog`, which follows the same feed.) A model answers only while it is fresh
(`freshness.py`): loaded, its feed following, and past every write this process made to what is asked;
otherwise the lookup reads the database, as it always did. Writes never read a model.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Iterable

from zava_core.feed.stream import ChangeFeed
from zava_core.readmodels.customers import CustomerDirectory
from zava_core.readmodels.freshness import Freshness
from zava_core.readmodels.orders import OrderBook
from zava_core.readmodels.stock import StockModel
from zava_core.store import Collections

log = logging.getLogger("zava.readmodels")
MODELS = ("stock", "customers", "orders")
RETRY_SECONDS = (1.0, 5.0, 30.0)  # a load that failed (the database restarting, a connection pool reset) is retried


class ReadModels:
    def __init__(self, collections: Collections) -> None:
        self.freshness = Freshness()
        self.stock = StockModel(collections.inventory, self.freshness)
        self.customers = CustomerDirectory(collections.customers, self.freshness)
        self.orders = OrderBook(collections.orders, collections.order_items, self.freshness)
        self.load_seconds: dict[str, float] = {}
        self._task: asyncio.Task | None = None

    def attach(self, feed: ChangeFeed, wanted: Iterable[str]) -> None:
        """Subscribe the wanted models to the feed (before it starts, so no event is missed)."""
        self.freshness.follow(feed)
        chosen = set(wanted)
        if "stock" in chosen:
            feed.subscribe(("inventory",), self.stock.on_changes)
        if "customers" in chosen:
            feed.subscribe(("customers",), self.customers.on_changes)
        if "orders" in chosen:
            feed.subscribe(("orders", "order_items"), self.orders.on_changes)

    def load_in_background(self, wanted: Iterable[str]) -> None:
        self._task = asyncio.create_task(self._load(tuple(wanted)), name="zava-read-models")

    async def _load(self, wanted: tuple[str, ...]) -> None:
        for name in (m for m in MODELS if m in wanted):  # small first: stock answers within a second of the start
            for attempt in itertools.count():
                started = time.perf_counter()
                try:
                    await getattr(self, name).load()
                except Exception as exc:  # the lookups read the database meanwhile; retried, not given up
                    delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                    log.warning("the %s read model did not load (%s): lookups read the database; retrying in %.0f s",
                                name, exc, delay)
                    await asyncio.sleep(delay)
                    continue
                self.load_seconds[name] = time.perf_counter() - started
                break

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # closing: whatever it was, it is over
                await self._task
