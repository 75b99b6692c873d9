"""Compare one question's answers from both sides (pure).

Both sides are first reduced to the same canonical form: {row key: {field: value}}. The original's
SQL returns exact NUMERIC values, unrounded; ours are rounded as our tools print them. So "the same
to the cent" means ours is within half a cent of the exact figure, and a percentage within half a
unit of the last digit our tool prints. Counts and text must be equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

Canonical = Mapping[str, Mapping[str, object]]
SLACK = 1e-9  # float noise on a value that sits exactly on a rounding boundary

# field -> how far ours may be from the exact value (None: must be equal)
TOLERANCE: dict[str, float | None] = {
    "revenue": 0.005, "total": 0.005, "price": 0.005, "average_order_value": 0.005,
    "change_percent": 0.05, "yoy_percent": 0.05,  # our trend prints one decimal
    "gross_margin_percent": 0.005,  # two decimals
    "index": 0.0005,  # three decimals
}
MAX_LINES_PER_QUESTION = 6


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    return None


def same(field: str, ours: object, theirs: object) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    a, b = _number(ours), _number(theirs)
    if a is None or b is None:
        return str(ours) == str(theirs)
    tolerance = TOLERANCE.get(field)
    if tolerance is None:
        return a == b
    return abs(a - b) <= tolerance + SLACK


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.2f}"
    return repr(value) if isinstance(value, str) else str(value)


def mismatches(question: str, ours: Canonical, theirs: Canonical) -> list[str]:
    """One `mismatch ...` line per difference (capped per question, with a count of the rest)."""
    lines: list[str] = []
    for key in sorted(set(ours) | set(theirs)):
        if key not in theirs:
            lines.append(f"mismatch {question}: {key!r} only in ours {dict(ours[key])}")
            continue
        if key not in ours:
            lines.append(f"mismatch {question}: {key!r} only in the original {dict(theirs[key])}")
            continue
        for field in sorted(set(ours[key]) | set(theirs[key])):
            a, b = ours[key].get(field), theirs[key].get(field)
            if not same(field, a, b):
                lines.append(f"mismatch {question}: {key!r} {field}: ours {_show(a)}, original {_show(b)}")
    if not ours and not theirs:
        lines.append(f"mismatch {question}: both sides answered nothing (the question checks nothing)")
    if len(lines) > MAX_LINES_PER_QUESTION:
        rest = len(lines) - MAX_LINES_PER_QUESTION
        lines = [*lines[:MAX_LINES_PER_QUESTION], f"mismatch {question}: ... and {rest} more"]
    return lines
