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
    group: str = "analysis"  # lookup | analysis (questions.Question.group)
    # Per timed run, inside our server (its call_tool: the tool, the result's conversion and fence), without the
    # MCP round trip and the client's validation of the result against the tool's output schema.
    server_ms: Sequence[float] = ()


LOOKUP_GOAL = 3.0  # #29: every lookup at least this many times faster than the original (p50); the rest at least 1x


def goals(rows: Sequence[Row]) -> str:
    """The goals line under the table: which timed questions are at least as fast as the original (p50), and which
    lookups at least `LOOKUP_GOAL` times faster."""
    timed = [r for r in rows if r.ours_ms and r.original_ms]
    ratio = {id(r): percentile(r.original_ms, 50) / percentile(r.ours_ms, 50) for r in timed}
    slower = [r for r in timed if ratio[id(r)] < 1.0]
    lookups = [r for r in timed if r.group == "lookup"]
    short = [r for r in lookups if ratio[id(r)] < LOOKUP_GOAL]

    def names(missed: Sequence[Row]) -> str:
        return "" if not missed else " (missed: " + "; ".join(f"{r.question} as {r.identity}" for r in missed) + ")"

    return (f"Goals: at least as fast as the original on {len(timed) - len(slower)} of {len(timed)}{names(slower)}; "
            f"lookups at least {LOOKUP_GOAL:g}x faster: {len(lookups) - len(short)} of {len(lookups)}{names(short)}.")


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 1 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def render(rows: Sequence[Row], heading: str) -> str:
    lines = [heading, "",
             "| question | as | ours p50 | ours p95 | ours inside the server p50 | original p50 | original p95 "
             "| original / ours (p50) | answers |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row.ours_ms and row.original_ms:
            ours50, orig50 = percentile(row.ours_ms, 50), percentile(row.original_ms, 50)
            inside = _ms(percentile(row.server_ms, 50)) if row.server_ms else ""
            cells = [_ms(ours50), _ms(percentile(row.ours_ms, 95)), inside, _ms(orig50),
                     _ms(percentile(row.original_ms, 95)), ratio_text(ours50, orig50)]
        else:
            cells = ["", "", "", "", "", ""]
        lines.append(f"| {row.question} | {row.identity} | " + " | ".join(cells) + f" | {row.status} |")
    return "\n".join([*lines, "", goals(rows)]) + "\n"
