"""Shared fixtures: a real MongoDB-compatible server over TCP, and the `small` dataset seeded once.

By default the tests start the embedded engine (SecantusDB) in a temporary directory. Set
`ZAVA_TEST_MONGODB_URI` to run the same suite against a real MongoDB (`pytest -m integration`
selects only the tests that need a server).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date

import pytest

from zava_core.infra import embedded
from zava_core.infra.config import Settings

TEST_SEED = 424_242
TEST_AS_OF = date(2026, 11, 1)
SEEDED_DATABASE = "zava_test_small"
WRITABLE_DATABASE = "zava_test_writes"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server to talk to: ZAVA_TEST_MONGODB_URI, or a fresh embedded engine for this session."""
    external = os.environ.get("ZAVA_TEST_MONGODB_URI", "").strip()
    if external:
        yield external
        return
    data_dir = tmp_path_factory.mktemp("engine")
    state = embedded.ensure_running(data_dir)
    try:
        yield state.uri
    finally:
        embedded.stop(data_dir)


def settings_for(uri: str, database: str, **overrides) -> Settings:
    return replace(Settings(), mongodb_uri=uri, mongodb_database=database, **overrides)


def seed_small(uri: str, database: str) -> Settings:
    """Seed the `small` dataset into `database` (about 20 s on the engine) and return its settings."""
    from seeding.catalog_loader import load_catalog
    from seeding.generate import Generator
    from seeding.pipeline import seed_database
    from seeding.progress import Reporter
    from zava_core.embeddings import get_embedder
    from zava_core.infra import db as zdb

    settings = settings_for(uri, database)

    async def run() -> None:
        client = await zdb.connect(settings)
        try:
            generator = Generator(load_catalog(), scale="small", seed=TEST_SEED, as_of=TEST_AS_OF)
            with Reporter(quiet=True) as reporter:
                await seed_database(zdb.database(client, settings), generator, embedder=get_embedder(settings),
                                    drop=True, reporter=reporter)
        finally:
            await client.close()

    asyncio.run(run())
    return settings


@contextmanager
def own_small_dataset(mongo_uri: str, database: str) -> Iterator[Settings]:
    """A `small` dataset in a database of the caller's own, dropped afterwards: for suites whose writes
    would disturb other modules' expectations (concurrent orders, fuzzed write tools)."""
    from pymongo import MongoClient

    settings = seed_small(mongo_uri, database)
    try:
        yield settings
    finally:
        client = MongoClient(mongo_uri)
        try:
            client.drop_database(database)
        finally:
            client.close()


@pytest.fixture(scope="session")
def seeded(mongo_uri: str) -> Settings:
    """The `small` dataset, read-only by convention: tests that write use `writable`."""
    return seed_small(mongo_uri, SEEDED_DATABASE)


@pytest.fixture(scope="session")
def writable(mongo_uri: str) -> Settings:
    """A second `small` dataset for tests that write (orders, stock moves, counts)."""
    return seed_small(mongo_uri, WRITABLE_DATABASE)


@pytest.fixture
async def seeded_db(seeded: Settings) -> AsyncIterator:
    """An async database handle on the seeded dataset, opened on the test's own event loop."""
    from zava_core.infra import db as zdb

    client = await zdb.connect(seeded)
    try:
        yield zdb.database(client, seeded)
    finally:
        await client.close()
