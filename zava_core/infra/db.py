"""The database connection: one `AsyncMongoClient` per process.

With `MONGODB_URI` set we talk to that server; without it, to the embedded engine (started on
first use). Everything else codes against PyMongo only; features that differ between servers
(Atlas Search, change streams) are detected by asking the server, never by reading the URI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import anyio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError

from zava_core.errors import Unavailable
from zava_core.infra import embedded
from zava_core.infra.config import Settings
from zava_core.infra.redaction import display_uri, redact, remember_secrets, settings_secrets, uri_secrets
from zava_core.infra.telemetry import QUERY_SPANS
from zava_core.infra.uri import UriProblem, parse_connection_string

APP_NAME = "zava-mcp"
MAX_HOSTS_SHOWN = 60  # characters of the host list in a one-line message

# Why a server could not be reached, in the order they are recognised (the driver's text names the first
# failure; "timed out" also ends every server-selection error, so it comes last): (pattern, reason, what to check).
_UNREACHABLE = (
    (r"authentication failed|auth failed|AuthenticationFailed|bad auth", "authentication failed",
     "check the user and password in MONGODB_URI (encode special characters: python -m seeding encode-password)"),
    (r"Name or service not known|nodename nor servname|name resolution|getaddrinfo failed|DNS|No address associated",
     "the host name does not resolve (DNS)", "check the host name in MONGODB_URI"),
    (r"SSL|TLS|certificate|WRONG_VERSION_NUMBER", "the TLS handshake failed",
     "check tls= in MONGODB_URI matches the server, and tlsCAFile for a private CA"),
    (r"Connection refused|Connect call failed|Errno 111|ECONNREFUSED|actively refused", "connection refused",
     "check the host and port in MONGODB_URI, and that MongoDB runs there"),
    (r"timed out|Timeout|No servers found", "no answer in time (timeout)",
     "check the network and firewall; on Atlas, that this machine's IP is in the access list"),
)


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
    timeout_ms = _uri_timeout_ms(uri) or timeout_ms  # one set in the connection string wins
    client: AsyncMongoClient | None = None
    try:
        client = AsyncMongoClient(
            uri, appname=APP_NAME, serverSelectionTimeoutMS=timeout_ms, tz_aware=True,
            # Acknowledged means journaled: the embedded engine otherwise acknowledges ~0.3 s before a write is
            # crash-safe (an order acknowledged and then lost in a crash, 5 times in 5 in the data-safety tests).
            journal=True,
            event_listeners=[QUERY_SPANS],  # one OpenTelemetry span per command (a no-op without an SDK)
        )
        await client.admin.command("ping")
    except PyMongoError as exc:  # ConfigurationError too: an SRV name that does not resolve
        if client is not None:
            await client.close()
        if settings.uses_embedded_engine:  # our own engine: its log says more than any guess
            reason = redact(str(exc), (*settings_secrets(settings), *uri_secrets(uri)))[:300]
            raise Unavailable(f"cannot reach the embedded engine at {display_uri(uri)}: {reason}") from None
        raise Unavailable(unreachable(uri, exc, timeout_ms)) from None
    return client


def _uri_timeout_ms(uri: str) -> int | None:
    try:
        value = parse_connection_string(uri).options.get("serverselectiontimeoutms")
    except UriProblem:
        return None
    return round(float(value) * 1000) if value is not None else None  # PyMongo's parser gives seconds


def hosts_of(uri: str) -> str:
    """The hosts a connection string names (host:port, comma-separated), without credentials or options."""
    try:
        parts = parse_connection_string(uri)
    except UriProblem:
        return "the host in MONGODB_URI"
    shown = ",".join(f"{host}:{port}" if port else host for host, port in parts.hosts)
    return shown if len(shown) <= MAX_HOSTS_SHOWN else shown[:MAX_HOSTS_SHOWN - 3] + "..."


def unreachable(uri: str, exc: PyMongoError, timeout_ms: int) -> str:
    """One line (under 200 characters) for a server that did not answer: where, why, and what to check. Never
    the driver's topology description, which says all that in a thousand characters."""
    text = str(exc)
    if isinstance(exc, ConfigurationError) and "DNS" in text:
        text = "DNS"
    for pattern, reason, check in _UNREACHABLE:
        if re.search(pattern, text, re.IGNORECASE):
            if reason.startswith("no answer"):
                reason = f"no answer within {timeout_ms / 1000:g} s (timeout)"
            return f"cannot reach MongoDB at {hosts_of(uri)}: {reason}; {check}"
    return f"cannot reach MongoDB at {hosts_of(uri)}: {type(exc).__name__}; check MONGODB_URI and the server"


def where(settings: Settings) -> str:
    """Where a process looks for the dataset, for messages: the database and the server, never a password."""
    database = settings.mongodb_database
    if settings.uses_embedded_engine:
        return f"the database {database!r} in the embedded engine at {settings.data_dir}"
    return f"the database {database!r} at {hosts_of(settings.mongodb_uri or '')}"


def nothing_seeded(settings: Settings) -> str:
    """What an empty database means, said where it was looked for and with the usual cause."""
    if settings.uses_embedded_engine:
        return (f"{where(settings)} holds no stores: seed it with `python -m seeding`, or, if you did, give this "
                "process the ZAVA_DATA_DIR seeding used (an MCP client's `env` block passes only what it lists)")
    return (f"{where(settings)} holds no stores: seed it with `python -m seeding` (same MONGODB_URI), or set "
            "MONGODB_DATABASE to the database you seeded")


def release_started_engine() -> None:
    """For a process that failed to start: stop the embedded engine it started, unless another process uses it."""
    embedded.stop_if_started_here()


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
