"""The server and the dataset: version, replica set, the seeded data, indexes, pre/post images, search."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.errors import PyMongoError

from zava_core.feed.stream import FOLD_TOKEN_ID, IDLE_SAVE_SECONDS
from zava_core.infra import db as zdb
from zava_core.infra.privileges import Access
from zava_core.model import DATASET, STATE_ID, SYNCED_COLLECTIONS, VECTOR_INDEX_NAME
from zava_core.store import Collections, setup
from zava_ops.doctor.access import short_error
from zava_ops.doctor.report import (
    MIN_SERVER_VERSION,
    Report,
)
from zava_ops.indexes import compare_indexes


def _version_tuple(version: str) -> tuple[int, ...]:
    numbers = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        numbers.append(int(digits) if digits else 0)
    return tuple(numbers)


async def server_steps(collections: Collections, report: Report) -> zdb.Capabilities | None:
    try:
        caps = await zdb.capabilities(collections.products)
    except PyMongoError as exc:
        report.fail("server version", f"could not ask the server: {short_error(exc)}",
                    "the user may not run hello/buildInfo or aggregate on the database", "check the user's roles")
        return None
    if _version_tuple(caps.server_version) < MIN_SERVER_VERSION:
        report.fail("server version", f"{caps.server_version}: older than 6.0",
                    "change-stream pre/post images (Ditto's connector) need MongoDB 6.0 or newer",
                    "upgrade (Atlas: cluster > Edit Configuration > MongoDB version)")
    else:
        report.ok("server version", caps.server_version)
    if caps.replica_set:
        hello = await collections.db.client.admin.command("hello")
        name = hello.get("setName") or "sharded cluster (mongos)"
        report.ok("replica set", f"{name!r}: transactions and change streams available")
    else:
        report.fail("replica set", "a standalone server",
                    "without a replica set there is no oplog: no transactions (create_order) and no change streams "
                    "(Ditto's connector)",
                    "mongod: restart with --replSet rs0 and run rs.initiate() once; Atlas clusters are always replica "
                    "sets; locally, the mongodb/mongodb-atlas-local image is one")
    return caps


async def dataset_step(collections: Collections, report: Report) -> bool:
    db = collections.db
    state = await collections.meta.find_one({"_id": STATE_ID})
    counts = {name: await collections[name].estimated_document_count() for name in DATASET}
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


async def indexes_step(collections: Collections, report: Report) -> None:
    rows = await compare_indexes(collections)
    missing = [f"{r.collection}.{r.name}" for r in rows if r.state in {"missing", "differs"}]
    expected = sum(1 for r in rows if r.state != "extra")
    if missing:
        report.fail("indexes", f"{len(missing)} of {expected} model indexes missing or different: {', '.join(missing)}",
                    "queries fall back to collection scans (slow) and uniqueness is not enforced",
                    "python -m zava_ops indexes create")
    else:
        report.ok("indexes", f"all {expected} model indexes present")


async def pre_post_images_step(collections: Collections, access: Access | None, is_atlas: bool,
                               report: Report) -> None:
    off = [name for name, on in (await setup.images_enabled(collections)).items() if not on]
    if not off:
        report.ok("pre/post images", f"enabled on all {len(SYNCED_COLLECTIONS)} synced collections")
        return
    needs = "" if access is None or access.coll_mod else (
        " (as a user with collMod: dbAdmin on the database, or Atlas admin)")
    tier = (" (if Atlas refuses it as 'not allowed', the cluster tier does not offer collMod: use a dedicated "
            "tier, M10 or larger)") if is_atlas else ""
    report.fail("pre/post images", f"off on {', '.join(off)}",
                "Ditto's connector reads change-stream pre- and post-images of every synced collection",
                f"python -m zava_ops change-streams enable{needs}{tier}")


async def feed_step(collections: Collections, report: Report) -> None:
    """Whether the servers' change feeds have a position to resume from, how old it is, and what waits for a
    manager (open sync conflicts). A running server stores the position after every batch it folds."""
    stored = await collections.feed.find_one({"_id": FOLD_TOKEN_ID})
    open_conflicts = await collections.sync_conflicts.count_documents({"status": "open", "deleted": False})
    waiting = f"; {open_conflicts:,} open sync conflict(s) for managers to resolve" if open_conflicts else ""
    if stored is None:
        report.add("change feed", "warn", "no stored position: the first server to start rebuilds the rollups from "
                   "the collections (seconds to a minute)" + waiting, fix="python -m zava_ops fold rebuild")
        return
    age = (datetime.now(UTC) - datetime.fromisoformat(stored["saved_at"])).total_seconds()
    report.ok("change feed", f"position stored {age:,.0f} s ago (a running server stores it at least every "
              f"{IDLE_SAVE_SECONDS:.0f} s){waiting}")


async def search_step(collections: Collections, caps: zdb.Capabilities, seeded: bool, report: Report) -> None:
    if not caps.search_indexes:
        report.ok("search indexes", "not offered by this server: semantic search uses the exact in-memory index")
        return
    if not seeded:  # the vector index lives on product_embeddings, which seeding creates
        report.ok("search indexes", "offered; seeding creates the vector index")
        return
    index = await setup.vector_index(collections)
    if index and index.get("queryable"):
        report.ok("search indexes", f"offered; {VECTOR_INDEX_NAME} is queryable ($vectorSearch is used)")
    elif index:
        report.add("search indexes", "warn", f"{VECTOR_INDEX_NAME} is {index.get('status', 'building')}: the "
                   "in-memory index answers until it is queryable")
    else:
        report.add("search indexes", "warn", f"offered, but {VECTOR_INDEX_NAME} does not exist: the in-memory index "
                   "answers", fix="python -m zava_ops indexes create")
