"""What a server has loaded since it started: /health reports it, the benchmarks wait on it.

A server accepts calls at once and answers them from the database while it loads. It is *ready* once its lookups
answer from memory: every read model it follows that was used is loaded (`zava_core.readmodels`: each loads on its
first use, and readiness lapses while one loads), its change feed is current
(`Freshness.following()`: the same test each lookup makes), and its warm-ups (search; the analysis server's cube)
have finished. Readiness can lapse (a feed behind its writers is not current); `ready_after_seconds` is when it was
first reached, watched at `WATCH_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zava_core.context import Zava

WATCH_SECONDS = 0.05  # how often the start is checked until the first time it is ready


class Startup:
    def __init__(self, zava: Zava, read_models: Sequence[str], warm_ups: Sequence[asyncio.Task],
                 started: float) -> None:
        self.zava = zava
        self.read_models = tuple(read_models)
        self.warm_ups = tuple(warm_ups)
        self.started = started  # time.monotonic() when the lifespan began
        self.ready_after: float | None = None
        self._watch = asyncio.create_task(self._until_ready(), name="zava-startup")

    def awaited(self) -> tuple[str, ...]:
        """The models readiness waits for: those a lookup has used (each loads on its first use)."""
        requested = self.zava.models.requested
        return tuple(name for name in self.read_models if name in requested)

    def ready(self) -> bool:
        models = self.zava.models
        ready = (all(task.done() for task in self.warm_ups)
                 and all(getattr(models, name).loaded for name in self.awaited())
                 and models.freshness.following())
        if ready and self.ready_after is None:
            self.ready_after = time.monotonic() - self.started
        return ready

    def report(self) -> dict:
        """For /health: nothing about the data, only what has loaded and how long it took (seconds)."""
        models = self.zava.models
        feed = self.zava.feed
        return {
            "ready": self.ready(),
            "ready_after_seconds": None if self.ready_after is None else round(self.ready_after, 2),
            "up_seconds": round(time.monotonic() - self.started, 2),
            "feed": feed.state.mode if feed is not None else "off",
            # seconds once loaded; None while loading; "on first use" until a model loaded on first use is used
            "read_models": {name: round(models.load_seconds[name], 2) if name in models.load_seconds
                            else None if name in self.awaited() else "on first use" for name in self.read_models},
            "warm_ups_done": all(task.done() for task in self.warm_ups),
        }

    async def _until_ready(self) -> None:
        while not self.ready():  # records ready_after
            await asyncio.sleep(WATCH_SECONDS)

    async def close(self) -> None:
        self._watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watch
