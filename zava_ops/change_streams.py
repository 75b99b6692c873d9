"""`python -m zava_ops change-streams enable|test`: pre/post images on the synced collections (what
Ditto's connector reads), and a marker round trip through a database change stream.
"""

from __future__ import annotations

import sys
import time
import uuid

from bson import json_util
from pymongo.errors import PyMongoError

from zava_core.infra import db as zdb
from zava_core.infra.redaction import redact_uri
from zava_core.infra.timeutil import now_iso
from zava_core.model import CHANGE_STREAM_MARKER, SYNCED_COLLECTIONS
from zava_core.store import Collections, setup

# The change-stream test writes here, never into the dataset, and drops the collection afterwards.
MARKER_COLLECTION = CHANGE_STREAM_MARKER
# Atlas answers "<command> is not allowed or the syntax is incorrect" for what a cluster tier does not offer.
TIER_HINT = ("on Atlas, 'not allowed' means the cluster tier does not offer this (the Free and Flex tiers restrict "
             "commands): use a dedicated tier (M10 or larger) for Ditto's connector")


async def _require_replica_set(collections: Collections) -> bool:
    if (await zdb.capabilities(collections.products)).replica_set:
        return True
    print("error: the server is not a replica set, so it has no change streams (mongod: --replSet and "
          "rs.initiate(); Atlas clusters are replica sets)", file=sys.stderr)
    return False


async def change_streams_enable(collections: Collections) -> int:
    if not await _require_replica_set(collections):
        return 1
    changed, refused = await setup.enable_pre_post_images(collections)
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


async def _marker_round_trip(collections: Collections, timeout: float) -> list[dict]:
    """Insert, update and delete one marker document while a database change stream watches for it."""
    db, marker = collections.db, collections.change_stream_marker
    marker_id = f"marker-{uuid.uuid4().hex[:12]}"
    pipeline = [{"$match": {"ns.coll": MARKER_COLLECTION}}]
    # A database-level stream, as a connector watching every synced collection opens it.
    stream = await db.watch(pipeline, full_document="whenAvailable", full_document_before_change="whenAvailable",
                            max_await_time_ms=500)
    async with stream:
        await marker.insert_one({"_id": marker_id, "purpose": "python -m zava_ops change-streams test", "step": 1,
                                 "at": now_iso()})
        await marker.update_one({"_id": marker_id}, {"$set": {"step": 2}})
        await marker.delete_one({"_id": marker_id})
        return await _collect_events(stream, 3, timeout)


async def change_streams_test(collections: Collections, timeout: float) -> int:
    if not await _require_replica_set(collections):
        return 1
    db = collections.db
    enabled = await setup.images_enabled(collections)
    on = [n for n, v in enabled.items() if v]
    print(f"pre/post images on {len(on)} of {len(enabled)} synced collections"
          + (f" (off: {', '.join(n for n, v in enabled.items() if not v)}; run `change-streams enable`)"
             if len(on) < len(enabled) else ""))
    await db.drop_collection(MARKER_COLLECTION)  # a leftover of an interrupted test
    try:
        await db.create_collection(MARKER_COLLECTION, changeStreamPreAndPostImages={"enabled": True})
        events = await _marker_round_trip(collections, timeout)
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
