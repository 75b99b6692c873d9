"""`python -m zava_ops indexes create|drop|list`: the model's indexes against what the server has.

What it creates is what seeding creates: both go through `zava_core.store.setup`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass

from pymongo.errors import OperationFailure

from zava_core.infra import db as zdb
from zava_core.model import CollectionSpec, IndexSpec
from zava_core.store import Collections, setup

MODEL_SPECS: tuple[CollectionSpec, ...] = setup.INDEXED


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


async def compare_indexes(collections: Collections) -> list[IndexRow]:
    """The model's indexes (dataset and rollup) against what exists; `_id_` is neither missing nor extra."""
    existing_collections = set(await collections.db.list_collection_names())
    rows: list[IndexRow] = []
    for spec in MODEL_SPECS:
        present: dict[str, dict] = {}
        if spec.name in existing_collections:
            present = {ix["name"]: ix async for ix in await collections.of(spec).list_indexes()}
        for index in spec.indexes:
            info = present.pop(index.name, None)
            state = "missing" if info is None else ("present" if _same_index(index, info) else "differs")
            rows.append(IndexRow(spec.name, index.name, state, _key_text(index.keys)))
        present.pop("_id_", None)
        rows += [IndexRow(spec.name, name, "extra", _key_text(info["key"].items())) for name, info in present.items()]
    return rows


async def _ensure_vector_index(collections: Collections) -> str:
    caps = await zdb.capabilities(collections.products)
    if not caps.search_indexes:
        return "the server offers no search indexes: semantic search uses the in-memory index"
    sample = await collections.product_embeddings.find_one({}, {"dimensions": 1})
    if not sample:
        return "no product embeddings yet: the vector index is created after `python -m seeding embed`"
    outcome = await setup.create_vector_index(collections, int(sample["dimensions"]))
    return f"Atlas vector search index {outcome}"


async def indexes_create(collections: Collections) -> int:
    before = {(r.collection, r.name): r.state for r in await compare_indexes(collections)}
    try:
        await setup.create_indexes(collections)
    except OperationFailure as exc:
        # Same name with other keys/options (codes 85/86): the server will not replace it silently.
        print(f"error: {exc.details.get('errmsg') if exc.details else exc}", file=sys.stderr)
        print("an index of that name exists with other keys or options: `python -m zava_ops indexes drop`, then "
              "create again", file=sys.stderr)
        return 1
    after = await compare_indexes(collections)
    created = [f"{r.collection}.{r.name}" for r in after if r.state == "present" and before.get(
        (r.collection, r.name)) != "present"]
    kept = sum(1 for r in after if r.state == "present") - len(created)
    for name in created:
        print(f"created  {name}")
    print(f"{len(created)} created, {kept} already present")
    print(await _ensure_vector_index(collections))
    return 0


async def indexes_drop(collections: Collections) -> int:
    dropped = await setup.drop_indexes(collections)
    for name in dropped:
        print(f"dropped  {name}")
    extra = [f"{r.collection}.{r.name}" for r in await compare_indexes(collections) if r.state == "extra"]
    print(f"{len(dropped)} model indexes dropped; kept _id_" + (f" and indexes not in the model: {', '.join(extra)}"
                                                                if extra else ""))
    return 0


async def indexes_list(collections: Collections) -> int:
    rows = await compare_indexes(collections)
    width = max(len(f"{r.collection}.{r.name}") for r in rows)
    for row in rows:
        print(f"{row.state:<8} {f'{row.collection}.{row.name}':<{width}}  ({row.keys})")
    counts = {state: sum(1 for r in rows if r.state == state) for state in ("present", "missing", "differs", "extra")}
    print(", ".join(f"{n} {state}" for state, n in counts.items()))
    if counts["missing"] or counts["differs"]:
        print("fix: python -m zava_ops indexes create")
        return 1
    return 0
