"""The side-by-side table (pure): percentiles, the ratio, markdown."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample; p50 of an even count is the upper middle."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not in 0..100")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ratio_text(ours_ms: float, original_ms: float) -> str:
    """How many times faster ours is: the original's time over ours, e.g. `14.2x` (below 1x: ours is slower)."""
    if ours_ms <= 0 or original_ms <= 0:
        raise ValueError("times must be positive")
    ratio = original_ms / ours_ms
    return f"{ratio:.1f}x" if ratio >= 0.1 else f"{ratio:.2f}x"


@dataclass(frozen=True)
class Row:
    question: str
    identity: str  # head office | Seattle manager
    ours_ms: Sequence[float] = ()
    original_ms: Sequence[float] = ()
    status: str = "same"  # same | MISMATCH | not compared: <why>


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def render(rows: Sequence[Row], heading: str) -> str:
    lines = [heading, "",
             "| question | as | ours p50 | ours p95 | original p50 | original p95 | original / ours (p50) | answers |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row.ours_ms and row.original_ms:
            ours50, orig50 = percentile(row.ours_ms, 50), percentile(row.original_ms, 50)
            cells = [_ms(ours50), _ms(percentile(row.ours_ms, 95)), _ms(orig50),
                     _ms(percentile(row.original_ms, 95)), ratio_text(ours50, orig50)]
        else:
            cells = ["", "", "", "", ""]
        lines.append(f"| {row.question} | {row.identity} | " + " | ".join(cells) + f" | {row.status} |")
    return "\n".join(lines) + "\n"
