"""The vector side of product search: the embedder, and the index chosen from what the server offers.

Atlas `$vectorSearch` where the server has a ready vector index (and `$rankFusion` with `$search`
where it also has the text index, see `atlas_search`), else an exact in-memory cosine index over
`product_embeddings` (424 vectors: one matrix-vector product, microseconds).

Vectors of different models never mix: every path filters on the configured embedder's model id.
"""

from __future__ import annotations

import logging
import time

import anyio
import numpy as np
from pymongo.errors import OperationFailure

from zava_core.embeddings import Embedder
from zava_core.errors import NotFound
from zava_core.infra import db as zdb
from zava_core.retail import atlas_search
from zava_core.store import Collections, setup

RELOAD_SECONDS = 300.0
log = logging.getLogger(__name__)


class InMemoryIndex:
    """All product vectors of one model as a normalised matrix."""

    def __init__(self, product_ids: list[str], matrix: np.ndarray) -> None:
        self.product_ids = product_ids
        self.matrix = matrix

    def ranked(self, query: np.ndarray) -> list[tuple[str, float]]:
        """Every product, most similar first (ties in load order)."""
        scores = self.matrix @ query
        order = np.argsort(-scores, kind="stable")
        return [(self.product_ids[i], float(scores[i])) for i in order]


class SemanticSearch:
    """Per-process search state: the embedder, and the index chosen from what the server offers."""

    def __init__(self, collections: Collections, embedder: Embedder) -> None:
        self.collections = collections
        self.embedder = embedder
        self._index: InMemoryIndex | None = None
        self._atlas: bool | None = None  # a queryable vector index
        self._atlas_fusion: bool | None = None  # ... and a queryable text index on a server with $rankFusion
        self._loaded_at = 0.0
        self._warmed = False
        self._lock = anyio.Lock()

    @property
    def atlas(self) -> bool:
        return bool(self._atlas)

    @property
    def atlas_fusion(self) -> bool:
        return bool(self._atlas and self._atlas_fusion)

    async def prepare(self) -> None:
        """Load the embedder's model and pick the index (Atlas or in-memory); cheap once done."""
        if not self._warmed:
            await anyio.to_thread.run_sync(self.embedder_warm)
        if self._atlas is not None and (self._atlas or self._index_fresh()):
            return  # the common case: no lock, no thread hop
        async with self._lock:
            if self._atlas is None:
                self._atlas, self._atlas_fusion = await self._atlas_indexes_ready()
            if not self._atlas and not self._index_fresh():
                self._index = await self._load()
                self._loaded_at = time.monotonic()

    def _index_fresh(self) -> bool:
        return self._index is not None and time.monotonic() - self._loaded_at <= RELOAD_SECONDS

    def embedder_warm(self) -> None:
        warm = getattr(self.embedder, "embed_sync", None)
        if warm is not None and not self._warmed:
            warm(["warm up"])
        self._warmed = True

    async def embed_query(self, text: str) -> np.ndarray:
        return (await self.embedder.embed([text]))[0]

    async def _atlas_indexes_ready(self) -> tuple[bool, bool]:
        caps = await zdb.capabilities(self.collections.products)
        if not caps.search_indexes:
            return False, False
        index = await setup.vector_index(self.collections)
        if not (index and index.get("queryable")):
            return False, False
        text = await atlas_search.text_index(self.collections.product_embeddings)
        return True, bool(text and text.get("queryable")) and atlas_search.offers_rank_fusion(caps.server_version)

    async def _load(self) -> InMemoryIndex:
        embeddings, products = self.collections.product_embeddings, self.collections.products
        query = embeddings.unscoped(model=self.embedder.model)
        docs = await embeddings.find(query, {"product_id": 1, "embedding": 1}).to_list()
        if not docs:
            if await products.find_one(products.unscoped(), {"_id": 1}) is None:
                raise NotFound("the database holds no products: seed it first with `python -m seeding`")
            raise NotFound(f"no product embeddings for model {self.embedder.model!r}: run `python -m seeding embed`")
        matrix = np.asarray([d["embedding"] for d in docs], dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return InMemoryIndex([d["product_id"] for d in docs], matrix / np.where(norms == 0, 1, norms))

    async def ranked(self, query_vector: np.ndarray, k: int) -> tuple[str, list[tuple[str, float]]]:
        """(method, [(product_id, cosine)] best first): Atlas' top k, or every product from memory."""
        await self.prepare()
        if self._atlas:
            try:
                return "atlas-vector-search", await self._atlas_top(query_vector, k)
            except OperationFailure as exc:  # an index being rebuilt: answer from memory meanwhile
                log.warning("$vectorSearch failed (%s); using the in-memory index", exc.code)
                self._atlas = False
                await self.prepare()
        assert self._index is not None
        return "in-memory-exact", self._index.ranked(query_vector)

    async def _atlas_top(self, query_vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        pipeline = [atlas_search.vector_stage(query_vector, self.embedder.model, k),
                    {"$project": {"product_id": 1, "score": {"$meta": "vectorSearchScore"}}}]
        cursor = await self.collections.product_embeddings.aggregate(pipeline)
        return [(d["product_id"], atlas_search.cosine_from_score(d["score"])) async for d in cursor]

    async def atlas_fused(self, text: str, query_vector: np.ndarray, k: int,
                          weights: dict[str, float] | None = None) -> list[atlas_search.FusedHit] | None:
        """`$rankFusion` of `$vectorSearch` and `$search`, or None when the server cannot (then: in memory)."""
        if not self.atlas_fusion:
            return None
        pipeline = atlas_search.rank_fusion_pipeline(text, query_vector, self.embedder.model, k, weights)
        try:
            cursor = await self.collections.product_embeddings.aggregate(pipeline)
            return [atlas_search.parse_fused(d) async for d in cursor]
        except OperationFailure as exc:
            log.warning("$rankFusion failed (%s); fusing in memory", exc.code)
            self._atlas_fusion = False
            return None
