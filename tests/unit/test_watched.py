"""The refresh rule of a collection held in memory (zava_core.retail.watched) where no change feed delivers:
a version check that finds a change reloads on that very call."""

from __future__ import annotations

import asyncio

import pytest

from zava_core.retail import watched
from zava_core.retail.watched import WatchedCollection


class _Cursor:
    def __init__(self, docs: list[dict]) -> None:
        self._docs = docs

    async def to_list(self) -> list[dict]:
        return list(self._docs)


class _Collection:
    """What the rule reads of a collection: its name and `find(...).to_list()`."""

    name = "search_synonyms"

    def __init__(self) -> None:
        self.docs: list[dict] = [{"_id": "a"}]

    def find(self, query: dict) -> _Cursor:
        return _Cursor(self.docs)


async def _version(collection: _Collection) -> tuple:
    return (len(collection.docs),)


def _watched(collection: _Collection) -> WatchedCollection[list[str]]:
    return WatchedCollection(collection, lambda docs, _v: [d["_id"] for d in docs], query={}, version=_version,
                             use_change_stream=False)


@pytest.mark.anyio
async def test_a_changed_version_reloads_on_the_call_that_found_it(monkeypatch) -> None:
    monkeypatch.setattr(watched, "VERSION_CHECK_SECONDS", 0.05)
    collection = _Collection()
    held = _watched(collection)
    assert await held.get() == ["a"]
    collection.docs.append({"_id": "b"})
    assert await held.get() == ["a"]  # within the check interval: the snapshot stands
    await asyncio.sleep(0.06)
    assert await held.get() == ["a", "b"]


@pytest.mark.anyio
async def test_an_unchanged_version_keeps_the_snapshot(monkeypatch) -> None:
    monkeypatch.setattr(watched, "VERSION_CHECK_SECONDS", 0.0)
    collection = _Collection()
    held = _watched(collection)
    first = await held.get()
    assert await held.get() is first
