"""Read models: what lookups read, held in memory per process and kept by the change feed.

| model | holds | loaded |
|---|---|---|
| `stock` | every inventory row (store x product) | on first use (3,392 rows) |
| `customers` | the customer directory and its search indexes | on first use, customer-sales |
| `orders` | every order and its lines, in columns, by customer | on first use, customer-sales |

(The catalog is `context.catalog`, which follows the same feed.) A model answers only while it is fresh
(`freshness.py`): loaded, its feed following, and past every write this process made to what is asked;
otherwise the lookup reads the database, as it always did. Writes never read a model.

Every model loads on first use (`use(name)`): the first lookup that would read it reads the database and
starts its load; the lookups after it answer from memory once it is loaded. Reading every row takes seconds
of the database's time at the default scale (the order book; the directory ~1 s), and a server launched for a
session (Claude Desktop, an agent's run, a test) that never asks should not pay it, nor make its first calls
queue behind it: loaded at the start, the stock and the directory made a server opened for one `get_inventory`
take 0.80 s from start to closed at the default scale, that lookup 103-120 ms behind the loads (0.23-0.26 s and
10-11 ms on first use; the embedded engine, 2026-12-08).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

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
        self.wanted: tuple[str, ...] = ()  # what this process follows (attached to its feed)
        self.requested: set[str] = set()  # what it has started loading: at the start, or on first use
        self._tasks: list[asyncio.Task] = []

    def attach(self, feed: ChangeFeed, wanted: Iterable[str]) -> None:
        """Subscribe the wanted models to the feed (before it starts, so no event is missed)."""
        self.freshness.follow(feed)
        chosen = set(wanted)
        self.wanted = tuple(m for m in MODELS if m in chosen)
        for name, collections in (("stock", ("inventory",)), ("customers", ("customers",)),
                                  ("orders", ("orders", "order_items"))):
            if name in chosen:
                feed.subscribe(collections, self._following(name))

    def _following(self, name: str) -> Callable[[Sequence[dict]], Awaitable[None]]:
        """The model's feed subscriber. A change it cannot apply (another writer's odd document) leaves it no longer
        a copy of the database: it stops answering (lookups read the database) and loads again from scratch."""
        model = getattr(self, name)

        async def on_changes(events: Sequence[dict]) -> None:
            try:
                await model.on_changes(events)
            except Exception as exc:  # one line, as a failed load's: the document is the writer's, not a bug here
                log.warning("the %s read model could not apply a change (%r): it reloads, lookups read the database",
                            name, exc)
                model.loaded = False
                self._tasks.append(asyncio.create_task(self._load((name,)), name=f"zava-read-models:{name}:again"))

        return on_changes

    def use(self, name: str):
        """The model `name`, its load started if this is its first use (and the process follows it)."""
        if name in self.wanted and name not in self.requested:
            self._start([name])
        return getattr(self, name)

    def _start(self, names: list[str]) -> None:
        names = [n for n in names if n not in self.requested]
        if names:
            self.requested.update(names)
            self._tasks.append(asyncio.create_task(self._load(tuple(names)), name=f"zava-read-models:{names[0]}"))

    async def _load(self, wanted: tuple[str, ...]) -> None:
        for name in (m for m in MODELS if m in wanted):  # small first, when several start together
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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):  # closing: whatever it was, it is over
                await task
