"""How many `run_aggregation` pipelines may run at once: one per caller (a store set), three per process.

The engine is shared by every caller and works on one command at a time per connection: a few heavy
pipelines slow everyone, so beyond these a call is refused at once rather than queued. Admission is fair:
a caller holds at most one slot, and the process has one more than two callers can hold, so two callers
(two store managers re-issuing pipelines that run to the deadline) never shut out a third. Held by the
process's `Zava` (`zava.aggregations`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

from zava_core import limits as L
from zava_core.errors import Busy
from zava_core.scope import Scope

# The caps are zava_core.limits.MAX_AGGREGATIONS_PER_CALLER and MAX_AGGREGATIONS_IN_FLIGHT.

Rows = tuple[list[dict], str | None]


class AggregationBusy(Busy):
    """Too many aggregations are running (the caller's own, or the process's); nothing was started."""


class InFlight:
    """The aggregations running on the engine for one process: counted per caller and in all.

    Single event loop, no awaits between the check and the count: no lock needed.
    """

    def __init__(self) -> None:
        self.by_caller: Counter[tuple[bool, frozenset[str]]] = Counter()
        self.tasks: set[asyncio.Task[Rows]] = set()

    def start(self, scope: Scope, work: Callable[[], Awaitable[Rows]]) -> asyncio.Task[Rows]:
        """Run `work()` as a task that holds a slot of `scope` until it ends; refuse if no slot is free.

        `work` is a factory so that nothing is created when the call is refused.
        """
        caller = (scope.head_office, scope.store_ids)
        if self.by_caller[caller] >= L.MAX_AGGREGATIONS_PER_CALLER:
            raise AggregationBusy(
                f"another aggregation of yours ({scope.label}) is still running (at most "
                f"{L.MAX_AGGREGATIONS_PER_CALLER} at a time, and one stopped at the time limit counts until the "
                "database has finished it): wait for it to finish, then try again")
        if len(self.tasks) >= L.MAX_AGGREGATIONS_IN_FLIGHT:
            raise AggregationBusy(
                f"{L.MAX_AGGREGATIONS_IN_FLIGHT} aggregations of other callers are already running on this server (the "
                "limit for all callers): wait a few seconds and try again, or use a typed tool")
        self.by_caller[caller] += 1
        task: asyncio.Task[Rows] = asyncio.ensure_future(work())
        self.tasks.add(task)
        # A done callback, not a `finally` in the task: it runs even for a task cancelled before it started.
        # It is registered before anyone awaits the task, so the slot is free again before they resume.
        task.add_done_callback(lambda done: self._finished(caller, done))
        return task

    def _finished(self, caller: tuple[bool, frozenset[str]], task: asyncio.Task[Rows]) -> None:
        self.tasks.discard(task)
        self.by_caller[caller] -= 1
        if self.by_caller[caller] <= 0:
            del self.by_caller[caller]
        if not task.cancelled():
            task.exception()  # retrieved: a caller answered at the deadline no longer awaits it

    async def cancel_all(self) -> None:
        """Stop waiting for every running aggregation (closing their connections); for shutdown and tests."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
