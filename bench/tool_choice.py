"""The tool-choice evaluation set (tests/data/tool_choice.json, written by scripts/build_tool_choice_set.py):
its cases, how a model's calls are scored against them, and where a case's key figure sits in a tool's result.

Scoring, per case (the best of its call sequences: `calls` and each of `alternatives`):
- tool choice: every expected call that is not optional was made (its tool, as often as expected), and no
  other tool was called except `get_current_utc_date`;
- arguments: the tool choice is right and each expected call has a made call of its tool whose arguments
  match: every argument the case gives and does not let vary has the same value (store names, category and
  SKU case, a single value or a one-item list, dates by their day are compared leniently), and nothing
  else was passed;
- answer (cases with a key figure): the final answer states the figure the expected calls return.

Pure functions: the suite (tests/integration/test_tool_choice_set.py) and `python -m bench agents` share them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_servers.tools.table import TOOLS

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "tool_choice.json"
PERSONAS = ("store_manager", "analyst", "sales_rep", "stock_worker")
HELPERS = frozenset({"get_current_utc_date"})  # may be called in any case without making the choice wrong
COUNTS = frozenset({"units", "orders", "stock_level"})


@dataclass(frozen=True)
class Call:
    tool: str
    arguments: dict[str, Any]
    vary: frozenset[str] = frozenset()
    optional: bool = False


@dataclass(frozen=True)
class Case:
    id: str
    persona: str
    identity: str  # "head-office" or "store:<name>"
    message: str
    calls: tuple[Call, ...]
    alternatives: tuple[tuple[Call, ...], ...] = ()
    figure: dict[str, Any] | None = None

    @property
    def sequences(self) -> tuple[tuple[Call, ...], ...]:
        return (self.calls, *self.alternatives)

    @property
    def writes(self) -> bool:
        return any(call.tool in WRITING_TOOLS for sequence in self.sequences for call in sequence)


WRITING_TOOLS = frozenset(spec.name.value for spec in TOOLS if spec.access.writes)


def _call(raw: dict[str, Any]) -> Call:
    return Call(raw["tool"], raw["arguments"], frozenset(raw.get("vary", ())), bool(raw.get("optional")))


def load_cases(path: Path = DATA) -> list[Case]:
    doc = json.loads(path.read_text())
    return [Case(c["id"], c["persona"], c["identity"], c["message"], tuple(_call(x) for x in c["calls"]),
                 tuple(tuple(_call(x) for x in seq) for seq in c.get("alternatives", ())), c.get("figure"))
            for c in doc["cases"]]


# --- scoring ---------------------------------------------------------------------------------------------------


def _normal(name: str, value: Any) -> Any:
    """A value as compared: names without case or the store prefixes, one value as a one-item list, days."""
    if isinstance(value, list):
        items = [_normal(name, v) for v in value]
        return sorted(items, key=json.dumps) if all(not isinstance(i, dict) for i in items) else items
    if isinstance(value, dict):
        return {k: _normal(k, v) for k, v in sorted(value.items())}
    if isinstance(value, str):
        text = " ".join(value.lower().split())
        if name.endswith("_date"):
            return text[:10]
        if name in ("store", "stores", "from_store", "to_store"):
            return text.removeprefix("zava retail ").removeprefix("store_")
        return text
    return value


def _same(name: str, expected: Any, made: Any) -> bool:
    listed = ("group_by", "metrics", "stores", "categories", "product_types", "skus", "collections")
    if name in listed:
        expected = expected if isinstance(expected, list) else [expected]
        made = made if isinstance(made, list) else [made]
    return _normal(name, expected) == _normal(name, made)


def arguments_match(expected: Call, made: dict[str, Any]) -> bool:
    for name, value in expected.arguments.items():
        if name in expected.vary:
            continue
        if name not in made or not _same(name, value, made[name]):
            return False
    allowed = set(expected.arguments) | expected.vary
    return all(name in allowed for name in made)


@dataclass
class Score:
    tool_choice: bool
    arguments: bool
    answer: bool | None = None  # None: the case has no key figure
    detail: list[str] = field(default_factory=list)


def score_calls(case: Case, made: list[tuple[str, dict[str, Any]]]) -> Score:
    """How the calls a model made answer `case` (the best of its call sequences)."""
    best = Score(False, False, detail=["no call sequence matched"])
    made_tools = Counter(tool for tool, _ in made)
    for sequence in case.sequences:
        required = [call for call in sequence if not call.optional]
        needed = Counter(call.tool for call in required)
        known = {call.tool for call in sequence} | HELPERS
        tools_ok = all(made_tools[t] >= n for t, n in needed.items()) and all(t in known for t in made_tools)
        if not tools_ok:
            continue
        unmatched = [call.tool for call in required
                     if not any(tool == call.tool and arguments_match(call, args) for tool, args in made)]
        score = Score(True, not unmatched, detail=[f"arguments of {t} differ" for t in unmatched])
        if score.arguments:
            return score
        best = score
    if not best.tool_choice:
        best.detail = [f"called {sorted(made_tools)}; expected {[c.tool for c in case.calls]}"]
    return best


# --- key figures -----------------------------------------------------------------------------------------------


def pick_figure(figure: dict[str, Any], result: dict[str, Any]) -> float | None:
    """The key figure in a tool's structured result (None when the row, point or store is not there)."""
    pick, metric = figure["pick"], figure["metric"]
    if pick.get("totals"):
        return (result.get("totals") or {}).get(metric)
    if "row" in pick:
        for row in result.get("rows", []):
            if all(row["group"].get(k) == v for k, v in pick["row"].items()):
                return row["values"].get(metric)
        return None
    if "stock" in pick:
        return next((row["stock_level"] for row in result.get("stores", []) if row["store_id"] == pick["stock"]),
                    None)
    points = result.get("points", [])
    if "series" in pick:
        points = next((s["points"] for s in result.get("series") or [] if s["name"] == pick["series"]), [])
    return next((point.get(metric) for point in points if point["period"] == pick["point"]), None)


def figure_in_text(value: float, metric: str, text: str) -> bool:
    """Whether an answer states `value` (as a count, or money/percent to the cent, with or without separators)."""
    numbers = {float(n.replace(",", "")) for n in re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)}
    if metric in COUNTS:
        return float(round(value)) in numbers
    return any(abs(n - value) <= 0.01 for n in numbers) or any(abs(n - round(value)) < 0.5 and n == round(n)
                                                               for n in numbers if abs(value) >= 1000)
