"""Fusing the word ranking (BM25) and the meaning ranking (cosine) into one list (pure, no I/O).

Two ways, both weighted:
- `rrf`: reciprocal rank fusion (Cormack, Clarke & Buettcher, 2009). A product's score is the sum over the
  rankings it is in of weight / (k + rank), rank counted from 1. Scales do not matter, only order.
- `max`: score-normalised fusion. BM25 is divided by the query's best BM25, the cosine by the query's best
  cosine, and the two are mixed: w * words + (1 - w) * meaning. A product missing from a ranking scores 0 on
  that side.

Which one, and with what weights, is chosen per embedding backend on the train half of the evaluation set
only (`python -m bench search-tune`; docs/search.md) and recorded in `TUNED`. Equal-weight RRF with k = 60,
the published default that hybrid search used before, scored below BM25 alone on MRR@10: the static
embedding is the weaker ranker and RRF gave it an equal vote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

RRF_K = 60
Method = Literal["rrf", "max"]


@dataclass(frozen=True)
class FusionParams:
    method: Method
    lexical_weight: float  # the meaning side weighs 1 - lexical_weight
    k: int = RRF_K  # rrf only

    @property
    def weights(self) -> dict[str, float]:
        return {"lexical": self.lexical_weight, "semantic": round(1 - self.lexical_weight, 6)}


# Chosen on the train half (2026-12-07, `python -m bench search-tune`): among the fusions at least as good as both
# signals, the one least likely to lose to BM25 on resampled queries (docs/search.md). The static embedding is the
# weaker ranker: at w = 0.95 it reorders only products whose BM25 scores are within a few percent of each other.
TUNED: dict[str, FusionParams] = {
    "static": FusionParams("max", 0.95),
    "onnx-minilm": FusionParams("max", 0.8),
}
DEFAULT = FusionParams("rrf", 0.5)  # a backend never tuned here (openai, azure-openai): equal-weight RRF


def params_for(backend: str) -> FusionParams:
    return TUNED.get(backend, DEFAULT)


@dataclass(frozen=True)
class Fused:
    key: str
    score: float
    ranks: dict[str, int] = field(default_factory=dict)  # signal -> 1-based rank in that signal's list

    @property
    def signals(self) -> list[str]:
        return sorted(self.ranks)


def reciprocal_rank_fusion(rankings: Mapping[str, Sequence[str]], k: int = RRF_K,
                           weights: Mapping[str, float] | None = None) -> list[Fused]:
    """Fuse named rankings (best first, keys unique within each) into one list, best first.

    Ties (equal fused score) go to the document with the better single rank, then to the key, so the
    order is deterministic.
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    for signal, keys in rankings.items():
        weight = 1.0 if weights is None else float(weights.get(signal, 1.0))
        for rank, key in enumerate(keys, 1):
            if signal in ranks.get(key, {}):
                continue  # a key listed twice keeps its better rank
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
            ranks.setdefault(key, {})[signal] = rank
    order = sorted(scores, key=lambda key: (-scores[key], min(ranks[key].values()), key))
    return [Fused(key, scores[key], ranks[key]) for key in order]


def fuse(keys: Sequence[str], lexical: np.ndarray, cosine: np.ndarray, semantic_ok: np.ndarray,
         params: FusionParams) -> list[Fused]:
    """Fuse per-product arrays (aligned with `keys`): BM25 scores (0 = no word matched), cosines, and which
    products pass the similarity threshold. A product is in the result if its words matched or it passed."""
    lexical_order = [i for i in np.argsort(-lexical, kind="stable") if lexical[i] > 0]
    semantic_order = [i for i in np.argsort(-cosine, kind="stable") if semantic_ok[i]]
    if params.method == "rrf":
        return reciprocal_rank_fusion({"lexical": [keys[i] for i in lexical_order],
                                       "semantic": [keys[i] for i in semantic_order]}, params.k, params.weights)
    ranks: dict[int, dict[str, int]] = {}
    for signal, order in (("lexical", lexical_order), ("semantic", semantic_order)):
        for rank, i in enumerate(order, 1):
            ranks.setdefault(int(i), {})[signal] = rank
    words = lexical / lexical.max() if lexical_order else np.zeros_like(lexical)
    top_cosine = max((float(cosine[i]) for i in semantic_order), default=0.0)
    meaning = np.zeros_like(words)
    if top_cosine > 0:
        meaning = np.where(semantic_ok, np.clip(cosine, 0, None) / top_cosine, 0.0)
    mixed = params.lexical_weight * words + (1 - params.lexical_weight) * meaning
    order = sorted(ranks, key=lambda i: (-mixed[i], min(ranks[i].values()), keys[i]))
    return [Fused(keys[i], float(mixed[i]), ranks[i]) for i in order]
