"""Operator commands: `doctor`, `indexes create|drop|list`, `change-streams enable|test`, `clear`.

They read the same model module (`zava_core.model`) and configuration (`Settings`) as seeding and
the servers, and reuse `zava_core.infra.database_setup` for the writes, so what they create is exactly what
seeding creates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bson import json_util
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from seeding.pipeline import DATASET, META, STATE_ID
from zava_core.analysis.rollups import ROLLUP_COLLECTIONS
from zava_core.infra import database_setup
from zava_core.infra import db as zdb
from zava_core.infra.config import Settings
from zava_core.infra.redaction import display_uri, redact_uri
from zava_core.infra.timeutil import now_iso
from zava_core.model import SYNCED_COLLECTIONS, CollectionSpec, IndexSpec

# The change-stream test writes here, never into the dataset, and drops the collection afterwards.
MARKER_COLLECTION = "zava_change_stream_test"
CLEARABLE = (*DATASET, *ROLLUP_COLLECTIONS)
MODEL_SPECS: tuple[CollectionSpec, ...] = database_setup.INDEXED
# Atlas answers "<command> is not allowed or the syntax is incorrect" for what a cluster tier does not offer.
TIER_HINT = ("on Atlas, 'not allowed' means the cluster tier does not offer this (the Free and Flex tiers restrict "
             "commands): use a dedicated tier (M10 or larger) for Ditto's connector")


def register(subparsers: argparse._SubParsersAction) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="check the configuration step by step: URI, DNS, TCP, TLS, auth, roles, server, dataset, "
                       "change streams, search, embeddings (exit 0 when everything the servers need is in place)")
    doctor.add_argument("--timeout", type=float, default=3.0, help="seconds per network step (default 3)")
    doctor.set_defaults(handler=run_doctor_command)

    indexes = subparsers.add_parser("indexes", help="create, drop or list the model's indexes (dataset and rollup)")
    indexes.add_argument("action", choices=("create", "drop", "list"),
                         help="list exits 1 when a model index is missing or differs")
    indexes.set_defaults(handler=run_indexes_command)

    streams = subparsers.add_parser("change-streams", help="enable pre/post images on the synced collections, or "
                                                           "test a change stream with a marker document")
    streams.add_argument("action", choices=("enable", "test"))
    streams.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the test's events")
    streams.set_defaults(handler=run_change_streams_command)

    clear = subparsers.add_parser("clear", help="empty dataset collections (indexes kept) after a typed confirmation")
    clear.add_argument("--collections", nargs="+", metavar="NAME",
                       help=f"collections to empty (default: all of {', '.join(CLEARABLE)}, and the seeding state)")
    clear.add_argument("--yes", action="store_true", help="do not ask for the database name (for scripts)")
    clear.set_defaults(handler=run_clear_command)


async def _with_db(settings: Settings, work: Callable[[AsyncDatabase], Awaitable[int]]) -> int:
    client = await zdb.connect(settings, timeout_ms=10_000)
    try:
        return int(await work(zdb.database(client, settings)))
    finally:
        await client.close()


def _target(settings: Settings) -> str:
    return display_uri(settings.mongodb_uri) if settings.mongodb_uri else f"the embedded engine ({settings.data_dir})"


# --- doctor ----------------------------------------------------------------------------------------

def run_doctor_command(args: argparse.Namespace, settings: Settings) -> int:
    from zava_ops.doctor import run_doctor

    try:
        return asyncio.run(run_doctor(settings, timeout=args.timeout))
    except BrokenPipeError:  # `doctor | head`: the reader left; say nothing more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (kept open until exit, so the final flush succeeds)
        return 1


# --- indexes ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IndexRow:
    collection: str
    name: str
    state: str  # present | missing | differs (same name, other keys/options) | extra (not in the model)
    keys: str


def _key_text(keys: Iterable[tuple[str, object]]) -> str:
    return ", ".join(f"{field} {direction}" for field, direction in keys)


def _same_index(index: IndexSpec, info: dict) -> bool:
    keys = tuple((field, int(d) if isinstance(d, int | float) else d) for field, d in info["key"].items())
    return (keys == index.keys and bool(info.get("unique")) == index.unique
            and bool(info.get("sparse")) == index.sparse)


async def compare_indexes(db: AsyncDatabase) -> list[IndexRow]:
    """The model's indexes (dataset and rollup) against what exists; `_id_` is neither missing nor extra."""
    existing_collections = set(await db.list_collection_names())
    rows: list[IndexRow] = []
    for spec in MODEL_SPECS:
        present: dict[str, dict] = {}
        if spec.name in existing_collections:
            present = {ix["name"]: ix async for ix in await db[spec.name].list_indexes()}
        for index in spec.indexes:
            info = present.pop(index.name, None)
            state = "missing" if info is None else ("present" if _same_index(index, info) else "differs")
            rows.append(IndexRow(spec.name, index.name, state, _key_text(index.keys)))
        present.pop("_id_", None)
        rows += [IndexRow(spec.name, name, "extra", _key_text(info["key"].items())) for name, info in present.items()]
    return rows


async def _ensure_vector_index(db: AsyncDatabase) -> str:
    caps = await zdb.capabilities(db)
    if not caps.search_indexes:
        return "the server offers no search indexes: semantic search uses the in-memory index"
    sample = await db["product_embeddings"].find_one({}, {"dimensions": 1})
    if not sample:
        return "no product embeddings yet: the vector index is created after `python -m seeding embed`"
    outcome = await database_setup.create_vector_index(db, int(sample["dimensions"]))
    return f"Atlas vector search index {outcome}"


async def indexes_create(db: AsyncDatabase) -> int:
    before = {(r.collection, r.name): r.state for r in await compare_indexes(db)}
    try:
        await database_setup.create_indexes(db)
    except OperationFailure as exc:
        # Same name with other keys/options (codes 85/86): the server will not replace it silently.
        print(f"error: {exc.details.get('errmsg') if exc.details else exc}", file=sys.stderr)
        print("an index of that name exists with other keys or options: `python -m seeding indexes drop`, then "
              "create again", file=sys.stderr)
        return 1
    after = await compare_indexes(db)
    created = [f"{r.collection}.{r.name}" for r in after if r.state == "present" and before.get(
        (r.collection, r.name)) != "present"]
    kept = sum(1 for r in after if r.state == "present") - len(created)
    for name in created:
        print(f"created  {name}")
    print(f"{len(created)} created, {kept} already present")
    print(await _ensure_vector_index(db))
    return 0


async def indexes_drop(db: AsyncDatabase) -> int:
    dropped = await database_setup.drop_indexes(db)
    for name in dropped:
        print(f"dropped  {name}")
    extra = [f"{r.collection}.{r.name}" for r in await compare_indexes(db) if r.state == "extra"]
    print(f"{len(dropped)} model indexes dropped; kept _id_" + (f" and indexes not in the model: {', '.join(extra)}"
                                                                if extra else ""))
    return 0


async def indexes_list(db: AsyncDatabase) -> int:
    rows = await compare_indexes(db)
    width = max(len(f"{r.collection}.{r.name}") for r in rows)
    for row in rows:
        print(f"{row.state:<8} {f'{row.collection}.{row.name}':<{width}}  ({row.keys})")
    counts = {state: sum(1 for r in rows if r.state == state) for state in ("present", "missing", "differs", "extra")}
    print(", ".join(f"{n} {state}" for state, n in counts.items()))
    if counts["missing"] or counts["differs"]:
        print("fix: python -m seeding indexes create")
        return 1
    return 0


def run_indexes_command(args: argparse.Namespace, settings: Settings) -> int:
    action = {"create": indexes_create, "drop": indexes_drop, "list": indexes_list}[args.action]
    return asyncio.run(_with_db(settings, action))


# --- change streams --------------------------------------------------------------------------------

async def _images_enabled(db: AsyncDatabase) -> dict[str, bool]:
    options = {c["name"]: c.get("options", {}) async for c in await db.list_collections()}
    return {name: bool(options.get(name, {}).get("changeStreamPreAndPostImages", {}).get("enabled"))
            for name in SYNCED_COLLECTIONS}


async def _require_replica_set(db: AsyncDatabase) -> bool:
    if (await zdb.capabilities(db)).replica_set:
        return True
    print("error: the server is not a replica set, so it has no change streams (mongod: --replSet and "
          "rs.initiate(); Atlas clusters are replica sets)", file=sys.stderr)
    return False


async def change_streams_enable(db: AsyncDatabase) -> int:
    if not await _require_replica_set(db):
        return 1
    changed, refused = await database_setup.enable_pre_post_images(db)
    print(f"pre/post images enabled on {len(changed)} of {len(SYNCED_COLLECTIONS)} synced collections"
          + (f": {', '.join(changed)}" if changed else ""))
    if refused:
        print(f"error: the server refused: {refused}", file=sys.stderr)
        print("collMod needs dbAdmin on the database (Atlas: a user with 'Atlas admin', or a custom role with "
              "collMod); a server older than 6.0 has no pre/post images", file=sys.stderr)
        if "not allowed" in refused:
            print(TIER_HINT, file=sys.stderr)
        return 1
    return 0


def _describe_event(event: dict) -> str:
    def show(doc) -> str:
        return json_util.dumps(doc) if doc is not None else "(none)"

    kind = event.get("operationType", "?")
    ns = event.get("ns", {})
    line = f"  {kind:<7} {ns.get('db')}.{ns.get('coll')}  key {show(event.get('documentKey'))}"
    if "updateDescription" in event:
        line += f"\n          updated fields: {show(event['updateDescription'].get('updatedFields'))}"
    if kind != "delete":
        line += f"\n          post-image:     {show(event.get('fullDocument'))}"
    if kind != "insert":
        line += f"\n          pre-image:      {show(event.get('fullDocumentBeforeChange'))}"
    return line


async def _collect_events(stream, count: int, timeout: float) -> list[dict]:
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        event = await stream.try_next()
        if event is not None:
            events.append(event)
    return events


async def _marker_round_trip(db: AsyncDatabase, timeout: float) -> list[dict]:
    """Insert, update and delete one marker document while a database change stream watches for it."""
    marker = db[MARKER_COLLECTION]
    marker_id = f"marker-{uuid.uuid4().hex[:12]}"
    pipeline = [{"$match": {"ns.coll": MARKER_COLLECTION}}]
    # A database-level stream, as a connector watching every synced collection opens it.
    stream = await db.watch(pipeline, full_document="whenAvailable", full_document_before_change="whenAvailable",
                            max_await_time_ms=500)
    async with stream:
        await marker.insert_one({"_id": marker_id, "purpose": "python -m seeding change-streams test", "step": 1,
                                 "at": now_iso()})
        await marker.update_one({"_id": marker_id}, {"$set": {"step": 2}})
        await marker.delete_one({"_id": marker_id})
        return await _collect_events(stream, 3, timeout)


async def change_streams_test(db: AsyncDatabase, timeout: float) -> int:
    if not await _require_replica_set(db):
        return 1
    enabled = await _images_enabled(db)
    on = [n for n, v in enabled.items() if v]
    print(f"pre/post images on {len(on)} of {len(enabled)} synced collections"
          + (f" (off: {', '.join(n for n, v in enabled.items() if not v)}; run `change-streams enable`)"
             if len(on) < len(enabled) else ""))
    await db.drop_collection(MARKER_COLLECTION)  # a leftover of an interrupted test
    try:
        await db.create_collection(MARKER_COLLECTION, changeStreamPreAndPostImages={"enabled": True})
        events = await _marker_round_trip(db, timeout)
    except PyMongoError as exc:
        message = redact_uri(str(exc)).split(", full error")[0]
        print(f"error: the change stream failed: {message}", file=sys.stderr)
        if "not allowed" in message:
            print(TIER_HINT, file=sys.stderr)
        return 1
    finally:
        await db.drop_collection(MARKER_COLLECTION)
    print(f"opened a change stream on database {db.name!r}; wrote, updated and deleted a marker in "
          f"{MARKER_COLLECTION!r} (dropped again); captured {len(events)} of 3 events:")
    for event in events:
        print(_describe_event(event))
    if [e.get("operationType") for e in events] != ["insert", "update", "delete"]:
        print(f"error: expected insert, update and delete within {timeout:g} s", file=sys.stderr)
        return 1
    return 0


def run_change_streams_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "enable":
        return asyncio.run(_with_db(settings, change_streams_enable))
    return asyncio.run(_with_db(settings, lambda db: change_streams_test(db, args.timeout)))


# --- clear -----------------------------------------------------------------------------------------

class UnknownCollections(ValueError):
    pass


def chosen_collections(names: list[str] | None) -> list[str]:
    """The collections to clear, in model order; accepts spaces or commas between names."""
    if not names:
        return list(CLEARABLE)
    wanted = [n.strip() for text in names for n in text.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in CLEARABLE]
    if unknown:
        raise UnknownCollections(f"unknown collection(s): {', '.join(unknown)}; valid: {', '.join(CLEARABLE)}")
    return [n for n in CLEARABLE if n in wanted]


def _confirmed(database: str) -> bool:
    print(f"Type the database name ({database}) to confirm: ", end="", flush=True)
    answer = sys.stdin.readline().strip()
    if not sys.stdin.isatty():
        print()  # the typed answer's newline is not echoed when stdin is a pipe
    return answer == database


async def _forget_seeding(db: AsyncDatabase, names: list[str]) -> str:
    """Keep the seeding state true to what is left, so `python -m seeding` refills what was cleared."""
    if set(DATASET) <= set(names):
        await db[META].delete_one({"_id": STATE_ID})
        return "seeding state removed: `python -m seeding` seeds afresh"
    cleared = {n for n in names if n in DATASET}
    if {"orders", "order_items"} & cleared:
        cleared |= {"orders", "order_items"}  # they load together, chunk by chunk
    update: dict = {"$set": {"status": "running"}, "$unset": {f"done.{n}": "" for n in cleared}}
    if {"orders", "order_items"} & cleared:
        update["$set"]["order_chunks_done"] = 0
    result = await db[META].update_one({"_id": STATE_ID}, update)
    if not result.matched_count:
        return "no seeding state in this database"
    return "seeding state marked incomplete: `python -m seeding` with the same parameters refills the cleared ones"


async def clear(db: AsyncDatabase, settings: Settings, names: list[str], assume_yes: bool) -> int:
    # Estimated (collection metadata): exact counts scan every document, which is slow on big collections.
    counts = {name: await db[name].estimated_document_count() for name in names}
    print(f"database {db.name!r} on {_target(settings)}: delete every document of")
    for name, count in counts.items():
        print(f"  {name:<20} {count:>9,}")
    print("indexes are kept; nothing outside these collections (and the seeding state) is touched")
    print("if Ditto's connector syncs this database, these deletions reach every device: stop it first")
    if not assume_yes and not _confirmed(db.name):
        print(f"\nnot confirmed (the answer was not {db.name!r}): nothing was deleted", file=sys.stderr)
        return 1
    deleted = 0
    for name in names:
        deleted += (await db[name].delete_many({})).deleted_count
    note = await _forget_seeding(db, names)
    print(f"cleared {len(names)} collection(s), {deleted:,} documents deleted; {note}")
    return 0


def run_clear_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        names = chosen_collections(args.collections)
    except UnknownCollections as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_with_db(settings, lambda db: clear(db, settings, names, args.yes)))
