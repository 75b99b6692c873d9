"""Indexes, change-stream pre/post images and the Atlas vector index, all read from the model module.

Seeding, the operator commands (`python -m zava_ops indexes|change-streams`) and the first write to a journal
set collections up through here only.
"""

from __future__ import annotations

from pymongo import IndexModel
from pymongo.errors import OperationFailure

from zava_core.model import ALL_SPECS, SYNCED_COLLECTIONS, VECTOR_INDEX_NAME, CollectionSpec
from zava_core.store.handles import Collections


def index_models(spec: CollectionSpec) -> list[IndexModel]:
    models = []
    for index in spec.indexes:
        options: dict = {"name": index.name, "unique": index.unique}
        if index.sparse:
            options["sparse"] = True
        models.append(IndexModel(list(index.keys), **options))
    return models


# Every collection whose indexes the model defines (the dataset, the rollup, the journals, search misses).
INDEXED: tuple[CollectionSpec, ...] = tuple(spec for spec in ALL_SPECS.values() if spec.indexes)


async def create_indexes(collections: Collections, names: list[str] | None = None) -> list[str]:
    created: list[str] = []
    for spec in INDEXED:
        if names is None or spec.name in names:
            created += [f"{spec.name}.{n}" for n in await collections.of(spec).create_indexes(index_models(spec))]
    return created


async def drop_indexes(collections: Collections) -> list[str]:
    """Drop the indexes the model defines (never `_id`)."""
    dropped = []
    existing_collections = set(await collections.db.list_collection_names())
    for spec in INDEXED:
        if spec.name not in existing_collections:
            continue
        handle = collections.of(spec)
        present = {ix["name"] async for ix in await handle.list_indexes()}
        for index in spec.indexes:
            if index.name in present:
                await handle.drop_index(index.name)
                dropped.append(f"{spec.name}.{index.name}")
    return dropped


def images_on(options: dict) -> bool:
    """Whether a collection's options (from listCollections) turn change-stream pre/post images on."""
    return bool((options.get("changeStreamPreAndPostImages") or {}).get("enabled"))


async def images_enabled(collections: Collections) -> dict[str, bool]:
    """Pre/post images on or off, per synced collection (a missing collection counts as off)."""
    options = {c["name"]: c.get("options", {}) async for c in await collections.db.list_collections()}
    return {name: images_on(options.get(name, {})) for name in SYNCED_COLLECTIONS}


async def vector_index(collections: Collections) -> dict | None:
    """The Atlas Vector Search index on product_embeddings as the server lists it, or None when absent.

    Only call where the server offers search indexes (`Capabilities.search_indexes`)."""
    cursor = await collections.product_embeddings.aggregate([{"$listSearchIndexes": {"name": VECTOR_INDEX_NAME}}])
    found = await cursor.to_list()
    return found[0] if found else None


async def enable_pre_post_images(collections: Collections) -> tuple[list[str], str | None]:
    """Turn on change-stream pre/post images for the synced collections (what Ditto's connector needs).

    Returns the collections changed and, if the server refused, its reason.
    """
    db = collections.db
    done = []
    existing = set(await db.list_collection_names())
    for name in SYNCED_COLLECTIONS:
        try:
            if name not in existing:
                await db.create_collection(name)
            await db.command("collMod", name, changeStreamPreAndPostImages={"enabled": True})
            done.append(name)
        except OperationFailure as exc:
            return done, f"{name}: {exc.details.get('errmsg') if exc.details else exc}"
    return done, None


async def create_vector_index(collections: Collections, dimensions: int) -> str:
    """Create the Atlas Vector Search index on product_embeddings (only where search indexes exist)."""
    definition = {
        "fields": [
            {"type": "vector", "path": "embedding", "numDimensions": dimensions, "similarity": "dotProduct"},
            {"type": "filter", "path": "model"},
            {"type": "filter", "path": "deleted"},
        ]
    }
    collection, db = collections.product_embeddings, collections.db
    if await vector_index(collections) is not None:
        await db.command({"updateSearchIndex": collection.name, "name": VECTOR_INDEX_NAME, "definition": definition})
        return "updated"
    await db.command({"createSearchIndexes": collection.name, "indexes": [
        {"name": VECTOR_INDEX_NAME, "type": "vectorSearch", "definition": definition}]})
    return "created"


REBUILD_SUFFIX = "__rebuild"


async def replace_collection(collections: Collections, spec: CollectionSpec, docs: list[dict]) -> int:
    """Replace a derived collection's documents at once: written beside it with its indexes, then renamed over it
    (readers see the old documents or the new ones, never a half-written collection)."""
    db = collections.db
    staging = db.get_collection(spec.name + REBUILD_SUFFIX)
    await staging.drop()
    await db.create_collection(staging.name)  # exists even when `docs` is empty: the rename needs it
    for start in range(0, len(docs), 1_000):
        await staging.insert_many(docs[start:start + 1_000], ordered=False)
    if spec.indexes:
        await staging.create_indexes(index_models(spec))
    await db.client.admin.command("renameCollection", f"{db.name}.{staging.name}", to=f"{db.name}.{spec.name}",
                                  dropTarget=True)
    return len(docs)
