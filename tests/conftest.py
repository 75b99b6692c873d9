"""Shared fixtures: a real MongoDB-compatible server over TCP, and the `small` dataset seeded once.

By default the tests start the embedded engine (SecantusDB) in a temporary directory. Set
`ZAVA_TEST_MONGODB_URI` to run the same suite against a real MongoDB (`pytest -m integration`
selects only the tests that need a server).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from seeded_data import SCRATCH_DATABASE, SEEDED_DATABASE, WRITABLE_DATABASE, seed_small

from zava_core.infra import embedded
from zava_core.infra.config import Settings


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _engine(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[str]:
    external = os.environ.get("ZAVA_TEST_MONGODB_URI", "").strip()
    if external:
        yield external
        return
    data_dir = tmp_path_factory.mktemp(name)
    state = embedded.ensure_running(data_dir)
    try:
        yield state.uri
    finally:
        embedded.stop(data_dir)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server to talk to: ZAVA_TEST_MONGODB_URI, or a fresh embedded engine for this session."""
    yield from _engine(tmp_path_factory, "engine")


@pytest.fixture(scope="session")
def bulk_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second engine, for the tests that seed, clear or drop whole databases of their own (data safety, seeding,
    operator commands). The engine keeps one change history for all its databases, and a server on a shared
    dataset resumes its change feed from that dataset's stored position: the engine reads every entry since, of
    any database, holding its global lock. A dozen seedings on the shared engine made each such start wait
    ~13 s, and every test on that engine with it. (ZAVA_TEST_MONGODB_URI: the same server for both.)"""
    yield from _engine(tmp_path_factory, "bulk-engine")


@pytest.fixture(scope="session")
def seeded(mongo_uri: str) -> Settings:
    """The `small` dataset, read-only by convention: tests that write use `writable`."""
    return seed_small(mongo_uri, SEEDED_DATABASE)


@pytest.fixture(scope="session")
def writable(mongo_uri: str) -> Settings:
    """A second `small` dataset for tests that write (orders, stock moves, counts)."""
    return seed_small(mongo_uri, WRITABLE_DATABASE)


@pytest.fixture(scope="session")
def scratch(mongo_uri: str) -> Settings:
    """A third `small` dataset, shared by the write-heavy suites (concurrency, fuzzing): seeded once per session."""
    return seed_small(mongo_uri, SCRATCH_DATABASE)


@pytest.fixture
async def seeded_db(seeded: Settings) -> AsyncIterator:
    """An async database handle on the seeded dataset, opened on the test's own event loop."""
    from zava_core.infra import db as zdb

    client = await zdb.connect(seeded)
    try:
        yield zdb.database(client, seeded)
    finally:
        await client.close()


def _sync_database(settings: Settings) -> Iterator:
    from pymongo import MongoClient

    client = MongoClient(settings.mongodb_uri)
    try:
        yield client[settings.mongodb_database]
    finally:
        client.close()


@pytest.fixture(scope="session")
def sdb(seeded: Settings) -> Iterator:
    """A synchronous handle on the seeded dataset, to compute expectations (read only)."""
    yield from _sync_database(seeded)


@pytest.fixture(scope="session")
def wdb(writable: Settings) -> Iterator:
    """A synchronous handle on the writable dataset."""
    yield from _sync_database(writable)


@pytest.fixture(scope="session")
def raw(sdb) -> dict:
    """The seeded dataset's live order lines, inventory and names, read with the sync driver: what the
    analysis tests recompute their expectations from, independently of the rollup."""
    fields = {"_id": 0, "order_id": 1, "store_id": 1, "order_date": 1, "category_id": 1, "product_id": 1,
              "quantity": 1, "total_amount": 1, "unit_cost": 1, "discount_amount": 1}
    return {
        "lines": list(sdb.order_items.find({"deleted": False}, fields)),
        "inventory": list(sdb.inventory.find({"deleted": False}, {"_id": 0})),
        "stores": {s["_id"]: s["store_name"] for s in sdb.stores.find()},
        "categories": {c["_id"]: c["category_name"] for c in sdb.categories.find()},
        "products": {p["_id"]: p for p in sdb.products.find()},
    }


@pytest.fixture
async def zava(seeded: Settings) -> AsyncIterator:
    """The process context on the seeded dataset, opened on the test's own event loop."""
    from zava_core.context import Zava

    opened = await Zava.open(seeded)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(autouse=True)
def hints_point_where_they_are_shown() -> Iterator[None]:
    """A hint (zava_core/hints.py) rendered during a tool call it does not name fails the test that caused it:
    its arguments may not be that tool's."""
    from zava_core import hints

    before = len(hints.MISPLACED)
    yield
    misplaced = hints.MISPLACED[before:]
    assert not misplaced, f"hints shown by tools they do not name (add the tool to shown_by, or reword): {misplaced}"
