"""The test datasets: the seed and as-of date every suite shares, the `small` dataset seeded into a
database, and settings pointing at one. Imported by tests/conftest.py and by the suites that need a
dataset of their own (a module name of its own: `conftest` is ambiguous once a subfolder has one).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

from zava_core.infra.config import Settings

TEST_SEED = 424_242
TEST_AS_OF = date(2026, 11, 1)
SEEDED_DATABASE = "zava_test_small"
WRITABLE_DATABASE = "zava_test_writes"
# The write-heavy suites (concurrent orders and operations, fuzzed write tools) share this one: their writes
# would disturb the expectations of the suites on `writable`, and each checks only what it wrote.
SCRATCH_DATABASE = "zava_test_scratch"
# The change-feed suite's own: devices write orders, cancels, returns and stock through the simulated connector,
# and its rebuild test replaces the rollups.
FEED_DATABASE = "zava_test_feed"

# What a test process keeps on disk besides the engine (the analysis cube's snapshot): a directory of the
# session's own, never the user's data directory.
SESSION_DATA_DIR = Path(tempfile.mkdtemp(prefix="zava-test-data-"))


def drops_after_use() -> bool:
    """Whether a test drops the databases it made once it is done with them: only on a server of the caller's
    (ZAVA_TEST_MONGODB_URI). The session's embedded engines live in temporary directories and go with them, and
    dropping a seeded database there takes seconds (the engine deletes it key by key), so they are left to it."""
    return bool(os.environ.get("ZAVA_TEST_MONGODB_URI", "").strip())


def drop_after(client, name: str) -> None:
    """Drop the test database `name` (a sync client) if `drops_after_use()`."""
    if drops_after_use():
        client.drop_database(name)


def settings_for(uri: str, database: str, **overrides) -> Settings:
    return replace(Settings(), mongodb_uri=uri, mongodb_database=database,
                   **{"data_dir": SESSION_DATA_DIR, **overrides})


def seed_small(uri: str, database: str) -> Settings:
    """Seed the `small` dataset into `database` (about 20 s on the engine) and return its settings."""
    from seeding.catalog_loader import load_catalog
    from seeding.generate import Generator
    from seeding.pipeline import seed_database
    from seeding.progress import Reporter
    from zava_core.embeddings import get_embedder
    from zava_core.infra import db as zdb
    from zava_core.store import Collections

    settings = settings_for(uri, database)

    async def run() -> None:
        client = await zdb.connect(settings)
        try:
            generator = Generator(load_catalog(), scale="small", seed=TEST_SEED, as_of=TEST_AS_OF)
            with Reporter(quiet=True) as reporter:
                await seed_database(Collections(zdb.database(client, settings)), generator,
                                    embedder=get_embedder(settings), drop=True, reporter=reporter)
        finally:
            await client.close()

    asyncio.run(run())
    return settings



