"""Verify a database meets every prerequisite of Ditto's MongoDB Connector before it is started.

Server: a replica set (change streams), and a user allowed to read and write the database.
Per synced collection (zava_core.model): it exists, is not capped, has change-stream pre- and post-images.
Per document (a streamed scan that projects only the fields checked): the Ditto id fields present and
scalar, `_id` a string equal to the id field, maps that are maps (arrays are last-writer-wins registers on
devices), `deleted` present (MongoDB deletions are final for Ditto: soft deletes only), timestamps in the
one ISO format.

Problems are grouped by collection and kind, with a count and a few example ids, so a broken
collection of 200K documents is a handful of lines, not 200K.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from zava_core.infra.privileges import assess_access  # one reading of roles for both checks
from zava_core.model import COLLECTIONS, TIMESTAMP_PATTERN, CollectionSpec, is_timestamp
from zava_core.store import Collections, Handle
from zava_core.store.setup import images_on

BATCH_SIZE = 5_000
PROGRESS_EVERY = 50_000  # documents between progress lines; collections smaller than this print none
MAX_EXAMPLES = 3
_SCALARS = (str, int, float, ObjectId)
# What the connector does: read, write, and follow change streams on the database.
_NEEDED_ACTIONS = frozenset({"find", "insert", "update", "remove", "changeStream"})

Progress = Callable[[str, int, int], None]  # (collection, scanned, estimated total)


@dataclass
class Problem:
    collection: str  # "" for server-wide problems
    kind: str
    message: str
    count: int = 1
    examples: list[object] = field(default_factory=list)  # the first few offending _ids
    first_value: str | None = None  # the first offending value, where the message cannot name each one

    def __str__(self) -> str:
        text = f"{self.collection}: {self.message}" if self.collection else self.message
        if self.first_value is not None:
            text += f", e.g. {self.first_value}"
        if not self.examples:
            return text
        noun = "document" if self.count == 1 else "documents"
        ids = ", ".join(repr(e) for e in self.examples)
        return f"{text} ({self.count:,} {noun}{', e.g.' if self.count > len(self.examples) else ':'} {ids})"


@dataclass
class CollectionReport:
    name: str
    scanned: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass
class CheckReport:
    server: list[str] = field(default_factory=list)  # what passed, one line each
    server_problems: list[Problem] = field(default_factory=list)
    collections: list[CollectionReport] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [*self.server_problems, *(p for c in self.collections for p in c.problems)]

    @property
    def ok(self) -> bool:
        return not self.problems


async def check_database(collections: Collections, *, specs: tuple[CollectionSpec, ...] = COLLECTIONS,
                         progress: Progress | None = None) -> CheckReport:
    report = CheckReport()
    await _check_server(collections.db, report)
    infos = {info["name"]: info async for info in await collections.db.list_collections()}
    for spec in specs:
        if spec.synced:
            report.collections.append(await _check_collection(collections.of(spec), infos.get(spec.name), progress))
    return report


async def _check_server(db: AsyncDatabase, report: CheckReport) -> None:
    hello = await db.client.admin.command("hello")
    if hello.get("setName"):
        report.server.append(f"replica set {hello['setName']!r}")
    elif hello.get("msg") == "isdbgrid":
        report.server.append("sharded cluster (mongos)")
    else:
        report.server_problems.append(Problem("", "replica-set", "the server is a standalone mongod: the connector "
                                              "needs change streams, i.e. a replica set (Atlas, or mongod --replSet)"))
    status = await db.client.admin.command("connectionStatus", showPrivileges=True)
    missing = missing_actions(status.get("authInfo", {}), db.name)
    if missing is None:
        report.server.append("no access control on this server (nothing to grant)")
    elif missing:
        report.server_problems.append(Problem(
            "", "privileges", f"the connected user lacks {', '.join(sorted(missing))} on database {db.name!r}: "
            "grant at least the readWrite role"))
    else:
        report.server.append(f"the user may read, write and watch {db.name!r}")


def missing_actions(auth_info: dict, database: str) -> set[str] | None:
    """Actions the connector needs that the user's privileges do not grant on `database`.

    None when nobody is authenticated (a server without access control). Roles count as `doctor` reads
    them (the embedded engine reports root as a role with no privileges listed); privileges count when
    their resource is the database (any collection), every database, or anyResource.
    """
    if not auth_info.get("authenticatedUsers"):
        return None

    if assess_access({"authInfo": auth_info}, database).read_write:
        return set()  # a role that grants read and write (readWrite, dbOwner, root, ...) includes changeStream
    granted: set[str] = set()
    for privilege in auth_info.get("authenticatedUserPrivileges", []):
        resource = privilege.get("resource", {})
        whole_db = resource.get("db") in (database, "") and resource.get("collection", "") == ""
        if whole_db or resource.get("anyResource"):
            granted.update(privilege.get("actions", []))
    return set(_NEEDED_ACTIONS - granted)


async def _check_collection(collection: Handle, info: dict | None, progress: Progress | None) -> CollectionReport:
    spec = collection.spec
    report = CollectionReport(spec.name)
    if info is None:
        report.problems.append(Problem(spec.name, "missing-collection", "the collection does not exist (the "
                                       "connector needs every synced collection to exist before it starts: "
                                       "`python -m zava_ops change-streams enable` creates it)"))
        return report
    options = info.get("options", {})
    if options.get("capped"):
        report.problems.append(Problem(spec.name, "capped", "the collection is capped (the connector cannot sync "
                                       "capped collections): copy it into a normal collection"))
    if not images_on(options):
        report.problems.append(Problem(spec.name, "pre-post-images", "change-stream pre- and post-images are off: "
                                       "run `python -m zava_ops change-streams enable` (collMod "
                                       "changeStreamPreAndPostImages: {enabled: true})"))
    await _scan_documents(collection, report, progress)
    return report


class _Rules:
    """The per-document rules of one collection, with the problems they found so far."""

    def __init__(self, spec: CollectionSpec) -> None:
        self.spec = spec
        self.found: dict[tuple[str, str], Problem] = {}
        self.map_timestamps = _map_timestamp_fields(spec)

    def add(self, kind: str, message: str, doc_id: object, value: object = None) -> None:
        problem = self.found.get((kind, message))
        if problem is None:
            first = None if value is None else repr(value)
            problem = self.found[(kind, message)] = Problem(self.spec.name, kind, message, 0, [], first)
        problem.count += 1
        if len(problem.examples) < MAX_EXAMPLES:
            problem.examples.append(doc_id)

    def check(self, doc: dict) -> None:
        doc_id = doc.get("_id")
        ids_ok = True
        for name in self.spec.ditto_id_fields:
            describe = _not_scalar(doc, name)
            if describe:
                ids_ok = False
                self.add("ditto-id", f"Ditto id field {name} {describe} (it must be a non-null scalar)", doc_id)
        if ids_ok and not isinstance(doc_id, str):
            self.add("id-string", f"_id is {type(doc_id).__name__}, not a string", doc_id)
        elif ids_ok and doc.get(self.spec.id_field) != doc_id and self.spec.id_field != "_id":
            self.add("id-field", f"{self.spec.id_field} is missing or differs from _id (it must repeat it)", doc_id)
        for name in self.spec.map_fields:
            value = doc.get(name)
            if not isinstance(value, dict):
                what = "missing" if name not in doc else f"{_kind(value)}, not a map"
                extra = " (arrays are last-writer-wins registers on devices)" if isinstance(value, list) else ""
                self.add("map-field", f"{name} is {what}{extra}", doc_id)
            elif name in self.map_timestamps and not all(is_timestamp(v) for v in value.values()):
                self.add("timestamp", f"{name} holds a value that is not an ISO timestamp (YYYY-MM-DDTHH:MM:SSZ)",
                         doc_id)
        if not isinstance(doc.get("deleted"), bool):
            what = "missing" if "deleted" not in doc else f"{_kind(doc['deleted'])}, not a boolean"
            self.add("deleted", f"deleted is {what} (soft deletes: every document carries deleted: false)", doc_id)
        for name in self.spec.timestamp_fields:
            value = doc.get(name)
            if isinstance(value, str) and not is_timestamp(value):
                self.add("timestamp", f"{name} is a string not in the one ISO format YYYY-MM-DDTHH:MM:SSZ",
                         doc_id, value)
            elif not is_timestamp(value):
                what = "missing" if name not in doc else _kind(value)
                self.add("timestamp", f"{name} is {what}, not an ISO timestamp string (YYYY-MM-DDTHH:MM:SSZ)",
                         doc_id)


async def _scan_documents(collection: Handle, report: CollectionReport, progress: Progress | None) -> None:
    spec = collection.spec
    rules = _Rules(spec)
    fields = {"_id", spec.id_field, *spec.ditto_id_fields, *spec.map_fields, *spec.timestamp_fields, "deleted"}
    total = await collection.estimated_document_count()
    cursor = collection.find({}, {name: 1 for name in sorted(fields)}, batch_size=BATCH_SIZE)
    async for doc in cursor:
        rules.check(doc)
        report.scanned += 1
        if progress is not None and total >= PROGRESS_EVERY and report.scanned % PROGRESS_EVERY == 0:
            progress(spec.name, report.scanned, total)
    report.problems.extend(rules.found.values())


def _not_scalar(doc: dict, name: str) -> str | None:
    if name not in doc:
        return "is missing"
    value = doc[name]
    if value is None:
        return "is null"
    if isinstance(value, bool) or not isinstance(value, _SCALARS):
        return f"is {_kind(value)}"
    return None


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _map_timestamp_fields(spec: CollectionSpec) -> set[str]:
    """Map fields whose values are timestamps (e.g. customers.stores_shopped: store_id -> first order date)."""
    found = set()
    for name in spec.map_fields:
        args = typing.get_args(spec.model.model_fields[name].annotation)
        value_type = args[1] if len(args) == 2 else None
        if any(getattr(m, "pattern", None) == TIMESTAMP_PATTERN for m in getattr(value_type, "__metadata__", ())):
            found.add(name)
    return found


async def run(collections: Collections, *, out: Callable[[str], None], err: Callable[[str], None]) -> int:
    """Print the report (problems last, one per line) and return the exit code: 0 ok, 1 problems."""
    db = collections.db

    def progress(name: str, scanned: int, total: int) -> None:
        err(f"  scanning {name}: {scanned:,} / ~{total:,} documents")

    try:
        report = await check_database(collections, progress=progress)
    except OperationFailure as exc:
        err(f"error: the server refused a check: {exc.details.get('errmsg') if exc.details else exc}")
        return 2
    for line in report.server:
        out(f"ok    {line}")
    if report.server_problems:
        out("FAIL  server")
    for coll in report.collections:
        found = f", {len(coll.problems)} problem(s)" if coll.problems else ""
        out(f"{'FAIL' if coll.problems else 'ok':<5} {coll.name}: {coll.scanned:,} documents scanned{found}")
    problems = report.problems
    if problems:
        out(f"{len(problems)} problem(s) in database {db.name!r}; fix them before starting the connector:")
        for problem in problems:
            out(f"  - {problem}")
        return 1
    out(f"database {db.name!r} is ready for the Ditto MongoDB Connector ({len(report.collections)} collections)")
    return 0
