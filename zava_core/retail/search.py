"""Product search for shoppers' words: BM25 with synonyms, and vectors, fused (`hybrid`, the default).

- `lexical`: BM25 over name, description, specifications, type and category, with light stemming, typo
  tolerance (`lexical.py`) and the synonym mappings of `search_synonyms` (`synonyms.py`), from the
  in-memory catalog (`catalog_index.py`).
- `semantic`: cosine similarity of the query's embedding to each product's (`vectors.py`), as typed.
- `hybrid`: both, fused by the method and weights chosen for the embedding backend on the train half of
  the evaluation set (`fusion.py`). Its meaning side embeds the query with misspellings fixed and the
  catalog phrases its synonyms found ("my toilet keeps running; toilet flapper"). On Atlas with both
  search indexes the server fuses (`$rankFusion`, `atlas_search.py`); elsewhere it happens in memory.

`similarity_threshold` filters the semantic side only: a product that matches the words is kept whatever
its cosine. Every hit says which signals found it (`matched_by`) and whether it is a confident match
(`confidence.py`); an empty or low-confidence result suggests product types, and (from the store-facing
server) is counted per store for merchandisers (`search_misses.py`). Stock comes from one function,
`products.stock_units`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from zava_core import hints
from zava_core.context import Zava
from zava_core.errors import InvalidArgument
from zava_core.limits import SEMANTIC_QUERY_MAX_CHARS, SEMANTIC_QUERY_MIN_CHARS, SIMILARITY_THRESHOLD_DEFAULT
from zava_core.retail import confidence
from zava_core.retail.catalog_index import CatalogSnapshot
from zava_core.retail.fusion import fuse, params_for
from zava_core.retail.products import stock_units
from zava_core.retail.spelling import corrected_query
from zava_core.retail.synonyms import SynonymTable, WordScores, word_scores
from zava_core.scope import Scope
from zava_core.shaping import ListMeta, Out, cap_rows, list_meta

SEARCH_MODES = ("hybrid", "semantic", "lexical")
MAX_UNDERSTOOD_AS = 5
Signal = Literal["lexical", "semantic"]
LOW_CONFIDENCE_HINT = "no confident match: these are the nearest products; suggested_product_types may fit better"


class SemanticHit(Out):
    sku: str
    product_name: str
    category: str
    product_type: str
    price: float
    similarity_percent: float | None = Field(description="Cosine similarity x 100 (none in lexical mode)")
    matched_by: list[Signal] = Field(description="Which signals found it: the words (lexical), the meaning "
                                                 "(semantic, at or above the threshold), or both")
    confidence: Literal["high", "low"] = Field(description="high: the words, a synonym or the meaning clearly "
                                                           "match; low: a weak match, check it fits")
    stock_units: int = Field(description="Units on hand across the caller's stores")


class SemanticSearchResult(Out):
    query: str
    mode: str = Field(description="hybrid, semantic or lexical")
    method: str = Field(description="atlas-rank-fusion, atlas-vector-search, in-memory-fusion, in-memory-exact "
                                    "or in-memory-bm25")
    model: str | None = Field(description="The embedding model (none in lexical mode)")
    confidence: Literal["high", "low", "none"] = Field(description="The best hit's confidence; none: no hit")
    understood_as: list[str] = Field(description="Catalog phrases also searched because the query used a "
                                                 "shopper's word or described a job (synonym mappings)")
    suggested_product_types: list[str] = Field(description="When confidence is low or none: the nearest "
                                                           "product types to browse")
    products: list[SemanticHit]
    meta: ListMeta


@dataclass
class Ranking:
    """The search itself, before scope, category and stock."""

    method: str
    hits: list[tuple[str, set[str], float | None]]  # (product_id, signals, cosine), best first
    words: WordScores
    cosine: np.ndarray | None  # per product, aligned with the catalog's BM25 document order


def _checked_text(query_description: str) -> str:
    text = " ".join(str(query_description).split())
    if len(text) < SEMANTIC_QUERY_MIN_CHARS:
        raise InvalidArgument("query_description needs a few words, e.g. 'stop a running toilet'")
    if len(text) > SEMANTIC_QUERY_MAX_CHARS:
        raise InvalidArgument(f"query_description is limited to {SEMANTIC_QUERY_MAX_CHARS} characters")
    return text


def meaning_text(catalog: CatalogSnapshot, text: str, words: WordScores) -> str:
    """What hybrid embeds: the query with misspellings fixed, then the catalog phrases its synonyms found."""
    extra = "; ".join(dict.fromkeys(t for e in words.expansions for t in e.texts))
    fixed = corrected_query(catalog.lexical, text)
    return f"{fixed}; {extra}" if extra else fixed


async def rank_products(zava: Zava, text: str, mode: str, threshold: float, catalog: CatalogSnapshot,
                        table: SynonymTable) -> Ranking:
    words = word_scores(catalog.lexical, catalog.titles, table, text)
    keys = catalog.lexical.keys
    if mode == "lexical":
        order = [i for i in np.argsort(-words.total, kind="stable") if words.total[i] > 0]
        return Ranking("in-memory-bm25", [(keys[i], {"lexical"}, None) for i in order], words, None)
    search = zava.search
    # The query first, then the index: a provider that fails is the error the caller must see, even where the
    # stored vectors are missing too.
    vector = await search.embed_query(meaning_text(catalog, text, words) if mode == "hybrid" else text)
    await search.prepare()
    params = params_for(search.embedder.backend)
    if mode == "hybrid" and (fused := await search.atlas_fused(text, vector, len(keys), params.weights)) is not None:
        hits = [(hit.product_id, set(hit.ranks) - ({"semantic"} if (hit.cosine or 0) * 100 < threshold else set()),
                 hit.cosine) for hit in fused
                if "lexical" in hit.ranks or (hit.cosine is not None and hit.cosine * 100 >= threshold)]
        return Ranking("atlas-rank-fusion", hits, words, None)
    method, by_vector = await search.ranked(vector, len(keys))
    cosine = np.full(len(keys), -1.0, dtype=np.float32)
    for pid, value in by_vector:
        if (i := catalog.position.get(pid)) is not None:
            cosine[i] = value
    if mode == "semantic":
        hits = [(pid, {"semantic"}, value) for pid, value in by_vector
                if value * 100 >= threshold and pid in catalog.position]
        return Ranking(method, hits, words, cosine)
    fused_hits = fuse(keys, words.total, cosine, cosine * 100 >= threshold, params)
    return Ranking("in-memory-fusion", [(f.key, set(f.ranks), float(cosine[catalog.position[f.key]]))
                                        for f in fused_hits], words, cosine)


def _confident(catalog: CatalogSnapshot, ranking: Ranking, coverage: np.ndarray, rule: confidence.ConfidenceRule,
               pid: str, cosine: float | None) -> bool:
    i = catalog.position[pid]
    return rule.confident(float(coverage[i]), bool(ranking.words.from_synonyms[i] > 0), cosine)


async def semantic_search_products(zava: Zava, scope: Scope, query_description: str, max_rows: int = 10,
                                   similarity_threshold: float = SIMILARITY_THRESHOLD_DEFAULT,
                                   category: str | None = None, in_stock_only: bool = False,
                                   mode: str = "hybrid", record_misses: bool = False) -> SemanticSearchResult:
    """`record_misses`: count an empty or low-confidence result in `search_misses` (the store-facing server)."""
    limit, note = cap_rows(max_rows)
    text = _checked_text(query_description)
    if isinstance(similarity_threshold, bool) or not 0 <= float(similarity_threshold) <= 100:
        raise InvalidArgument("similarity_threshold is a percentage from 0 to 100 (30 is a good start)")
    if mode not in SEARCH_MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(SEARCH_MODES)} (hybrid is the default)")
    reference = await zava.reference.get()
    category_id = reference.category_id(category) if category else None
    catalog = await zava.catalog.get()
    ranking = await rank_products(zava, text, mode, float(similarity_threshold), catalog, await zava.synonyms.get())
    hits = [hit for hit in ranking.hits if hit[0] in catalog.position
            and (category_id is None or catalog.products[hit[0]]["category_id"] == category_id)]
    stock: dict[str, int] = {}
    if in_stock_only:
        # Check stock in rank order, a batch at a time, until enough in-stock hits are found.
        kept = []
        batch = max(limit * 2, 20)
        for start in range(0, len(hits), batch):
            chunk = hits[start:start + batch]
            stock.update(await stock_units(zava, scope, [pid for pid, _, _ in chunk]))
            kept += [hit for hit in chunk if stock.get(hit[0], 0) > 0]
            if len(kept) > limit:
                break
        hits = kept
    shown = hits[:limit]
    if not in_stock_only:
        stock = await stock_units(zava, scope, [pid for pid, _, _ in shown])
    model = None if mode == "lexical" else zava.search.embedder.model
    rule = confidence.rule_for(mode, None if mode == "lexical" else zava.search.embedder.backend)
    coverage = catalog.lexical.coverage(text)
    products = []
    for pid, signals, cos in shown:
        product = catalog.products[pid]
        products.append(SemanticHit(
            sku=product["sku"], product_name=product["product_name"], category=product["category_name"],
            product_type=product["type_name"], price=product["base_price"],
            similarity_percent=None if cos is None else round(cos * 100, 1), matched_by=sorted(signals),
            confidence="high" if _confident(catalog, ranking, coverage, rule, pid, cos) else "low",
            stock_units=stock.get(pid, 0)))
    level = products[0].confidence if products else "none"
    suggested: list[str] = []
    if level != "high":
        suggested = confidence.suggest_types(catalog.types, (e.product_type for e in ranking.words.expansions),
                                             ranking.cosine, [catalog.position[pid] for pid, _, _ in hits[:10]])
        if record_misses:
            zava.misses.record(zava.collections.search_misses, scope, text, not products, suggested)
    hint = hints.SEARCH_EMPTY[mode]() if not products else LOW_CONFIDENCE_HINT if level == "low" else None
    understood = list(dict.fromkeys(t for e in ranking.words.expansions for t in e.texts))[:MAX_UNDERSTOOD_AS]
    return SemanticSearchResult(query=text, mode=mode, method=ranking.method, model=model, confidence=level,
                                understood_as=understood, suggested_product_types=suggested, products=products,
                                meta=list_meta(len(products), total=len(hits), notes=[note, hint]))
