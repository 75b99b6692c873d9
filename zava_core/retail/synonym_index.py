"""The synonym mappings (`search_synonyms`) held in memory per process, compiled for the BM25 side of search.

An operator's new or edited mapping is used without a restart: the collection is watched by the same rule as
the catalog (`watched.py`: a change stream where the server has one, else a version check every few seconds,
and a full reload every five minutes). The version here is a digest of every mapping, because an operator
editing a document by hand rarely sets `updated_at`; the collection is a few hundred small documents.
"""

from __future__ import annotations

import hashlib
import json

from pymongo.asynchronous.collection import AsyncCollection

from zava_core.retail.synonyms import SynonymTable, table_from_documents
from zava_core.retail.watched import WatchedCollection
from zava_core.store import Handle


class SynonymIndex(WatchedCollection[SynonymTable]):
    """`get()` returns the compiled table (empty while the collection is: search then runs without synonyms)."""

    def __init__(self, synonyms: Handle, *, use_change_stream: bool | None = None) -> None:
        # Every document: Atlas reads them all (a mapping has no soft delete).
        super().__init__(synonyms, lambda documents, _version: table_from_documents(documents), query={},
                         version=_digest, version_of_documents=digest_of, use_change_stream=use_change_stream)


async def _digest(synonyms: AsyncCollection) -> tuple:
    return digest_of(await synonyms.find({}).to_list())


def digest_of(documents: list[dict]) -> tuple:
    """How many mappings, and a digest of all of them (in `_id` order, whatever order they were read in)."""
    ordered = sorted(documents, key=lambda d: (type(d.get("_id")).__name__, str(d.get("_id"))))
    return (len(ordered), hashlib.sha256(json.dumps(ordered, default=str).encode()).hexdigest())
