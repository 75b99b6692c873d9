"""Hybrid search on MongoDB Atlas: `$rankFusion` of `$vectorSearch` and `$search` (MongoDB 8.0+).

`$rankFusion` needs every input pipeline on one collection, so both run on `product_embeddings`,
whose `text` field holds what was embedded ("{name}. {description}"). The Atlas Search index
`TEXT_INDEX_NAME` (lucene.english: stemming) indexes it, with the synonym mapping `SYNONYM_MAPPING`
over the `search_synonyms` collection (the same mappings the in-memory BM25 uses). Atlas forbids
`fuzzy` and `synonyms` in one `text` operator, so the text side is a `compound` of two `should`
clauses: the words with typos forgiven, and the words with their synonyms. The in-memory BM25 also
reads specifications, type and category; Atlas' text side sees name and description only. The
weights are the tuned ones of `fusion.TUNED`; Atlas fuses by rank (RRF, k = 60) whatever method was
chosen for the in-memory fusion. Everything here builds or reads documents: no I/O except `text_index` and
`create_text_index`, which only servers with search indexes should be asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymongo.asynchronous.collection import AsyncCollection

from zava_core.model import SYNONYMS, VECTOR_INDEX_NAME

TEXT_INDEX_NAME = "product_embeddings_text"
SYNONYM_MAPPING = "zava_synonyms"
TEXT_INDEX_DEFINITION = {
    "analyzer": "lucene.english",
    "mappings": {"dynamic": False, "fields": {"text": {"type": "string"}}},
    "synonyms": [{"name": SYNONYM_MAPPING, "source": {"collection": SYNONYMS}, "analyzer": "lucene.english"}],
}
FUSION_MIN_SERVER = (8, 0)
SIGNALS = {"semantic": "semantic", "lexical": "lexical"}  # pipeline name -> signal reported


@dataclass(frozen=True)
class FusedHit:
    product_id: str
    ranks: dict[str, int]  # signal -> 1-based rank in that pipeline
    cosine: float | None  # from the vector pipeline's score, when the product came through it


def offers_rank_fusion(server_version: str) -> bool:
    try:
        major, minor = (int(part) for part in server_version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= FUSION_MIN_SERVER


def cosine_from_score(score: float) -> float:
    """dotProduct scores are (1 + cosine) / 2 on normalised vectors."""
    return 2 * float(score) - 1


def vector_stage(query_vector: np.ndarray, model: str, k: int) -> dict:
    return {"$vectorSearch": {"index": VECTOR_INDEX_NAME, "path": "embedding", "queryVector": query_vector.tolist(),
                              "numCandidates": max(100, k * 10), "limit": k,
                              "filter": {"model": model, "deleted": False}}}


def rank_fusion_pipeline(text: str, query_vector: np.ndarray, model: str, k: int,
                         weights: dict[str, float] | None = None) -> list[dict]:
    words = {"query": text, "path": "text"}
    search = {"index": TEXT_INDEX_NAME, "compound": {"should": [
        {"text": {**words, "fuzzy": {"maxEdits": 1, "prefixLength": 1}}},
        {"text": {**words, "synonyms": SYNONYM_MAPPING, "matchCriteria": "any"}},
    ], "minimumShouldMatch": 1}}
    lexical = [{"$search": search}, {"$match": {"model": model, "deleted": False}}, {"$limit": k}]
    weights = weights or {"semantic": 1, "lexical": 1}
    return [
        {"$rankFusion": {"input": {"pipelines": {"semantic": [vector_stage(query_vector, model, k)],
                                                 "lexical": lexical}},
                         "combination": {"weights": {"semantic": weights["semantic"], "lexical": weights["lexical"]}},
                         "scoreDetails": True}},
        {"$limit": k},
        {"$project": {"product_id": 1, "details": {"$meta": "scoreDetails"}}},
    ]


def parse_fused(document: dict) -> FusedHit:
    """Read each input pipeline's rank (and the vector score) from `$rankFusion`'s scoreDetails."""
    ranks: dict[str, int] = {}
    cosine = None
    for detail in (document.get("details") or {}).get("details", []):
        signal = SIGNALS.get(detail.get("inputPipelineName", ""))
        rank = detail.get("rank")
        if signal is None or not rank:
            continue  # rank 0 or absent: the document did not come through that pipeline
        ranks[signal] = int(rank)
        if signal == "semantic" and detail.get("value") is not None:
            cosine = cosine_from_score(detail["value"])
    return FusedHit(str(document["product_id"]), ranks, cosine)


async def text_index(embeddings: AsyncCollection) -> dict | None:
    """The text index on `embeddings` (the product_embeddings collection) as the server lists it."""
    cursor = await embeddings.aggregate([{"$listSearchIndexes": {"name": TEXT_INDEX_NAME}}])
    found = await cursor.to_list()
    return found[0] if found else None


async def create_text_index(embeddings: AsyncCollection) -> str:
    """Create (or update) the Atlas Search index that `$rankFusion`'s text side reads."""
    name, db = embeddings.name, embeddings.database
    if await text_index(embeddings) is not None:
        await db.command({"updateSearchIndex": name, "name": TEXT_INDEX_NAME, "definition": TEXT_INDEX_DEFINITION})
        return "updated"
    await db.command({"createSearchIndexes": name, "indexes": [
        {"name": TEXT_INDEX_NAME, "type": "search", "definition": TEXT_INDEX_DEFINITION}]})
    return "created"
