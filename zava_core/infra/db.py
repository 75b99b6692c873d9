"""The database connection: one `AsyncMongoClient` per process.

With `MONGODB_URI` set we talk to that server; without it, to the embedded engine (started on
first use). Everything else codes against PyMongo only; features that differ between servers
(Atlas Search, change streams) are detected by asking the server, never by reading the URI.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from zava_core.errors import Unavailable
from zava_core.infra import embedded
from zava_core.infra.config import Settings
from zava_core.infra.redaction import display_uri, redact, remember_secrets, settings_secrets, uri_secrets
from zava_core.infra.telemetry import QUERY_SPANS

APP_NAME = "zava-mcp"


def resolve_uri(settings: Settings) -> str:
    """The connection string to use; starts the embedded engine when no MongoDB is configured (its URI
    carries the engine's own credentials: keep it out of output, show `display_uri(uri)`)."""
    if settings.mongodb_uri:
        return settings.mongodb_uri
    try:
        uri = embedded.ensure_running(settings.data_dir).uri
    except embedded.EngineError as exc:
        raise Unavailable(str(exc)) from None
    except OSError as exc:  # the data directory cannot be created or made private (0700)
        raise Unavailable(f"the embedded engine cannot use {settings.data_dir}: {exc.strerror or exc}") from None
    remember_secrets(uri_secrets(uri))  # the engine's password, masked in this process's logs from now on
    return uri


async def connect(settings: Settings, *, timeout_ms: int = 10_000) -> AsyncMongoClient:
    """Open the client and check the server answers; raises `Unavailable` with the reason if not."""
    uri = await anyio.to_thread.run_sync(resolve_uri, settings)
    client: AsyncMongoClient = AsyncMongoClient(
        uri, appname=APP_NAME, serverSelectionTimeoutMS=timeout_ms, tz_aware=True,
        # Acknowledged means journaled: the embedded engine otherwise acknowledges ~0.3 s before a write is
        # crash-safe (an order acknowledged and then lost in a crash, 5 times in 5 in the data-safety tests).
        journal=True,
        event_listeners=[QUERY_SPANS],  # one OpenTelemetry span per command (a no-op without an SDK)
    )
    try:
        await client.admin.command("ping")
    except PyMongoError as exc:
        await client.close()
        # The embedded engine's password is in `uri`, not in the settings: mask both.
        reason = redact(str(exc), (*settings_secrets(settings), *uri_secrets(uri)))[:300]
        raise Unavailable(f"cannot reach MongoDB at {display_uri(uri)}: {reason}") from None
    return client


def database(client: AsyncMongoClient, settings: Settings) -> AsyncDatabase:
    return client[settings.mongodb_database]


@dataclass(frozen=True)
class Capabilities:
    server_version: str
    replica_set: bool
    search_indexes: bool


# Codes a server gives when Atlas Search is not there: CommandNotSupported (115), community
# mongod's SearchNotEnabled (31082), and "no such command" (59).
_NO_SEARCH_CODES = {59, 115, 31082}


async def capabilities(probe: AsyncCollection) -> Capabilities:
    """What the server offers, asked through `probe`, one of the dataset's collections (search indexes are
    listed per collection)."""
    client = probe.database.client
    hello = await client.admin.command("hello")
    info = await client.server_info()
    return Capabilities(
        server_version=str(info.get("version", "?")),
        replica_set=bool(hello.get("setName")) or hello.get("msg") == "isdbgrid",
        search_indexes=await _offers_search_indexes(probe),
    )


async def _offers_search_indexes(probe: AsyncCollection) -> bool:
    try:
        cursor = await probe.aggregate([{"$listSearchIndexes": {}}])
        await cursor.to_list()
        return True
    except OperationFailure as exc:
        if exc.code in _NO_SEARCH_CODES or "Atlas" in str(exc):
            return False
        raise
