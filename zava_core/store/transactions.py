"""The one way zava_core writes more than one document: a transaction, all or nothing.

    async def write(session):
        ...                                    # reads and writes with session=session
        if something_is_wrong:
            raise Abort(OutOfStock("..."))     # nothing is written; the caller is told the error

    winner = await zava.transactions.run(write, what="the order", serialize=(store_id,), replay=find_twin)

- `with_transaction` retries transient errors and write conflicts (another writer touched the same
  document: devices through Ditto, another replica, a script).
- `serialize` queues this process's writers of the same keys (a store's rollup cells) so they do not
  conflict with each other at all; other processes still meet as conflicts and retry.
- Idempotency: each write carries the caller's key under a unique index. When a concurrent twin with the
  same key wins, this attempt fails (a duplicate key, or an `Abort` because the twin already changed what
  this one expected), and `replay()` finds the twin's result, which becomes this call's answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager, AsyncExitStack, nullcontext
from typing import TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from zava_core.errors import Conflict, Unavailable, ZavaError

T = TypeVar("T")
Body = Callable[[AsyncClientSession], Awaitable[None]]
Replay = Callable[[], Awaitable[T | None]]
NO_TRANSACTIONS_CODE = 20  # IllegalOperation: a standalone server has no transactions
DUPLICATE_KEY_CODE = 11000


class Abort(Exception):
    """Raised inside a transaction body: nothing is written, and the caller is told `error`."""

    def __init__(self, error: ZavaError) -> None:
        super().__init__(str(error))
        self.error = error


class Transactions:
    """Transactions on one client, and this process's queues of writers (per key, e.g. per store)."""

    def __init__(self, client: AsyncMongoClient | None) -> None:
        self._client = client
        self.queues: dict[str, asyncio.Lock] = {}
        # Wrapped around every run (the read models' freshness rule: what a body writes is in flight until the
        # run ends, committed or not).
        self.around: Callable[[], AbstractContextManager] = nullcontext

    def queue(self, key: str) -> asyncio.Lock:
        return self.queues.setdefault(key, asyncio.Lock())

    async def run(self, body: Body, *, what: str, serialize: Iterable[str] = (),
                  replay: Replay[T] | None = None) -> T | None:
        """Run `body` as one transaction. None when it committed; the twin's result (from `replay`) when a
        concurrent call with the same idempotency key won; a ZavaError when nothing was written."""
        try:
            async with AsyncExitStack() as stack:
                for key in sorted(set(serialize)):  # one order of acquisition: no deadlock between writers
                    await stack.enter_async_context(self.queue(key))
                stack.enter_context(self.around())
                await self._attempt(body)
        except Abort as abort:
            winner = await replay() if replay is not None else None
            if winner is None:
                raise abort.error from None
            return winner
        except (DuplicateKeyError, BulkWriteError) as exc:
            if isinstance(exc, BulkWriteError) and not duplicate_keys_only(exc):
                raise
            winner = await replay() if replay is not None else None
            if winner is None:
                raise Conflict(f"{what} collided with another write; nothing was changed: send the same call "
                               "again") from None
            return winner
        except OperationFailure as exc:
            if exc.code == NO_TRANSACTIONS_CODE or "Transaction numbers" in str(exc):
                raise Unavailable(f"{what} needs a replica set (transactions): use Atlas, mongod --replSet, "
                                  "or the embedded engine") from None
            raise
        except PyMongoError as exc:
            raise Unavailable(f"{what} was not written (nothing changed): {type(exc).__name__}") from None
        return None

    async def _attempt(self, body: Body) -> None:
        """One transaction with the driver's retries (a test's in-memory fake replaces this)."""
        if self._client is None:
            raise Unavailable("no database client to run a transaction on")
        async with self._client.start_session() as session:
            await session.with_transaction(body)


def duplicate_keys_only(error: BulkWriteError) -> bool:
    """An insert_many that met a unique index and nothing else (a twin's key, a resumed seeding batch): what
    DuplicateKeyError is for one insert."""
    errors = error.details.get("writeErrors") or []
    return bool(errors) and all(e.get("code") == DUPLICATE_KEY_CODE for e in errors)
