"""`python -m zava_ops doctor`: check, step by step, that the configuration can serve Zava.

Each step prints one line (ok / warn / FAIL / skip / n/a) and, when something is wrong, the likely
cause and the fix. The network steps run in the order a connection is made (connection string,
DNS, TCP, TLS, authentication), so the first failure names the layer that is broken; the steps that
need it are then skipped rather than failing again with a less precise message. Every network step
has a short timeout (`--timeout`, 3 s by default) so a bad host fails fast.

The exit code is 0 only when every step the MCP servers and Ditto's connector need passed (warnings
allowed). The password is never printed: the connection string is shown with it masked.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from zava_core.infra import embedded
from zava_core.infra.config import Settings
from zava_core.infra.redaction import display_uri, mask_secrets, settings_secrets
from zava_core.infra.uri import UriParts, UriProblem, describe_parts, parse_connection_string
from zava_core.store import Collections
from zava_ops.doctor.access import auth_step, roles_step, short_error
from zava_ops.doctor.database import (
    dataset_step,
    feed_step,
    indexes_step,
    pre_post_images_step,
    search_step,
    server_steps,
)
from zava_ops.doctor.embeddings import embeddings_step
from zava_ops.doctor.network import dns_step, tcp_step, tls_step
from zava_ops.doctor.report import (
    DEFAULT_TIMEOUT_S,
    STEPS,
    Report,
    T,
)

__all__ = ["STEPS", "run_doctor"]


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
    report.ok("connection string", describe_parts(parts))
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
                           report: Report) -> Collections | None:
    access = roles_step(status, settings.mongodb_database, settings.read_only, parts, report)
    db = Collections(client[settings.mongodb_database])
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
    if not caps.replica_set:
        report.add("change feed", "skip", "needs a replica set (change streams): run `python -m zava_ops fold "
                   "rebuild` after writing orders")
    elif seeded:
        await _guarded("change feed", feed_step(db, report), report)
    else:
        report.add("change feed", "skip", "checked once the dataset is seeded")
    await _guarded("search indexes", search_step(db, caps, seeded, report), report)
    return db if seeded else None


async def _guarded(name: str, check: Coroutine[Any, Any, T], report: Report) -> T | None:
    """Run one database check; a refused command (a user without the role) fails that step, not the run."""
    try:
        return await check
    except PyMongoError as exc:
        report.fail(name, f"the server refused: {short_error(exc)}",
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
