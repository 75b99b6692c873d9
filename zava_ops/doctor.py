"""`python -m seeding doctor`: check, step by step, that the configuration can serve Zava.

Each step prints one line (ok / warn / FAIL / skip / n/a) and, when something is wrong, the likely
cause and the fix. The network steps run in the order a connection is made (connection string,
DNS, TCP, TLS, authentication), so the first failure names the layer that is broken; the steps that
need it are then skipped rather than failing again with a less precise message. Every network step
has a short timeout (`--timeout`, 3 s by default) so a bad host fails fast.

The exit code is 0 only when every step the MCP servers and Ditto's connector need passed (warnings
allowed). The password is never printed: the connection string is shown with it masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError, InvalidURI, OperationFailure, PyMongoError, ServerSelectionTimeoutError

from seeding.commands.operator import compare_indexes
from seeding.pipeline import DATASET, META, STATE_ID
from zava_core.errors import Unavailable
from zava_core.infra import db as zdb
from zava_core.infra import embedded
from zava_core.infra.config import ConfigError, Settings
from zava_core.infra.redaction import display_uri, mask_secrets, redact, redact_uri, settings_secrets, uri_secrets
from zava_core.model import SYNCED_COLLECTIONS
from zava_core.retail.search import VECTOR_INDEX_NAME

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 3.0
# Pre/post images (what Ditto's connector reads) arrived in MongoDB 6.0; transactions need 4.0.
MIN_SERVER_VERSION = (6, 0)
ENCODE_HINT = "URL-encode it: `python -m seeding encode-password` prints the encoded form to paste into the URI"
IP_ACCESS_LIST_FIX = ("Atlas: Security > Network Access > Add IP Address (your current address, or your VPN's egress "
                      "address); elsewhere, open outbound TCP to the port in the firewall/VPN")
# Role names that grant what the servers need on one database (a role on that db) or on every database.
_RW_ROLES_ON_DB = {"readWrite", "dbOwner"}
_RW_ROLES_ANY_DB = {"readWriteAnyDatabase", "root", "atlasAdmin", "__system"}
_COLLMOD_ROLES_ON_DB = {"dbAdmin", "dbOwner"}
_COLLMOD_ROLES_ANY_DB = {"dbAdminAnyDatabase", "root", "atlasAdmin", "__system"}
_RW_ACTIONS = {"find", "insert", "update", "remove", "createIndex"}
_READ_ROLES_ON_DB = {"read", *_RW_ROLES_ON_DB}
_READ_ROLES_ANY_DB = {"readAnyDatabase", *_RW_ROLES_ANY_DB}

# The steps in order: a step that cannot run because an earlier one failed is reported as skipped.
STEPS = ("configuration", "connection string", "DNS", "TCP", "TLS", "authentication", "roles", "server version",
         "replica set", "dataset", "indexes", "pre/post images", "search indexes", "embeddings")


# --- reporting -----------------------------------------------------------------------------------

@dataclass
class Step:
    name: str
    status: str  # ok | warn | FAIL | skip | n/a
    detail: str
    cause: str | None = None
    fix: str | None = None


@dataclass
class Report:
    out: Callable[[str], None] = print
    steps: list[Step] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str, *, cause: str | None = None, fix: str | None = None) -> Step:
        step = Step(name, status, detail, cause, fix)
        self.steps.append(step)
        # Print as we go: a slow step should not hide the ones already done.
        self.out(f"{status:<5} {name:<18} {detail}")
        if cause:
            self.out(f"{'':<24}cause: {cause}")
        if fix:
            self.out(f"{'':<24}fix:   {fix}")
        return step

    def ok(self, name: str, detail: str) -> Step:
        return self.add(name, "ok", detail)

    def fail(self, name: str, detail: str, cause: str | None = None, fix: str | None = None) -> Step:
        return self.add(name, "FAIL", detail, cause=cause, fix=fix)

    def skip_remaining(self, reason: str) -> None:
        done = {step.name for step in self.steps}
        for name in STEPS:
            if name not in done and name != "embeddings":  # embeddings do not need the database
                self.add(name, "skip", reason)

    @property
    def failed(self) -> list[Step]:
        return [step for step in self.steps if step.status == "FAIL"]


# --- the connection string -------------------------------------------------------------------------

@dataclass(frozen=True)
class UriParts:
    scheme: str
    username: str | None
    has_password: bool
    hosts: tuple[tuple[str, int | None], ...]
    options: dict[str, Any]
    masked: str

    @property
    def srv(self) -> bool:
        return self.scheme == "mongodb+srv://"

    @property
    def wants_tls(self) -> bool:
        explicit = self.options.get("tls", self.options.get("ssl"))
        return bool(explicit) if explicit is not None else self.srv  # SRV URIs default to TLS

    @property
    def is_atlas(self) -> bool:
        return any(host.endswith(".mongodb.net") for host, _ in self.hosts)

    @property
    def auth_source(self) -> str:
        return str(self.options.get("authsource") or "admin")


_SECRET_OPTION = re.compile(r"(authMechanismProperties=)[^&]*", re.IGNORECASE)


class UriProblem(ValueError):
    def __init__(self, detail: str, cause: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.cause, self.fix = detail, cause, fix


def parse_connection_string(uri: str) -> UriParts:
    """Split the URI as PyMongo does, without resolving anything (SRV lookups are the DNS step)."""
    from pymongo.uri_parser import parse_userinfo, split_hosts, split_options

    scheme = next((s for s in ("mongodb+srv://", "mongodb://") if uri.startswith(s)), None)
    if scheme is None:
        raise UriProblem("does not start with mongodb:// or mongodb+srv://", "not a MongoDB connection string",
                         "copy the string from Atlas (Connect > Drivers) or write mongodb://host:27017")
    rest = uri[len(scheme):]
    host_and_db, _, query = rest.partition("?")
    authority = host_and_db.partition("/")[0]
    userinfo, at, hosts_text = authority.rpartition("@")
    if "@" not in authority and "@" in rest:
        # An unencoded '/' or '?' in the password ends the host part early; quote nothing of it back.
        raise UriProblem(
            "the password contains an unencoded '/' or '?'",
            "the URI's host part ends at the first '/' or '?', which here falls inside the credentials",
            ENCODE_HINT,
        )
    if authority.count("@") > 1:
        raise UriProblem(
            "the user name or password contains an unencoded '@'",
            "everything after the first '@' is read as the host, so the password is cut short",
            ENCODE_HINT,
        )
    username = password = None
    if at:
        try:
            username, password = parse_userinfo(userinfo)
        except InvalidURI:
            raise UriProblem(
                "the user name or password contains a character that must be URL-encoded (: / ? # [ ] @ %)",
                "special characters in the credentials are read as parts of the URI", ENCODE_HINT,
            ) from None
    try:
        hosts = split_hosts(hosts_text, default_port=None if scheme == "mongodb+srv://" else 27017)
        options = dict(split_options(query)) if query else {}
    except (InvalidURI, ConfigurationError, ValueError, OSError) as exc:
        raise UriProblem(f"malformed: {redact(str(exc), uri_secrets(uri))}", "a host, port or option PyMongo rejects",
                         "fix the part named above (options are case-insensitive name=value pairs after '?')") from None
    if scheme == "mongodb+srv://" and (len(hosts) != 1 or hosts[0][1] is not None):
        raise UriProblem("a mongodb+srv:// string names exactly one host and no port",
                         "SRV strings name the cluster; DNS supplies the hosts and ports",
                         "use the cluster's host name only, or switch to mongodb://host1:port,host2:port")
    masked_userinfo = ""
    if at:
        masked_userinfo = userinfo.partition(":")[0] + (":****" if password else "") + "@"
    masked = scheme + masked_userinfo + uri[len(scheme) + len(userinfo) + len(at):]
    masked = _SECRET_OPTION.sub(r"\1***", masked)  # AWS session tokens and the like
    return UriParts(scheme, username, bool(password), tuple(hosts), options, masked)


def _describe_parts(parts: UriParts) -> str:
    user = f"user {parts.username!r} (password set, masked)" if parts.username and parts.has_password else (
        f"user {parts.username!r} (no password)" if parts.username else "no credentials")
    shown = {k: ("***" if k == "authmechanismproperties" else v) for k, v in parts.options.items()}
    options = ", ".join(f"{k}={v}" for k, v in shown.items()) or "none"
    return f"{parts.masked}  [{user}; options: {options}]"


# --- DNS, TCP, TLS -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    address: str


async def _in_daemon_thread(fn: Callable[[], T], timeout: float) -> T:
    """Run a blocking call that has no timeout of its own (getaddrinfo), abandoning it after `timeout`.

    A daemon thread, not the default executor: asyncio.run() waits for executor threads at exit,
    so one stuck resolver call would hold the process for as long as the system resolver retries.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = fn(), None
        except BaseException as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed after we gave up
            loop.call_soon_threadsafe(deliver, result, error)

    threading.Thread(target=run, daemon=True).start()
    return await asyncio.wait_for(future, timeout)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


async def _srv_hosts(parts: UriParts, timeout: float, report: Report) -> list[tuple[str, int]] | None:
    import dns.exception
    import dns.resolver

    fqdn = parts.hosts[0][0]
    service = parts.options.get("srvservicename") or "mongodb"
    name = f"_{service}._tcp.{fqdn}"
    try:
        answer = await _in_daemon_thread(lambda: dns.resolver.resolve(name, "SRV", lifetime=timeout), timeout + 1)
    except dns.resolver.NXDOMAIN:
        report.fail("DNS", f"no SRV record {name}",
                    "the cluster's host name is misspelt, or the cluster was deleted",
                    "copy the connection string again (Atlas: Connect > Drivers)")
        return None
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.NoAnswer, TimeoutError) as exc:
        report.fail("DNS", f"SRV lookup of {name} failed: {type(exc).__name__}",
                    "your DNS resolver does not answer SRV queries (some corporate, VPN or ISP resolvers do not)",
                    "use another resolver (such as 1.1.1.1 or 8.8.8.8), or the standard mongodb://host1,host2,host3 "
                    "string (Atlas offers it under Connect > Drivers for older driver versions)")
        return None
    return [(str(record.target).rstrip("."), int(record.port)) for record in answer]


async def _resolve(host: str, port: int, timeout: float) -> str:
    if _is_ip(host):
        return host
    infos = await _in_daemon_thread(lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    return str(infos[0][4][0])


async def dns_step(parts: UriParts, timeout: float, report: Report) -> list[Endpoint] | None:
    if parts.srv:
        targets = await _srv_hosts(parts, timeout, report)
        if targets is None:
            return None
    else:
        targets = [(host, port or 27017) for host, port in parts.hosts]
    endpoints: list[Endpoint] = []
    for host, port in targets:
        try:
            endpoints.append(Endpoint(host, port, await _resolve(host, port, timeout)))
        except (OSError, TimeoutError) as exc:
            reason = "no answer from the resolver" if isinstance(exc, TimeoutError) else str(exc)
            cause = "the host name does not resolve: a typo in the connection string, or the server no longer exists"
            if parts.is_atlas:
                cause += " (a deleted or renamed Atlas cluster)"
            report.fail("DNS", f"{host}: {reason}", cause,
                        "check the host name in MONGODB_URI (Atlas: copy it again from Connect > Drivers)")
            return None
    if all(e.host == e.address for e in endpoints):
        report.ok("DNS", "IP addresses only: nothing to resolve")
    else:
        via = f"SRV {parts.hosts[0][0]} -> " if parts.srv else ""
        report.ok("DNS", via + ", ".join(e.host if e.host == e.address else f"{e.host} ({e.address})"
                                         for e in endpoints))
    return endpoints


def _tcp_connect(endpoint: Endpoint, timeout: float) -> float:
    started = time.perf_counter()
    with socket.create_connection((endpoint.address, endpoint.port), timeout=timeout):
        return (time.perf_counter() - started) * 1000


async def tcp_step(parts: UriParts, endpoints: list[Endpoint], timeout: float, report: Report) -> list[Endpoint]:
    reachable: list[Endpoint] = []
    timings: list[str] = []
    problems: list[tuple[Endpoint, OSError]] = []
    for endpoint in endpoints:
        try:
            millis = await anyio.to_thread.run_sync(_tcp_connect, endpoint, timeout)
            reachable.append(endpoint)
            timings.append(f"{endpoint.host}:{endpoint.port} ({millis:.0f} ms)")
        except OSError as exc:
            problems.append((endpoint, exc))
    if not problems:
        report.ok("TCP", "accepts connections: " + ", ".join(timings))
        return reachable
    endpoint, exc = problems[0]
    where = f"{endpoint.host}:{endpoint.port}"
    if isinstance(exc, ConnectionRefusedError):
        detail = f"{where}: connection refused"
        cause = "nothing listens on that port: the server is not running, or the port in the URI is wrong"
        fix = "start the server, or correct host:port in MONGODB_URI"
    elif isinstance(exc, TimeoutError):
        detail = f"{where}: no answer within {timeout:g} s"
        cause = ("a firewall drops the connection" + ("; for Atlas, your IP address is not on the project's IP "
                                                      "Access List" if parts.is_atlas else ""))
        fix = IP_ACCESS_LIST_FIX
    else:
        detail = f"{where}: {exc.strerror or exc}"
        cause = "the network path to the server is broken (no route, VPN, proxy)"
        fix = "check that this machine can reach the host (ping, traceroute, VPN)"
    if reachable:  # a replica set works while a majority (and the primary) is reachable
        report.add("TCP", "warn", f"{len(reachable)} of {len(endpoints)} hosts reachable; {detail}", cause=cause)
        return reachable
    report.fail("TCP", detail, cause, fix)
    return []


def _tls_context(parts: UriParts) -> ssl.SSLContext:
    options = parts.options
    context = ssl.create_default_context(cafile=options.get("tlscafile"))
    if options.get("tlscertificatekeyfile"):
        context.load_cert_chain(options["tlscertificatekeyfile"], password=options.get("tlscertificatekeyfilepassword"))
    insecure = bool(options.get("tlsinsecure"))
    if insecure or options.get("tlsallowinvalidhostnames"):
        context.check_hostname = False
    if insecure or options.get("tlsallowinvalidcertificates"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _tls_handshake(parts: UriParts, endpoint: Endpoint, timeout: float) -> str:
    context = _tls_context(parts)
    with socket.create_connection((endpoint.address, endpoint.port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=endpoint.host) as tls:
        cert = tls.getpeercert() or {}
        expires = f", certificate valid until {cert['notAfter']}" if cert.get("notAfter") else ""
        return f"{tls.version()} with {endpoint.host}:{endpoint.port}{expires}"


async def tls_step(parts: UriParts, endpoints: list[Endpoint], timeout: float, report: Report) -> bool:
    if not parts.wants_tls:
        if parts.is_atlas:
            report.fail("TLS", "tls=false, but Atlas accepts only TLS connections", None,
                        "remove tls=false (or ssl=false) from the connection string")
            return False
        report.add("TLS", "n/a", "the connection string does not ask for TLS (plain TCP)")
        return True
    endpoint = endpoints[0]
    try:
        report.ok("TLS", await anyio.to_thread.run_sync(_tls_handshake, parts, endpoint, timeout))
        return True
    except ssl.SSLCertVerificationError as exc:
        report.fail("TLS", f"certificate not trusted: {exc.verify_message}",
                    "the server's certificate does not chain to a CA this Python trusts (a private CA, a "
                    "self-signed certificate, a TLS-inspecting proxy, or an outdated CA store)",
                    "for a private CA add tlsCAFile=/path/ca.pem to the URI; for Atlas update the CA store "
                    "(pip install -U certifi; on macOS run 'Install Certificates.command' of python.org Python)")
    except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError, BrokenPipeError) as exc:
        cause = ("Atlas closes connections from addresses not on the project's IP Access List during the handshake"
                 if parts.is_atlas else "the server closed the connection: it may not accept TLS on this port")
        report.fail("TLS", f"handshake with {endpoint.host}:{endpoint.port} cut off ({type(exc).__name__})", cause,
                    IP_ACCESS_LIST_FIX if parts.is_atlas else "check the server's TLS settings, or drop tls=true")
    except TimeoutError:
        report.fail("TLS", f"no TLS answer from {endpoint.host}:{endpoint.port} within {timeout:g} s",
                    "the server does not speak TLS on this port, or a firewall holds the connection",
                    "drop tls=true if the server is plain TCP; for Atlas: " + IP_ACCESS_LIST_FIX)
    except ssl.SSLError as exc:
        report.fail("TLS", f"handshake failed: {exc.reason or exc}",
                    "the server answered, but not with TLS the client accepts (WRONG_VERSION_NUMBER: it is plain TCP)",
                    "drop tls=true for a plain server, or check tlsCertificateKeyFile and the server's TLS settings")
    except (FileNotFoundError, PermissionError) as exc:
        report.fail("TLS", f"{type(exc).__name__}: {exc}", "a TLS option names a file that cannot be read",
                    "check the tlsCAFile / tlsCertificateKeyFile paths in the URI")
    except OSError as exc:
        report.fail("TLS", f"{type(exc).__name__}: {exc}", "the connection failed during the TLS handshake",
                    "check the network path (VPN, proxy) and the server's TLS settings")
    return False


# --- the server ------------------------------------------------------------------------------------

def _short(exc: BaseException) -> str:
    """An error's message without PyMongo's full reply or timeout settings, and with credentials masked."""
    return redact_uri(str(exc)).split(", full error")[0].split(" (configured timeouts")[0][:300]


def _client(uri: str, timeout: float) -> AsyncMongoClient:
    return AsyncMongoClient(
        uri, appname=zdb.APP_NAME, tz_aware=True, connectTimeoutMS=int(timeout * 1000),
        # Server selection includes the replica-set discovery an SRV cluster needs: a little longer.
        serverSelectionTimeoutMS=int(max(timeout, 5.0) * 1000), socketTimeoutMS=30_000,
    )


async def auth_step(uri: str, parts: UriParts, timeout: float, report: Report) -> tuple[AsyncMongoClient, dict] | None:
    client = _client(uri, timeout)
    try:
        await client.admin.command("ping")
        status = await client.admin.command("connectionStatus", showPrivileges=True)
    except OperationFailure as exc:
        await client.close()
        _auth_failure(exc, parts, report)
        return None
    except ServerSelectionTimeoutError as exc:
        await client.close()
        message = _short(exc)
        hint = ""
        if ("reset by peer" in message or "closed" in message) and not parts.wants_tls:
            hint = "; the server may require TLS: add tls=true"
        replica = parts.options.get("replicaset")
        report.fail("authentication", f"no usable server: {message}",
                    "the server accepted TCP but no MongoDB conversation succeeded" + hint
                    + (f" (is the replica set really named {replica!r}?)" if replica else ""),
                    "compare the replicaSet and tls options with the server's"
                    + (". " + IP_ACCESS_LIST_FIX if parts.is_atlas else ""))
        return None
    except PyMongoError as exc:
        await client.close()
        report.fail("authentication", f"{type(exc).__name__}: {_short(exc)}",
                    "the driver refused the connection settings", "check the options of the connection string")
        return None
    users = status.get("authInfo", {}).get("authenticatedUsers", [])
    if users:
        who = ", ".join(f"{u.get('user')}@{u.get('db')}" for u in users)
        report.ok("authentication", f"authenticated as {who}")
    else:
        report.ok("authentication", "no credentials in the connection string, and the server requires none")
    return client, status


def _auth_failure(exc: OperationFailure, parts: UriParts, report: Report) -> None:
    if exc.code == 18 or ("authentication" in str(exc).lower() and parts.username):
        report.fail(
            "authentication", f"authentication failed for user {parts.username!r} (authSource {parts.auth_source})",
            "wrong user name or password, the user is defined in another database than authSource, or a special "
            "character in the password is not URL-encoded",
            "Atlas: Security > Database Access lists the database users (not your Atlas login) and resets "
            "passwords; a password with @ : / ? # [ ] % must be encoded: python -m seeding encode-password",
        )
    elif exc.code == 13 and not parts.username:
        report.fail("authentication", "the server requires authentication", "no user name in the connection string",
                    "add user:password@ before the host (encode the password: python -m seeding encode-password)")
    else:
        report.fail("authentication", f"{exc.code}: {_short(exc)}", "the server refused the command",
                    "check the user's roles and the connection string's options")


@dataclass(frozen=True)
class Access:
    enforced: bool
    roles: tuple[str, ...]
    read: bool
    read_write: bool
    coll_mod: bool


def assess_access(status: dict, database: str) -> Access:
    """What the authenticated user may do on `database`, from connectionStatus (roles and privileges)."""
    info = status.get("authInfo", {})
    if not info.get("authenticatedUsers"):
        return Access(enforced=False, roles=(), read=True, read_write=True, coll_mod=True)
    roles = [(r.get("role", ""), r.get("db", "")) for r in info.get("authenticatedUserRoles", [])]

    def by_role(on_db: set[str], any_db: set[str]) -> bool:
        return any((db == database and role in on_db) or (db == "admin" and role in any_db) for role, db in roles)

    actions: set[str] = set()
    for privilege in info.get("authenticatedUserPrivileges", []):
        resource = privilege.get("resource", {})
        if resource.get("anyResource") or (resource.get("db") in (database, "") and resource.get("collection") == ""):
            actions.update(privilege.get("actions", []))
    return Access(
        enforced=True,
        roles=tuple(f"{role}@{db}" for role, db in roles),
        read=by_role(_READ_ROLES_ON_DB, _READ_ROLES_ANY_DB) or "find" in actions,
        read_write=by_role(_RW_ROLES_ON_DB, _RW_ROLES_ANY_DB) or actions >= _RW_ACTIONS,
        coll_mod=by_role(_COLLMOD_ROLES_ON_DB, _COLLMOD_ROLES_ANY_DB) or "collMod" in actions,
    )


def roles_step(status: dict, database: str, read_only: bool, parts: UriParts, report: Report) -> Access:
    access = assess_access(status, database)
    if not access.enforced:
        report.ok("roles", "access control is off on this server: every operation is allowed")
        return access
    held = ", ".join(access.roles) or "no roles"
    if read_only and access.read and not access.read_write:
        report.ok("roles", f"{held} (enough with ZAVA_READ_ONLY=1: the servers only read; seeding needs readWrite)")
        return access
    if not access.read_write:
        user = parts.username or "USER"
        report.fail("roles", f"the user holds {held}; the servers need at least readWrite on {database!r}",
                    "seeding, create_order and stock moves write; the user may only read (or not see this database)",
                    "Atlas: Security > Database Access > Edit > Built-in Role 'Read and write to any database' (or a "
                    f"Specific Privilege readWrite@{database}); mongod: db.getSiblingDB('admin').grantRolesToUser("
                    f"'{user}', [{{role: 'readWrite', db: '{database}'}}])")
        return access
    extra = "" if access.coll_mod else ("; no collMod (only needed to enable change-stream pre/post images: dbAdmin@"
                                        f"{database}, or Atlas admin)")
    report.ok("roles", f"{held} (enough: readWrite on {database!r}){extra}")
    return access


def _version_tuple(version: str) -> tuple[int, ...]:
    numbers = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        numbers.append(int(digits) if digits else 0)
    return tuple(numbers)


async def server_steps(db: AsyncDatabase, report: Report) -> zdb.Capabilities | None:
    try:
        caps = await zdb.capabilities(db)
    except PyMongoError as exc:
        report.fail("server version", f"could not ask the server: {_short(exc)}",
                    "the user may not run hello/buildInfo or aggregate on the database", "check the user's roles")
        return None
    if _version_tuple(caps.server_version) < MIN_SERVER_VERSION:
        report.fail("server version", f"{caps.server_version}: older than 6.0",
                    "change-stream pre/post images (Ditto's connector) need MongoDB 6.0 or newer",
                    "upgrade (Atlas: cluster > Edit Configuration > MongoDB version)")
    else:
        report.ok("server version", caps.server_version)
    if caps.replica_set:
        hello = await db.client.admin.command("hello")
        name = hello.get("setName") or "sharded cluster (mongos)"
        report.ok("replica set", f"{name!r}: transactions and change streams available")
    else:
        report.fail("replica set", "a standalone server",
                    "without a replica set there is no oplog: no transactions (create_order) and no change streams "
                    "(Ditto's connector)",
                    "mongod: restart with --replSet rs0 and run rs.initiate() once; Atlas clusters are always replica "
                    "sets; locally, the mongodb/mongodb-atlas-local image is one")
    return caps


async def dataset_step(db: AsyncDatabase, report: Report) -> bool:
    state = await db[META].find_one({"_id": STATE_ID})
    counts = {name: await db[name].estimated_document_count() for name in DATASET}
    total = sum(counts.values())
    if state and state.get("status") == "complete":
        params = state.get("params", {})
        report.ok("dataset", f"seeded (scale {params.get('scale')}, seed {params.get('seed')}, as of "
                             f"{params.get('as_of')}): {total:,} documents in {len(DATASET)} collections")
        return True
    if state:
        report.fail("dataset", f"an interrupted seeding run ({total:,} documents so far)",
                    "seeding stopped before it finished",
                    "re-run `python -m seeding` with the same parameters: it resumes")
    elif total:
        report.add("dataset", "warn", f"{total:,} documents not written by `python -m seeding` (no seeding state)")
        return True
    else:
        report.fail("dataset", f"database {db.name!r} holds no Zava data", "it has not been seeded yet",
                    "python -m seeding (or set MONGODB_DATABASE to the database you seeded)")
    return False


async def indexes_step(db: AsyncDatabase, report: Report) -> None:
    rows = await compare_indexes(db)
    missing = [f"{r.collection}.{r.name}" for r in rows if r.state in {"missing", "differs"}]
    expected = sum(1 for r in rows if r.state != "extra")
    if missing:
        report.fail("indexes", f"{len(missing)} of {expected} model indexes missing or different: {', '.join(missing)}",
                    "queries fall back to collection scans (slow) and uniqueness is not enforced",
                    "python -m seeding indexes create")
    else:
        report.ok("indexes", f"all {expected} model indexes present")


async def pre_post_images_step(db: AsyncDatabase, access: Access | None, is_atlas: bool, report: Report) -> None:
    options = {c["name"]: c.get("options", {}) async for c in await db.list_collections()}
    off = [name for name in SYNCED_COLLECTIONS
           if not options.get(name, {}).get("changeStreamPreAndPostImages", {}).get("enabled")]
    if not off:
        report.ok("pre/post images", f"enabled on all {len(SYNCED_COLLECTIONS)} synced collections")
        return
    needs = "" if access is None or access.coll_mod else (
        " (as a user with collMod: dbAdmin on the database, or Atlas admin)")
    tier = (" (if Atlas refuses it as 'not allowed', the cluster tier does not offer collMod: use a dedicated "
            "tier, M10 or larger)") if is_atlas else ""
    report.fail("pre/post images", f"off on {', '.join(off)}",
                "Ditto's connector reads change-stream pre- and post-images of every synced collection",
                f"python -m seeding change-streams enable{needs}{tier}")


async def search_step(db: AsyncDatabase, caps: zdb.Capabilities, seeded: bool, report: Report) -> None:
    if not caps.search_indexes:
        report.ok("search indexes", "not offered by this server: semantic search uses the exact in-memory index")
        return
    if not seeded:  # the vector index lives on product_embeddings, which seeding creates
        report.ok("search indexes", "offered; seeding creates the vector index")
        return
    cursor = await db["product_embeddings"].aggregate([{"$listSearchIndexes": {"name": VECTOR_INDEX_NAME}}])
    found = await cursor.to_list()
    if found and found[0].get("queryable"):
        report.ok("search indexes", f"offered; {VECTOR_INDEX_NAME} is queryable ($vectorSearch is used)")
    elif found:
        report.add("search indexes", "warn", f"{VECTOR_INDEX_NAME} is {found[0].get('status', 'building')}: the "
                   "in-memory index answers until it is queryable")
    else:
        report.add("search indexes", "warn", f"offered, but {VECTOR_INDEX_NAME} does not exist: the in-memory index "
                   "answers", fix="python -m seeding indexes create")


# --- embeddings --------------------------------------------------------------------------------------

async def embeddings_step(settings: Settings, db: AsyncDatabase | None, timeout: float, report: Report) -> None:
    from zava_core.embeddings import get_embedder

    backend = settings.embedding_backend
    try:
        embedder = get_embedder(settings)
    except ConfigError as exc:
        report.fail("embeddings", f"{backend}: {exc}", "the backend's key or endpoint is not configured",
                    "set it in .env (see .env.sample), or ZAVA_EMBEDDING_BACKEND=static for the offline model")
        return
    except ImportError as exc:
        report.fail("embeddings", f"{backend}: {exc}", "the backend's optional packages are not installed",
                    "pip install 'zava-mcp[onnx]', or ZAVA_EMBEDDING_BACKEND=static")
        return
    except Exception as exc:  # a diagnosis reports whatever loading the model raises, it does not crash
        report.fail("embeddings", f"{backend}: {type(exc).__name__}: {exc}", "the model could not be loaded",
                    "reinstall the package (pip install -e .), or ZAVA_EMBEDDING_BACKEND=static")
        return
    started = time.perf_counter()
    try:
        # The HTTP backends retry for up to minutes on their own; the doctor answers sooner.
        with anyio.fail_after(max(timeout * 5, 15.0)):
            vectors = await embedder.embed(["cordless drill with two batteries"])
    except (Unavailable, TimeoutError) as exc:
        report.fail("embeddings", f"{backend} ({embedder.model}): {exc or 'no answer in time'}",
                    _embedding_cause(str(exc)), "check the key, endpoint and deployment/model name in .env")
        return
    except Exception as exc:  # e.g. an SDK error the backend does not wrap: report it, do not crash
        report.fail("embeddings", f"{backend} ({embedder.model}): {type(exc).__name__}: {exc}",
                    _embedding_cause(type(exc).__name__), "check the key, endpoint and deployment/model name in .env")
        return
    millis = (time.perf_counter() - started) * 1000
    shape = f"{embedder.model}, {vectors.shape[1]} dims, one string in {millis:.0f} ms"
    if db is None:
        report.ok("embeddings", f"{backend} ({shape})")
        return
    try:
        stored = await db["product_embeddings"].count_documents({"model": embedder.model, "deleted": False})
        products = await db["products"].count_documents({"deleted": False})
    except PyMongoError as exc:
        report.add("embeddings", "warn", f"{backend} ({shape}); stored vectors not counted: {_short(exc)}")
        return
    if products and not stored:
        report.fail("embeddings", f"{backend} works ({shape}), but no product vectors of model {embedder.model!r}",
                    "the products were embedded with another backend (or not at all)", "python -m seeding embed")
    elif stored < products:
        report.add("embeddings", "warn", f"{backend} ({shape}); {stored} of {products} products have vectors",
                   fix="python -m seeding embed")
    else:
        report.ok("embeddings", f"{backend} ({shape}); {stored} product vectors of this model")


def _embedding_cause(message: str) -> str:
    if "AuthenticationError" in message or "PermissionDenied" in message:
        return "the API key is wrong or lacks access to the model"
    if "NotFound" in message:
        return "the model or Azure deployment name does not exist on that endpoint"
    return "the embedding endpoint cannot be reached from here (network, proxy or endpoint URL)"


# --- the run -----------------------------------------------------------------------------------------

async def _target(settings: Settings, report: Report) -> tuple[str, UriParts] | None:
    """The connection string to check, starting the embedded engine when no MONGODB_URI is set."""
    where = f"database {settings.mongodb_database!r}, embeddings {settings.embedding_backend!r}"
    if settings.mongodb_uri:
        report.ok("configuration", f"MONGODB_URI is set ({where})")
        uri = settings.mongodb_uri
    else:
        try:
            state = await anyio.to_thread.run_sync(embedded.running_state, settings.data_dir)
            verb = "running" if state else "started"
            if state is None:
                state = await anyio.to_thread.run_sync(embedded.ensure_running, settings.data_dir)
        except embedded.EngineError as exc:
            report.fail("configuration", "no MONGODB_URI: the embedded engine is used, but it does not run",
                        str(exc), "pip install SecantusDB==0.7.0b3, or set MONGODB_URI to a MongoDB server")
            return None
        report.ok("configuration", f"no MONGODB_URI: the embedded engine is used ({verb}: pid {state.pid}, "
                                   f"data {settings.data_dir}; {where})")
        uri = state.uri
    try:
        parts = parse_connection_string(uri)
    except UriProblem as problem:
        report.fail("connection string", f"{display_uri(uri)}: {problem.detail}", problem.cause, problem.fix)
        return None
    report.ok("connection string", _describe_parts(parts))
    return uri, parts


async def _network(uri: str, parts: UriParts, timeout: float, report: Report) -> tuple[AsyncMongoClient, dict] | None:
    endpoints = await dns_step(parts, timeout, report)
    if not endpoints:
        return None
    reachable = await tcp_step(parts, endpoints, timeout, report)
    if not reachable or not await tls_step(parts, reachable, timeout, report):
        return None
    return await auth_step(uri, parts, timeout, report)


async def _database_checks(client: AsyncMongoClient, status: dict, settings: Settings, parts: UriParts,
                           report: Report) -> AsyncDatabase | None:
    access = roles_step(status, settings.mongodb_database, settings.read_only, parts, report)
    db = client[settings.mongodb_database]
    caps = await server_steps(db, report)
    if caps is None:
        report.skip_remaining("needs the server's answers above")
        return None
    seeded = bool(await _guarded("dataset", dataset_step(db, report), report))
    if seeded:
        await _guarded("indexes", indexes_step(db, report), report)
    else:
        report.add("indexes", "skip", "checked once the dataset is seeded")
    if not caps.replica_set:
        report.add("pre/post images", "skip", "needs a replica set")
    elif seeded:
        await _guarded("pre/post images", pre_post_images_step(db, access, parts.is_atlas, report), report)
    else:
        report.add("pre/post images", "skip", "checked once the dataset is seeded")
    await _guarded("search indexes", search_step(db, caps, seeded, report), report)
    return db if seeded else None


async def _guarded(name: str, check: Coroutine[Any, Any, T], report: Report) -> T | None:
    """Run one database check; a refused command (a user without the role) fails that step, not the run."""
    try:
        return await check
    except PyMongoError as exc:
        report.fail(name, f"the server refused: {_short(exc)}",
                    "the user lacks a privilege on this database", "see the roles step above")
        return None


async def run_doctor(settings: Settings, *, timeout: float = DEFAULT_TIMEOUT_S,
                     out: Callable[[str], None] = print) -> int:
    secrets = settings_secrets(settings)
    print_line = out

    def out(line: str) -> None:
        # Every line is masked on its way out, whatever step or library put a secret in it. Only the secrets:
        # the doctor shows connection strings with the user name kept and the password already masked.
        print_line(mask_secrets(line, secrets))

    report = Report(out=out)
    out(f"Zava doctor (Python {sys.version.split()[0]}): checking database {settings.mongodb_database!r}")
    client = None
    db = None
    try:
        target = await _target(settings, report)
        if target is None:
            report.skip_remaining("needs a usable connection string")
        else:
            uri, parts = target
            connected = await _network(uri, parts, timeout, report)
            if connected is None:
                report.skip_remaining("needs the connection above")
            else:
                client, status = connected
                db = await _database_checks(client, status, settings, parts, report)
        await embeddings_step(settings, db, timeout, report)
    finally:
        if client is not None:
            await client.close()
    failed = report.failed
    if failed:
        out(f"\n{len(failed)} problem(s): {', '.join(step.name for step in failed)}. Fix the first one first: "
            "later steps often fail because of it.")
        return 1
    warned = [step.name for step in report.steps if step.status == "warn"]
    out("\neverything the servers need is in place" + (f" (warnings: {', '.join(warned)})" if warned else ""))
    return 0
