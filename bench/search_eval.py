"""The search evaluation set (tests/data/search_eval.json): its queries, its frozen train/test split and
its metrics. Pure: no database, no server.

The split (docs/search.md, "The evaluation set"): every query carries `half`, `train` or `test`,
assigned once by `assign_halves` and frozen on `FROZEN_ON`. Tuning reads the train half only
(`load_eval(half="train")`); the test half is measured, never tuned on. `frozen_half_digest` hashes the
test half's queries and grades, and the set records that digest: a unit test fails if a test query or
its grade is changed after the freeze. Queries added later go to the train half.

Metrics (per query, then averaged):
- recall@5: the share of the query's exact answers in the top 5, out of min(5, number of exact answers);
- MRR@10: 1/rank of the first answer in the top 10, an acceptable answer counting half (0 if none);
- hit@5: 1 if any exact answer is in the top 5.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

EVAL_PATH = Path(__file__).resolve().parents[1] / "tests" / "data" / "search_eval.json"
HALVES = ("train", "test")
FROZEN_ON = "2026-12-07"
SPLIT_SALT = "zava-search-split"


@dataclasses.dataclass(frozen=True)
class EvalQuery:
    id: str
    category: str
    kind: str
    query: str
    exact: tuple[str, ...]  # SKUs or product type names
    acceptable: tuple[str, ...]
    half: str = "train"


@dataclasses.dataclass(frozen=True)
class Unanswerable:
    """A query for something the catalog does not sell: search should say it has no good answer."""
    id: str
    query: str
    half: str = "train"


def _document(path: Path = EVAL_PATH) -> dict:
    return json.loads(path.read_text())


def load_eval(path: Path = EVAL_PATH, half: str | None = None) -> list[EvalQuery]:
    """The graded queries, all or one half."""
    if half is not None and half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}")
    queries = [EvalQuery(q["id"], q["category"], q["kind"], q["query"], tuple(q["exact"]), tuple(q["acceptable"]),
                         q.get("half", "train")) for q in _document(path)["queries"]]
    return [q for q in queries if half is None or q.half == half]


def load_unanswerable(path: Path = EVAL_PATH, half: str | None = None) -> list[Unanswerable]:
    items = [Unanswerable(u["id"], u["query"], u.get("half", "train")) for u in _document(path).get("unanswerable", [])]
    return [u for u in items if half is None or u.half == half]


def recorded_digest(path: Path = EVAL_PATH) -> str:
    return _document(path)["split"]["test_half_sha256"]


def _split_key(item_id: str) -> str:
    return hashlib.sha256(f"{SPLIT_SALT}:{item_id}".encode()).hexdigest()


def assign_halves(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{id: half} for (id, stratum) pairs: within each stratum (a query's kind), ids are ordered by a salted
    hash and alternate train, test, train, ... so each kind splits evenly (train gets the odd one)."""
    strata: dict[str, list[str]] = defaultdict(list)
    for item_id, stratum in items:
        strata[stratum].append(item_id)
    out: dict[str, str] = {}
    for ids in strata.values():
        for position, item_id in enumerate(sorted(ids, key=_split_key)):
            out[item_id] = HALVES[position % 2]
    return out


def frozen_half_digest(queries: Iterable[EvalQuery], unanswerable: Iterable[Unanswerable] = ()) -> str:
    """SHA-256 of the test half as graded: ids, texts, kinds and answers, in id order."""
    rows = sorted([[q.id, q.kind, q.query, sorted(q.exact), sorted(q.acceptable)] for q in queries if q.half == "test"]
                  + [[u.id, "unanswerable", u.query, [], []] for u in unanswerable if u.half == "test"])
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def expand(targets: tuple[str, ...], skus_by_type: dict[str, set[str]]) -> set[str]:
    """SKUs named by a grade: a SKU stands for itself, a product type for every product of the type."""
    out: set[str] = set()
    for target in targets:
        out |= skus_by_type.get(target, {target})
    return out


def score(ranked_skus: list[str], exact: set[str], acceptable: set[str]) -> dict[str, float]:
    """recall@5, MRR@10 (acceptable = half) and hit@5 of one ranking (module docstring)."""
    top5 = ranked_skus[:5]
    recall = len(exact & set(top5)) / min(5, len(exact)) if exact else 0.0
    mrr = 0.0
    for rank, sku in enumerate(ranked_skus[:10], 1):
        gain = 1.0 if sku in exact else 0.5 if sku in acceptable - exact else 0.0
        mrr = max(mrr, gain / rank)
    return {"recall@5": recall, "mrr@10": mrr, "hit@5": float(bool(exact & set(top5)))}


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.fmean(r[key] for r in rows) for key in rows[0]} if rows else {}
