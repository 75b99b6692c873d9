"""In-memory fakes of `zava_core.store`: collection handles over mongomock, and a transaction that rolls back.

The retail rules (till, transfers, order status, returns, cancels) run on these in milliseconds; their
integration tests run the same rules on the real engine. The fakes share the real handles' rules of what is
live and visible (`CollectionRules`), so a test on them cannot pass by a rule of its own.

    zava = fake_zava(small_world())     # a Zava whose collections live in memory
    await create_order(zava, scope, ...)
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mongomock
from pymongo import ReplaceOne, UpdateOne

from zava_core.context import Zava
from zava_core.directory import ReferenceData
from zava_core.infra.config import Settings
from zava_core.model import ALL_SPECS, FEED, META, CollectionSpec
from zava_core.store import Transactions
from zava_core.store.handles import CollectionRules
from zava_core.store.transactions import Body


class FakeCursor:
    """The async cursor surface the retail code uses: sort, limit, batch_size, to_list, async iteration."""

    def __init__(self, cursor: mongomock.collection.Cursor) -> None:
        self._cursor = cursor

    def sort(self, key: Any, direction: int | None = None) -> FakeCursor:
        self._cursor = self._cursor.sort(key, direction) if direction is not None else self._cursor.sort(key)
        return self

    def limit(self, count: int) -> FakeCursor:
        self._cursor = self._cursor.limit(count)
        return self

    def batch_size(self, count: int) -> FakeCursor:
        return self  # one process's memory: nothing to batch

    async def to_list(self, length: int | None = None) -> list[dict]:
        return list(self._cursor)

    def __aiter__(self) -> FakeCursor:
        return self

    async def __anext__(self) -> dict:
        try:
            return next(self._cursor)
        except StopIteration:
            raise StopAsyncIteration from None


@dataclass
class _Named:
    name: str


class FakeHandle(CollectionRules):
    """A handle over a mongomock collection: the same methods as PyMongo's async collection, session ignored."""

    def __init__(self, spec: CollectionSpec, inner: mongomock.Collection, database_name: str) -> None:
        self.spec = spec
        self.name = spec.name
        self.inner = inner
        self.database = _Named(database_name)

    def find(self, filter: Mapping | None = None, projection: Mapping | None = None, *, session: Any = None,
             sort: Any = None, **_: Any) -> FakeCursor:
        cursor = FakeCursor(self.inner.find(dict(filter or {}), projection))
        return cursor.sort(sort) if sort else cursor

    async def find_one(self, filter: Mapping | None = None, projection: Mapping | None = None, *,
                       session: Any = None, sort: Any = None) -> dict | None:
        return self.inner.find_one(dict(filter or {}), projection, sort=sort)

    async def update_one(self, filter: Mapping, update: Mapping, *, upsert: bool = False, session: Any = None) -> Any:
        return self.inner.update_one(dict(filter), dict(update), upsert=upsert)

    async def replace_one(self, filter: Mapping, replacement: Mapping, *, upsert: bool = False,
                          session: Any = None) -> Any:
        return self.inner.replace_one(dict(filter), copy.deepcopy(dict(replacement)), upsert=upsert)

    async def bulk_write(self, requests: list, *, ordered: bool = True, session: Any = None) -> Any:
        """UpdateOne and ReplaceOne requests (mongomock's own bulk_write predates PyMongo 4's operations)."""
        matched = modified = 0
        for request in requests:
            if isinstance(request, UpdateOne):
                result = self.inner.update_one(dict(request._filter), dict(request._doc),
                                               upsert=bool(request._upsert))
            elif isinstance(request, ReplaceOne):
                result = self.inner.replace_one(dict(request._filter), copy.deepcopy(dict(request._doc)),
                                                upsert=bool(request._upsert))
            else:
                raise NotImplementedError(f"the fake's bulk_write takes UpdateOne and ReplaceOne, not "
                                          f"{type(request).__name__}")
            matched, modified = matched + result.matched_count, modified + result.modified_count
        return SimpleNamespace(matched_count=matched, modified_count=modified)

    async def insert_one(self, document: Mapping, *, session: Any = None) -> Any:
        return self.inner.insert_one(copy.deepcopy(dict(document)))

    async def insert_many(self, documents: Iterable[Mapping], *, session: Any = None, **_: Any) -> Any:
        return self.inner.insert_many([copy.deepcopy(dict(d)) for d in documents])

    async def count_documents(self, filter: Mapping, *, session: Any = None) -> int:
        return self.inner.count_documents(dict(filter))

    async def create_indexes(self, models: list) -> list[str]:
        return [self.inner.create_index(list(m.document["key"].items()), unique=m.document.get("unique", False),
                                        sparse=m.document.get("sparse", False), name=m.document["name"])
                for m in models]


class FakeCollections:
    """`Collections` over one in-memory database: the same attributes, `[name]` and `of(spec)`, and the
    bookkeeping collections (`meta`, `feed`)."""

    def __init__(self, name: str = "zava_fake") -> None:
        self._db = mongomock.MongoClient().get_database(name)
        self._handles = {n: FakeHandle(spec, self._db.get_collection(n), name) for n, spec in ALL_SPECS.items()}
        for n, handle in self._handles.items():
            setattr(self, n, handle)
        self.db = _Named(name)
        self.meta = FakeHandle(ALL_SPECS["stores"], self._db.get_collection(META), name)  # rules unused
        self.feed = FakeHandle(ALL_SPECS["stores"], self._db.get_collection(FEED), name)

    def __getitem__(self, name: str) -> FakeHandle:
        return self._handles[name]

    def of(self, spec: CollectionSpec) -> FakeHandle:
        return self._handles[spec.name]

    def snapshot(self) -> dict[str, list[dict]]:
        return {n: copy.deepcopy(list(h.inner.find({}))) for n, h in self._handles.items()}

    def restore(self, snapshot: dict[str, list[dict]]) -> None:
        for n, docs in snapshot.items():
            inner = self._handles[n].inner
            inner.delete_many({})
            if docs:
                inner.insert_many(docs)


class FakeTransactions(Transactions):
    """The real error handling and queues of `Transactions`; the attempt is a snapshot restored on failure."""

    def __init__(self, collections: FakeCollections) -> None:
        super().__init__(None)
        self._collections = collections
        self.attempts = 0

    async def _attempt(self, body: Body) -> None:
        self.attempts += 1
        saved = self._collections.snapshot()
        try:
            await body(None)  # type: ignore[arg-type]  (the fakes ignore sessions)
        except BaseException:
            self._collections.restore(saved)
            raise


def fake_zava(documents: Mapping[str, list[dict]], data_dir: Path | None = None) -> Zava:
    """A Zava whose collections live in memory, loaded with `documents` (collection -> documents)."""
    collections = FakeCollections()
    for name, docs in documents.items():
        if docs:
            target = collections.meta if name == META else collections[name]
            target.inner.insert_many(copy.deepcopy(docs))
    settings = replace(Settings(), mongodb_uri="mongodb://in-memory", data_dir=data_dir or Path("/nonexistent"))
    return Zava(settings=settings, client=None, db=None, collections=collections,  # type: ignore[arg-type]
                transactions=FakeTransactions(collections), reference=ReferenceData(collections))  # type: ignore[arg-type]
