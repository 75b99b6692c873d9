"""Product search for shoppers' words: BM25 and vectors, fused by reciprocal rank (`hybrid`, the default).

- `lexical`: BM25 over name, description, specifications, type and category, with light stemming
  and typo tolerance (`lexical.py`), from the in-memory catalog (`catalog_index.py`).
- `semantic`: cosine similarity of the query's embedding to each product's (`vectors.py`).
- `hybrid`: both rankings fused by RRF (`fusion.py`). On Atlas with both search indexes the server
  does it (`$rankFusion`, `atlas_search.py`); elsewhere it happens in memory (424 products).

Hybrid embeds the query with misspelt words fixed first (`spelling.py`): a static embedding of a
typo is noise. `similarity_threshold` filters the semantic side only: a product that matches the words is kept
whatever its cosine, since misspellings and spec codes are exactly where embeddings are weak.
Every hit says which signals found it (`matched_by`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zava_core.context import Zava
from zava_core.errors import InvalidArgument
from zava_core.limits import SEMANTIC_QUERY_MAX_CHARS, SEMANTIC_QUERY_MIN_CHARS, SIMILARITY_THRESHOLD_DEFAULT
from zava_core.retail.catalog_index import CatalogSnapshot
from zava_core.retail.fusion import reciprocal_rank_fusion
from zava_core.retail.products import stock_by_product
from zava_core.retail.spelling import corrected_query
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta

SEARCH_MODES = ("hybrid", "semantic", "lexical")
Signal = Literal["lexical", "semantic"]
EMPTY_HINTS = {
    "hybrid": "nothing matched the words or passed the similarity threshold: lower it or rephrase",
    "semantic": "nothing above the similarity threshold: lower it or rephrase",
    "lexical": "no product has these words: rephrase, or use mode 'hybrid'",
}


class SemanticHit(Out):
    sku: str
    product_name: str
    category: str
    product_type: str
    price: float
    similarity_percent: float | None = Field(description="Cosine similarity x 100 (none in lexical mode)")
    matched_by: list[Signal] = Field(description="Which signals found it: the words (lexical), the meaning "
                                                 "(semantic, at or above the threshold), or both")
    stock_units: int = Field(description="Units on hand across the caller's stores")


class SemanticSearchResult(Out):
    query: str
    mode: str = Field(description="hybrid, semantic or lexical")
    method: str = Field(description="atlas-rank-fusion, atlas-vector-search, in-memory-rrf, in-memory-exact "
                                    "or in-memory-bm25")
    model: str | None = Field(description="The embedding model (none in lexical mode)")
    products: list[SemanticHit]
    meta: ListMeta


Ranked = list[tuple[str, set[str], float | None]]  # (product_id, signals, cosine), best first


def _checked_text(query_description: str) -> str:
    text = " ".join(str(query_description).split())
    if len(text) < SEMANTIC_QUERY_MIN_CHARS:
        raise InvalidArgument("query_description needs a few words, e.g. 'stop a running toilet'")
    if len(text) > SEMANTIC_QUERY_MAX_CHARS:
        raise InvalidArgument(f"query_description is limited to {SEMANTIC_QUERY_MAX_CHARS} characters")
    return text


async def rank_products(zava: Zava, text: str, mode: str, threshold: float,
                        catalog: CatalogSnapshot) -> tuple[str, Ranked]:
    """(method, ranking) for a query: the search itself, before scope, category and stock."""
    if mode == "lexical":
        return "in-memory-bm25", [(pid, {"lexical"}, None) for pid, _ in catalog.lexical.search(text)]
    search = zava.search
    # Hybrid embeds the query with its misspellings fixed ("cordles dril" -> "cordless drill"); semantic
    # mode embeds exactly what was typed. The query first, then the index: a provider that fails is the
    # error the caller must see, even where the stored vectors are missing too.
    vector = await search.embed_query(corrected_query(catalog.lexical, text) if mode == "hybrid" else text)
    await search.prepare()
    if mode == "hybrid" and (fused := await search.atlas_fused(text, vector, len(catalog.products))) is not None:
        return "atlas-rank-fusion", [
            (hit.product_id, set(hit.ranks) - ({"semantic"} if (hit.cosine or 0) * 100 < threshold else set()),
             hit.cosine) for hit in fused
            if "lexical" in hit.ranks or (hit.cosine is not None and hit.cosine * 100 >= threshold)]
    method, by_vector = await search.ranked(vector, len(catalog.products))
    cosine = dict(by_vector)
    semantic = [pid for pid, score in by_vector if score * 100 >= threshold]
    if mode == "semantic":
        return method, [(pid, {"semantic"}, cosine[pid]) for pid in semantic]
    lexical = [pid for pid, _ in catalog.lexical.search(text)]
    fused_in_memory = reciprocal_rank_fusion({"lexical": lexical, "semantic": semantic})
    return "in-memory-rrf", [(f.key, set(f.ranks), cosine.get(f.key)) for f in fused_in_memory]


async def semantic_search_products(zava: Zava, scope: Scope, query_description: str, max_rows: int = 10,
                                   similarity_threshold: float = SIMILARITY_THRESHOLD_DEFAULT,
                                   category: str | None = None, in_stock_only: bool = False,
                                   mode: str = "hybrid") -> SemanticSearchResult:
    limit, note = cap_rows(max_rows)
    text = _checked_text(query_description)
    if isinstance(similarity_threshold, bool) or not 0 <= float(similarity_threshold) <= 100:
        raise InvalidArgument("similarity_threshold is a percentage from 0 to 100 (30 is a good start)")
    if mode not in SEARCH_MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(SEARCH_MODES)} (hybrid is the default)")
    reference = await zava.reference.get()
    category_id = reference.category_id(category) if category else None
    catalog = await zava.catalog.get()
    method, ranked = await rank_products(zava, text, mode, float(similarity_threshold), catalog)
    hits = [(pid, signals, cos) for pid, signals, cos in ranked if pid in catalog.products
            and (category_id is None or catalog.products[pid]["category_id"] == category_id)]
    stock: dict[str, dict[str, int]] = {}
    if in_stock_only:
        # Check stock in rank order, a batch at a time, until enough in-stock hits are found.
        kept: Ranked = []
        batch = max(limit * 2, 20)
        for start in range(0, len(hits), batch):
            chunk = hits[start:start + batch]
            stock.update(await stock_by_product(zava, scope, [pid for pid, _, _ in chunk]))
            kept += [hit for hit in chunk if sum(stock.get(hit[0], {}).values()) > 0]
            if len(kept) > limit:
                break
        hits = kept
    shown = hits[:limit]
    if not in_stock_only:
        stock = await stock_by_product(zava, scope, [pid for pid, _, _ in shown])
    products = []
    for pid, signals, cos in shown:
        product = catalog.products[pid]
        products.append(SemanticHit(sku=product["sku"], product_name=product["product_name"],
                                    category=product["category_name"], product_type=product["type_name"],
                                    price=product["base_price"],
                                    similarity_percent=None if cos is None else round(cos * 100, 1),
                                    matched_by=sorted(signals), stock_units=sum(stock.get(pid, {}).values())))
    hint = None if products else EMPTY_HINTS[mode]
    model = None if mode == "lexical" else zava.search.embedder.model
    return SemanticSearchResult(query=text, mode=mode, method=method, model=model, products=products,
                                meta=list_meta(len(products), total=len(hits), notes=[note, hint]))
