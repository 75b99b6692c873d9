"""Where the time of name search and product search goes, called in process without MCP (head office).

Each step is timed on its own, the way `semantic_search_products` and `get_products_by_name` run it: the
snapshot checks (catalog and synonyms: normally no I/O), the word side (BM25 with synonyms), the query's
embedding, the vector ranking, the fusion, confidence, the stock read, and the whole call. Not a test.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections import defaultdict

SEARCH_QUERIES = ("my toilet keeps running", "cut plywood sheets", "stain a deck", "hang a heavy mirror")
NAME_QUERIES = ("hammer", "drill", "paint", "hose")  # the main harness' lookups


async def breakdown(settings, iterations: int) -> dict[str, float]:
    """p50 in ms of each step, keyed 'search: ...' and 'name: ...'."""
    import numpy as np

    from zava_core.context import Zava
    from zava_core.retail import products, search
    from zava_core.retail.fusion import fuse, params_for
    from zava_core.retail.synonyms import word_scores
    from zava_core.scope import Scope

    zava = await Zava.open(dataclasses.replace(settings, embedding_backend="static"))
    parts: dict[str, list[float]] = defaultdict(list)

    def timed(name: str, started: float) -> float:
        now = time.perf_counter()
        parts[name].append((now - started) * 1000)
        return now

    try:
        scope = Scope.for_head_office((await zava.reference.get()).stores)
        await zava.search.prepare()
        for i in range(iterations + 2):
            if i == 2:
                parts.clear()  # two warm-up rounds
            text, name = SEARCH_QUERIES[i % 4], NAME_QUERIES[i % 4]
            t = time.perf_counter()
            catalog, table = await zava.catalog.get(), await zava.synonyms.get()
            t = timed("search: catalog and synonym snapshots (checks)", t)
            words = word_scores(catalog.lexical, catalog.titles, table, text)
            t = timed("search: BM25 with synonyms", t)
            vector = await zava.search.embed_query(search.meaning_text(catalog, text, words))
            t = timed("search: embed the query (spelling fixed, synonyms added)", t)
            _, by_vector = await zava.search.ranked(vector, len(catalog.products))
            t = timed("search: vector ranking (424 cosines)", t)
            cosine = np.full(len(catalog.products), -1.0, dtype=np.float32)
            for pid, value in by_vector:
                cosine[catalog.position[pid]] = value
            fused = fuse(catalog.lexical.keys, words.total, cosine, cosine * 100 >= 30.0,
                         params_for(zava.search.embedder.backend))
            t = timed("search: fusion", t)
            catalog.lexical.coverage(text)
            t = timed("search: confidence (word coverage)", t)
            await products.stock_units(zava, scope, [f.key for f in fused[:10]])
            timed("search: stock read, 10 products (live, inventory)", t)
            t = time.perf_counter()
            await search.semantic_search_products(zava, scope, text)
            timed("search: the whole call, in process", t)
            t = time.perf_counter()
            matches = products.match_products(await zava.catalog.get(), name)
            t = timed("name: match in the catalog index", t)
            await products.stock_units(zava, scope, [p["product_id"] for p in matches[:20]])
            timed("name: stock read, up to 20 products (live, inventory)", t)
            t = time.perf_counter()
            await products.find_products_by_name(zava, scope, name)
            timed("name: the whole call, in process", t)
        return {step: statistics.median(samples) for step, samples in parts.items()}
    finally:
        await zava.close()
