"""Authentication and roles: can this user do what the servers and Ditto's connector need?"""

from __future__ import annotations

from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError, ServerSelectionTimeoutError

from zava_core.infra import db as zdb
from zava_core.infra.privileges import Access, assess_access
from zava_core.infra.redaction import redact_uri
from zava_core.infra.uri import UriParts
from zava_ops.doctor.report import (
    IP_ACCESS_LIST_FIX,
    Report,
)


def short_error(exc: BaseException) -> str:
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
        message = short_error(exc)
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
        report.fail("authentication", f"{type(exc).__name__}: {short_error(exc)}",
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
            "passwords; a password with @ : / ? # [ ] % must be encoded: python -m zava_ops encode-password",
        )
    elif exc.code == 13 and not parts.username:
        report.fail("authentication", "the server requires authentication", "no user name in the connection string",
                    "add user:password@ before the host (encode the password: python -m zava_ops encode-password)")
    else:
        report.fail("authentication", f"{exc.code}: {short_error(exc)}", "the server refused the command",
                    "check the user's roles and the connection string's options")


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
