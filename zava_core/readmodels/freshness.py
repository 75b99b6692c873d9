"""When an in-memory read model may answer, and when the database must.

A model answers only while it is loaded and the process's change feed is current: it found nothing new to
handle within `STALE_AFTER_SECONDS` (a feed catching up a backlog, stuck folding a burst, or not following at
all sends every lookup to the database). And a key this process wrote itself (an order's stock rows, the
customer it sold to) is read from the database until the feed has caught up past that write: a caller always
sees its own writes.
Writes never consult a model: stock checks, transfers and returns are decided by transactions in the database.
"""

from __future__ import annotations

import time
from collections.abc import Hashable

from zava_core.feed.stream import ChangeFeed

STALE_AFTER_SECONDS = 2.0  # the bound: a model further behind than this answers nothing


class Freshness:
    """One process's rule for all its models: the feed they follow, and the keys written here lately."""

    def __init__(self) -> None:
        self.feed: ChangeFeed | None = None
        self._written: dict[Hashable, float] = {}
        self._latest: dict[Hashable, float] = {}  # the first part of a key (a collection) -> its latest write

    def follow(self, feed: ChangeFeed) -> None:
        self.feed = feed

    def following(self) -> bool:
        return self.feed is not None and self.feed.current(STALE_AFTER_SECONDS)

    def wrote(self, *keys: Hashable) -> None:
        """This process is writing these keys (inside a transaction, before it commits: a write that then aborts
        only sends a few lookups to the database until the feed catches up)."""
        now = time.monotonic()
        for key in keys:
            self._written[key] = now
            self._latest[key[0] if isinstance(key, tuple) else key] = now
        if len(self._written) > 10_000:
            self._forget()

    def settled(self, *keys: Hashable) -> bool:
        """Whether the feed has handled every write this process made to these keys."""
        caught_up = self.feed.state.caught_up_at if self.feed is not None else 0.0
        return all(self._written.get(key, -1.0) < caught_up for key in keys)

    def settled_all(self, collection: str) -> bool:
        """Whether the feed has handled every write this process made to `collection`, whatever the key."""
        caught_up = self.feed.state.caught_up_at if self.feed is not None else 0.0
        return self._latest.get(collection, -1.0) < caught_up

    def _forget(self) -> None:
        caught_up = self.feed.state.caught_up_at if self.feed is not None else 0.0
        self._written = {k: t for k, t in self._written.items() if t >= caught_up}
