"""Reciprocal rank fusion (Cormack, Clarke & Buettcher, 2009): combine rankings by rank, not score.

BM25 scores and cosine similarities live on different scales; RRF needs only each list's order.
A document's fused score is the sum over the rankings it appears in of weight / (k + rank), rank
counted from 1. k = 60 is the published default (and what MongoDB's `$rankFusion` uses); it was not
tuned on our evaluation set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

RRF_K = 60


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
