"""A small collection held in memory per process, kept current by one refresh rule (used by the catalog
and the synonym mappings):

- where the process runs the change feed (`zava_core.feed`: the servers do) and the feed watches the
  collection, its events mark the snapshot stale (`on_changes`) and the next call reloads it;
- elsewhere on a server with change streams (a replica set, the embedded engine included), a stream on the
  collection is opened before the first load; any event marks the snapshot stale and the next call
  reloads it (events that arrive during a load count against the load that follows);
- elsewhere, a version query runs at most every `VERSION_CHECK_SECONDS`, and a change of version reloads;
- either way, a snapshot older than `FULL_RELOAD_SECONDS` is reloaded (a backstop for edits that
  neither the stream nor the version can see, e.g. a stream that died quietly).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import anyio
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from zava_core.infra import db as zdb

VERSION_CHECK_SECONDS = 5.0
FULL_RELOAD_SECONDS = 300.0
log = logging.getLogger(__name__)
T = TypeVar("T")


class WatchedCollection(Generic[T]):
    """`get()` returns the current snapshot (built by `build` from the documents), reloading it by the rule."""

    def __init__(self, collection: AsyncCollection, build: Callable[[list[dict], tuple], T], *,
                 query: dict, version: Callable[[AsyncCollection], Awaitable[tuple]],
                 version_of_documents: Callable[[list[dict]], tuple] | None = None,
                 use_change_stream: bool | None = None) -> None:
        """`version` asks the server; `version_of_documents`, when given, is the same version computed from the
        documents a load has just read (a version that reads every document anyway: one read instead of two)."""
        self._collection = collection
        self._build = build
        self._query = query
        self._version_of = version
        self._version_of_documents = version_of_documents
        self._use_change_stream = use_change_stream  # None: decide from the server
        self._snapshot: T | None = None
        self._version: tuple = ()
        self._loaded_at = 0.0
        self._checked_at = 0.0
        self._changes = 0  # change events seen so far
        self._changes_at_load = 0
        self._version_moved = False  # a version check found a change the next load has not read yet
        self._stream = None
        self._watcher: asyncio.Task | None = None
        self._fed: Callable[[], bool] | None = None
        self._started = False
        self._lock = anyio.Lock()

    @property
    def collection_name(self) -> str:
        return self._collection.name

    @property
    def refresh_rule(self) -> str:
        return "change-stream" if self._watching else "version-check"

    @property
    def _watching(self) -> bool:
        if self._fed is not None:
            return self._fed()
        return self._watcher is not None and not self._watcher.done()

    def follow(self, following: Callable[[], bool]) -> None:
        """Take change events from the process's change feed (`on_changes`) instead of a stream of its own;
        `following()` says whether the feed is delivering (when it is not, the version check applies)."""
        self._fed = following

    async def on_changes(self, events: Sequence[dict]) -> None:
        self._changes += len(events)

    async def get(self) -> T:
        if self._snapshot is not None and not await self._stale():
            return self._snapshot
        async with self._lock:
            if self._snapshot is None or await self._stale():
                await self._start_watching()
                changes = self._changes
                documents = await self._collection.find(self._query).to_list()
                if self._watching:
                    self._version = ()
                elif self._version_of_documents is not None:
                    self._version = self._version_of_documents(documents)
                else:
                    self._version = await self._version_of(self._collection)
                self._snapshot = self._build(documents, self._version)
                self._changes_at_load = changes
                self._version_moved = False
                self._loaded_at = self._checked_at = time.monotonic()
        return self._snapshot

    async def _stale(self) -> bool:
        now = time.monotonic()
        if self._snapshot is None or now - self._loaded_at > FULL_RELOAD_SECONDS:
            return True
        if self._watching:
            return self._changes != self._changes_at_load
        if self._version_moved or now - self._checked_at < VERSION_CHECK_SECONDS:
            return self._version_moved
        self._checked_at = now
        # Remembered, not just returned: `get()` asks again under its lock, within the check interval.
        self._version_moved = self._version_moved or await self._version_of(self._collection) != self._version
        return self._version_moved

    async def _start_watching(self) -> None:
        if self._started or self._fed is not None:
            return
        self._started = True
        wanted = self._use_change_stream
        if wanted is None:
            wanted = (await zdb.capabilities(self._collection)).replica_set  # change streams need one
        if not wanted:
            return
        try:
            self._stream = await self._collection.watch()
        except PyMongoError as exc:  # a server that lists a replica set but refuses streams
            log.info("no change stream on %s (%s); checking a version instead", self._collection.name, exc)
            return
        self._watcher = asyncio.create_task(self._drain(), name=f"zava-watch-{self._collection.name}")

    async def _drain(self) -> None:
        try:
            async for _ in self._stream:
                self._changes += 1
        except PyMongoError as exc:
            log.info("the %s change stream ended (%s); checking a version instead", self._collection.name, exc)
        finally:
            self._changes += 1  # whatever happened meanwhile is unknown: reload once

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, PyMongoError):
                await self._watcher
        if self._stream is not None:
            with contextlib.suppress(PyMongoError):
                await self._stream.close()


async def count_and_latest(collection: AsyncCollection) -> tuple:
    """A version query: how many documents, and the latest `updated_at` (cheap; misses an edit that keeps
    `updated_at`, which the change stream or the full reload catches)."""
    stage = {"$group": {"_id": None, "count": {"$sum": 1}, "latest": {"$max": "$updated_at"}}}
    rows = await (await collection.aggregate([stage])).to_list()
    return (rows[0]["count"], rows[0]["latest"]) if rows else (0, None)
