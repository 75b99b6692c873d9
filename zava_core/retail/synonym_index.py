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
                         version=_digest, use_change_stream=use_change_stream)


async def _digest(synonyms: AsyncCollection) -> tuple:
    documents = await synonyms.find({}).sort("_id", 1).to_list()
    return (len(documents), hashlib.sha256(json.dumps(documents, default=str).encode()).hexdigest())
