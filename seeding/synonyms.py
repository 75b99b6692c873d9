"""The curated synonym source (`catalog/synonyms.json`) as Atlas Search synonym mappings, and loading them.

Per product type the source lists `same` (groups of catalog names for one thing: one `equivalent` mapping
each), `called` ({catalog name: the names shoppers use instead}) and `jobs` ({catalog phrase: what shoppers
say when they need it}): one `explicit` mapping per entry. Ids are `syn_<type>_same_<n>`,
`syn_<type>_called_<n>` and `syn_<type>_job_<n>`, with `source: catalog`.

Loading never touches an operator's mappings (`source: operator`, or any other id). Seeding inserts the
curated mappings that are missing; `python -m seeding synonyms` replaces them with the current source
(and removes curated ones the source no longer has), without a server restart: servers pick the change
up through their change stream or version check (zava_core/retail/synonym_index.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import ValidationError
from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection

from seeding.catalog_loader import CATALOG_DIR, Catalog, CatalogError, load_catalog, slug
from zava_core.infra.config import Settings
from zava_core.infra.timeutil import now_iso
from zava_core.model import SYNONYMS
from zava_core.model.documents import SynonymMapping

SOURCE = CATALOG_DIR / "synonyms.json"


def curated_mappings(catalog: Catalog, path: Path = SOURCE, stamped_at: str | None = None) -> list[SynonymMapping]:
    """Every curated mapping, checked: each type must be a catalog type with products, each mapping valid."""
    types = {t.name for t in catalog.types if t.product_count}
    out: list[SynonymMapping] = []
    for type_name, entry in json.loads(path.read_text())["types"].items():
        if type_name not in types:
            raise CatalogError(f"{path.name}: {type_name!r} is not a product type with products")
        base = f"syn_{slug(type_name)}"
        raw = [{"_id": f"{base}_same_{n}", "mappingType": "equivalent", "synonyms": group}
               for n, group in enumerate(entry.get("same", []), 1)]
        for kind, key in (("called", "called"), ("job", "jobs")):
            raw += [{"_id": f"{base}_{kind}_{n}", "mappingType": "explicit", "input": inputs, "synonyms": [target]}
                    for n, (target, inputs) in enumerate(entry.get(key, {}).items(), 1)]
        for document in raw:
            try:
                out.append(SynonymMapping.model_validate({**document, "product_type": type_name, "source": "catalog",
                                                          "updated_at": stamped_at}))
            except ValidationError as exc:
                raise CatalogError(f"{path.name} {type_name}: {exc.errors()[0]['msg']}") from None
    return out


def documents(mappings: list[SynonymMapping]) -> list[dict]:
    return [m.model_dump(by_alias=True, exclude_none=True) for m in mappings]


async def load_synonyms(collection: AsyncCollection, mappings: list[SynonymMapping], *, replace: bool,
                        ) -> dict[str, int]:
    """Insert the curated mappings that are missing (`replace=False`), or replace every curated mapping with
    `mappings` (`replace=True`) in `collection` (search_synonyms). Operators' mappings are never touched.
    Returns what changed."""
    present = {d["_id"]: d async for d in collection.find({"source": "catalog"})}
    wanted = {m.id: doc for m, doc in zip(mappings, documents(mappings), strict=True)}
    changed = {"inserted": 0, "replaced": 0, "removed": 0, "unchanged": 0}
    writes = []
    for mapping_id, doc in wanted.items():
        old = present.get(mapping_id)
        if old is None:
            writes.append(ReplaceOne({"_id": mapping_id}, doc, upsert=True))
            changed["inserted"] += 1
        elif replace and _content(old) != _content(doc):
            writes.append(ReplaceOne({"_id": mapping_id}, doc))
            changed["replaced"] += 1
        else:
            changed["unchanged"] += 1
    if writes:
        await collection.bulk_write(writes, ordered=False)
    if replace and (stale := [i for i in present if i not in wanted]):
        changed["removed"] = (await collection.delete_many({"_id": {"$in": stale}, "source": "catalog"})).deleted_count
    return changed


def _content(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "updated_at"}


async def check_mappings(collection: AsyncCollection) -> list[str]:
    """Every document of `search_synonyms` that Atlas Search would reject (one invalid document fails the whole
    mapping there; in memory it is skipped), as 'id: reason'."""
    problems = []
    async for document in collection.find({}):
        try:
            SynonymMapping.model_validate({**document, "_id": str(document["_id"])})
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            problems.append(f"{document['_id']}: {where + ': ' if where else ''}{error['msg']}")
    return problems


async def run_synonyms_command(settings: Settings, *, check_only: bool) -> int:
    from zava_core.infra import db as zdb
    from zava_core.store import Collections

    client = await zdb.connect(settings)
    try:
        collection = Collections(zdb.database(client, settings)).search_synonyms
        if not check_only:
            changed = await load_synonyms(collection, curated_mappings(load_catalog(), stamped_at=now_iso()),
                                          replace=True)
            print("curated synonym mappings: " + ", ".join(f"{n} {what}" for what, n in changed.items()))
        problems = await check_mappings(collection)
    finally:
        await client.close()
    total = len(problems)
    for problem in problems[:20]:
        print(f"invalid: {problem}", file=sys.stderr)
    if total:
        print(f"{total} mapping(s) in {SYNONYMS} are invalid: Atlas Search would fail the whole synonym mapping; "
              "fix or delete them", file=sys.stderr)
        return 1
    print(f"every mapping in {SYNONYMS} is valid")
    return 0
