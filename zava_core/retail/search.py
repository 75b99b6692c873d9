"""Semantic product search: Atlas `$vectorSearch` where the server has a ready vector index, else an
exact in-memory cosine index over `product_embeddings` (424 vectors: a dot product, under 1 ms).

Vectors of different models never mix: both paths filter on the configured embedder's model id.
"""

from __future__ import annotations

import logging
import time

import anyio
import numpy as np
from pydantic import Field
from pymongo.errors import OperationFailure

from zava_core.context import Zava
from zava_core.embeddings import Embedder
from zava_core.errors import InvalidArgument, NotFound
from zava_core.infra import database_setup
from zava_core.infra import db as zdb
from zava_core.limits import SEMANTIC_QUERY_MAX_CHARS, SEMANTIC_QUERY_MIN_CHARS
from zava_core.model import VECTOR_INDEX_NAME
from zava_core.retail.products import stock_by_product
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta

RELOAD_SECONDS = 300.0
log = logging.getLogger(__name__)


class SemanticHit(Out):
    sku: str
    product_name: str
    category: str
    product_type: str
    price: float
    similarity_percent: float = Field(description="Cosine similarity x 100")
    stock_units: int = Field(description="Units on hand across the caller's stores")


class SemanticSearchResult(Out):
    query: str
    method: str = Field(description="atlas-vector-search or in-memory-exact")
    model: str
    products: list[SemanticHit]
    meta: ListMeta


class InMemoryIndex:
    """All product vectors of one model as a normalised matrix."""

    def __init__(self, product_ids: list[str], matrix: np.ndarray) -> None:
        self.product_ids = product_ids
        self.matrix = matrix

    def top(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        scores = self.matrix @ query
        order = np.argsort(-scores)[:k]
        return [(self.product_ids[i], float(scores[i])) for i in order]


class SemanticSearch:
    """Per-process search state: the embedder, and the index chosen from what the server offers."""

    def __init__(self, zava: Zava, embedder: Embedder) -> None:
        self.zava = zava
        self.embedder = embedder
        self._index: InMemoryIndex | None = None
        self._atlas: bool | None = None
        self._loaded_at = 0.0
        self._lock = anyio.Lock()

    async def prepare(self) -> None:
        """Load the embedder's model and pick the index (Atlas or in-memory); cheap once done."""
        await anyio.to_thread.run_sync(self.embedder_warm)
        async with self._lock:
            if self._atlas is None:
                self._atlas = await self._atlas_index_ready()
            if not self._atlas and (self._index is None or time.monotonic() - self._loaded_at > RELOAD_SECONDS):
                self._index = await self._load()
                self._loaded_at = time.monotonic()

    def embedder_warm(self) -> None:
        warm = getattr(self.embedder, "embed_sync", None)
        if warm is not None and not getattr(self, "_warmed", False):
            warm(["warm up"])
            self._warmed = True

    async def _atlas_index_ready(self) -> bool:
        caps = await zdb.capabilities(self.zava.db)
        if not caps.search_indexes:
            return False
        index = await database_setup.vector_index(self.zava.db)
        return bool(index and index.get("queryable"))

    async def _load(self) -> InMemoryIndex:
        query = {"model": self.embedder.model, "deleted": False}
        docs = await self.zava.db["product_embeddings"].find(query, {"product_id": 1, "embedding": 1}).to_list()
        if not docs:
            if await self.zava.db["products"].find_one({"deleted": False}, {"_id": 1}) is None:
                raise NotFound("the database holds no products: seed it first with `python -m seeding`")
            raise NotFound(f"no product embeddings for model {self.embedder.model!r}: run `python -m seeding embed`")
        matrix = np.asarray([d["embedding"] for d in docs], dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return InMemoryIndex([d["product_id"] for d in docs], matrix / np.where(norms == 0, 1, norms))

    async def candidates(self, query_vector: np.ndarray, k: int) -> tuple[str, list[tuple[str, float]]]:
        await self.prepare()
        if self._atlas:
            try:
                return "atlas-vector-search", await self._atlas_top(query_vector, k)
            except OperationFailure as exc:  # an index being rebuilt: answer from memory meanwhile
                log.warning("$vectorSearch failed (%s); using the in-memory index", exc.code)
                self._atlas = False
                await self.prepare()
        assert self._index is not None
        return "in-memory-exact", self._index.top(query_vector, k)

    async def _atlas_top(self, query_vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        pipeline = [
            {"$vectorSearch": {"index": VECTOR_INDEX_NAME, "path": "embedding", "queryVector": query_vector.tolist(),
                               "numCandidates": max(100, k * 10), "limit": k,
                               "filter": {"model": self.embedder.model, "deleted": False}}},
            {"$project": {"product_id": 1, "score": {"$meta": "vectorSearchScore"}}},
        ]
        cursor = await self.zava.db["product_embeddings"].aggregate(pipeline)
        # dotProduct scores are (1 + cosine) / 2 on normalised vectors.
        return [(d["product_id"], 2 * float(d["score"]) - 1) async for d in cursor]


async def semantic_search_products(zava: Zava, scope: Scope, query_description: str, max_rows: int = 10,
                                   similarity_threshold: float = 30, category: str | None = None,
                                   in_stock_only: bool = False) -> SemanticSearchResult:
    limit, note = cap_rows(max_rows)
    text = " ".join(str(query_description).split())
    if len(text) < SEMANTIC_QUERY_MIN_CHARS:
        raise InvalidArgument("query_description needs a few words, e.g. 'stop a running toilet'")
    if len(text) > SEMANTIC_QUERY_MAX_CHARS:
        raise InvalidArgument(f"query_description is limited to {SEMANTIC_QUERY_MAX_CHARS} characters")
    if isinstance(similarity_threshold, bool) or not 0 <= float(similarity_threshold) <= 100:
        raise InvalidArgument("similarity_threshold is a percentage from 0 to 100 (30 is a good start)")
    reference = await zava.reference.get()
    category_id = reference.category_id(category) if category else None
    search = zava.search
    vector = (await search.embedder.embed([text]))[0]
    method, ranked = await search.candidates(vector, len(reference.products))
    hits = [(pid, score) for pid, score in ranked
            if score * 100 >= float(similarity_threshold) and pid in reference.products
            and (category_id is None or reference.products[pid]["category_id"] == category_id)]
    stock: dict[str, dict[str, int]] = {}
    if in_stock_only:
        # Check stock in rank order, a batch at a time, until enough in-stock hits are found.
        kept: list[tuple[str, float]] = []
        batch = max(limit * 2, 20)
        for start in range(0, len(hits), batch):
            chunk = hits[start:start + batch]
            stock.update(await stock_by_product(zava, scope, [pid for pid, _ in chunk]))
            kept += [(pid, s) for pid, s in chunk if sum(stock.get(pid, {}).values()) > 0]
            if len(kept) > limit:
                break
        hits = kept
    shown = hits[:limit]
    if not in_stock_only:
        stock = await stock_by_product(zava, scope, [pid for pid, _ in shown])
    products = []
    for pid, score in shown:
        product = reference.products[pid]
        products.append(SemanticHit(sku=product["sku"], product_name=product["product_name"],
                                    category=product["category_name"], product_type=product["type_name"],
                                    price=product["base_price"], similarity_percent=round(score * 100, 1),
                                    stock_units=sum(stock.get(pid, {}).values())))
    hint = None if products else "nothing above the similarity threshold: lower it or rephrase"
    return SemanticSearchResult(query=text, method=method, model=search.embedder.model, products=products,
                                meta=list_meta(len(products), total=len(hits), notes=[note, hint]))
