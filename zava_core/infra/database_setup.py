"""Indexes, change-stream pre/post images and the Atlas vector index, all read from the model module."""

from __future__ import annotations

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from zava_core.model import (
    COLLECTIONS,
    JOURNALS,
    ROLLUPS,
    SPECS,
    SYNCED_COLLECTIONS,
    VECTOR_INDEX_NAME,
    CollectionSpec,
)


def index_models(spec: CollectionSpec) -> list[IndexModel]:
    models = []
    for index in spec.indexes:
        options: dict = {"name": index.name, "unique": index.unique}
        if index.sparse:
            options["sparse"] = True
        models.append(IndexModel(list(index.keys), **options))
    return models


# The dataset, the rollup and the stock-movement journal: every collection whose indexes the model defines.
INDEXED: tuple[CollectionSpec, ...] = (*COLLECTIONS, *ROLLUPS, *JOURNALS)


async def create_indexes(db: AsyncDatabase, names: list[str] | None = None) -> list[str]:
    created: list[str] = []
    for spec in INDEXED:
        if (names is None or spec.name in names) and spec.indexes:
            created += [f"{spec.name}.{n}" for n in await db[spec.name].create_indexes(index_models(spec))]
    return created


async def drop_indexes(db: AsyncDatabase) -> list[str]:
    """Drop the indexes the model defines (never `_id`)."""
    dropped = []
    existing_collections = set(await db.list_collection_names())
    for spec in INDEXED:
        if spec.name not in existing_collections:
            continue
        present = {ix["name"] async for ix in await db[spec.name].list_indexes()}
        for index in spec.indexes:
            if index.name in present:
                await db[spec.name].drop_index(index.name)
                dropped.append(f"{spec.name}.{index.name}")
    return dropped


def images_on(options: dict) -> bool:
    """Whether a collection's options (from listCollections) turn change-stream pre/post images on."""
    return bool((options.get("changeStreamPreAndPostImages") or {}).get("enabled"))


async def images_enabled(db: AsyncDatabase) -> dict[str, bool]:
    """Pre/post images on or off, per synced collection (a missing collection counts as off)."""
    options = {c["name"]: c.get("options", {}) async for c in await db.list_collections()}
    return {name: images_on(options.get(name, {})) for name in SYNCED_COLLECTIONS}


async def vector_index(db: AsyncDatabase) -> dict | None:
    """The Atlas Vector Search index on product_embeddings as the server lists it, or None when absent.

    Only call where the server offers search indexes (`Capabilities.search_indexes`)."""
    cursor = await db[SPECS["product_embeddings"].name].aggregate([{"$listSearchIndexes": {"name": VECTOR_INDEX_NAME}}])
    found = await cursor.to_list()
    return found[0] if found else None


async def enable_pre_post_images(db: AsyncDatabase) -> tuple[list[str], str | None]:
    """Turn on change-stream pre/post images for the synced collections (what Ditto's connector needs).

    Returns the collections changed and, if the server refused, its reason.
    """
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


async def create_vector_index(db: AsyncDatabase, dimensions: int) -> str:
    """Create the Atlas Vector Search index on product_embeddings (only where search indexes exist)."""
    definition = {
        "fields": [
            {"type": "vector", "path": "embedding", "numDimensions": dimensions, "similarity": "dotProduct"},
            {"type": "filter", "path": "model"},
            {"type": "filter", "path": "deleted"},
        ]
    }
    collection = db[SPECS["product_embeddings"].name]
    if await vector_index(db) is not None:
        await db.command({"updateSearchIndex": collection.name, "name": VECTOR_INDEX_NAME, "definition": definition})
        return "updated"
    await db.command({"createSearchIndexes": collection.name, "indexes": [
        {"name": VECTOR_INDEX_NAME, "type": "vectorSearch", "definition": definition}]})
    return "created"
