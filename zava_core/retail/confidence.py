"""When search has no good answer, say so: which hits are weak, and which product types to offer instead (pure).

A hit is confident when any one piece of evidence is strong:
- a synonym mapping the query triggered names it (a curated "what shoppers call it / the job it does" match);
- its document holds most of the query's words (`coverage` >= `min_coverage`; misspellings read as corrected);
- its cosine to the query reaches `min_cosine` (not in lexical mode: there is no embedding).
Otherwise it is low-confidence. The result's confidence is its best hit's; "none" when nothing matched.

The thresholds are chosen per embedding backend on the train half of the evaluation set (graded queries, and
queries for things Zava does not sell) by `python -m bench search-tune`, and reported on the test half in
docs/search.md.

Suggestions, for a result that is empty or low-confidence: up to `MAX_SUGGESTIONS` product types (only types
that have products), in this order: the types the triggered synonym mappings were written for, the types whose
products are nearest in meaning on average, then the types of the best hits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class ConfidenceRule:
    min_coverage: float | None  # None: the words alone never vouch for a hit
    min_cosine: float | None  # None: the meaning alone never vouches for a hit

    def confident(self, coverage: float, named_by_synonym: bool, cosine: float | None) -> bool:
        if named_by_synonym or (self.min_coverage is not None and coverage >= self.min_coverage):
            return True
        return self.min_cosine is not None and cosine is not None and cosine >= self.min_cosine


# Chosen on the train half (2026-12-07, `python -m bench search-tune`): the most queries without a good answer
# flagged while at least 95 % of good answers stay high. With an embedding, word coverage added nothing there.
TUNED: dict[str, ConfidenceRule] = {
    "lexical": ConfidenceRule(0.67, None),
    "static": ConfidenceRule(None, 0.6),
    "onnx-minilm": ConfidenceRule(None, 0.55),
}
DEFAULT = TUNED["lexical"]  # a backend never tuned here (openai, azure-openai): the words alone decide


def rule_for(mode: str, backend: str | None) -> ConfidenceRule:
    if mode == "lexical" or backend is None:
        return TUNED["lexical"]
    return TUNED.get(backend, DEFAULT)


def suggest_types(types: Sequence[str], synonym_types: Iterable[str | None], cosine: np.ndarray | None,
                  ranked: Sequence[int], limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Nearest product types: `types[i]` is product i's type; `cosine` per product (or None); `ranked` the hits'
    positions, best first."""
    out: list[str] = []
    known = set(types)

    def add(candidates: Iterable[str | None]) -> None:
        for t in candidates:
            if t and t in known and t not in out and len(out) < limit:
                out.append(t)

    add(synonym_types)
    if cosine is not None and len(cosine):
        by_type: dict[str, list[float]] = {}
        for t, c in zip(types, cosine, strict=True):
            by_type.setdefault(t, []).append(float(c))
        add(sorted(by_type, key=lambda t: (-float(np.mean(by_type[t])), t)))
    add(types[i] for i in ranked)
    return out
