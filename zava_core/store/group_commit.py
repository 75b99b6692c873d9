"""Group commit: writes of one key that arrive while a transaction of that key runs share the next transaction.

On the embedded engine every command costs a round trip through one single-threaded process, and a
transaction's fixed costs (the idempotency reads, the stock read, the inserts, the commit) are paid once
per transaction, not per document. Sixteen orders of one store placed at once paid them sixteen times,
one after the other; committed together they pay them once:

    zava.order_batches = GroupCommit(place_batch, max_batch=32)   # run(key, requests) -> outcomes
    outcome = await zava.order_batches.submit(store_id, request)

- The first writer of a key starts a drain task; writers arriving while it runs queue behind it, and the
  drain takes them, up to `max_batch` at a time, into one call of `run(key, requests)`.
- `run` returns one outcome per request, in order: a value, or an exception for that request alone. An
  exception raised by `run` itself reaches every request of that batch.
- A caller that stops waiting (a cancelled request) does not take its write back: like a write already
  sent, it may commit; its idempotency key makes a retry answer with that write.
- `close()` waits for the drains running, and fails what is still queued (the process is stopping).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from zava_core.errors import Unavailable

R = TypeVar("R")
T = TypeVar("T")
Run = Callable[[str, list[R]], Awaitable[Sequence[T | BaseException]]]
CLOSE_WAIT_SECONDS = 5.0
STOPPED = "the server is stopping; nothing was written: send the call again"
STOPPED_WHILE_WRITING = ("the server stopped while this was being written: send the same call again (its "
                         "idempotency key answers with the write if it was made)")


class GroupCommit(Generic[R, T]):
    """Per key, the requests waiting for the next transaction and the task draining them."""

    def __init__(self, run: Run[R, T], max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run, self.max_batch = run, max_batch
        self._queued: dict[str, list[tuple[R, asyncio.Future[T]]]] = {}
        self._drains: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self.batches = 0  # transactions run, and the requests they carried: requests / batches is the mean
        self.requests = 0  # batch size (the tests check the batching with them)

    async def submit(self, key: str, request: R) -> T:
        if self._closed:
            raise Unavailable(STOPPED)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(key, []).append((request, future))
        if key not in self._drains:
            # The drain runs in a copy of the first caller's context: the batch's queries are traced under that
            # call's span (zava_core.infra.telemetry), where an operator looking for the write finds them.
            self._drains[key] = asyncio.create_task(self._drain(key), name=f"group-commit:{key}")
        return await future

    async def _drain(self, key: str) -> None:
        batch: list[tuple[R, asyncio.Future[T]]] = []
        try:
            while not self._closed and (queued := self._queued.get(key)):  # a stop takes no new batch
                batch, self._queued[key] = queued[:self.max_batch], queued[self.max_batch:]
                self.batches += 1
                self.requests += len(batch)
                try:
                    outcomes: Sequence[T | BaseException] = await self._run(key, [request for request, _ in batch])
                    if len(outcomes) != len(batch):
                        raise RuntimeError(f"a group commit answered {len(outcomes)} of {len(batch)} requests")
                except Exception as exc:  # the whole batch failed: each of its callers hears why
                    outcomes = [exc] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller stopped waiting
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                batch = []
        finally:
            # Only a stop (the drain cancelled by `close`) leaves callers waiting here: tell them.
            self._drains.pop(key, None)
            self._fail([future for _, future in batch], STOPPED_WHILE_WRITING)
            self._fail([future for _, future in self._queued.pop(key, [])], STOPPED)

    @staticmethod
    def _fail(futures: list[asyncio.Future[T]], message: str) -> None:
        for future in futures:
            if not future.done():
                future.set_exception(Unavailable(message))

    async def close(self) -> None:
        """Let the running transactions finish (bounded); fail what is still queued."""
        self._closed = True
        drains = list(self._drains.values())
        if drains:
            _, running = await asyncio.wait(drains, timeout=CLOSE_WAIT_SECONDS)
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for key in list(self._queued):
            self._fail([future for _, future in self._queued.pop(key)], STOPPED)
