"""Queries search could not answer well, counted per store (`search_misses`): what shoppers ask for and the
catalog lacks, for a merchandiser.

A search from the store-facing server (customer-sales, unless it runs read-only: analysts' searches on the
sales-analysis server are not shoppers' demand) whose result is empty or low-confidence (`confidence.py`)
counts once against the store it was made from: a store manager's own store, or `head_office` for a
head-office caller. One document per store and query (lower-cased, spaces collapsed): how often, how often
with no result at all, the types last suggested, and when. Recording runs behind the answer (the caller never
waits for it) and a failure to record is logged, never raised: a read-only database user still gets search
results. Reading is scoped like every other read: a store manager sees their store's rows, head office every row.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Coroutine

from pydantic import Field
from pymongo.errors import PyMongoError

from zava_core.infra.timeutil import now_iso
from zava_core.model.documents import HEAD_OFFICE_STORE_KEY, SEARCH_MISS_QUERY_MAX_CHARS
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta
from zava_core.store import Handle

log = logging.getLogger(__name__)


def store_key(scope: Scope) -> str:
    """Where a caller's searches count: their store, or head office."""
    return HEAD_OFFICE_STORE_KEY if scope.head_office else next(iter(scope.store_ids))


def normalised(text: str) -> str:
    return " ".join(text.lower().split())[:SEARCH_MISS_QUERY_MAX_CHARS]


def miss_id(store: str, query: str) -> str:
    return f"{store}:{hashlib.sha256(query.encode()).hexdigest()[:16]}"


async def record_miss(misses: Handle, scope: Scope, text: str, no_results: bool, suggested: list[str]) -> None:
    store, query, now = store_key(scope), normalised(text), now_iso()
    await misses.update_one(
        {"_id": miss_id(store, query)},
        {"$inc": {"count": 1, "no_results": int(no_results)},
         "$set": {"suggested_types": suggested, "last_at": now},
         "$setOnInsert": {"store_id": store, "query": query, "first_at": now, "deleted": False}},
        upsert=True)


class MissRecorder:
    """Runs `record_miss` behind the answer; `close()` lets the recordings in flight finish."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Task] = set()

    def record(self, misses: Handle, scope: Scope, text: str, no_results: bool, suggested: list[str]) -> None:
        task = asyncio.create_task(self._guarded(record_miss(misses, scope, text, no_results, suggested)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    @staticmethod
    async def _guarded(write: Coroutine) -> None:
        try:
            await write
        except PyMongoError as exc:
            log.warning("a search miss was not recorded: %s", exc)

    async def close(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._pending)


class SearchMissRow(Out):
    store_id: str = Field(description=f"The store searched from ('{HEAD_OFFICE_STORE_KEY}' for head office)")
    query: str
    count: int = Field(description="Times asked without a good answer")
    no_results: int = Field(description="Of those, times nothing at all was found")
    suggested_types: list[str] = Field(description="Nearest product types offered the last time")
    last_asked: str


class SearchMisses(Out):
    misses: list[SearchMissRow]
    meta: ListMeta


async def search_misses(misses: Handle, scope: Scope, max_rows: int = 50) -> SearchMisses:
    """The most asked queries without a good answer, in the caller's scope, most asked first."""
    limit, note = cap_rows(max_rows)
    query = misses.live(scope)
    total = await misses.count_documents(query)
    cursor = misses.find(query).sort([("count", -1), ("last_at", -1)]).limit(limit)
    rows = [SearchMissRow(store_id=d["store_id"], query=d["query"], count=d["count"], no_results=d["no_results"],
                          suggested_types=d.get("suggested_types", []), last_asked=d["last_at"])
            async for d in cursor]
    hint = None if rows else "no query has gone without a good answer yet"
    return SearchMisses(misses=rows, meta=list_meta(len(rows), total=total, notes=[note, hint]))
