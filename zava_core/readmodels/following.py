"""The shape every read model shares: loaded once from its collections, then kept by the change feed's events.
Events that arrive while it loads are held and applied after the load (post-images: applying one again is
harmless), so none is lost between the read and the first event. Events before its load began are dropped:
they were committed before the load's read, which sees them (a model loaded on first use hears of hours of
changes it need not keep)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from zava_core.infra.memory import release_freed_memory
from zava_core.readmodels.freshness import Freshness


class FollowingModel:
    def __init__(self, freshness: Freshness) -> None:
        self._freshness = freshness
        self.loaded = False
        self._pending: list[dict] | None = None

    async def load(self) -> None:
        self._pending = []
        await self._read()
        pending, self._pending = self._pending, None
        self._apply(pending)
        release_freed_memory()  # what decoding the load's documents used
        self.loaded = True

    async def on_changes(self, events: Sequence[dict]) -> None:
        if self._pending is not None:
            self._pending.extend(events)
        elif self.loaded:
            self._apply(events)

    async def _read(self) -> None:
        raise NotImplementedError

    def _apply(self, events: Iterable[dict]) -> None:
        raise NotImplementedError
