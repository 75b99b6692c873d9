"""When an in-memory read model may answer, and when the database must.

A model answers only while it is loaded and the process's change feed is current: it found nothing new to
handle within `STALE_AFTER_SECONDS` (a feed catching up a backlog, stuck folding a burst, or not following at
all sends every lookup to the database). And a key this process wrote itself (an order's stock rows, the
customer it sold to) is read from the database until the feed has caught up past that write: a caller always
sees its own writes.
Writes never consult a model: stock checks, transfers and returns are decided by transactions in the database.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from zava_core.feed.stream import ChangeFeed

STALE_AFTER_SECONDS = 2.0  # the bound: a model further behind than this answers nothing


class Freshness:
    """One process's rule for all its models: the feed they follow, and the keys written here lately.

    A key being written is "in flight" (never settled) until its write returns: a transaction's keys until the
    transaction commits or gives up (`transaction()`, which `Transactions.run` wraps every run in), a single
    write's until it returns (`writing()`). Only then is it stamped, so the feed's "caught up" can never fall
    between the stamp and the commit.
    """

    def __init__(self) -> None:
        self.feed: ChangeFeed | None = None
        self._written: dict[Hashable, float] = {}
        self._latest: dict[Hashable, float] = {}  # the first part of a key (a collection) -> its latest write
        self._flying: Counter[Hashable] = Counter()  # collection -> keys in flight

    def follow(self, feed: ChangeFeed) -> None:
        self.feed = feed

    def following(self) -> bool:
        return self.feed is not None and self.feed.current(STALE_AFTER_SECONDS)

    def wrote(self, *keys: Hashable) -> None:
        """This process is writing these keys: inside a transaction, in flight until it ends; elsewhere (the
        write has returned), stamped now."""
        open_keys = _OPEN.get()
        if open_keys is None:
            self._stamp(keys)
            return
        for key in keys:
            if key not in open_keys:
                open_keys.add(key)
                self._flying[_collection(key)] += 1
            self._written[key] = math.inf

    @contextmanager
    def transaction(self) -> Iterator[None]:
        token = _OPEN.set(set())
        try:
            yield
        finally:
            keys = _OPEN.get() or set()
            _OPEN.reset(token)
            for key in keys:
                self._flying[_collection(key)] -= 1
            self._stamp(keys)  # committed or not: read from the database until the feed is past this moment

    @contextmanager
    def writing(self, *keys: Hashable) -> Iterator[None]:
        """Around one write outside a transaction."""
        with self.transaction():
            self.wrote(*keys)
            yield

    def settled(self, *keys: Hashable) -> bool:
        """Whether the feed has handled every write this process made to these keys."""
        caught_up = self.feed.state.caught_up_at if self.feed is not None else 0.0
        return all(self._written.get(key, -1.0) < caught_up for key in keys)

    def settled_all(self, collection: str) -> bool:
        """Whether the feed has handled every write this process made to `collection`, whatever the key."""
        caught_up = self.feed.state.caught_up_at if self.feed is not None else 0.0
        return self._flying[collection] <= 0 and self._latest.get(collection, -1.0) < caught_up

    def _stamp(self, keys: Iterable[Hashable]) -> None:
        now = time.monotonic()
        for key in keys:
            self._written[key] = now
            self._latest[_collection(key)] = now
        if len(self._written) > 10_000:
            self._forget()

    def _forget(self) -> None:
        caught_up = self.feed.state.caught_up_at if self.feed is not None else 0.0
        self._written = {k: t for k, t in self._written.items() if t >= caught_up}


_OPEN: ContextVar[set[Hashable] | None] = ContextVar("zava_keys_in_flight", default=None)


def _collection(key: Hashable) -> Hashable:
    return key[0] if isinstance(key, tuple) else key
